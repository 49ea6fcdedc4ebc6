"""Notebook bytes ⇄ notebook data, keeping every byte nbsetup did not mean to change.

Reading records where each top-level value, each cell and each cell member sits in the text.
Writing splices: an unchanged value is copied from the original text, so indent, key order,
escaping and line endings survive wherever nothing changed; only changed values are
serialised, in the style detected from the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbsetup import files
from nbsetup.errors import (
    CannotWrite,
    ChangedMeanwhile,
    EmptyFile,
    InvalidJson,
    NotANotebook,
    NotebookError,
    NotText,
    TooLarge,
    Unreadable,
    UnsupportedFormat,
)

#: The largest file nbsetup reads: GitHub's limit for one file (100 MiB). Bigger notebooks are
#: refused from their size, before reading, so that decoding (several times the file size in
#: memory) cannot exhaust memory.
MAX_BYTES = 100 * 1024 * 1024

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# A `\uXXXX` escape of a character above U+007F (an escaped backslash before it is not an escape,
# but such text is rare enough in notebooks that counting it only tips an ensure_ascii guess).
_ESCAPED_NON_ASCII = re.compile(
    r"\\u(?:00[89a-f][0-9a-f]|0[1-9a-f][0-9a-f]{2}|[1-9a-f][0-9a-f]{3})", re.I
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_BOM = "\ufeff"

Span = tuple[int, int]


@dataclass(frozen=True)
class JsonStyle:
    """How a notebook file is laid out, to serialise new values the way the file already is."""

    #: One indent step (" ", "  ", "\t", ...); None for a single-line file.
    indent: str | None
    #: Between an item and the line break (`,` or the Python 2 era `, `), or between items on one
    #: line when `indent` is None.
    item_separator: str
    key_separator: str
    newline: str
    ensure_ascii: bool

    def dumps(self, value: Any, depth: int) -> str:
        """Serialise `value` as it would appear nested `depth` levels inside the document."""
        text = json.dumps(
            value,
            indent=self.indent,
            ensure_ascii=self.ensure_ascii,
            separators=(self.item_separator, self.key_separator),
        )
        if self.indent is None:
            return text
        # json.dumps escapes line breaks inside strings, so every raw "\n" is layout.
        return text.replace("\n", self.newline + self.indent * depth)

    def separator(self, depth: int) -> str:
        """The text between two items of a container whose items sit at `depth`."""
        if self.indent is None:
            return self.item_separator
        return self.item_separator + self.newline + self.indent * depth


@dataclass(frozen=True)
class _ObjectLayout:
    """Where an object's members sit: key order, and each key's (key start, value span)."""

    span: Span
    members: tuple[tuple[str, int, Span], ...]

    def value_span(self, key: str) -> Span | None:
        for name, _, span in self.members:
            if name == key:
                return span
        return None


@dataclass(frozen=True)
class _CellLayout:
    """Where a cell object is: its members are found only when it must be re-serialised."""

    span: Span


@dataclass(frozen=True)
class Document:
    """A decoded notebook with the text it came from and what is needed to write it back."""

    notebook: dict[str, Any]
    style: JsonStyle
    bom: bool
    _top: _ObjectLayout
    _cells: tuple[_CellLayout, ...]
    _cells_span: Span
    #: The file's text; for a file of ASCII characters only (most notebooks), its bytes, where
    #: each character is one byte at the same offset: the decoded text is not kept beside the
    #: values (a big notebook's outputs would be in memory three times), and unchanged parts are
    #: written back as views of the bytes, not copies.
    _source: str | bytes

    @property
    def text(self) -> str:
        """The file's text, with its BOM if it had one."""
        return self._slice(0, len(self._source))

    def _slice(self, start: int, end: int) -> str:
        source = self._source
        return source[start:end] if isinstance(source, str) else source[start:end].decode("ascii")


#: A part of the output: a new string, or the (start, end) of a part copied from the source.
_Chunk = str | Span


def decode_text(data: bytes) -> tuple[str, bool]:
    """A notebook file's text (a JSON or a text notebook) without its BOM, and whether it had one.

    Raises `NotText` for binary or non-UTF-8 bytes and `EmptyFile` for nothing but white space.
    """
    if b"\x00" in data:
        raise NotText("binary file, not a notebook")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotText(f"not UTF-8 text (invalid byte at offset {error.start})") from None
    bom = text.startswith(_BOM)
    body = text[1:] if bom else text
    if _WHITESPACE.fullmatch(body):  # (not `strip`, which would copy a big file's text)
        raise EmptyFile("empty file")
    return body, bom


