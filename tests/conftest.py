from __future__ import annotations

import json
import shutil
import stat
import warnings
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_NOTEBOOKS = sorted(CORPUS.rglob("*.ipynb")) if CORPUS.is_dir() else []

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=10_000, deadline=None)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the shared corpus; the corpus itself is never touched."""
    if not CORPUS_NOTEBOOKS:
        pytest.skip("the shared corpus (../shared/corpus) is not present")
    target = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(CORPUS, target)
    for path in target.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kernel: runs notebooks on a real Jupyter kernel (deselect: -m 'not kernel')"
    )
    config.addinivalue_line(
        "markers", "slow: takes more than a few seconds (deselect: -m 'not slow')"
    )


def validation_error(data: bytes) -> str | None:
    """nbformat's verdict on notebook bytes, its warnings counted as errors, or None if valid.

    The bytes are parsed afresh: `nbformat.validate` repairs what it warns about (it adds
    missing cell ids) in the dict it checks, and the verdict must not rely on that.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            nbformat.validate(json.loads(data))
        except (nbformat.ValidationError, Warning) as error:
            return f"{type(error).__name__}: {error}"
    return None
