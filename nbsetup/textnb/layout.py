"""Where each cell of a text notebook sits in its text, as jupytext reads it.

jupytext turns text into cells but forgets where each came from. `locate` reads the text the
way jupytext does and records, for every cell, the span of lines it was read from: its `body`
(from its first line to its last non-blank line) and its `trailer` (the blank lines up to the
next cell). Header, bodies and trailers together are the text, byte for byte.

Before (a percent script)::

    # ---\\n ... # ---\\n\\n          header
    # %%\\n# !pip install x\\n        cell 0 body
    \\n                               cell 0 trailer
    # %%\\nimport x\\n                cell 1 body
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from nbsetup.errors import NbsetupError, NotebookError

#: jupytext formats read cell by cell with its own cell readers (a span per cell), and MyST.
LINE_FORMATS = frozenset({"percent", "light", "hydrogen", "nomarker", "markdown", "rmarkdown"})
MYST = "myst"

EXTRA_HINT = "install it with: pip install 'nbsetup[text]'"


class MissingExtra(NbsetupError):
    """jupytext (the `text` extra) is not installed."""


class TextNotebookError(NotebookError):
    """A text notebook that cannot be read, or written back byte for byte."""


@dataclass(frozen=True)
class Piece:
    """One cell's text: its lines (`body`) and the blank lines after them (`trailer`)."""

    body: str
    trailer: str


@dataclass(frozen=True)
class Layout:
    """A text notebook as jupytext reads it, with the text of every cell."""

    notebook: dict[str, Any]
    #: The long-form jupytext format (`{"extension": ".py", "format_name": "percent", ...}`).
    fmt: dict[str, str]
    header: str
    #: One per cell of `notebook`; None for a cell jupytext makes of the header's own fields.
    pieces: tuple[Piece | None, ...]


def jupytext_module() -> Any:
    """The `jupytext` module, or `MissingExtra` naming the extra that provides it."""
    try:
        import jupytext
    except ImportError:
        raise MissingExtra(f"text notebooks need jupytext; {EXTRA_HINT}") from None
    return jupytext


def long_format(text: str, fmt: str | dict[str, str]) -> dict[str, str]:
    """`fmt` (`"py"`, `"py:percent"`, ...) completed as `jupytext.reads` completes it."""
    jupytext_module()
    from jupytext.formats import guess_format, long_form_one_format, read_format_from_metadata

    full: dict[str, str] = dict(long_form_one_format(fmt))
    name = read_format_from_metadata(text, full["extension"]) or full.get("format_name")
    if name:
        full["format_name"] = name
    else:
        name, options = guess_format(text, full["extension"])
        full.update(options, format_name=name)
    if full["format_name"] not in LINE_FORMATS | {MYST}:
        raise TextNotebookError(
            f"jupytext format {full['extension'][1:]}:{full['format_name']} is not supported "
            "(supported: percent and light scripts, MyST and jupytext markdown)"
        )
    return full


def locate(text: str, fmt: dict[str, str]) -> Layout:
    """Read `text` with jupytext and find each cell's piece of it; checked against jupytext."""
    jupytext = jupytext_module()
    notebook = jupytext.reads(text, fmt=dict(fmt))
    starts = _myst_starts(text) if fmt["format_name"] == MYST else _line_starts(text, fmt)
    cells = notebook["cells"]
    extra = len(cells) - len(starts)
    if extra not in (0, 1) or (extra == 1 and cells[0]["cell_type"] != "raw"):
        raise TextNotebookError(
            f"cannot tell where its {len(cells)} cells are in the text; it was not changed"
        )
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    bounds = [*starts, len(lines)]
    pieces: list[Piece | None] = [None] * extra
    for start, end in itertools.pairwise(bounds):
        last = end
        while last > start + 1 and not lines[last - 1].strip():
            last -= 1
        pieces.append(
            Piece(text[offsets[start] : offsets[last]], text[offsets[last] : offsets[end]])
        )
    return Layout(notebook, fmt, text[: offsets[bounds[0]]], tuple(pieces))


def _line_starts(text: str, fmt: dict[str, str]) -> list[int]:
    """The first line of every cell, as jupytext's own cell readers find them."""
    from jupytext.jupytext import TextNotebookConverter

    total = len(text.splitlines())
    starts: list[int] = []
    converter = TextNotebookConverter(dict(fmt), None)
    implementation = copy.copy(converter.implementation)
    reader = implementation.cell_reader_class

    class Recording(reader):  # type: ignore[misc, valid-type]
        """jupytext's cell reader, noting where in the text each cell begins."""

        def read(self, lines: list[str]) -> Any:
            starts.append(total - len(lines))
            return super().read(lines)

    implementation.cell_reader_class = Recording
    converter.implementation = implementation
    converter.reads(text)
    return starts


def _myst_starts(text: str) -> list[int]:
    """The first line of every cell of a MyST notebook, walking tokens as jupytext does.

    A code or raw cell starts at its fence; a markdown cell at its `+++` break, else at its
    first non-blank line.
    """
    from jupytext.myst import CODE_DIRECTIVE, RAW_DIRECTIVE, get_parser

    tokens = get_parser().parse(text + "\n")
    lines = text.splitlines()
    md_start = 0
    if tokens and tokens[0].type == "front_matter":
        md_start = tokens.pop(0).map[1]
    starts: list[int] = []
    pending_break: int | None = None

    def flush(end: int) -> None:
        nonlocal pending_break
        body = [i for i in range(md_start, end) if lines[i].strip()]
        if body:
            starts.append(pending_break if pending_break is not None else body[0])
        pending_break = None

    nesting = 0
    for token in tokens:
        nesting += token.nesting
        if nesting != 0:
            continue
        is_cell = token.type == "fence" and token.info.startswith((CODE_DIRECTIVE, RAW_DIRECTIVE))
        if is_cell or token.type == "myst_block_break":
            flush(token.map[0])
            if is_cell:
                starts.append(token.map[0])
            else:
                pending_break = token.map[0]
            md_start = token.map[1]
    flush(len(lines))
    return starts


__all__ = ["EXTRA_HINT", "Layout", "MissingExtra", "Piece", "TextNotebookError", "locate"]