def loads(data: bytes) -> Document:
    """Decode notebook bytes and record their layout; raise `NotebookError` with the reason."""
    if len(data) > MAX_BYTES:
        raise TooLarge(_too_large(len(data)))
    body, bom = decode_text(data)
    text = _BOM + body if bom else body
    start = _skip_ws(text, len(_BOM) if bom else 0)
    try:
        if text[start : start + 1] == "{":
            notebook, top, cells = _decode_notebook(text, start, body)
        else:
            notebook, top, cells = json.loads(body), _ObjectLayout((start, start), ()), ()
        _check_notebook(notebook)
        keys = [key for key, _, _ in top.members]
        duplicate = next((key for index, key in enumerate(keys) if key in keys[:index]), None)
        if duplicate is not None:
            # Which of two values counts is not something to guess when writing the file back.
            raise NotANotebook(f"duplicate key {duplicate!r} at the top level of the notebook")
        cells_span = top.value_span("cells")
        assert cells_span is not None  # _check_notebook saw a "cells" list
    except json.JSONDecodeError as error:
        raise InvalidJson(
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg.lower()})"
        ) from None
    except RecursionError:
        raise InvalidJson("not valid JSON (nested too deeply)") from None
    # An ASCII file's text is its bytes, offset for offset (a BOM is not ASCII).
    ascii_bytes = type(data) is bytes and len(data) == len(text) and text.isascii()
    return Document(
        notebook=notebook,
        style=_detect_style(text, top, cells_span),
        bom=bom,
        _top=top,
        _cells=cells,
        _cells_span=cells_span,
        _source=data if ascii_bytes else text,
    )


def dumps(
    document: Document,
    notebook: dict[str, Any],
    origins: Sequence[int | None] | None = None,
) -> bytes:
    """Serialise `notebook` in the document's style, copying every unchanged part verbatim.

    `origins[i]` is the index of the original cell that new cell `i` was derived from, or None
    for a new cell; without it, cells are matched to originals by identity. Unchanged values
    are copied from the original text, changed ones serialised at their depth. A result
    above `MAX_BYTES` is `TooLarge`: nbsetup would refuse to read what it wrote.
    """
    if list(notebook) != list(document.notebook):
        raise ValueError("notebook-level keys changed; nbsetup never changes them")
    cells = notebook["cells"]
    if origins is None:
        by_identity = {id(cell): index for index, cell in enumerate(document.notebook["cells"])}
        origins = [by_identity.get(id(cell)) for cell in cells]
    top = document._top
    out: list[_Chunk] = [(0, top.span[0])]
    position = top.span[0]
    for key, _, (start, end) in top.members:
        out.append((position, start))
        if key == "cells":
            out.extend(_dump_cells(document, cells, origins))
        elif notebook[key] == document.notebook[key]:
            out.append((start, end))
        else:
            style = _style_for(document.style, document._slice(start, end))
            out.append(style.dumps(notebook[key], 1))
        position = end
    out.append((position, len(document._source)))
    data = _assemble(document._source, out)
    if len(data) > MAX_BYTES:
        mib = 1024 * 1024
        raise TooLarge(
            f"the fixed notebook would be {len(data) / mib:.1f} MiB, above the "
            f"{MAX_BYTES / mib:.0f} MiB nbsetup reads; it is not written"
        )
    return data


#: Below this size, `reread` parses the whole output: it is as cheap as reusing cells.
REREAD_WHOLE_BELOW = 4 * 1024 * 1024


