"""JUnit XML for `nbsetup check` (`--output-format junit`), for CI systems that show test reports.

One `testsuite` per notebook, one `testcase` per diagnostic (a `failure`), a single passing
`testcase` for a clean notebook, an `error` for a file that could not be checked and a
`skipped` one for a notebook that was not (an R kernel).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from nbsetup.report.outcomes import FileCheck

#: The name of the test case a clean, failed or skipped notebook gets.
FILE_CASE = "nbsetup check"


def check_junit(results: Sequence[FileCheck]) -> str:
    """The JUnit XML document of a `check` run (UTF-8, with its declaration)."""
    suites = ET.Element("testsuites", name="nbsetup")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for result in results:
        suite = ET.SubElement(suites, "testsuite", name=result.path)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for d in sorted(result.diagnostics, key=lambda d: (d.cell, d.line)):
            where = f"cell {d.cell}, line {d.line}"
            case = ET.SubElement(
                suite, "testcase", name=f"{d.code} {where}", classname=result.path
            )
            failure = ET.SubElement(case, "failure", message=d.message, type=d.code)
            failure.text = f"{result.path}:{where}: {d.code} {d.message}"
            counts["tests"] += 1
            counts["failures"] += 1
        if not result.diagnostics:
            case = ET.SubElement(suite, "testcase", name=FILE_CASE, classname=result.path)
            counts["tests"] += 1
            if result.error is not None:
                ET.SubElement(case, "error", message=result.error).text = result.error
                counts["errors"] += 1
            elif result.skipped is not None:
                ET.SubElement(case, "skipped", message=result.skipped)
                counts["skipped"] += 1
        for key, number in counts.items():
            suite.set(key, str(number))
            totals[key] += number
    for key, number in totals.items():
        suites.set(key, str(number))
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'


__all__ = ["FILE_CASE", "check_junit"]
