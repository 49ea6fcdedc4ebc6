"""Text notebooks (jupytext percent scripts, MyST markdown): goldens, pairs, round trips.

Goldens live in tests/golden_text/<case>/{input,expected}/: the input folder is copied, fixed
with `nbsetup fix` on the folder, and every file compared with the expected folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from click.testing import CliRunner

from nbsetup import textnb, transform
from nbsetup.cli import main
from nbsetup.discovery import discover
from nbsetup.notebook_io import cell_text
from nbsetup.textnb import MissingExtra, TextNotebookError, files

from .conftest import CORPUS_NOTEBOOKS

GOLDEN = Path(__file__).parent / "golden_text"
CASES = sorted(path.name for path in GOLDEN.iterdir() if path.is_dir())
JUPYTEXT = Path(sys.executable).parent / "jupytext"


def _project(tmp_path: Path, case: str) -> Path:
    """A copy of the case's input folder, as the root of a repository (pins stop there)."""
    root = tmp_path / case
    shutil.copytree(GOLDEN / case / "input", root)
    (root / ".git").mkdir()
    return root


def _fix(*args: str | Path) -> tuple[int, str]:
    """Exit code, and the report (stdout) followed by the messages (stderr)."""
    result = CliRunner().invoke(main, ["fix", *map(str, args)])
    return result.exit_code, result.stdout + result.stderr


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(root.iterdir())
        if path.is_file() and not path.name.startswith(".")
    }


def _hoist(notebook: dict) -> tuple[dict, tuple[int | None, ...]]:
    result = transform.hoist(notebook)
    return result.notebook, result.origins


@pytest.mark.parametrize("case", CASES)
def test_golden_case_is_fixed_as_expected(tmp_path: Path, case: str) -> None:
    root = _project(tmp_path, case)
    code, stderr = _fix(root)
    assert code == 0, stderr
    assert _files(root) == _files(GOLDEN / case / "expected")


@pytest.mark.parametrize("case", CASES)
def test_fixing_a_golden_output_again_changes_nothing(tmp_path: Path, case: str) -> None:
    root = tmp_path / case
    shutil.copytree(GOLDEN / case / "expected", root)
    (root / ".git").mkdir()
    stamps = {path: path.stat().st_mtime_ns for path in root.iterdir() if path.is_file()}
    code, stderr = _fix(root)
    assert code == 0, stderr
    assert _files(root) == _files(GOLDEN / case / "expected")
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps


def test_percent_script_keeps_magics_commented_and_other_cells_verbatim() -> None:
    data = (GOLDEN / "percent_magics" / "input" / "analysis.py").read_bytes()
    fixed = textnb.fix_text(data, "py", _hoist).decode()
    assert "# !pip install -q pandas\n# %pip install matplotlib\n" in fixed
    assert "\n%pip" not in fixed
    assert "\n!pip" not in fixed
    assert '# %%\ndef total(frame):\n    return frame["amount"].sum()\n# %% tags' in fixed
    assert "x  =  1   # spacing as the author wrote it\n" in fixed


def test_myst_install_goes_into_a_code_cell_block() -> None:
    data = (GOLDEN / "myst_code_cell" / "input" / "guide.md").read_bytes()
    fixed = textnb.fix_text(data, "md", _hoist).decode()
    assert "```{code-cell} ipython3\n---\nnbsetup:\n  role: environment\n---\n" in fixed
    assert "\n!pip install requests\n```\n" in fixed
    assert fixed.count("!pip") == 1
    notebook = jupytext.reads(fixed, fmt="md:myst")
    # The environment cell takes the install cell's place, between the two first paragraphs.
    assert [cell.cell_type for cell in notebook.cells] == [
        "markdown",
        "code",
        "markdown",
        "code",
        "markdown",
    ]


def test_crlf_script_keeps_its_line_endings() -> None:
    data = (GOLDEN / "percent_magics" / "input" / "analysis.py").read_bytes()
    crlf = data.replace(b"\n", b"\r\n")
    fixed = textnb.fix_text(crlf, "py", _hoist)
    assert b"\n" not in fixed.replace(b"\r\n", b"")
    assert fixed.replace(b"\r\n", b"\n") == textnb.fix_text(data, "py", _hoist)


