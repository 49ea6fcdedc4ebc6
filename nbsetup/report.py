"""What happened to each file: records, their text/JSON/GitHub renderings, and the exit code."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nbsetup.notebook_io import cell_text

#: Version of the JSON report layout; bump it on any incompatible change.
SCHEMA_VERSION = 1

#: Kinds of change, in the order a report lists them.
CHANGE_KINDS = (
    "hoisted",
    "pinned",
    "conflict",
    "mismatch",
    "unpinned",
    "duplicate",
    "moved",
    "kept",
    "preloaded",
    "left",
    "restart",
    "cell-removed",
    "env-cell",
    "skipped",
    "paired",
)
#: Kinds a user should look at (warnings in text, annotations on GitHub).
WARNING_KINDS = frozenset({"conflict", "mismatch", "left", "moved", "preloaded", "restart"})
#: Kinds the pin policy reports once per package of the environment cell it writes.
PACKAGE_KINDS = frozenset(
    {"pinned", "unpinned", "conflict", "mismatch", "duplicate", "moved", "kept"}
)

#: File outcomes.
CHANGED, UNCHANGED, SKIPPED, FAILED = "changed", "unchanged", "skipped", "failed"


@dataclass(frozen=True)
class Change:
    """One thing the transform did or declined to do, with where (1-based cell and line)."""

    kind: str
    message: str
    cell: int | None = None
    line: int | None = None
    package: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON report form of this change."""
        return {
            "kind": self.kind,
            "cell": self.cell,
            "line": self.line,
            "package": self.package,
            "message": self.message,
        }


@dataclass(frozen=True)
class FileResult:
    """The outcome for one path: its status, the changes, and the reason when it failed."""

    path: str
    status: str
    changes: tuple[Change, ...] = ()
    error: str | None = None
    #: Unified diff of cell sources (only computed under `--diff`).
    diff: str = ""
    #: Where the pins came from, if anywhere.
    requirements: str | None = None
    #: The last frames of an internal error's traceback, shown under `-v` (not in JSON).
    traceback: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON report form of this file's result."""
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "requirements": self.requirements,
            "changes": [change.to_dict() for change in self.changes],
        }


@dataclass(frozen=True)
class RunOptions:
    """What the run was asked to do, for the exit code."""

    check: bool = False
    diff: bool = False


@dataclass(frozen=True)
class Totals:
    """The counts of a run's closing summary (text) and of the JSON report's `summary`."""

    scanned: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    #: Packages in the environment cells of changed files, distinct per file, as the pin notes
    #: name them (every pip package; conda ones when conda pins are in use; otherwise conda and
    #: apt ones only when duplicated or conflicting).
    packages: int = 0
    conflicts: int = 0
    #: Installs reported as not moved, one per install site and reason.
    left: int = 0


def tally(results: Iterable[FileResult]) -> Totals:
    """Count the outcomes, packages, conflicts and installs left in place of a run."""
    statuses: Counter[str] = Counter()
    packages = conflicts = left = 0
    for result in results:
        statuses[result.status] += 1
        if result.status == CHANGED:
            packages += len({c.package for c in result.changes if c.kind in PACKAGE_KINDS})
        conflicts += sum(change.kind == "conflict" for change in result.changes)
        left += sum(change.kind == "left" for change in result.changes)
    return Totals(
        scanned=statuses.total(),
        changed=statuses[CHANGED],
        unchanged=statuses[UNCHANGED],
        skipped=statuses[SKIPPED],
        failed=statuses[FAILED],
        packages=packages,
        conflicts=conflicts,
        left=left,
    )


def exit_code(
    results: Iterable[FileResult], options: RunOptions, *, interrupted: bool = False
) -> int:
    """0 success, 1 when `--check`/`--diff` found changes, 2 when any file failed (wins).

    An interrupted run (Ctrl-C) exits 130, as a shell reports a command killed by SIGINT.
    """
    if interrupted:
        return 130
    statuses = {result.status for result in results}
    if FAILED in statuses:
        return 2
    if (options.check or options.diff) and CHANGED in statuses:
        return 1
    return 0


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


def summary_line(
    results: Sequence[FileResult],
    options: RunOptions,
    *,
    interrupted: bool = False,
    total: int | None = None,
) -> str:
    """The closing line of a run (`total`: the files it set out to process).

    `3 files scanned: 1 fixed, 1 unchanged, 1 failed; 4 packages hoisted, 2 installs left in
    place`, or `interrupted after 120 of 2000 files: ...` when Ctrl-C stopped it.
    """
    totals = tally(results)
    checking = options.check or options.diff
    if interrupted:
        head = f"interrupted after {totals.scanned} of {total or totals.scanned} files"
    else:
        head = f"{count(totals.scanned, 'file')} scanned"
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
    line = f"{head}: {', '.join(files)}"
    return f"{line}; {', '.join(installs)}" if installs else line


def count(number: int, noun: str) -> str:
    """`1 file`, `3 files`: a number with its noun, plural when needed."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def render_diff(path: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    """A unified diff of the cell sources of two versions of a notebook (`--diff`).

    Each cell is shown as a `# %%` block, as in the percent format of jupytext and VS Code.
    """
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


def render_json(
    results: Sequence[FileResult], options: RunOptions, *, interrupted: bool = False
) -> str:
    """The machine-readable report of a run (`--format json`), schema `SCHEMA_VERSION`.

    `summary` holds the counts of `Totals`; `files` lists the files processed, in order (under
    `interrupted`, only those done before Ctrl-C).
    """
    totals = tally(results)
    document = {
        "schema": SCHEMA_VERSION,
        "summary": {
            CHANGED: totals.changed,
            UNCHANGED: totals.unchanged,
            SKIPPED: totals.skipped,
            FAILED: totals.failed,
            "packages": totals.packages,
            "conflicts": totals.conflicts,
            "left": totals.left,
        },
        "interrupted": interrupted,
        "exit_code": exit_code(results, options, interrupted=interrupted),
        "files": [result.to_dict() for result in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def render_github(results: Sequence[FileResult]) -> list[str]:
    """GitHub Actions workflow commands: an annotation per warning and per failed file."""
    lines = []
    for result in results:
        if result.error is not None:
            lines.append(
                f"::error file={escape_property(result.path)}::{escape_data(result.error)}"
            )
        for change in result.changes:
            if change.kind not in WARNING_KINDS:
                continue
            title = f"cell {change.cell}" if change.cell is not None else "nbsetup"
            lines.append(
                f"::warning file={escape_property(result.path)},"
                f"title={escape_property(title)}::{escape_data(change.message)}"
            )
    return lines


def escape_data(text: str) -> str:
    """GitHub's workflow-command escaping for a message (`::warning ...::MESSAGE`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """GitHub's workflow-command escaping for a property value (`file=...`, `title=...`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


__all__ = [
    "CHANGED",
    "CHANGE_KINDS",
    "FAILED",
    "PACKAGE_KINDS",
    "SCHEMA_VERSION",
    "SKIPPED",
    "UNCHANGED",
    "Change",
    "FileResult",
    "RunOptions",
    "Totals",
    "count",
    "escape_data",
    "escape_property",
    "exit_code",
    "format_change",
    "format_error",
    "render_diff",
    "render_github",
    "render_json",
    "summary_line",
    "tally",
]
