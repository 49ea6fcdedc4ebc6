"""NBS012 (`% pip`) and NBS013 (unquoted `>`/`<`): broken as written, reported by `check`."""

from __future__ import annotations

import pytest

from nbsetup import lint
from nbsetup.diagnostics import CODES, Config
from tests.builders import code, notebook


def _codes(*sources: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.cell, d.line) for d in lint.diagnose(notebook(*sources))]


def test_a_space_after_percent_is_nbs012():
    found = [d for d in lint.diagnose(notebook("% pip install requests")) if d.code == "NBS012"]
    assert len(found) == 1
    assert found[0].message.startswith("'% pip': IPython 9 rejects a space after '%'")
    assert found[0].message.endswith("write `%pip`; `nbsetup fix` repairs it")


@pytest.mark.parametrize(
    ("line", "effect"),
    [
        pytest.param(
            "!pip install pandas>=2.0", "wrote pip's output to a file named '=2.0'", id=">="
        ),
        pytest.param("!pip install 'numpy<2' scipy>1.10", "a file named '1.10'", id="mixed"),
    ],
)
def test_an_unquoted_redirect_in_an_install_is_nbs013(line, effect):
    found = [d for d in lint.diagnose(notebook(line)) if d.code == "NBS013"]
    assert len(found) == 1
    assert effect in found[0].message
    assert found[0].message.endswith("quote the requirement; `nbsetup fix` repairs it")


def test_an_unquoted_redirect_that_stays_is_reported_without_the_fix_promise():
    cell = code("import os\nif os.environ.get('X'):\n    !pip install pandas>=2.0\n")
    found = [d for d in lint.diagnose(notebook(cell)) if d.code == "NBS013"]
    assert [d.line for d in found] == [3]
    assert "nbsetup fix" not in found[0].message


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("%pip install requests", id="no space"),
        pytest.param('!pip install "pandas>=2.0"', id="quoted"),
        pytest.param("!pip install pandas > log.txt", id="a real redirect"),
    ],
)
def test_correct_lines_are_neither(line):
    assert not {"NBS012", "NBS013"} & {code for code, _, _ in _codes(line)}


def test_both_codes_are_listed_and_selectable():
    assert {"NBS012", "NBS013"} <= set(CODES)
    config = Config(select=frozenset({"NBS013"}))
    found = lint.diagnose(notebook("% pip install a", "!pip install b>=1"), config=config)
    assert [d.code for d in found] == ["NBS013"]
