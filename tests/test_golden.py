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
from click.testing import CliRunner

from nbsetup import batch, report
from nbsetup.cli import main

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


#: The `check` rule whose repair is the hoist: `fix` moves exactly what it reports.
HOIST_RULE = "NBS006"


@pytest.mark.parametrize("case", CASES)
def test_check_and_fix_check_agree(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`nbsetup check` reports an install to hoist exactly where `nbsetup fix` hoists one.

    Through the command line, as a user runs both: `check --select NBS006` fails exactly when
    `fix --check` would change the notebook, and names the installs `fix` reports moving. What
    `fix` leaves in place (by the user's choice or for a reason of its own) `check` does not
    ask to hoist.
    """
    work = tmp_path / case
    shutil.copytree(GOLDEN / case, work, ignore=shutil.ignore_patterns("expected.ipynb"))
    (work / ".git").mkdir()
    monkeypatch.chdir(work)
    runner = CliRunner()
    fixing = runner.invoke(main, ["fix", "--check", "--format", "json", "notebook.ipynb"])
    checking = runner.invoke(
        main, ["check", "--select", HOIST_RULE, "--format", "json", "notebook.ipynb"]
    )
    assert fixing.exit_code in (0, 1), fixing.stderr
    assert checking.exit_code in (0, 1), checking.stderr
    assert fixing.exit_code == checking.exit_code
    (fixed,) = json.loads(fixing.stdout)["files"]
    (checked,) = json.loads(checking.stdout)["files"]
    hoisted = {(c["cell"], c["line"]) for c in fixed["changes"] if c["kind"] == "hoisted"}
    flagged = {(d["cell"], d["line"]) for d in checked["diagnostics"]}
    assert flagged == hoisted
    assert (fixed["status"] == report.SKIPPED) == (checked["status"] == report.SKIPPED)
