"""Golden before/after notebooks: one directory per case under `tests/golden/`.

Each case holds `notebook.ipynb` (the input), optionally `requirements.txt` and the files it
includes, `report.txt` (the file's status and report lines) and, when the notebook changes,
`expected.ipynb` (the exact bytes `nbsetup fix` must write). An unchanged case has no
`expected.ipynb`: its notebook must stay byte-identical.

After an intended behaviour change, regenerate with `NBSETUP_UPDATE_GOLDEN=1 pytest
tests/test_golden.py`, then read every changed file in `git diff` before committing.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import nbformat
import pytest

from nbsetup import batch, report

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "notebook.ipynb").is_file())
UPDATE = os.environ.get("NBSETUP_UPDATE_GOLDEN") == "1"


def _run(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    work = tmp_path / case
    ignore = shutil.ignore_patterns("expected.ipynb", "report.txt")
    shutil.copytree(GOLDEN / case, work, ignore=ignore)
    (work / ".git").mkdir()  # the requirements search stops here, as in a real repository
    monkeypatch.chdir(work)  # as a user runs `nbsetup fix notebook.ipynb`: paths are relative
    notebook = Path("notebook.ipynb")
    result = batch.process(notebook, batch.Settings())
    lines = [f"status: {result.status}"]
    lines += [report.format_change("notebook.ipynb", change) for change in result.changes]
    if result.error is not None:
        lines.append(report.format_error("notebook.ipynb", result.error))
    return notebook, "\n".join(lines) + "\n"


def test_there_are_enough_cases():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = GOLDEN / case
    notebook, report_text = _run(case, tmp_path, monkeypatch)
    written = notebook.read_bytes()
    original = (source / "notebook.ipynb").read_bytes()
    if UPDATE:
        (source / "report.txt").write_text(report_text)
        expected_path = source / "expected.ipynb"
        if written != original:
            expected_path.write_bytes(written)
        elif expected_path.exists():
            expected_path.unlink()
        pytest.skip("golden files regenerated")

    assert report_text == (source / "report.txt").read_text()
    expected_path = source / "expected.ipynb"
    expected = expected_path.read_bytes() if expected_path.exists() else original
    assert written == expected


@pytest.mark.parametrize("case", CASES)
def test_golden_output_is_a_fixed_point(case: str, tmp_path: Path):
    """Running again on the expected output changes nothing and still validates."""
    source = GOLDEN / case
    expected_path = source / "expected.ipynb"
    if not expected_path.exists():
        pytest.skip("the notebook is left unchanged")
    work = tmp_path / case
    shutil.copytree(source, work)
    (work / ".git").mkdir()
    target = work / "expected.ipynb"
    result = batch.process(target, batch.Settings())
    assert result.status == report.UNCHANGED
    assert target.read_bytes() == expected_path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no reliance on nbformat's silent repairs
        nbformat.validate(json.loads(expected_path.read_bytes()))
