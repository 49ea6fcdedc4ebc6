"""SARIF 2.1.0 for `nbsetup check` (`--output-format sarif`), as GitHub code scanning reads it.

One run, the rules of `diagnostics.CODES`, one result per diagnostic. A result's location is the
notebook file only: a SARIF region counts lines of the file, and a notebook's lines are those
of its JSON text, not of its cells, so the cell and line are in the message and in the result's
`properties` (`{"cell": 2, "line": 1}`). Files that could not be checked become error
notifications of the run's invocation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from nbsetup import __version__
from nbsetup.diagnostics import CODES
from nbsetup.report.outcomes import FileCheck

SARIF_VERSION = "2.1.0"
#: Where the schema of `SARIF_VERSION` is published (the OASIS standard, errata 01).
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/nbsetup/nbsetup"


def check_sarif(results: Sequence[FileCheck], *, interrupted: bool = False) -> str:
    """The SARIF log of a `check` run: its rules, results and failed files."""
    index = {code: position for position, code in enumerate(CODES)}
    findings = [
        {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": "warning",
            "message": {"text": f"cell {d.cell}, line {d.line}: {d.message}"},
            "locations": [_location(result.path)],
            "properties": {"cell": d.cell, "line": d.line},
        }
        for result in results
        for d in sorted(result.diagnostics, key=lambda d: (d.cell, d.line))
    ]
    failures = [
        {
            "level": "error",
            "message": {"text": result.error},
            "locations": [_location(result.path)],
        }
        for result in results
        if result.error is not None
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not failures and not interrupted}
    if failures:
        invocation["toolExecutionNotifications"] = failures
    rules = [
        {"id": code, "name": code, "shortDescription": {"text": summary}}
        for code, summary in CODES.items()
    ]
    driver = {
        "name": "nbsetup",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": rules,
    }
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": driver}, "invocations": [invocation], "results": findings}],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)


def artifact_uri(path: str) -> str:
    """A report path as a SARIF artifact URI: relative paths stay relative (`nbs/a%20b.ipynb`),
    absolute ones become `file://` URIs."""
    if PureWindowsPath(path).is_absolute() and not path.startswith("/"):
        return PureWindowsPath(path).as_uri()
    if path.startswith("/"):
        return PurePosixPath(path).as_uri()
    return quote(path.replace("\\", "/"))


def _location(path: str) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path)}}}


__all__ = ["SARIF_SCHEMA", "SARIF_VERSION", "artifact_uri", "check_sarif"]
