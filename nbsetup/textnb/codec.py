"""Text notebook bytes ⇄ notebook data, writing back only the cells that changed.

`loads` reads a jupytext text notebook (percent or light script, MyST or jupytext markdown)
into the notebook jupytext reads from it; `dumps` writes a changed notebook back: the header
and every unchanged cell keep their exact text, and only new and changed cells are rendered,
by jupytext, in the file's own format (so magics are commented as the format comments them:
`# %pip install x` in a percent script, bare in a MyST `{code-cell}`). With nothing changed,
`dumps` returns the original bytes.

Before (a percent script; cell 1 changed)::

    # %%\\n# !pip install x\\nimport x\\n\\n# %%\\ny = 2 # odd spacing kept\\n

After::

    # %% nbsetup={"role": "environment"}\\n# %pip install x\\n\\n# %%\\nimport x\\n\\n
    # %%\\ny = 2 # odd spacing kept\\n
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nbsetup import envcell, notebook_io
from nbsetup.notebook_io import cell_text
from nbsetup.textnb.layout import Layout, Piece, TextNotebookError, jupytext_module
from nbsetup.textnb.layout import locate as _locate
from nbsetup.textnb.layout import long_format as _long_format

_BOM = "\ufeff"
# Blank lines at either end of a cell's source, which no jupytext text format can hold.
_BLANK_EDGES = re.compile(r"\A(?:[ \t]*\n)+|(?:\n[ \t]*)+\Z")

#: What the pipeline's core does to a notebook: the new notebook, and for each of its cells the
#: index of the cell it derives from (None: new), as `transform.Result` has them.
Rewrite = Callable[[dict[str, Any]], tuple[dict[str, Any], Sequence[int | None]]]


@dataclass(frozen=True)
class TextDocument:
    """A decoded text notebook and what is needed to write it back."""

    layout: Layout
    data: bytes
    newline: str
    bom: bool

    @property
    def notebook(self) -> dict[str, Any]:
        """The notebook as jupytext reads it."""
        return self.layout.notebook

    @property
    def fmt(self) -> dict[str, str]:
        """The file's long-form jupytext format."""
        return self.layout.fmt


def loads(data: bytes, fmt: str | dict[str, str]) -> TextDocument:
    """Decode a text notebook; `fmt` is at least its extension (`"py"`, `"md:myst"`, ...)."""
    body, bom = notebook_io.decode_text(data)
    newline = "\r\n" if "\r\n" in body.split("\n", 1)[0] + "\n" else "\n"
    layout = _locate(body, _long_format(body, fmt))
    return TextDocument(layout, data, newline, bom)


def dumps(
    document: TextDocument, notebook: dict[str, Any], origins: Sequence[int | None]
) -> bytes:
    """`notebook` as text in the document's format, copying every unchanged cell's text.

    Raises `TextNotebookError` when the text written would not read back, with jupytext, as
    the cells jupytext itself would write; the file is then left alone.
    """
    layout = document.layout
    originals = layout.notebook["cells"]
    notebook = held(notebook, layout.notebook, origins)
    cells = notebook["cells"]
    unchanged = [
        origin is not None and cells[index] == originals[origin]
        for index, origin in enumerate(origins)
    ]
    if list(origins) == list(range(len(originals))) and all(unchanged):
        return document.data
    rendered = _render(notebook, layout.fmt, document.newline)
    if len(rendered.pieces) != len(cells):
        raise TextNotebookError("jupytext does not write the changed cells back one for one")
    # First keep each unchanged cell's text, re-rendering only the blank lines after a cell
    # whose neighbour changed; if that reads back differently (a MyST `+++` break needed
    # between two markdown cells that a removed cell kept apart), re-render those cells too.
    # Each cell must read back as it read before (unchanged) or as jupytext's own text of it
    # reads (changed): jupytext's text of an unchanged cell may read otherwise than the file's.
    before, after = _meaning(layout.notebook), _meaning(rendered.notebook)
    expected = [
        before[origin] if origin is not None and same else after[index]
        for index, (origin, same) in enumerate(zip(origins, unchanged, strict=True))
    ]
    for strict in (False, True):
        text = _splice(layout, rendered, origins, unchanged, strict)
        if _meaning(jupytext_module().reads(text, fmt=dict(layout.fmt))) == expected:
            break
    else:
        raise TextNotebookError(
            "the changes cannot be written back without changing other cells; it was not changed"
        )
    wanted = [(cell["cell_type"], cell_text(cell)) for cell in cells]
    if [(kind, source) for kind, source, _ in expected] != wanted:
        raise TextNotebookError(
            f"jupytext's {layout.fmt['format_name']} format cannot hold the changed cells "
            "as they are; it was not changed"
        )
    return ((_BOM if document.bom else "") + text).encode("utf-8")


