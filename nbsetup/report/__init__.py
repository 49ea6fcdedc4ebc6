"""The report layer: file outcomes of `fix` and `check`, rendered as text, JSON or GitHub
annotations, and the exit code of a run. Everything below the shell returns data; only this
package decides how it is shown.
"""

from __future__ import annotations

from nbsetup.report.github import check_annotations, escape_data, escape_property, fix_annotations
from nbsetup.report.json_report import check_json, fix_json
from nbsetup.report.outcomes import (
    CHANGED,
    CLEAN,
    FAILED,
    FLAGGED,
    INTERRUPTED,
    SCHEMA_VERSION,
    SKIPPED,
    UNCHANGED,
    FileCheck,
    FileResult,
    RunOptions,
    Totals,
    check_exit_code,
    fix_exit_code,
    tally,
)
from nbsetup.report.text import (
    check_lines,
    check_summary,
    count,
    fix_summary,
    format_change,
    format_diagnostic,
    format_error,
    render_diff,
)

__all__ = [
    "CHANGED",
    "CLEAN",
    "FAILED",
    "FLAGGED",
    "INTERRUPTED",
    "SCHEMA_VERSION",
    "SKIPPED",
    "UNCHANGED",
    "FileCheck",
    "FileResult",
    "RunOptions",
    "Totals",
    "check_annotations",
    "check_exit_code",
    "check_json",
    "check_lines",
    "check_summary",
    "count",
    "escape_data",
    "escape_property",
    "fix_annotations",
    "fix_exit_code",
    "fix_json",
    "fix_summary",
    "format_change",
    "format_diagnostic",
    "format_error",
    "render_diff",
    "tally",
]