def reread(document: Document, data: bytes, notebook: dict[str, Any]) -> Any:
    """The value `json.loads(data)` gives, for the bytes `dumps(document, notebook)` wrote.

    The safety net checks the data parsed back from the bytes about to be written. For a big
    file of ASCII text, a cell of `notebook` that is one of the document's own cells is taken
    as it was read when `data` holds that cell's original bytes, in order, at a place where
    the rest of `data` parses as an item of `cells`: equal JSON text decodes to equal values,
    so the result is the same, without a second copy of every unchanged output in memory.
    Anything else (a cell not found, the rest not JSON, a placeholder elsewhere) falls back
    to parsing the whole of `data`, whose errors the safety net then reports.
    """
    source = document._source
    if len(data) < REREAD_WHOLE_BELOW or isinstance(source, str):
        return json.loads(data)
    old_cells = document.notebook["cells"]
    wanted = {id(cell): index for index, cell in enumerate(old_cells)}
    view = memoryview(data)
    skeleton: list[bytes | memoryview] = []
    reused: list[int] = []
    position = 0
    for cell in notebook.get("cells", ()):
        index = wanted.get(id(cell))
        if index is None:
            continue
        start, end = document._cells[index].span
        found = data.find(source[start:end], position)
        if found < 0:
            return json.loads(data)
        skeleton += (view[position:found], b"%d" % index)
        reused.append(index)
        position = found + end - start
    skeleton.append(view[position:])
    try:
        value = json.loads(b"".join(skeleton))
    except json.JSONDecodeError:
        return json.loads(data)
    cells = value.get("cells") if isinstance(value, dict) else None
    if not isinstance(cells, list):
        return json.loads(data)
    placeholders = [item for item in cells if type(item) is int]
    if placeholders != reused:
        return json.loads(data)
    value["cells"] = [old_cells[item] if type(item) is int else item for item in cells]
    return value


def _assemble(source: str | bytes, chunks: Sequence[_Chunk]) -> bytes:
    """The output's bytes: new strings encoded, copied parts taken from the source (views of
    bytes, so that a big notebook's unchanged outputs are not copied twice on the way)."""
    if isinstance(source, str):
        return "".join(c if isinstance(c, str) else source[c[0] : c[1]] for c in chunks).encode()
    view = memoryview(source)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else view[c[0] : c[1]] for c in chunks)


def _dump_cells(
    document: Document, cells: list[dict[str, Any]], origins: Sequence[int | None]
) -> list[_Chunk]:
    start, end = document._cells_span
    old_cells = document.notebook["cells"]
    if list(origins) == list(range(len(old_cells))) and cells == old_cells:
        return [(start, end)]
    pieces: list[_Chunk] = []
    for cell, origin in zip(cells, origins, strict=True):
        if origin is None:
            pieces.append(document.style.dumps(cell, 2))
        else:
            pieces.append(_dump_object(document, cell, old_cells[origin], document._cells[origin]))
    return _join_items(document, pieces, 2)


def _dump_object(
    document: Document, new: dict[str, Any], old: dict[str, Any], layout: _CellLayout
) -> _Chunk:
    """Serialise a cell, copying the text of every member whose key and value are unchanged."""
    if new == old:
        return layout.span
    text = document._slice(*layout.span)
    _check_no_duplicate_keys(text, (0, len(text)))
    style = _style_for(document.style, text)
    members = _scan_object(text, 0).members
    end = len(text)
    if [key for key, _, _ in members] == list(new):
        out = []
        position = 0
        for key, _, (value_start, value_end) in members:
            out.append(text[position:value_start])
            if new[key] == old[key]:
                out.append(text[value_start:value_end])
            else:
                out.append(style.dumps(new[key], 3))
            position = value_end
        out.append(text[position:end])
        return "".join(out)
    # Keys were added, removed or reordered: rebuild the member list, copying unchanged members.
    if not members:
        return style.dumps(new, 2)
    opening = text[: members[0][1]]
    closing = text[members[-1][2][1] : end]
    between = text[members[0][2][1] : members[1][1]] if len(members) > 1 else style.separator(3)
    spans = {key: (key_start, value_end) for key, key_start, (_, value_end) in members}
    pieces = []
    for key, value in new.items():
        if key in spans and key in old and old[key] == value:
            pieces.append(text[spans[key][0] : spans[key][1]])
        else:
            pieces.append(json.dumps(key) + style.key_separator + style.dumps(value, 3))
    return opening + between.join(pieces) + closing


