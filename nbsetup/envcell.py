"""The generated environment cell: how to find it, what its text is, and how a new one looks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The cell-metadata key that marks the environment cell.
MARKER = "nbsetup"
#: What the marker holds; fixed, so re-running never churns the metadata.
MARKER_VALUE: dict[str, Any] = {"role": "environment"}
#: The id a new environment cell gets in notebooks whose format has cell ids (4.5+).
CELL_ID = "nbsetup-environment"
#: Generated comment lines start with this; any other line of the cell is the user's.
HEADER_PREFIX = "# nbsetup:"


def find(cells: Sequence[dict[str, Any]]) -> int | None:
    """Index of the environment cell: the first code cell whose metadata holds the marker."""
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code" and isinstance(cell.get("metadata", {}).get(MARKER), dict):
            return index
    return None


def header(requirements: str | None) -> list[str]:
    """The generated comment that opens the cell, naming the pin source."""
    if requirements is None:
        source = "from this notebook's installs (no requirements file found to pin them)"
    else:
        source = f"from this notebook's installs, pinned by {requirements}"
    return [
        f"{HEADER_PREFIX} environment cell, generated {source}.",
        f"{HEADER_PREFIX} it runs before any other code; to change it, edit the installs or "
        "the requirements and run `nbsetup fix`.",
    ]


def is_header(line: str) -> bool:
    """True for a line nbsetup generated (and so may regenerate)."""
    return line.lstrip().startswith(HEADER_PREFIX)


def new_cell(
    source: str | list[str],
    template: dict[str, Any] | None,
    with_id: bool,
    taken: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A fresh environment cell whose key order follows `template` (another code cell).

    Its id is `CELL_ID`, or `CELL_ID-2`, `-3`, ... when another cell already uses it (`taken`).
    """
    cell_id = next(
        candidate
        for candidate in (CELL_ID, *(f"{CELL_ID}-{n}" for n in range(2, len(taken) + 3)))
        if candidate not in taken
    )
    values: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {MARKER: dict(MARKER_VALUE)},
        "outputs": [],
        "source": source,
    }
    if not with_id:
        del values["id"]
    order = [key for key in (template or {}) if key in values]
    order += sorted(key for key in values if key not in order)
    return {key: values[key] for key in order}


def as_source(text: str, like: str | list[str]) -> str | list[str]:
    """`text` in the shape of `like`: a string, or a list of lines (each with its newline)."""
    if isinstance(like, str):
        return text
    return text.splitlines(keepends=True)
