"""One way for tests to build notebooks: cells, notebook dicts, bytes and files.

`notebook("!pip install x", markdown("# Title"), minor=5)`: a string is a code cell with that
source; cells made by `code`/`markdown`/`raw` can carry extra members (`id=...`, metadata).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Cell = dict[str, Any]


def code(source: str | list[str], **extra: Any) -> Cell:
    """A code cell that never ran: no outputs, execution_count null."""
    cell: Cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    cell["source"] = source
    cell.update(extra)
    return cell


def markdown(source: str | list[str], **extra: Any) -> Cell:
    """A markdown cell."""
    return {"cell_type": "markdown", "metadata": {}, "source": source, **extra}


def raw(source: str | list[str], **extra: Any) -> Cell:
    """A raw cell."""
    return {"cell_type": "raw", "metadata": {}, "source": source, **extra}


def notebook(
    *cells: Cell | str,
    language: str | None = "python",
    minor: int = 4,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An nbformat 4 notebook; `language` names the kernel's (None: no kernelspec)."""
    meta = dict(metadata or {})
    if language is not None:
        meta.setdefault("kernelspec", {"language": language, "name": "k", "display_name": "K"})
    return {
        "cells": [code(cell) if isinstance(cell, (str, list)) else cell for cell in cells],
        "metadata": meta,
        "nbformat": 4,
        "nbformat_minor": minor,
    }


def dumps(value: dict[str, Any]) -> str:
    """The text Jupyter writes for a notebook: indent 1, a final newline."""
    return json.dumps(value, indent=1) + "\n"


def to_bytes(value: dict[str, Any]) -> bytes:
    """`dumps` as UTF-8 bytes."""
    return dumps(value).encode()


def write(path: Path, value: dict[str, Any] | str | bytes) -> Path:
    """Write a notebook (dict, text or bytes) to `path`, making its directory; `path` back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, dict):
        value = dumps(value)
    path.write_bytes(value.encode() if isinstance(value, str) else value)
    return path