def test_a_file_with_nothing_to_change_round_trips_byte_for_byte() -> None:
    data = (GOLDEN / "unchanged" / "input" / "clean.py").read_bytes()
    document = textnb.loads(data, "py")
    cells = [dict(cell) for cell in document.notebook["cells"]]  # equal copies, not the same
    notebook = {**document.notebook, "cells": cells}
    assert textnb.dumps(document, notebook, range(len(cells))) == data


def test_plain_script_named_without_text_is_refused_and_left_alone(tmp_path: Path) -> None:
    root = _project(tmp_path, "plain_files")
    before = _files(root)
    code, stderr = _fix(root / "script.py")
    assert code == 2
    assert "script.py: error: not a text notebook (no jupytext header); pass --text" in stderr
    assert _files(root) == before


def test_plain_script_named_with_text_is_fixed(tmp_path: Path) -> None:
    root = _project(tmp_path, "plain_files")
    code, stderr = _fix("--text", root / "script.py")
    assert code == 0, stderr
    fixed = (root / "script.py").read_text()
    assert fixed.startswith("# %% nbsetup=")
    assert "# !pip install numpy" in fixed
    assert _files(root)["README.md"] == _files(GOLDEN / "plain_files" / "input")["README.md"]


def test_discovery_takes_text_notebooks_only_with_a_header_and_one_file_per_pair(
    tmp_path: Path,
) -> None:
    for case in ("plain_files", "paired", "myst_code_cell"):
        shutil.copytree(GOLDEN / case / "input", tmp_path / case)
    found = [path.relative_to(tmp_path).as_posix() for path in discover([tmp_path])]
    assert found == ["myst_code_cell/guide.md", "paired/pair.ipynb"]


def test_jupytext_sync_after_fix_changes_nothing(tmp_path: Path) -> None:
    # The pair is made by the installed jupytext, so that its header is that version's.
    root = tmp_path / "pair"
    root.mkdir()
    (root / ".git").mkdir()
    shutil.copy(GOLDEN / "percent_magics" / "input" / "analysis.py", root / "nb.py")
    subprocess.run([JUPYTEXT, "--set-formats", "ipynb,py:percent", "nb.py"], cwd=root, check=True)
    code, stderr = _fix(root / "nb.py")
    assert code == 0, stderr
    assert "nb.py: info: paired " in stderr
    assert "nb.ipynb fixed the same way" in stderr
    fixed = _files(root)
    assert b"nbsetup" in fixed["nb.ipynb"]
    assert b"nbsetup" in fixed["nb.py"]
    subprocess.run([JUPYTEXT, "--sync", "nb.py"], cwd=root, check=True, capture_output=True)
    assert _files(root) == fixed
    subprocess.run([JUPYTEXT, "--sync", "nb.ipynb"], cwd=root, check=True, capture_output=True)
    assert _files(root) == fixed


def test_pair_out_of_sync_is_refused_naming_the_pair(tmp_path: Path) -> None:
    root = _project(tmp_path, "paired")
    script = root / "pair.py"
    script.write_text(script.read_text() + "\n# %%\n# !pip install rich\nimport rich\n")
    before = _files(root)
    code, stderr = _fix(root / "pair.ipynb")
    assert code == 2
    assert "but their cells differ; run `jupytext --sync" in stderr
    assert "(pair: pair.ipynb, pair.py)" in stderr
    assert _files(root) == before


@pytest.mark.parametrize("formats", ["ipynb,py:percent", "py:light,ipynb", ".ipynb,.md:myst"])
def test_a_pairing_whose_twin_is_missing_is_fixed_without_jupytext(
    tmp_path: Path, formats: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member list of plain entries is read without jupytext; the file is written as
    jupytext's path rules would have it (no twin on disk: the notebook alone, held cells)."""
    root, other = _project(tmp_path, "paired"), _project(tmp_path / "other", "paired")
    for folder in (root, other):
        (folder / "pair.py").unlink()
        notebook = folder / "pair.ipynb"
        data = notebook.read_text().replace('"ipynb,py:percent"', json.dumps(formats))
        assert formats in data
        notebook.write_text(data)
    notebook, expected = root / "pair.ipynb", other / "pair.ipynb"
    monkeypatch.setattr(files, "_stands_alone", lambda path, formats: False)
    assert _fix(expected)[0] == 0
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "jupytext", None)  # importing it would now fail
    code, stderr = _fix(notebook)
    assert code == 0, stderr
    assert notebook.read_bytes() == expected.read_bytes() != data.encode()
    assert not (root / "pair.py").exists()


