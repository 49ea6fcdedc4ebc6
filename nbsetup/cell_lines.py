"""One line model for cell sources: the lines IPython and Jupyter see, and Python's on them.

IPython splits a cell into lines with `str.splitlines` (its input transformers, so `!` and `%`
lines), which also ends a line at `\\f`, `\\x1c`-`\\x1e`, `\\x85`, U+2028 and U+2029. Python's
tokenizer, `ast` and libcst count only `\\n`, `\\r\\n` and `\\r`, so after such a character a
libcst position names another line than the cell's. Every line index in nbsetup is a cell
line (`split`); `PythonLines` turns Python's line numbers into cell lines.

`s = "a\\u2028b"` + newline + `import os` is 3 cell lines and 2 Python lines: Python's line 2
is cell line 2 (0-based).
"""

from __future__ import annotations

import bisect
import re

# Where Python ends a line (universal newlines).
_PYTHON_LINE_END = re.compile(r"\r\n|\r|\n")
#: What else `str.splitlines` (so IPython) ends a line at.
IPYTHON_ONLY_BREAKS = frozenset("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_BREAKS = frozenset("\n\r") | IPYTHON_ONLY_BREAKS
_IPYTHON_ONLY_BREAK = re.compile(f"[{''.join(sorted(IPYTHON_ONLY_BREAKS))}]")


def split(text: str, keepends: bool = True) -> list[str]:
    """The cell's lines, as IPython splits them (`str.splitlines`)."""
    return text.splitlines(keepends)


def line_break(text: str) -> str:
    """The line break `text` ends with, whichever `str.splitlines` ended it at; "" for none."""
    if text.endswith("\r\n"):
        return "\r\n"
    return text[-1] if text and text[-1] in _BREAKS else ""


def without_break(text: str) -> str:
    """`text` without the line break it ends with (`line_break`)."""
    return text[: len(text) - len(line_break(text))]


class PythonLines:
    """Python's (libcst's, `ast`'s) 1-based line numbers of a cell, as 0-based cell lines."""

    def __init__(self, text: str) -> None:
        self._python_starts = [0] + [m.end() for m in _PYTHON_LINE_END.finditer(text)]
        # Most cells have no break that only IPython counts: there line n is cell line n - 1
        # (the empty line after a final line break is the last cell line, as below).
        self._same = _IPYTHON_ONLY_BREAK.search(text) is None
        ends_in_break = text.endswith(("\n", "\r"))
        self._last_cell_line = max(len(self._python_starts) - 1 - ends_in_break, 0)
        self._cell_starts = []
        if not self._same:
            offset = 0
            for line in split(text):
                self._cell_starts.append(offset)
                offset += len(line)
        self._length = len(text)
        self._text = text

    def text(self, first: int, last: int) -> str:
        """Python's lines `first` to `last` (1-based, inclusive), with their line breaks."""
        stop = self._python_starts[last] if last < len(self._python_starts) else self._length
        return self._text[self._python_starts[first - 1] : stop]

    def start(self, python_line: int) -> int:
        """The cell line that Python's line `python_line` (1-based) starts in."""
        if self._same:
            return min(python_line - 1, self._last_cell_line)
        return self._cell_line_at(self._python_starts[python_line - 1])

    def end(self, python_line: int) -> int:
        """The cell line after the one that Python's line `python_line` (1-based) ends in."""
        if self._same:
            return min(python_line - 1, self._last_cell_line) + 1
        if python_line < len(self._python_starts):
            last = self._python_starts[python_line] - 1  # its line break
        else:
            last = self._length - 1
        return self._cell_line_at(max(last, self._python_starts[python_line - 1])) + 1

    def _cell_line_at(self, offset: int) -> int:
        return max(bisect.bisect_right(self._cell_starts, offset) - 1, 0)
