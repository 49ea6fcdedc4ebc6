"""Python statements that run installs: subprocess, os.system, get_ipython(), pip.main.

This is the one module that needs libcst, which takes about a third of a second to import: longer
than nbsetup takes on a typical notebook. `cells.find_calls` imports it on first use, once a
cell looks like it holds such a call, so runs over notebooks of `!pip` lines never pay for it.
`ast` (in the interpreter already) first finds the top-level statements that call one of the
functions by name; libcst reads those statements only, and no other cell or statement.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from nbsetup.cell_lines import PythonLines
from nbsetup.installs.arguments import SYS_EXECUTABLE, Word
from nbsetup.installs.blocks import parse_python
from nbsetup.magics import mask_cell

_LINE_MAGIC_TOOLS = frozenset({"pip", "conda", "mamba", "micromamba", "uv"})

# The calls, by the dotted name of what is called. `cells._CALL_HINT` is the cheap test for
# them: keep the two in step. Plain names, not `libcst.matchers` patterns: importing the
# matchers takes 0.4 s, longer than the rest of a run over a typical notebook.
_SUBPROCESS = frozenset(
    f"subprocess.{name}" for name in ("run", "call", "check_call", "check_output", "Popen")
)
_OS_SYSTEM = "os.system"
_IPYTHON_SYSTEM = "get_ipython().system"
_RUN_LINE_MAGIC = "get_ipython().run_line_magic"
_PIP_MAIN = "pip.main"
_COMMAND_CALLS = _SUBPROCESS | {_OS_SYSTEM, _IPYTHON_SYSTEM, _RUN_LINE_MAGIC, _PIP_MAIN}


def _dotted(node: cst.BaseExpression) -> str | None:
    """`os.system` for `os.system`, `get_ipython().system` for that; None for other shapes."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    if isinstance(node, cst.Call) and not node.args:
        called = _dotted(node.func)
        return f"{called}()" if called == "get_ipython" else None
    return None


def _is_shell_true(arg: cst.Arg) -> bool:
    return (
        arg.keyword is not None
        and arg.keyword.value == "shell"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "True"
    )


_BLOCKS = {
    cst.If: "an if block",
    cst.Try: "a try block",
    cst.TryStar: "a try block",
    cst.For: "a for loop",
    cst.While: "a while loop",
    cst.With: "a with block",
    cst.FunctionDef: "a function",
    cst.ClassDef: "a class",
    cst.Match: "a match block",
    cst.Lambda: "a lambda",
}
_KEYWORD_REASONS = {"cwd": "runs in another directory", "env": "sets environment variables"}


@dataclass(frozen=True)
class PythonCall:
    """A call that runs a command; exactly one of `argv` (a list literal) or `shell` is set."""

    start: int
    end: int
    form: str
    argv: tuple[Word, ...] | None
    shell: str | None
    #: IPython expands `{expr}` in the text first (`get_ipython().system`, f-strings).
    python_fields: bool
    #: Why the statement cannot move whatever it runs (inside a block, result used, ...).
    reason: str | None


def _literal(node: cst.BaseExpression) -> str | None:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _shell_text(node: cst.BaseExpression) -> tuple[str, bool] | None:
    """A string argument as shell text; f-string fields come back as `{expr}` placeholders."""
    literal = _literal(node)
    if literal is not None:
        return literal, False
    if isinstance(node, cst.FormattedString):
        pieces = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                pieces.append(part.value)
            elif isinstance(part, cst.FormattedStringExpression):
                pieces.append("{" + cst.Module([]).code_for_node(part.expression) + "}")
        return "".join(pieces), True
    return None


def _argv(node: cst.BaseExpression) -> tuple[Word, ...] | None:
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None
    words = []
    for element in node.elements:
        value = element.value
        literal = _literal(value)
        if literal is not None and not isinstance(element, cst.StarredElement):
            words.append(Word(literal, 0, 0))
        elif _dotted(value) == "sys.executable":
            words.append(Word(SYS_EXECUTABLE, 0, 0))
        else:
            code = cst.Module([]).code_for_node(value)
            reason = (
                f"uses the Python variable {code}"
                if isinstance(value, cst.Name)
                else "uses a Python expression"
            )
            words.append(Word(code, 0, 0, reason))
    return tuple(words)


