"""Dependencies point inward: the core never reaches for the shell, and privates stay private."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nbsetup"
#: The edges: the command line, the API, runs of many files, settings and presentation.
SHELL = {
    "nbsetup",
    "nbsetup.__main__",
    "nbsetup.api",
    "nbsetup.batch",
    "nbsetup.cli",
    "nbsetup.cli_check",
    "nbsetup.cli_options",
    "nbsetup.cli_runs",
    "nbsetup.config",
    "nbsetup.console",
    "nbsetup.discovery",
    "nbsetup.lock.cli",
    "nbsetup.lock.run",
    "nbsetup.parallel",
    "nbsetup.pipeline",
}
REPORT = "nbsetup.report"


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(encoding="utf-8"))
    return found


MODULES = _modules()
CORE = sorted(name for name in MODULES if name not in SHELL and not name.startswith(REPORT))


def _imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names) for every import statement, wherever it sits in the module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _targets(module: str, names: list[str]) -> set[str]:
    """The modules an import statement may load: `from nbsetup import report` loads report."""
    return {module} | {f"{module}.{name}" for name in names}


@pytest.mark.parametrize("name", CORE)
def test_core_module_imports_no_shell_no_report_no_click(name: str):
    forbidden = SHELL - {"nbsetup"} | {REPORT, "click"}
    for module, names in _imports(MODULES[name]):
        for target in _targets(module, names):
            assert not any(target == bad or target.startswith(f"{bad}.") for bad in forbidden), (
                f"{name} imports {target}"
            )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_private_name_of_another(name: str):
    tree = MODULES[name]
    for module, names in _imports(tree):
        if module.startswith("nbsetup"):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{name} imports {private} from {module}"
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nbsetup")
        for alias in node.names
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            pytest.fail(f"{name} uses {node.value.id}.{node.attr}")


def test_the_layers_are_what_this_test_says():
    assert set(MODULES) >= SHELL
    core = {"nbsetup.transform", "nbsetup.lint", "nbsetup.safety", "nbsetup.install_lines"}
    assert core <= set(CORE)
