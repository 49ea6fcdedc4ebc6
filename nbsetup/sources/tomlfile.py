"""Read a TOML pin source with `tomllib`, and tell on which line a parsed value is written.

tomllib gives values without positions. Reports still name a line where they can: the n-th
`[[package]]` header of a lock is found by scanning the text, and the scan is trusted only
when it finds as many headers as tomllib found tables; a dependency string is found by its
quoted spelling. The values themselves always come from tomllib.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nbsetup.pins import RequirementsError
from nbsetup.sources.requirements_txt import os_error_reason, read_pin_bytes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (tests run on 3.11+)
    import tomli as tomllib


def read(path: Path) -> tuple[dict[str, Any], str]:
    """The parsed document and its text; `RequirementsError` naming the file on failure."""
    origin = str(path)
    try:
        data = read_pin_bytes(path)
    except OSError as error:
        raise RequirementsError(origin, f"cannot read file: {os_error_reason(error)}") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise RequirementsError(origin, "not valid UTF-8 text") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        reason = str(error)
        raise RequirementsError(
            origin, f"invalid TOML: {reason[:1].lower()}{reason[1:]}"
        ) from None


def table_lines(text: str, name: str, count: int) -> list[int | None]:
    """The 1-based line of each `[[name]]` table, or Nones when the text does not show them all.

    `count` is how many tables tomllib found; an array written inline (`name = [{...}]`) or a
    header spelled inside a multi-line string makes the scan disagree, and then no line is told.
    """
    wanted = f"[[{name}]]"
    found = [
        number
        for number, line in enumerate(text.split("\n"), start=1)
        if "".join(line.partition("#")[0].split()) == wanted
    ]
    return list(found) if len(found) == count else [None] * count


def string_line(text: str, value: str) -> int | None:
    """The first line holding `value` as a TOML basic or literal string, if any."""
    forms = (json.dumps(value, ensure_ascii=False), f"'{value}'")
    for number, line in enumerate(text.split("\n"), start=1):
        if any(form in line for form in forms):
            return number
    return None


def table_array(document: Mapping[str, Any], key: str, origin: str) -> Sequence[Mapping[str, Any]]:
    """`document[key]` as an array of tables (empty when absent)."""
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise RequirementsError(origin, f"'{key}' must be an array of tables")
    return value


def optional_string(
    table: Mapping[str, Any], key: str, origin: str, where: str, line: int | None
) -> str | None:
    """`table[key]` when it is a string, None when absent; an error naming `where` otherwise."""
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise RequirementsError(origin, f"{where}: '{key}' must be a string", line)
    return value
