"""`nbsetup check` over the shared corpus: it never fails, it agrees with `fix`, and its counts.

Run with `-s` (or read the captured output of `test_report_counts`) to see how many notebooks
get each diagnostic.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbsetup import distributions, kernels, lint, notebook_io, pipeline, report, transform
from nbsetup.config import ProjectConfig
from nbsetup.diagnostics import CODES, Config, Diagnostic
from tests.conftest import CORPUS_NOTEBOOKS


@dataclass(frozen=True)
class _Checked:
    path: str
    diagnostics: tuple[Diagnostic, ...]
    #: Whether `transform.hoist` changes the notebook.
    hoisted: bool
    #: The codes `check` reports on the hoisted notebook.
    after_fix: frozenset[str]
    #: Line count of each cell, to check that diagnostics point inside the notebook.
    cell_lines: tuple[int, ...]
    skipped: bool


@pytest.fixture(scope="module")
def checked(corpus_copy: Path) -> list[_Checked]:
    # The corpus has no `.git`: mark its root so the requirements search stops there, as it
    # stops at a repository root, instead of walking up through the temporary directory.
    (corpus_copy / ".git").mkdir(exist_ok=True)
    packages = distributions.installed_packages()
    results = []
    for path in sorted(corpus_copy.rglob("*.ipynb")):
        notebook = notebook_io.loads(path.read_bytes()).notebook
        pins = pipeline.choose_pins(path, ProjectConfig()).pins
        diagnostics = lint.diagnose(notebook, pins, Config(), packages)
        result = transform.hoist(notebook, pins)
        after = lint.diagnose(result.notebook, pins, Config(), packages)
        cells = tuple(len(notebook_io.cell_text(cell).splitlines()) for cell in notebook["cells"])
        results.append(
            _Checked(
                str(path.relative_to(corpus_copy)),
                diagnostics,
                result.notebook != notebook,
                frozenset(d.code for d in after),
                cells,
                kernels.skip_reason(notebook) is not None,
            )
        )
    return results


def test_every_notebook_is_checked(checked):
    assert len(checked) == len(CORPUS_NOTEBOOKS)
    for item in checked:
        for diagnostic in item.diagnostics:
            assert diagnostic.code in CODES
            assert 1 <= diagnostic.cell <= len(item.cell_lines), (item.path, diagnostic)
            assert 1 <= diagnostic.line <= max(item.cell_lines[diagnostic.cell - 1], 1)
        if item.skipped:
            assert item.diagnostics == ()


def test_check_agrees_with_fix(checked):
    """`fix` changes a notebook only if `check` flags NBS001 or NBS006 (so a notebook clean of
    both is left alone), and every notebook flagged NBS006 is changed."""
    hoisted_unflagged = [
        item.path
        for item in checked
        if item.hoisted and not {d.code for d in item.diagnostics} & {"NBS001", "NBS006"}
    ]
    flagged_unchanged = [
        item.path
        for item in checked
        if not item.hoisted and any(d.code == "NBS006" for d in item.diagnostics)
    ]
    assert hoisted_unflagged == []
    assert flagged_unchanged == []


def test_fixed_notebooks_have_no_scattered_installs(checked):
    """After `fix`, every install it could move is in the environment cell."""
    assert [item.path for item in checked if "NBS006" in item.after_fix] == []


def test_reports_render(checked):
    results = [report.FileCheck(item.path, item.diagnostics) for item in checked]
    document = json.loads(report.check_json(results))
    assert sum(document["summary"]["diagnostics"].values()) == sum(
        len(item.diagnostics) for item in checked
    )
    total = len(report.check_lines(results))
    assert (
        total
        == len(report.check_annotations(results))
        == sum(document["summary"]["diagnostics"].values())
    )


def test_report_counts(checked, capsys):
    notebooks: Counter[str] = Counter()
    diagnostics: Counter[str] = Counter()
    for item in checked:
        notebooks.update({d.code for d in item.diagnostics})
        diagnostics.update(d.code for d in item.diagnostics)
    clean = sum(not item.diagnostics and not item.skipped for item in checked)
    lines = [f"nbsetup check over {len(checked)} corpus notebooks ({clean} clean):"]
    lines += [
        f"  {code} {summary:<45} {notebooks[code]:>4} notebooks {diagnostics[code]:>5} diagnostics"
        for code, summary in CODES.items()
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    # The corpus was chosen for its installs: most notebooks install outside an environment
    # cell, and some install unpinned.
    assert notebooks["NBS006"] > len(checked) / 2
    assert notebooks["NBS002"] > 0