class _CallFinder(cst.CSTVisitor):
    """Collect command-running calls with the block they sit in and whether their value is used."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, lines: PythonLines, first: int = 1) -> None:
        super().__init__()
        #: libcst counts Python's lines (of a module starting at the cell's Python line
        #: `first`); sites are in cell lines.
        self.lines = lines
        self.offset = first - 1
        # The path from the module to the node being visited; cheaper than ParentNodeProvider.
        self.path: list[cst.CSTNode] = []
        self.blocks: list[str] = []
        self.calls: list[PythonCall] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        block = _BLOCKS.get(type(node))
        if block is not None:
            self.blocks.append(block)
        if isinstance(node, cst.Call) and _dotted(node.func) in _COMMAND_CALLS:
            self._found(node)
        self.path.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.path.pop()
        if type(original_node) in _BLOCKS:
            self.blocks.pop()

    def _found(self, node: cst.Call) -> None:
        found = self._command(node)
        if found is None:
            return
        form, argv, shell, python_fields, reason = found
        parent = self.path[-1]
        statement = self.path[-2] if len(self.path) > 1 else None
        if self.blocks:
            reason = f"inside {self.blocks[-1]}"
        elif not isinstance(parent, cst.Expr):
            reason = "result of the call is used"
        elif isinstance(statement, cst.SimpleStatementLine) and len(statement.body) > 1:
            reason = "shares its line with other statements"
        span = self.get_metadata(PositionProvider, statement if statement is not None else node)
        start = self.lines.start(span.start.line + self.offset)
        end = self.lines.end(span.end.line + self.offset)
        self.calls.append(PythonCall(start, end, form, argv, shell, python_fields, reason))

    def _command(
        self, node: cst.Call
    ) -> tuple[str, tuple[Word, ...] | None, str | None, bool, str | None] | None:
        positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
        keywords = {arg.keyword.value: arg for arg in node.args if arg.keyword is not None}
        called = _dotted(node.func)
        if called in _SUBPROCESS:
            first = positional[0] if positional else getattr(keywords.get("args"), "value", None)
            if first is None:
                return None
            reason = next((r for k, r in _KEYWORD_REASONS.items() if k in keywords), None)
            if any(_is_shell_true(arg) for arg in node.args):
                text = _shell_text(first)
                return None if text is None else ("subprocess", None, text[0], text[1], reason)
            argv = _argv(first)
            return None if argv is None else ("subprocess", argv, None, False, reason)
        if called == _PIP_MAIN:
            argv = _argv(positional[0]) if positional else None
            return (
                None
                if argv is None
                else ("pip.main", (Word("pip", 0, 0), *argv), None, False, None)
            )
        if called == _RUN_LINE_MAGIC:
            if len(positional) != 2:
                return None
            magic, line = _literal(positional[0]), _shell_text(positional[1])
            if magic not in _LINE_MAGIC_TOOLS or line is None:
                return None
            return "run_line_magic", None, f"{magic} {line[0]}", True, None
        text = _shell_text(positional[0]) if positional else None
        if text is None:
            return None
        if called == _OS_SYSTEM:
            return "os.system", None, text[0], text[1], None
        return "get_ipython().system", None, text[0], True, None


def find_calls(source: str) -> tuple[PythonCall, ...]:
    """Calls in a cell that run a command, with their statement's line span.

    Parses the cell as is, else with its IPython lines masked; a cell that still does not
    parse has no calls we can be sure of, so none are returned. Only the top-level statements
    that `ast` finds a call of one of the functions in go through libcst; when `ast` cannot
    parse what libcst would (another grammar version), or libcst not a statement `ast` could,
    the whole cell goes through libcst as before.
    """
    parsed = source
    tree = parse_python(parsed)
    if tree is None:
        parsed = mask_cell(source)  # the same cell lines, IPython's replaced
        tree = parse_python(parsed)
    if tree is None:
        return _whole_cell(source)
    lines = PythonLines(parsed)
    calls: list[PythonCall] = []
    for first, last in _candidate_lines(tree):
        try:
            module = cst.parse_module(lines.text(first, last))
        except cst.ParserSyntaxError:
            return _whole_cell(source)
        calls += _visit(module, lines, first)
    return tuple(calls)


def _whole_cell(source: str) -> tuple[PythonCall, ...]:
    """`find_calls` with libcst alone, over the whole cell."""
    parsed = source
    try:
        module = cst.parse_module(parsed)
    except cst.ParserSyntaxError:
        parsed = mask_cell(source)
        try:
            module = cst.parse_module(parsed)
        except cst.ParserSyntaxError:
            return ()
    return _visit(module, PythonLines(parsed), 1)


def _visit(module: cst.Module, lines: PythonLines, first: int) -> tuple[PythonCall, ...]:
    finder = _CallFinder(lines, first)
    MetadataWrapper(module, unsafe_skip_copy=True).visit(finder)
    return tuple(finder.calls)


def _candidate_lines(tree: ast.Module) -> Iterator[tuple[int, int]]:
    """The Python lines (first, last; 1-based) of each run of top-level statements that calls
    one of `_COMMAND_CALLS`, statements sharing a line kept together (`a; os.system(...)`)."""
    runs: list[list[int]] = []  # [first, last, holds a call]
    for statement in tree.body:
        decorators = getattr(statement, "decorator_list", ())
        first = min([statement.lineno, *(node.lineno for node in decorators)])
        last = statement.end_lineno or statement.lineno
        holds = int(any(_is_command_call(node) for node in ast.walk(statement)))
        if runs and first <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], last)
            runs[-1][2] |= holds
        else:
            runs.append([first, last, holds])
    return ((first, last) for first, last, holds in runs if holds)


def _is_command_call(node: ast.AST) -> bool:
    # `ast.unparse` spells a callee as `_dotted` names it (`get_ipython().system`,
    # `os.system`), whitespace and parentheses dropped; other shapes match no name.
    return isinstance(node, ast.Call) and ast.unparse(node.func) in _COMMAND_CALLS
