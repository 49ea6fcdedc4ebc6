"""`[tool.nbsetup]` through the command line: where each key applies, and precedence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nbsetup.cli import main


def _notebook(path: Path, *sources: str, language: str = "python") -> Path:
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
        for s in sources
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"language": language, "name": "k", "display_name": "K"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return path


def _environment(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "".join(next(c for c in cells if "nbsetup" in c["metadata"])["source"])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def _run(*args: object) -> Result:
    return CliRunner().invoke(main, ["fix", "-j", "1", *map(str, args)])


def test_requirements_from_pyproject_relative_to_it(repo: Path):
    (repo / "pins").mkdir()
    (repo / "pins" / "base.txt").write_text("x==1.0\n")
    (repo / "requirements.txt").write_text("x==9.9\n")  # the nearest file, overridden
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nrequirements = "pins/base.txt"\n')
    notebook = _notebook(repo / "nb" / "a.ipynb", "!pip install x")
    result = _run(notebook)
    assert result.exit_code == 0, result.stderr
    assert "!pip install x==1.0" in _environment(notebook)
    assert re.search(r"x: pinned to 'x==1\.0' by \S*pins/base\.txt, line 1", result.stdout)


def test_requirements_option_wins_over_pyproject(repo: Path):
    (repo / "a.txt").write_text("x==1.0\n")
    (repo / "b.txt").write_text("x==2.0\n")
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nrequirements = "a.txt"\n')
    notebook = _notebook(repo / "n.ipynb", "!pip install x")
    assert _run(notebook, "--requirements", repo / "b.txt").exit_code == 0
    assert "x==2.0" in _environment(notebook)


def test_several_requirements_files_first_wins(repo: Path):
    (repo / "a.txt").write_text("x==1.0\n")
    (repo / "b.txt").write_text("x==2.0\ny==3.0\n")
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nrequirements = ["a.txt", "b.txt"]\n')
    notebook = _notebook(repo / "n.ipynb", "!pip install x y")
    assert _run(notebook).exit_code == 0
    assert "x==1.0 y==3.0" in _environment(notebook)


def test_env_cell_style_and_quiet_install(repo: Path):
    (repo / "requirements.txt").write_text("x==1.0\n")
    (repo / "pyproject.toml").write_text(
        '[tool.nbsetup]\nenv-cell-style = "!pip"\nquiet-install = true\n'
    )
    # The style spells rendered lines only: `%pip` as written stays; `-q` is added.
    notebook = _notebook(repo / "n.ipynb", "%pip install x\nimport os\nos.system('pip install y')")
    assert _run(notebook).exit_code == 0
    assert "\n%pip install -q x==1.0\n!pip install -q y" in _environment(notebook)
    before = notebook.read_bytes()
    assert _run(notebook).exit_code == 0  # idempotent
    assert notebook.read_bytes() == before


def test_pin_missing_fails_the_notebook_and_writes_nothing(repo: Path):
    (repo / "requirements.txt").write_text("x==1.0\n")
    (repo / "pyproject.toml").write_text("[tool.nbsetup]\npin-missing = true\n")
    notebook = _notebook(repo / "n.ipynb", "!pip install x y z")
    before = notebook.read_bytes()
    result = _run(notebook)
    assert result.exit_code == 2
    assert f"{notebook}: error: not pinned by requirements.txt: y, z (pin-missing is on)" in (
        result.stderr
    )
    assert notebook.read_bytes() == before
    # The command line wins over the file.
    assert _run(notebook, "--no-pin-missing").exit_code == 0
    assert notebook.read_bytes() != before
    # An environment cell written before pin-missing was on is caught as well.
    result = _run(notebook)
    assert result.exit_code == 2
    assert "not pinned by requirements.txt: y, z" in result.stderr


def test_pin_missing_on_the_command_line(repo: Path):
    notebook = _notebook(repo / "n.ipynb", "!pip install y")
    result = _run(notebook, "--pin-missing")
    assert result.exit_code == 2
    assert "not pinned (no requirements file found): y" in result.stderr


def test_kernels(repo: Path):
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nkernels = ["python", "sage"]\n')
    sage = _notebook(repo / "s.ipynb", "!pip install x", language="sage")
    julia = _notebook(repo / "j.ipynb", "!pip install x", language="julia")
    result = _run(sage, julia)
    assert result.exit_code == 0, result.stderr
    assert "!pip install x" in _environment(sage)
    assert "kernel language julia is not one of: python, sage" in result.stdout


def test_exclude_from_pyproject_is_relative_to_it(repo: Path, monkeypatch: pytest.MonkeyPatch):
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nexclude = ["notebooks/drafts"]\n')
    kept = _notebook(repo / "notebooks" / "a.ipynb", "!pip install x")
    draft = _notebook(repo / "notebooks" / "drafts" / "b.ipynb", "!pip install x")
    monkeypatch.chdir(repo / "notebooks")
    result = _run(".")
    assert result.exit_code == 0, result.stderr
    assert "1 file scanned" in result.stderr
    assert "nbsetup" in kept.read_text()
    assert "nbsetup" not in draft.read_text()
    # --exclude replaces the file's list.
    assert "2 files scanned" in _run(repo, "--exclude", "nothing").stderr


def test_nearest_pyproject_wins(repo: Path):
    (repo / "pyproject.toml").write_text("[tool.nbsetup]\nquiet-install = true\n")
    (repo / "inner").mkdir()
    (repo / "inner" / "pyproject.toml").write_text("[tool.nbsetup]\npin-missing = false\n")
    outer = _notebook(repo / "o.ipynb", "!pip install x")
    inner = _notebook(repo / "inner" / "i.ipynb", "!pip install x")
    assert _run(repo).exit_code == 0
    assert "!pip install -q x" in _environment(outer)
    assert "\n!pip install x" in _environment(inner)  # defaults, not the outer table


def test_broken_pyproject_named_in_the_error(repo: Path):
    (repo / "pyproject.toml").write_text("[tool.nbsetup]\npin_missing = true\n")
    notebook = _notebook(repo / "n.ipynb", "!pip install x")
    before = notebook.read_bytes()
    result = _run(notebook)  # a file named explicitly: its own error line
    assert result.exit_code == 2
    assert f"{notebook}: error: {repo / 'pyproject.toml'}: unknown key" in result.stderr
    assert "did you mean 'pin-missing'?" in result.stderr
    assert notebook.read_bytes() == before
    result = _run(repo)  # a directory: the walk goes on, each notebook it applies to fails
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{notebook}: error: {repo / 'pyproject.toml'}: unknown key")
