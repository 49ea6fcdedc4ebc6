"""Python-level install calls: libcst reads only the statements `ast` finds a call in.

The law: `find_calls` (ast first, libcst on the candidate statements) returns exactly what a
libcst read of the whole cell (`_whole_cell`) returns, for every cell.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nbsetup.cell_lines import PythonLines
from nbsetup.installs import python_calls
from nbsetup.installs.python_calls import find_calls

STATEMENTS = [
    "import os, subprocess, sys\n",
    'os.system("pip install a")\n',
    'x = 1; os.system("pip install b")\n',
    'subprocess.run(\n    [sys.executable, "-m", "pip", "install", "c"],\n    check=True,\n)\n',
    'subprocess.check_call(["pip", "install", f"d=={version}"], cwd="sub")\n',
    'get_ipython().system("pip install e")\n',
    'get_ipython().run_line_magic("pip", "install f")\n',
    'result = os.system("pip install g")\n',
    'if sys.platform == "linux":\n    os.system("pip install h")\nelse:\n    pass\n',
    '@decorate(os.system("pip install i"))\ndef f():\n    return 1\n',
    'def g():\n    subprocess.run(["pip", "install", "j"])\n',
    'for name in ["k"]:\n    os.system(f"pip install {name}")\n',
    '# a comment with os.system("pip install l")\n',
    'text = """\nos.system("pip install m")\n"""\n',
    "!pip install n\n",
    "%pip install o\n",
    'y = [\n    1,\n]; subprocess.call(["pip", "install", "p"])\n',
    'import pip\npip.main(["install", "q"])\n',
    'print("a\\u2028b"); os.system("pip install r")\n',
    'z = 2\x0c\nos.system("pip install s")\n',
    'value = "\\d"\n',
    'with open("f") as handle:\n    os.system("pip install t")\n',
    '( os ).system("pip install u")\n',
    '(get_ipython()).system("pip install v")\n',
    'get_ipython(1).system("pip install w")\n',
    'tools[0].system("pip install x")\n',
    "\n",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_each_statement_alone_is_read_as_libcst_reads_the_whole_cell(statement: str) -> None:
    assert find_calls(statement) == python_calls._whole_cell(statement)


@given(st.lists(st.sampled_from(STATEMENTS), max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_any_cell_is_read_as_libcst_reads_the_whole_cell(statements: list[str], end: str) -> None:
    source = "".join(statements).replace("\n", end)
    assert find_calls(source) == python_calls._whole_cell(source)


def test_a_cell_without_a_call_never_reaches_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> None:
        raise AssertionError(f"libcst parsed {text!r}")

    monkeypatch.setattr(python_calls.cst, "parse_module", refuse)
    source = 'import os\n# os.system("pip install x")\nprint(os.system)\n!pip install y\n'
    assert find_calls(source) == ()


def test_only_the_statements_with_a_call_reach_libcst(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = python_calls.cst.parse_module

    def recording(text: str):  # type: ignore[no-untyped-def]
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(python_calls.cst, "parse_module", recording)
    source = 'import os\n\nx = 1; os.system("pip install a")\nprint(x)\n'
    (call,) = find_calls(source)
    assert parsed == ['x = 1; os.system("pip install a")\n']
    assert (call.start, call.end, call.shell) == (2, 3, "pip install a")
    assert call.reason == "shares its line with other statements"


def test_what_ast_refuses_goes_to_libcst_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # Python 3.12 syntax: libcst reads it whatever the interpreter; `ast` before 3.12 does not.
    source = 'type Version = str\nos.system("pip install a")\n'
    assert [call.shell for call in find_calls(source)] == ["pip install a"]
    monkeypatch.setattr(python_calls, "parse_python", lambda text: None)
    assert [call.shell for call in find_calls(source)] == ["pip install a"]


def test_a_statement_libcst_refuses_sends_the_whole_cell_to_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = python_calls.cst.parse_module
    seen: list[str] = []

    def refusing_statements(text: str):  # type: ignore[no-untyped-def]
        seen.append(text)
        if len(seen) == 1:
            raise python_calls.cst.ParserSyntaxError("no", lines=[""], raw_line=1, raw_column=0)
        return real(text)

    monkeypatch.setattr(python_calls.cst, "parse_module", refusing_statements)
    source = 'import os\nos.system("pip install a")\n'
    assert [call.shell for call in find_calls(source)] == ["pip install a"]
    assert seen == ['os.system("pip install a")\n', source]


def test_python_lines_give_back_their_text() -> None:
    lines = PythonLines("a\r\nb = '\u2028'\nc")
    assert lines.text(2, 2) == "b = '\u2028'\n"
    assert lines.text(1, 3) == "a\r\nb = '\u2028'\nc"