def fix_text(data: bytes, fmt: str | dict[str, str], rewrite: Rewrite) -> bytes:
    """Read a text notebook, apply `rewrite` to its notebook, write it back (see `dumps`)."""
    document = loads(data, fmt)
    notebook, origins = rewrite(document.notebook)
    return dumps(document, notebook, origins)


def held(
    notebook: dict[str, Any], original: dict[str, Any], origins: Sequence[int | None]
) -> dict[str, Any]:
    """`notebook` with its new and changed cells as a text notebook holds them.

    A text format has no place for blank lines at the start or end of a cell (jupytext drops
    them), so a cell that lost its first or last lines to the environment cell loses the blank
    lines left there too; unchanged cells are not touched. Every member of a jupytext pair is
    written through this, so the `.ipynb` holds the same cells as its text twin.

    >>> held({"cells": [{"cell_type": "code", "source": "\\nimport x\\n"}]}, {"cells": []}, [None])
    {'cells': [{'cell_type': 'code', 'source': 'import x'}]}
    """
    cells = original["cells"]
    new_cells = []
    for cell, origin in zip(notebook["cells"], origins, strict=True):
        if origin is None or cell != cells[origin]:
            text = _BLANK_EDGES.sub("", cell_text(cell))
            if text != cell_text(cell):
                cell = {**cell, "source": envcell.as_source(text, cell["source"])}
        new_cells.append(cell)
    return {**notebook, "cells": new_cells}


def _render(notebook: dict[str, Any], fmt: dict[str, str], newline: str) -> Layout:
    """The notebook as jupytext writes it, located cell by cell."""
    import nbformat

    jupytext = jupytext_module()
    text = jupytext.writes(nbformat.from_dict(_keeping_marker(notebook)), fmt=dict(fmt))
    if newline != "\n":
        text = text.replace("\n", newline)
    return _locate(text, fmt)


def _keeping_marker(notebook: dict[str, Any]) -> dict[str, Any]:
    """`notebook` with a jupytext cell-metadata filter that keeps the environment cell's marker.

    A script without a header reads with the filter `-all` (jupytext keeps only the metadata
    keys the file already has); the marker must still be written, or the next run would not
    find the environment cell. Once written, jupytext reads it back like any other key.
    """
    from jupytext.metadata_filter import metadata_filter_as_dict, metadata_filter_as_string

    settings = notebook.get("metadata", {}).get("jupytext", {})
    if "cell_metadata_filter" not in settings or envcell.find(notebook["cells"]) is None:
        return notebook
    rules = metadata_filter_as_dict(settings["cell_metadata_filter"])
    if isinstance(rules.get("excluded"), list):
        rules["excluded"] = [key for key in rules["excluded"] if key != envcell.MARKER]
    if rules.get("additional") != "all":
        rules["additional"] = [*(rules.get("additional") or []), envcell.MARKER]
    metadata = {
        **notebook["metadata"],
        "jupytext": {**settings, "cell_metadata_filter": metadata_filter_as_string(rules)},
    }
    return {**notebook, "metadata": metadata}


def _splice(
    layout: Layout,
    rendered: Layout,
    origins: Sequence[int | None],
    unchanged: Sequence[bool],
    strict: bool,
) -> str:
    out = [layout.header]
    count = len(layout.pieces)
    for index, origin in enumerate(origins):
        previous = origins[index - 1] if index else -1
        following = origins[index + 1] if index + 1 < len(origins) else count
        own = layout.pieces[origin] if origin is not None and unchanged[index] else None
        new = rendered.pieces[index]
        if own is None and new is None:
            if unchanged[index] and index == origin == 0:
                continue  # the cell jupytext makes of the header's fields: in `header`
            raise TextNotebookError("a cell made of the header's fields cannot move")
        # An unchanged cell keeps its text; the blank lines after it only while the same cell
        # follows it, and (strict) its text only while the same cell precedes it.
        at = -2 if origin is None else origin
        body = own.body if own and (not strict or previous == at - 1) else _piece(new).body
        trailer = own.trailer if own and following == at + 1 else _piece(new).trailer
        if index + 1 < len(origins) and not (body + trailer).endswith(("\n", "\r")):
            body += "\r\n" if "\r\n" in layout.header + body else "\n"  # it was the last line
        out += [body, trailer]
    return "".join(out)


def _piece(piece: Piece | None) -> Piece:
    if piece is None:
        raise TextNotebookError("a changed cell has no text of its own")
    return piece


def _meaning(notebook: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """What a text notebook's cells hold, as jupytext reads them (ids are random: left out)."""
    return [
        (cell["cell_type"], cell_text(cell), dict(cell.get("metadata", {})))
        for cell in notebook["cells"]
    ]


__all__ = ["Rewrite", "TextDocument", "dumps", "fix_text", "loads"]
