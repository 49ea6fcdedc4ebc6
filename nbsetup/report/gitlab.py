"""GitLab code quality JSON for `nbsetup check` (`--output-format gitlab`).

A list of issues, each with a description, the rule as `check_name`, a fingerprint that
stays the same while the finding does, and a location. GitLab's `lines.begin` counts lines of
the file, which for a notebook are lines of its JSON text: it is 1, and the description says
which cell and line.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from nbsetup.report.outcomes import FileCheck


def check_gitlab(results: Sequence[FileCheck]) -> str:
    """The code quality report of a `check` run."""
    issues: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for result in results:
        for d in sorted(result.diagnostics, key=lambda d: (d.cell, d.line)):
            key = f"{result.path}\0{d.code}\0{d.cell}\0{d.line}\0{d.message}"
            seen[key] += 1  # the same finding twice still needs two fingerprints
            digest = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()
            issues.append(
                {
                    "description": f"{d.code} cell {d.cell}, line {d.line}: {d.message}",
                    "check_name": d.code,
                    "fingerprint": digest[:32],
                    "severity": "minor",
                    "location": {"path": result.path, "lines": {"begin": 1}},
                }
            )
    return json.dumps(issues, indent=2, ensure_ascii=False)


__all__ = ["check_gitlab"]
