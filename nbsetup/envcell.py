"""The generated environment cell: how to find it, what its text is, and how a new one looks."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nbsetup import quoting

#: The cell-metadata key that marks the environment cell.
MARKER = "nbsetup"
#: What the marker holds; fixed, so re-running never churns the metadata.
MARKER_VALUE: dict[str, Any] = {"role": "environment"}
#: The id a new environment cell gets in notebooks whose format has cell ids (4.5+).
CELL_ID = "nbsetup-environment"
#: Generated comment lines start with this; any other line of the cell is the user's.
HEADER_PREFIX = "# nbsetup:"
#: How pip lines may start: the magic (installs into the kernel's environment) or the shell.
PIP_STYLES = ("%pip", "!pip")
#: What runs the pip lines: pip, uv's pip interface (environments made by uv have no pip), or
#: `auto`, a block of the environment cell choosing between them when it runs (`envcell`).
INSTALLERS = ("pip", "uv", "auto")


def find(cells: Sequence[dict[str, Any]]) -> int | None:
    """Index of the environment cell: the first code cell whose metadata holds the marker."""
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code" and isinstance(cell.get("metadata", {}).get(MARKER), dict):
            return index
    return None


def header(pins_label: str | None) -> list[str]:
    """The generated comment that opens the cell, naming the pin source (on one line, always)."""
    if pins_label is None:
        source = "from this notebook's installs (no requirements file found to pin them)"
    else:
        source = f"from this notebook's installs, pinned by {quoting.one_line(pins_label)}"
    return [
        f"{HEADER_PREFIX} environment cell, generated {source}.",
        f"{HEADER_PREFIX} it runs before any other code; to change it, edit the installs or "
        "the requirements and run `nbsetup fix`.",
    ]


def is_header(line: str) -> bool:
    """True for a line nbsetup generated (and so may regenerate)."""
    return line.lstrip().startswith(HEADER_PREFIX)


# --- generated blocks -----------------------------------------------------------------------
#
# Code nbsetup writes into the cell besides install lines (the `auto` installer, the guard) sits
# between `# nbsetup: begin NAME: what it does` and `# nbsetup: end NAME`. Reading the cell back,
# a block is nbsetup's, never the user's: it is regenerated from the pins, or dropped.

_BEGIN = re.compile(rf"{re.escape(HEADER_PREFIX)} begin ([\w-]+)\b")
_END = f"{HEADER_PREFIX} end "
#: The `auto` installer's block; its name in the delimiters.
INSTALLER_BLOCK = "installer"
_INSTALLER_SUMMARY = "pip if the kernel has it, else uv pip (uv venvs lack pip)"
_HAS_PIP = 'if importlib.util.find_spec("pip"):'
_INDENT = "    "


def block(name: str, summary: str, body: Sequence[str]) -> list[str]:
    """A generated block: `# nbsetup: begin NAME: SUMMARY`, the body, `# nbsetup: end NAME`."""
    return [f"{HEADER_PREFIX} begin {name}: {summary}", *body, f"{_END}{name}"]


def installer_block(pip_lines: Sequence[str], uv_lines: Sequence[str]) -> list[str]:
    """The `auto` installer: the same installs through `%pip`, or `%uv pip` without pip.

    IPython rewrites an indented `%magic` line into `get_ipython().run_line_magic(...)` (its
    input transformers look past the indentation), so the magics can sit under `if`/`else`.
    The blank line after the import is the one `ruff format` and black put there.
    """
    body = ["import importlib.util", "", _HAS_PIP, *_indented(pip_lines), "else:"]
    return block(INSTALLER_BLOCK, _INSTALLER_SUMMARY, [*body, *_indented(uv_lines)])


def _indented(entries: Sequence[str]) -> list[str]:
    """Each line of `entries` indented into a branch; an entry may span lines (`\\` ends)."""
    return [_INDENT + line if line.strip() else "" for e in entries for line in e.split("\n")]


def _spans(lines: Sequence[str]) -> list[tuple[str, int, int]]:
    """(name, first line, line after the end) of each complete block; unclosed ones are not."""
    spans = []
    index = 0
    while index < len(lines):
        match = _BEGIN.match(lines[index].strip())
        if match:
            end = f"{_END}{match.group(1)}"
            close = next(
                (i for i in range(index + 1, len(lines)) if lines[i].strip() == end), None
            )
            if close is not None:
                spans.append((match.group(1), index, close + 1))
                index = close + 1
                continue
        index += 1
    return spans


def read_blocks(text: str) -> Mapping[str, tuple[str, ...]]:
    """The generated blocks of a cell's text by name, each as its stripped lines."""
    lines = text.splitlines()
    return {
        name: tuple(line.strip() for line in lines[start:end])
        for name, start, end in _spans(lines)
    }


def _read_back(lines: Sequence[str]) -> list[str | None]:
    """Each line (with its ending) as nbsetup reads it back; None where a block generated it.

    The `auto` installer block gives back its `%pip` branch, dedented, blank lines included
    (they are the document's: a formatter may have put them there).
    """
    view: list[str | None] = list(lines)
    for name, start, end in _spans(lines):
        branch = False
        for index in range(start, end):
            body = lines[index].rstrip("\r\n")
            ending = lines[index][len(body) :]
            stripped = body.strip()
            if name == INSTALLER_BLOCK and stripped in (_HAS_PIP, "else:"):
                branch = stripped == _HAS_PIP
                view[index] = None
            elif branch and not stripped:
                view[index] = ending
            elif branch and body.startswith(_INDENT):
                view[index] = body[len(_INDENT) :] + ending
            else:
                view[index] = None
    return view


def user_view(text: str) -> str:
    """The cell as nbsetup reads it back: its generated blocks blanked, line for line.

    The `auto` installer block leaves its `%pip` branch, dedented, so that the install lines
    read as the plain lines they stand for; every other line of a block becomes empty. Lines
    keep their numbers and endings.
    """
    lines = text.splitlines(keepends=True)
    view = _read_back(lines)
    return "".join(
        line[len(line.rstrip("\r\n")) :] if read is None else read
        for line, read in zip(lines, view, strict=True)
    )


def document(text: str) -> list[str]:
    """The entries of an environment cell: its lines that nbsetup did not generate, in order.

    Header lines and generated blocks are left out (the `auto` installer block gives back its
    `%pip` branch, `user_view`); so are blank lines at either end. Moved comments, install
    lines and the user's own lines are the document, which later runs keep and extend.
    """
    lines = [
        read.rstrip()
        for read in _read_back(text.splitlines(keepends=True))
        if read is not None and not is_header(read)
    ]
    first = next((i for i, line in enumerate(lines) if line), len(lines))
    last = next((i for i in range(len(lines), 0, -1) if lines[i - 1]), first)
    return lines[first:last]


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
