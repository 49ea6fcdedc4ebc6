"""The human report: one line per change, diagnostic or error, closing summaries, the diff."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from nbsetup.changes import WARNING_KINDS, Change
from nbsetup.diagnostics import CODES, Diagnostic
from nbsetup.notebook_io import cell_text
from nbsetup.report.outcomes import (
    CLEAN,
    FAILED,
    FLAGGED,
    SKIPPED,
    FileCheck,
    FileResult,
    RunOptions,
    tally,
)


def format_error(path: str, reason: str) -> str:
    """`PATH: error: REASON`, the one line a failed file gets."""
    return f"{path}: error: {reason}"


def format_change(path: str, change: Change) -> str:
    """One human line for a change: `nb.ipynb: warning: cell 4, line 2: install not moved: …`."""
    level = "warning" if change.kind in WARNING_KINDS else "info"
    if change.cell is None:
        where = ""
    elif change.line is None:
        where = f"cell {change.cell}: "
    else:
        where = f"cell {change.cell}, line {change.line}: "
    return f"{path}: {level}: {where}{change.message}"


def format_diagnostic(path: str, diagnostic: Diagnostic) -> str:
    """The ruff-style text line: `nb.ipynb:cell 3:1:1: NBS001 numpy is installed after ...`.

    As ruff locates notebook diagnostics: cell, then line and column within the cell (nbsetup
    rules flag whole statements, so the column is 1). A plain `nb.ipynb:3:1:` would send an
    editor to line 3 of the JSON text.
    """
    d = diagnostic
    return f"{path}:cell {d.cell}:{d.line}:1: {d.code} {d.message}"


def check_lines(results: Sequence[FileCheck]) -> list[str]:
    """One `format_diagnostic` line per diagnostic, file by file in cell order (errors go to
    stderr)."""
    return [
        format_diagnostic(r.path, d)
        for r in results
        for d in sorted(r.diagnostics, key=lambda d: (d.cell, d.line))
    ]


def in_cell_order(changes: Sequence[Change]) -> list[Change]:
    """Changes as a reader meets them: notebook-wide ones first, then by cell and line.

    The sort is stable: changes at one place keep the order the core reported them in.
    """
    return sorted(changes, key=lambda c: (c.cell or 0, c.line or 0))


def format_would_fix(path: str) -> str:
    """The line `fix --check`/`--diff` prints for each file it would change (black's
    `would reformat PATH`)."""
    return f"would fix {path}"


def statistics(results: Sequence[FileCheck]) -> list[tuple[str, int]]:
    """Each code found with its count, the most frequent first (`--statistics`)."""
    counts = Counter(d.code for result in results for d in result.diagnostics)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def statistics_lines(results: Sequence[FileCheck]) -> list[str]:
    """ruff's `--statistics` table: `  3\tNBS006\tinstall outside the environment cell`."""
    rows = statistics(results)
    width = max((len(str(number)) for _, number in rows), default=1)
    return [f"{number:>{width}}\t{code}\t{CODES[code]}" for code, number in rows]


def fix_summary(
    results: Sequence[FileResult],
    options: RunOptions,
    *,
    interrupted: bool = False,
    total: int | None = None,
) -> str:
    """The closing line of a `fix` run (`total`: the files it set out to process).

    `3 files scanned: 1 fixed, 1 unchanged, 1 failed; 4 packages hoisted, 2 installs left in
    place`, or `interrupted after 120 of 2000 files: ...` when Ctrl-C stopped it.
    """
    totals = tally(results)
    checking = options.check or options.diff
    files = [
        f"{totals.changed} {'would change' if checking else 'fixed'}",
        f"{totals.unchanged} unchanged",
    ]
    if totals.skipped:
        files.append(f"{totals.skipped} skipped")
    if totals.failed:
        files.append(f"{totals.failed} failed")
    installs = []
    if totals.packages:
        done = "to hoist" if checking else "hoisted"
        installs.append(f"{count(totals.packages, 'package')} {done}")
    if totals.conflicts:
        installs.append(count(totals.conflicts, "conflict"))
    if totals.left:
        installs.append(f"{count(totals.left, 'install')} left in place")
    line = f"{_head(totals.scanned, interrupted, total)}: {', '.join(files)}"
    return f"{line}; {', '.join(installs)}" if installs else line


def check_summary(
    results: Sequence[FileCheck], *, interrupted: bool = False, total: int | None = None
) -> str:
    """The closing line of a `check` run, as `fix_summary` words it.

    `3 files scanned: 1 flagged, 1 clean, 1 failed; 4 diagnostics`.
    """
    counts = Counter(result.status for result in results)
    files = [f"{counts[FLAGGED]} flagged", f"{counts[CLEAN]} clean"]
    files += [f"{counts[status]} {status}" for status in (SKIPPED, FAILED) if counts[status]]
    found = count(sum(len(result.diagnostics) for result in results), "diagnostic")
    return f"{_head(len(results), interrupted, total)}: {', '.join(files)}; {found}"


def _head(scanned: int, interrupted: bool, total: int | None) -> str:
    if interrupted:
        return f"interrupted after {scanned} of {total or scanned} files"
    return f"{count(scanned, 'file')} scanned"


def count(number: int, noun: str) -> str:
    """`1 file`, `3 files`: a number with its noun, plural when needed."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def render_diff(path: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    """A unified diff of the cell sources of two versions of a notebook (`--diff`).

    Each cell is shown as a `# %%` block, as in the percent format of jupytext and VS Code.
    """
    import difflib  # for `--diff` runs only: start-up is most of a one-file run

    return "".join(
        difflib.unified_diff(
            _cells_as_text(old), _cells_as_text(new), f"{path} (original)", f"{path} (fixed)"
        )
    )


def _cells_as_text(notebook: dict[str, Any]) -> list[str]:
    lines = []
    for cell in notebook["cells"]:
        kind = cell["cell_type"]
        lines.append("# %%\n" if kind == "code" else f"# %% [{kind}]\n")
        text = cell_text(cell)
        lines += text.splitlines(keepends=True)
        if text and not text.endswith("\n"):
            lines[-1] += "\n"
    return lines
