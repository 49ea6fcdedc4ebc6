"""The one line model: IPython's cell lines, and Python's line numbers mapped onto them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbsetup.cell_lines import IPYTHON_ONLY_BREAKS, PythonLines, split

BREAKS = ["\n", "\r\n", "\r", "\x0c", "\x85", "\u2028", "\u2029", "\x1c"]


@pytest.mark.parametrize(
    ("text", "python_line", "cell_span"),
    [
        pytest.param("a\nb\nc", 2, (1, 2), id="plain"),
        pytest.param('s = "a\u2028b"\nimport os\n', 2, (2, 3), id="ls in a string"),
        pytest.param('s = "a\u2028b"\nimport os\n', 1, (0, 2), id="the line holding it"),
        pytest.param("x = 1\x0c\ny = 2", 2, (2, 3), id="form feed"),
        pytest.param("a\r\nb", 2, (1, 2), id="crlf"),
        pytest.param("only", 1, (0, 1), id="one line"),
    ],
)
def test_python_lines_map_onto_cell_lines(text, python_line, cell_span):
    lines = PythonLines(text)
    assert (lines.start(python_line), lines.end(python_line)) == cell_span


@given(st.lists(st.tuples(st.text("ab =\"'#", max_size=5), st.sampled_from(BREAKS)), max_size=8))
def test_every_python_line_covers_the_cell_lines_of_its_text(pieces):
    text = "".join(body + end for body, end in pieces)
    cell = split(text)
    python = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = PythonLines(text)
    offset = 0
    for number, body in enumerate(python, start=1):
        start, end = lines.start(number), lines.end(number)
        assert 0 <= start < max(end, 1) <= max(len(cell), 1)
        covered = "".join(cell[start:end]) if cell else ""
        assert body.replace("\n", "") in covered.replace("\r", "").replace("\n", "") or not body
        offset += len(body)


def _reference_start(text: str, python_line: int) -> int:
    """The cell line holding the first character of Python's line `python_line`, by counting."""
    offset = 0
    for _ in range(python_line - 1):
        found = [i for i in (text.find("\r", offset), text.find("\n", offset)) if i >= 0]
        offset = min(found) + (2 if text.startswith("\r\n", min(found)) else 1)
    return max(len(split(text[:offset])) - (0 if text[:offset].endswith(_ENDS) else 1), 0)


_ENDS = ("\n", "\r", *IPYTHON_ONLY_BREAKS)


@given(st.lists(st.tuples(st.text("ab #", max_size=4), st.sampled_from(BREAKS)), max_size=8))
def test_python_line_starts_are_the_cell_lines_a_count_finds(pieces):
    text = "".join(body + end for body, end in pieces) + "z"
    lines = PythonLines(text)
    count = text.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    for number in range(1, count + 1):
        assert lines.start(number) == _reference_start(text, number)


def test_the_breaks_only_ipython_counts_are_every_other_splitlines_break():
    breaks = {chr(c) for c in range(0x10000) if len(f"a{chr(c)}b".splitlines()) == 2}
    assert breaks - {"\n", "\r"} == IPYTHON_ONLY_BREAKS
    for character in breaks - {"\n", "\r"}:
        assert PythonLines(f"a{character}b\nc").start(2) == 2
    assert PythonLines("a\nb\r\nc\rd").end(3) == 3
