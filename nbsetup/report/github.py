"""GitHub Actions workflow commands: annotations for `fix` and `check` runs."""

from __future__ import annotations

from collections.abc import Sequence

from nbsetup.changes import WARNING_KINDS
from nbsetup.report.outcomes import CHANGED, FileCheck, FileResult

#: The error annotation of a file that `fix --check`/`--diff` would change.
WOULD_CHANGE = "would be changed by nbsetup fix (run `nbsetup fix` on it and commit the result)"


def fix_annotations(results: Sequence[FileResult], *, checking: bool = False) -> list[str]:
    """An annotation per warning and per failed file of a `fix` run, in cell order.

    `checking` (`--check`/`--diff`): each file that would change also gets an error, so that
    the annotations of a failing job name the notebooks it failed for.
    """
    lines = []
    for result in results:
        if result.error is not None:
            lines.append(
                f"::error file={escape_property(result.path)}::{escape_data(result.error)}"
            )
        elif checking and result.status == CHANGED:
            lines.append(f"::error file={escape_property(result.path)}::{WOULD_CHANGE}")
        for change in sorted(result.changes, key=lambda c: (c.cell or 0, c.line or 0)):
            if change.kind not in WARNING_KINDS:
                continue
            title = f"cell {change.cell}" if change.cell is not None else "nbsetup"
            lines.append(
                f"::warning file={escape_property(result.path)},"
                f"title={escape_property(title)}::{escape_data(change.message)}"
            )
    return lines


def check_annotations(results: Sequence[FileCheck]) -> list[str]:
    """A warning per diagnostic, an error per failed file of a `check` run.

    Annotations carry no `line`: GitHub would read it as a line of the notebook's JSON text.
    """
    lines = []
    for result in results:
        path = escape_property(result.path)
        if result.error is not None:
            lines.append(f"::error file={path}::{escape_data(result.error)}")
        for d in sorted(result.diagnostics, key=lambda d: (d.cell, d.line)):
            message = escape_data(f"cell {d.cell}, line {d.line}: {d.message}")
            lines.append(f"::warning file={path},title={d.code}::{message}")
    return lines


def escape_data(text: str) -> str:
    """GitHub's workflow-command escaping for a message (`::warning ...::MESSAGE`)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """GitHub's workflow-command escaping for a property value (`file=...`, `title=...`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
