"""The command line and the API go through one pipeline: same outcome, same error."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbsetup
from nbsetup.cli import main
from tests.builders import notebook, to_bytes, write

GOOD = to_bytes(notebook("import pandas\n", "!pip install pandas numpy\n"))
BROKEN_CONFIG = '[tool.nbsetup]\ninstaller = "conda"\n'
BROKEN_TOML = "[tool.nbsetup\n"

Layout = Callable[[Path], Path]


def _broken_notebook_beside_broken_config(root: Path) -> Path:
    (root / "pyproject.toml").write_text(BROKEN_CONFIG)
    return write(root / "nb.ipynb", b"{ not json")


def _good_notebook_beside_broken_config(root: Path) -> Path:
    (root / "pyproject.toml").write_text(BROKEN_CONFIG)
    return write(root / "nb.ipynb", GOOD)


def _good_notebook_beside_unparsable_toml(root: Path) -> Path:
    (root / "pyproject.toml").write_text(BROKEN_TOML)
    return write(root / "nb.ipynb", GOOD)


def _broken_requirements(root: Path) -> Path:
    (root / "requirements.txt").write_text("numpy==1.26\n-r missing.txt\n")
    return write(root / "nb.ipynb", GOOD)


def _nbformat_3(root: Path) -> Path:
    return write(root / "nb.ipynb", b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}')


def _not_a_notebook(root: Path) -> Path:
    return write(root / "nb.ipynb", b"[1, 2, 3]\n")


def _empty(root: Path) -> Path:
    return write(root / "nb.ipynb", b"")


def _unpinned_with_pin_missing(root: Path) -> Path:
    (root / "pyproject.toml").write_text("[tool.nbsetup]\npin-missing = true\n")
    (root / "requirements.txt").write_text("pandas==2.2.2\n")
    return write(root / "nb.ipynb", GOOD)


BROKEN: list[Layout] = [
    _broken_notebook_beside_broken_config,
    _good_notebook_beside_broken_config,
    _good_notebook_beside_unparsable_toml,
    _broken_requirements,
    _nbformat_3,
    _not_a_notebook,
    _empty,
    _unpinned_with_pin_missing,
]


@pytest.fixture
def inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory that is also the working directory (a repository root)."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli_error(command: str, path: Path) -> str:
    result = CliRunner().invoke(main, [command, "-j", "1", "-q", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1, result.stderr
    prefix = f"{path}: error: "
    assert lines[0].startswith(prefix), lines
    return lines[0].removeprefix(prefix)


@pytest.mark.parametrize("layout", BROKEN, ids=lambda layout: layout.__name__.strip("_"))
def test_fix_path_raises_the_error_the_cli_prints(inside: Path, layout: Layout):
    path = layout(inside)
    before = path.read_bytes()
    printed = _cli_error("fix", path)
    with pytest.raises(nbsetup.NbsetupError) as raised:
        nbsetup.fix_path(path)
    assert str(raised.value) == printed
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "layout",
    [layout for layout in BROKEN if layout is not _unpinned_with_pin_missing],
    ids=lambda layout: layout.__name__.strip("_"),
)
def test_check_path_raises_the_error_check_prints(inside: Path, layout: Layout):
    path = layout(inside)
    printed = _cli_error("check", path)
    with pytest.raises(nbsetup.NbsetupError) as raised:
        nbsetup.check_path(path)
    assert str(raised.value) == printed


def test_fix_bytes_raises_the_decoding_error_fix_path_raises(inside: Path):
    path = _broken_notebook_beside_broken_config(inside)
    with pytest.raises(nbsetup.NbsetupError) as from_path:
        nbsetup.fix_path(path)
    with pytest.raises(nbsetup.NbsetupError) as from_bytes:
        nbsetup.fix_bytes(path.read_bytes())
    assert str(from_bytes.value) == str(from_path.value)


def test_cli_and_api_agree_on_a_good_notebook(inside: Path):
    (inside / "requirements.txt").write_text("pandas==2.2.2\nnumpy==2.0.1\n")
    path = write(inside / "sub" / "nb.ipynb", GOOD)
    copy = write(inside / "sub" / "copy.ipynb", GOOD)
    result = CliRunner().invoke(main, ["fix", "-j", "1", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    api = nbsetup.fix_path(copy)
    assert api.changed
    assert path.read_bytes() == copy.read_bytes()
    assert api.pin_sources == "requirements.txt"
    assert f'"requirements": "{os.path.join("requirements.txt")}"' in result.stdout