def _join_items(document: Document, pieces: list[_Chunk], depth: int) -> list[_Chunk]:
    """Rebuild the cells array from its items, reusing the original's opening, separator and
    closing."""
    if not pieces:
        return ["[]"]
    style, items = document.style, document._cells
    start, end = document._cells_span
    opening: _Chunk
    closing: _Chunk
    if items:
        opening = (start, items[0].span[0])
        closing = (items[-1].span[1], end)
    else:
        opening = "[" if style.indent is None else "[" + style.newline + style.indent * depth
        closing = "]" if style.indent is None else style.newline + style.indent * (depth - 1) + "]"
    between: _Chunk = (
        (items[0].span[1], items[1].span[0]) if len(items) > 1 else style.separator(depth)
    )
    out = [opening]
    for index, piece in enumerate(pieces):
        if index:
            out.append(between)
        out.append(piece)
    out.append(closing)
    return out


def _style_for(style: JsonStyle, original: str) -> JsonStyle:
    """The document style, with the escaping of non-ASCII text that `original` used."""
    if _NON_ASCII.search(original):
        return _replace_ascii(style, False)
    if _ESCAPED_NON_ASCII.search(original):
        return _replace_ascii(style, True)
    return style


def _replace_ascii(style: JsonStyle, ensure_ascii: bool) -> JsonStyle:
    if style.ensure_ascii == ensure_ascii:
        return style
    return JsonStyle(
        style.indent, style.item_separator, style.key_separator, style.newline, ensure_ascii
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or _is_strings(value)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_Kind = tuple[str, Callable[[Any], bool]]
_OBJECT: _Kind = ("an object", lambda value: isinstance(value, dict))
_STRING: _Kind = ("a string", lambda value: isinstance(value, str))
_TEXT: _Kind = ("a string or a list of strings", _is_text)
_COUNT: _Kind = ("an integer or null", lambda value: value is None or _is_integer(value))
# What the known keys of the nbformat 4 schema hold, checked where present: a value of the wrong
# type is a damaged notebook. Missing keys nbsetup needs are checked on their own; unknown keys
# and other schema rules are nbformat's business, since Jupyter opens such notebooks anyway.
_NOTEBOOK_KEYS: dict[str, _Kind] = {
    "metadata": _OBJECT,
    "nbformat_minor": ("a non-negative integer", lambda value: _is_integer(value) and value >= 0),
}
# The keys that tell a Python notebook from others (see kernels.kernel_language).
_LANGUAGE_KEYS: dict[str, dict[str, _Kind]] = {
    "kernelspec": {"language": _STRING},
    "language_info": {"name": _STRING},
}
_CELL_KEYS: dict[str, _Kind] = {
    "id": _STRING,
    "metadata": _OBJECT,
    "source": _TEXT,
    "outputs": ("an array", lambda value: isinstance(value, list)),
    "execution_count": _COUNT,
    "attachments": _OBJECT,
}
_OUTPUT_KEYS: dict[str, _Kind] = {
    "name": _STRING,
    "text": _TEXT,
    "data": _OBJECT,
    "metadata": _OBJECT,
    "execution_count": _COUNT,
    "ename": _STRING,
    "evalue": _STRING,
    "traceback": ("a list of strings", _is_strings),
}


def _check_notebook(notebook: Any) -> None:
    if not isinstance(notebook, dict):
        raise NotANotebook(f"JSON is not a notebook (top level is {_json_type(notebook)})")
    version = notebook.get("nbformat")
    if "cells" not in notebook and "worksheets" in notebook and isinstance(version, int):
        raise UnsupportedFormat(
            f"nbformat {version} notebook is not supported; upgrade it with "
            "`jupyter nbconvert --to notebook --nbformat 4 --inplace PATH`"
        )
    if not isinstance(version, int) or isinstance(version, bool):
        raise NotANotebook("JSON is not a notebook (no integer 'nbformat' key)")
    if version < 4:
        raise UnsupportedFormat(
            f"nbformat {version} notebook is not supported; upgrade it with "
            "`jupyter nbconvert --to notebook --nbformat 4 --inplace PATH`"
        )
    if version > 4:
        raise UnsupportedFormat(f"nbformat {version} is newer than this nbsetup understands")
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise NotANotebook("JSON is not a notebook (no 'cells' list)")
    _check_members(notebook, _NOTEBOOK_KEYS, "notebook ")
    metadata = notebook.get("metadata", {})
    for section, kinds in _LANGUAGE_KEYS.items():
        if section in metadata:
            _check_members(metadata, {section: _OBJECT}, "notebook metadata ")
            _check_members(metadata[section], kinds, f"notebook metadata {section} ")
    for number, cell in enumerate(cells, 1):
        _check_cell(cell, f"cell {number}")


def _check_cell(cell: Any, where: str) -> None:
    if not isinstance(cell, dict):
        raise NotANotebook(f"{where} is not an object")
    if not isinstance(cell.get("cell_type"), str):
        raise NotANotebook(f"{where} has no 'cell_type'")
    if "source" not in cell:
        raise NotANotebook(f"{where} has no 'source'")
    _check_members(cell, _CELL_KEYS, where + " ")
    for name, bundle in cell.get("attachments", {}).items():
        if not isinstance(bundle, dict):
            raise NotANotebook(f"{where} attachment {name!r} is not an object")
    for number, output in enumerate(cell.get("outputs", ()), 1):
        if not isinstance(output, dict):
            raise NotANotebook(f"{where} output {number} is not an object")
        if not isinstance(output.get("output_type"), str):
            raise NotANotebook(f"{where} output {number} has no 'output_type'")
        _check_members(output, _OUTPUT_KEYS, f"{where} output {number} ")


def _check_members(value: dict[str, Any], kinds: dict[str, _Kind], where: str) -> None:
    for key, (kind, test) in kinds.items():
        if key in value and not test(value[key]):
            raise NotANotebook(f"{where}{key!r} is not {kind}")


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _skip_ws(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _scan_object(text: str, start: int) -> _ObjectLayout:
    """Find the members of the JSON object starting at `start` (text already known valid)."""
    assert text[start] == "{"
    members = []
    position = _skip_ws(text, start + 1)
    while text[position] != "}":
        key_start = position
        key, position = _DECODER.raw_decode(text, position)
        position = _skip_ws(text, position) + 1  # ":"
        value_start = _skip_ws(text, position)
        _, value_end = _DECODER.raw_decode(text, value_start)
        members.append((key, key_start, (value_start, value_end)))
        position = _skip_ws(text, value_end)
        if text[position] == ",":
            position = _skip_ws(text, position + 1)
    return _ObjectLayout((start, position + 1), tuple(members))


class _Malformed(ValueError):
    """The text is not valid JSON; `json.loads` tells why."""


def _decode_notebook(
    text: str, start: int, body: str
) -> tuple[dict[str, Any], _ObjectLayout, tuple[_CellLayout, ...]]:
    """Decode the object at `start` (the whole document), recording where its members are.

    One pass, as fast as `json.loads`: each top-level value is decoded once where it sits, and
    each item of `cells` too, so that the spans come with the values. The result is the value
    `json.loads(body)` gives (the last of repeated keys wins); on invalid JSON, its error.
    """
    try:
        pairs: list[tuple[str, Any]] = []
        members = []
        cells: tuple[_CellLayout, ...] = ()
        position = _skip_ws(text, start + 1)
        while text[position] != "}":
            if text[position] != '"':
                raise _Malformed
            key_start = position
            key, position = _DECODER.raw_decode(text, position)
            position = _skip_ws(text, position)
            if text[position] != ":":
                raise _Malformed
            value_start = _skip_ws(text, position + 1)
            if key == "cells" and text[value_start] == "[":
                value, value_end, cells = _decode_items(text, value_start)
            else:
                value, value_end = _DECODER.raw_decode(text, value_start)
            pairs.append((key, value))
            members.append((key, key_start, (value_start, value_end)))
            position = _next_item(text, value_end, "}")
        if _skip_ws(text, position + 1) != len(text):
            raise _Malformed
    except (_Malformed, json.JSONDecodeError, IndexError):
        json.loads(body)  # raises, with the line and column of the first error in the file
        raise  # not reached: the scan accepts every valid JSON object
    return dict(pairs), _ObjectLayout((start, position + 1), tuple(members)), cells


def _decode_items(text: str, start: int) -> tuple[list[Any], int, tuple[_CellLayout, ...]]:
    """Decode the JSON array at `start`: its items, its end, and where each item is."""
    items = []
    spans = []
    position = _skip_ws(text, start + 1)
    while text[position] != "]":
        item, end = _DECODER.raw_decode(text, position)
        items.append(item)
        spans.append(_CellLayout((position, end)))
        position = _next_item(text, end, "]")
    return items, position + 1, tuple(spans)


def _next_item(text: str, position: int, closer: str) -> int:
    """After a member or item: at the next one past its `,`, or at `closer`; else malformed."""
    position = _skip_ws(text, position)
    if text[position] == ",":
        position = _skip_ws(text, position + 1)
        if text[position] == closer:
            raise _Malformed  # a trailing comma
    elif text[position] != closer:
        raise _Malformed
    return position


def _check_no_duplicate_keys(text: str, span: Span) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            raise NotANotebook("a cell nbsetup must change has duplicate JSON keys")
        return dict(items)

    json.loads(text[span[0] : span[1]], object_pairs_hook=pairs)


def _detect_style(text: str, top: _ObjectLayout, cells_span: Span) -> JsonStyle:
    start = top.span[0]
    first_key = top.members[0][1] if top.members else start + 1
    lead = text[start + 1 : first_key]
    # (`find` with bounds: a slice would copy a big file's text)
    crlf = text.find("\r\n", 0, cells_span[1]) >= 0 or "\r\n" in lead
    newline = "\r\n" if crlf else "\n"
    if "\n" in lead:
        indent: str | None = lead.rsplit("\n", 1)[1]
    else:
        indent = None
    key_separator = ": "
    item_separator = "," if indent is not None else ", "
    if top.members:
        _, key_start, (value_start, value_end) = top.members[0]
        _, key_end = _DECODER.raw_decode(text, key_start)
        key_separator = text[key_end:value_start]
        if len(top.members) > 1:
            between = text[value_end : top.members[1][1]]
            item_separator = between.split("\n", 1)[0].rstrip("\r") if indent else between
    # Counting is the slow part on big files: skip it where the answer is known.
    escaped = len(_ESCAPED_NON_ASCII.findall(text)) if "\\u" in text else 0
    # The non-ASCII characters, counted only when there is something to weigh them against.
    raw = len(text) - len(text.encode("ascii", "ignore")) if escaped else 0
    return JsonStyle(
        indent=indent,
        item_separator=item_separator,
        key_separator=key_separator,
        newline=newline,
        ensure_ascii=escaped > raw,
    )


def cell_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string, whatever its JSON shape."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def read_bytes(path: Path) -> bytes:
    """Read a notebook file of at most `MAX_BYTES`; `Unreadable` or `TooLarge` with the reason.

    Only a regular file is read: a FIFO, a device or a socket is refused from its type before
    any read, so nothing blocks. A bigger file is refused from its size before any of it is
    read; the read itself stops after `MAX_BYTES + 1` bytes, so a file that grows meanwhile is
    refused too (`files.read_regular`).
    """
    try:
        return files.read_regular(path, MAX_BYTES)
    except FileNotFoundError:
        raise Unreadable("no such file") from None
    except PermissionError:
        raise Unreadable("permission denied") from None
    except files.FileTooLarge as error:
        raise TooLarge(_too_large(error.size)) from None
    except OSError as error:
        raise Unreadable(files.reason(error)) from None


def _too_large(size: int) -> str:
    mib = 1024 * 1024
    return (
        f"file too large ({size / mib:.1f} MiB; nbsetup reads notebooks up to "
        f"{MAX_BYTES / mib:.0f} MiB)"
    )


def write_atomic(
    path: Path, data: bytes, *, expected: bytes | None = None, sync: bool = True
) -> None:
    """Replace the file's content at once (`files.replace`); `NbsetupError` with the reason.

    A symlink is written through to its target; the target's mode, and its owner where
    permitted, are kept. With `expected` (the bytes that were read), a file saved by someone
    else meanwhile is left as it is: `ChangedMeanwhile`. Any refusal of the operating system
    (read-only, disk full, ...) is `CannotWrite`.
    """
    try:
        files.replace(path, data, expected=expected, sync=sync)
    except files.FileChanged as error:
        raise ChangedMeanwhile(files.reason(error)) from None
    except OSError as error:
        raise CannotWrite(f"cannot write: {files.reason(error)}") from None


__all__ = [
    "MAX_BYTES",
    "Document",
    "JsonStyle",
    "NotebookError",
    "cell_text",
    "dumps",
    "loads",
    "read_bytes",
    "reread",
    "write_atomic",
]
