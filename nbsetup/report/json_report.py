"""The machine-readable reports of `fix` and `check` (`--format json`), schema 1."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from nbsetup.diagnostics import CODES
from nbsetup.report.outcomes import (
    CHANGED,
    CLEAN,
    FAILED,
    FLAGGED,
    SCHEMA_VERSION,
    SKIPPED,
    UNCHANGED,
    FileCheck,
    FileResult,
    RunOptions,
    check_exit_code,
    fix_exit_code,
    tally,
)


def fix_json(
    results: Sequence[FileResult],
    options: RunOptions,
    *,
    interrupted: bool = False,
    cells: bool = False,
    diff: bool = False,
) -> str:
    """The report of a `fix` run, schema `SCHEMA_VERSION`.

    `summary` holds the counts of `Totals`; `files` lists the files processed, in order (under
    `interrupted`, only those done before Ctrl-C). With `cells`, each file also lists its
    changed cells before and after (`--report-cells`); without, the output is as it always was.
    With `diff` (`--diff`), each file also has `diff`: its unified diff, empty when unchanged.
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
        "exit_code": fix_exit_code(results, options, interrupted=interrupted),
        "files": [_file(result, cells, diff) for result in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _file(result: FileResult, cells: bool, diff: bool) -> dict[str, object]:
    entry = result.to_dict()
    if cells:
        entry["cells"] = [cell.to_dict() for cell in result.cells]
    if diff:
        entry["diff"] = result.diff
    return entry


def statistics_json(results: Sequence[FileCheck]) -> str:
    """`check --statistics --output-format json`: `[{"code", "summary", "count"}]`, the most
    frequent first."""
    counts = Counter(d.code for result in results for d in result.diagnostics)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    table = [{"code": code, "summary": CODES[code], "count": number} for code, number in rows]
    return json.dumps(table, indent=2, ensure_ascii=False)


def check_json(results: Sequence[FileCheck], *, interrupted: bool = False) -> str:
    """The report of a `check` run, schema `SCHEMA_VERSION`.

    `summary` counts files by status and diagnostics by code (codes that occur).
    """
    counts = Counter(result.status for result in results)
    codes = Counter(d.code for result in results for d in result.diagnostics)
    document = {
        "schema": SCHEMA_VERSION,
        "summary": {
            **{status: counts[status] for status in (FLAGGED, CLEAN, SKIPPED, FAILED)},
            "diagnostics": {code: codes[code] for code in CODES if codes[code]},
        },
        "interrupted": interrupted,
        "exit_code": check_exit_code(results, interrupted=interrupted),
        "files": [result.to_dict() for result in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)