@pytest.mark.parametrize("formats", ["ipynb,auto:percent", "ipynb,.pct.py:percent", "a//ipynb,py"])
def test_other_pairings_are_read_with_jupytext(tmp_path: Path, formats: str) -> None:
    assert not files._stands_alone(tmp_path / "nb.ipynb", formats)
    assert files._stands_alone(tmp_path / "nb.ipynb", "ipynb,py:percent")
    (tmp_path / "nb.py").touch()
    assert not files._stands_alone(tmp_path / "nb.ipynb", "ipynb,py:percent")
    assert not files._stands_alone(tmp_path / "nb.ipynb", "md,py:percent")


def test_without_jupytext_the_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jupytext", None)
    with pytest.raises(MissingExtra, match=r"pip install 'nbsetup\[text\]'"):
        textnb.loads(b"# %%\nx = 1\n", "py")
    root = _project(tmp_path, "percent_magics")
    code, stderr = _fix(root / "analysis.py")
    assert code == 2
    assert "analysis.py: error: text notebooks need jupytext" in stderr


def test_an_unsupported_jupytext_format_is_refused() -> None:
    with pytest.raises(TextNotebookError, match="format py:sphinx is not supported"):
        textnb.loads(b"x = 1\n", "py:sphinx")


# --- real notebooks, converted by the real jupytext -----------------------------------------

#: Corpus notebooks converted per run: enough shapes (Colab, Kaggle, docs) to catch a layout
#: the goldens miss, few enough to keep the test to some seconds.
CORPUS_SAMPLE = 40


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    if not CORPUS_NOTEBOOKS:
        pytest.skip("the shared corpus (../shared/corpus) is not present")
    root = tmp_path_factory.mktemp("converted")
    step = max(1, len(CORPUS_NOTEBOOKS) // CORPUS_SAMPLE)
    for index, source in enumerate(CORPUS_NOTEBOOKS[::step][:CORPUS_SAMPLE]):
        shutil.copy(source, root / f"nb{index:03}.ipynb")
    notebooks = sorted(root.glob("*.ipynb"))
    for fmt in ("py:percent", "md:myst"):
        subprocess.run(
            [JUPYTEXT, "--to", fmt, *notebooks], cwd=root, check=True, capture_output=True
        )
    return sorted(root.glob("*.py")) + sorted(root.glob("*.md"))


@pytest.mark.slow
def test_converted_corpus_notebooks_fix_idempotently_and_lose_nothing(
    converted: list[Path],
) -> None:
    failed = []
    for path in converted:
        data = path.read_bytes()
        ext = path.suffix[1:]
        document = textnb.loads(data, ext)
        layout = document.layout
        pieces = "".join(piece.body + piece.trailer for piece in layout.pieces if piece)
        assert layout.header + pieces == data.decode(), path.name
        result = transform.hoist(document.notebook)
        try:
            fixed = textnb.dumps(document, result.notebook, result.origins)
        except TextNotebookError as error:
            failed.append(f"{path.name}: {error}")
            continue
        assert textnb.fix_text(fixed, ext, _hoist) == fixed, path.name
        read_back = jupytext.reads(fixed.decode(), fmt=ext)
        wanted = textnb.codec.held(result.notebook, document.notebook, result.origins)
        assert [(c.cell_type, c.source) for c in read_back.cells] == [
            (cell["cell_type"], cell_text(cell)) for cell in wanted["cells"]
        ], path.name
        # Every unchanged cell's text is in the output as it was.
        text = fixed.decode()
        for index, origin in enumerate(result.origins):
            if (
                origin is not None
                and result.notebook["cells"][index] is document.notebook["cells"][origin]
            ):
                piece = layout.pieces[origin]
                assert piece is None or piece.body.rstrip("\n") in text, path.name
    assert not failed, failed


def test_jupytext_is_run_from_this_environment() -> None:
    assert JUPYTEXT.exists(), "tests need the test extra (nbsetup[text]) installed"
    assert os.access(JUPYTEXT, os.X_OK)
