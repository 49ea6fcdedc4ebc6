"""`.pre-commit-hooks.yaml` names the three hooks users expect, each running what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit (the test extra)")

HOOKS = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"


def test_hooks_fix_fix_check_and_the_linter():
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    assert {key: hook["entry"] for key, hook in hooks.items()} == {
        "nbsetup-fix": "nbsetup fix",
        "nbsetup-fix-check": "nbsetup fix --check",
        "nbsetup-check": "nbsetup check",
    }
    for hook in hooks.values():
        assert (hook["language"], hook["types"]) == ("python", ["jupyter"])
