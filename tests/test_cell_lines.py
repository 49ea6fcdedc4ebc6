"""The one line model: IPython's cell lines, and Python's line numbers mapped onto them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbsetup.cell_lines import PythonLines, split

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
