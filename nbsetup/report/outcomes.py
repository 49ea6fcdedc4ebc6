"""What happened to each file of a run, the run's totals, and its exit code.

`FileResult` is one notebook's outcome under `nbsetup fix`, `FileCheck` under `nbsetup check`;
the renderers beside this module (`text`, `json_report`, `github`) turn lists of them into
output, and `fix_exit_code`/`check_exit_code` into the process's status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nbsetup.changes import PACKAGE_KINDS, Change
from nbsetup.diagnostics import Diagnostic
from nbsetup.report.cells import CellChange

#: Version of the JSON report layout; bump it on any incompatible change.
SCHEMA_VERSION = 1

#: Outcomes of `fix`.
CHANGED, UNCHANGED, SKIPPED, FAILED = "changed", "unchanged", "skipped", "failed"
#: Outcomes of `check` besides `SKIPPED` and `FAILED`.
CLEAN, FLAGGED = "clean", "flagged"

#: The exit status of a run stopped by Ctrl-C, as a shell reports a command killed by SIGINT.
INTERRUPTED = 130


@dataclass(frozen=True)
class FileResult:
    """The outcome for one path under `fix`: its status, the changes, the reason it failed."""

    path: str
    status: str
    changes: tuple[Change, ...] = ()
    error: str | None = None
    #: Unified diff of cell sources (only computed under `--diff`).
    diff: str = ""
    #: Where the pins came from, if anywhere (`requirements` in the JSON report, schema 1).
    pin_sources: str | None = None
    #: The last frames of an internal error's traceback, shown under `-v` (not in JSON).
    traceback: str = ""
    #: The changed cells, before and after (only computed for `--report-html`/`--report-cells`).
    cells: tuple[CellChange, ...] = ()
    #: The pyproject.toml whose `[tool.nbsetup]` applied, if any (shown under `-v`).
    config: str | None = None
    #: How long processing the file took, in seconds (shown under `-v`, not in JSON).
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON report form of this file's result."""
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "requirements": self.pin_sources,
            "changes": [change.to_dict() for change in self.changes],
        }


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one path: its diagnostics, or why it was skipped or failed."""

    path: str
    diagnostics: tuple[Diagnostic, ...] = ()
    #: Why the file could not be checked (`PATH: error: REASON`), else None.
    error: str | None = None
    #: Why the notebook was not checked (e.g. an R kernel), else None.
    skipped: str | None = None
    #: Whether it was skipped by the user's choice (an opt-out): as ruff says nothing of an
    #: excluded file, the text report then names it under `-v` only.
    opted_out: bool = False
    #: Where the pins came from, if anywhere (`requirements` in the JSON report, schema 1).
    pin_sources: str | None = None
    #: The last frames of an internal error's traceback, shown under `-v` (not in JSON).
    traceback: str = ""
    #: As `FileResult.config` and `FileResult.seconds`.
    config: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """`failed`, `skipped`, `flagged` (some diagnostics) or `clean`."""
        if self.error is not None:
            return FAILED
        if self.skipped is not None:
            return SKIPPED
        return FLAGGED if self.diagnostics else CLEAN

    def to_dict(self) -> dict[str, Any]:
        """The JSON report form of this file's result."""
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "skipped": self.skipped,
            "requirements": self.pin_sources,
            "diagnostics": [diagnostic.to_dict() for diagnostic in self.diagnostics],
        }


@dataclass(frozen=True)
class RunOptions:
    """What a `fix` run was asked to do, for the exit code."""

    check: bool = False
    diff: bool = False


@dataclass(frozen=True)
class Totals:
    """The counts of a `fix` run's closing summary (text) and of the JSON report's `summary`."""

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


def fix_exit_code(
    results: Iterable[FileResult], options: RunOptions, *, interrupted: bool = False
) -> int:
    """0 success, 1 when `--check`/`--diff` found changes, 2 when any file failed (wins).

    An interrupted run (Ctrl-C) exits 130.
    """
    if interrupted:
        return INTERRUPTED
    statuses = {result.status for result in results}
    if FAILED in statuses:
        return 2
    if (options.check or options.diff) and CHANGED in statuses:
        return 1
    return 0


def check_exit_code(results: Iterable[FileCheck], *, interrupted: bool = False) -> int:
    """0 all clean (or skipped), 1 some diagnostics, 2 a file failed (wins), 130 Ctrl-C."""
    if interrupted:
        return INTERRUPTED
    statuses = {result.status for result in results}
    if FAILED in statuses:
        return 2
    return 1 if FLAGGED in statuses else 0
