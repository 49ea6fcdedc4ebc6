"""Unit tests for nbsetup.magics: finding IPython lines, masking and unmasking them."""

from __future__ import annotations

import ast

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from nbsetup.cell_lines import IPYTHON_ONLY_BREAKS
from nbsetup.magics import mask_cell, scan_cell

CELLS = [
    pytest.param("import os\n", id="plain python"),
    pytest.param("!pip install x\nimport x\n", id="shell escape"),
    pytest.param("%%capture\n!pip install x\n", id="cell magic"),
    pytest.param(
        "if x:\n    !pip install \\\n        y z\nelse:\n    pass\n", id="indented continuation"
    ),
    pytest.param("files = !ls\nprint(files)\n", id="assigned escape"),
    pytest.param("%cd /tmp\ncd dir\nx = 1\n", id="line magic and automagic"),
    pytest.param("!a\r\n%b\r\nc = 1\r\n", id="CRLF"),
    pytest.param("!x", id="no trailing newline"),
]


@pytest.mark.parametrize("source", [p.values[0] for p in CELLS], ids=[p.id for p in CELLS])
def test_mask_parses_and_round_trips(source):
    masked = mask_cell(source)
    ast.parse(masked)
    assert len(masked.splitlines()) == len(source.splitlines())
    kept = [a == b for a, b in zip(masked.splitlines(), source.splitlines(), strict=True)]
    scan = scan_cell(source)
    escaped = {
        i for line in scan.logical_lines if line.escape for i in range(line.start, line.end)
    }
    if scan.magic_line is not None:
        escaped.add(scan.magic_line)
    assert [not same for same in kept] == [i in escaped for i in range(len(kept))]


def test_mask_keeps_line_length_when_long_enough():
    masked = mask_cell("!pip install numpy\n")
    assert len(masked) == len("!pip install numpy\n")


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r", *sorted(IPYTHON_ONLY_BREAKS)])
def test_mask_keeps_every_line_break_whichever_it_is(end):
    source = f"import x{end}!pip install y{end}    %pip install z{end}x = 1"
    masked = mask_cell(source)
    assert [line[len(line.rstrip()) :] for line in masked.splitlines(keepends=True)] == [
        line[len(line.rstrip()) :] for line in source.splitlines(keepends=True)
    ]
    assert "pip" not in masked


def _ipython_commands(source: str) -> list[str]:
    """The text each escape of `source` hands to `system`/`run_line_magic` in real IPython."""
    calls = []
    for node in ast.walk(ast.parse(TransformerManager().transform_cell(source))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            arguments = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if node.func.attr == "system":
                calls.append(arguments[0])
            elif node.func.attr == "run_line_magic":
                calls.append(" ".join(arguments).rstrip())
    return calls


@pytest.mark.parametrize(
    "end", ["\n", " \n", "\t\n", "\xa0\n", "\u3000\n", *sorted(IPYTHON_ONLY_BREAKS)]
)
@pytest.mark.parametrize("marker", ["!", "%"])
# (IPython warns that its tokenizer meets lines ending in breaks Python does not count.)
@pytest.mark.filterwarnings("ignore:`make_tokens_by_line` received:UserWarning")
def test_escape_command_is_what_ipython_runs(end, marker):
    # IPython ends an escape at its line's break, whichever `splitlines` found, and strips the
    # white space before it: `!pip install x<U+2028>` installs `x`, not `x<U+2028>`.
    source = f"{marker}pip install x{end}y = 1\n{marker}pip install -q \\\n  z{end}"
    escapes = [line.escape for line in scan_cell(source).logical_lines if line.escape]
    assert [e.command.replace("\\\n", " ") for e in escapes] == _ipython_commands(source)


def test_mask_is_deterministic():
    assert mask_cell("!pip install x\n") == mask_cell("!pip install x\n")


SCANS = [
    pytest.param('s = """\n!pip install x\n"""\n', [], {1, 2}, id="triple-quoted string"),
    pytest.param("x = (1,\n!2)\n", [], set(), id="inside brackets"),
    pytest.param("x = 1 \\\n!2\n", [], set(), id="after a backslash continuation"),
    pytest.param("# !pip install x\n", [], set(), id="comment"),
    pytest.param("s = '#'\n!pip install x\n", [1], set(), id="hash in a string"),
    pytest.param('s = "\\""\n!a\n', [1], set(), id="escaped quote"),
    pytest.param("!pip install a \\\n  b\n!c\n", [0, 2], set(), id="escape continuation"),
    pytest.param("pip install x\n", [0], set(), id="automagic pip"),
    pytest.param("pip = 1\npip(x)\n", [], set(), id="pip as a Python name"),
]


@pytest.mark.parametrize(("source", "escapes", "string_lines"), SCANS)
def test_scan_finds_escapes_outside_strings(source, escapes, string_lines):
    scan = scan_cell(source)
    assert [line.start for line in scan.logical_lines if line.escape] == escapes
    assert scan.string_lines == string_lines


def test_scan_cell_magic():
    scan = scan_cell("# @title Setup\n%%capture --no-stderr\n!pip install x\n")
    assert scan.cell_magic == ("capture", "--no-stderr")
    assert scan.magic_line == 1


def test_scan_late_double_percent_is_not_a_cell_magic():
    assert scan_cell("x = 1\n%%capture\n").cell_magic is None
