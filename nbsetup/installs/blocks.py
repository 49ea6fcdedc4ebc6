"""Install blocks that decide only from the starting environment, and what they depend on.

A top-level `if`/`elif`/`else` or `try: import x` / `except ImportError:` statement whose
branches hold only install lines (and `pass`) and whose conditions read only what the kernel
starts with can run first, as a whole, in the environment cell::

    IN_COLAB = "google.colab" in sys.modules      # a definition: moves first
    if IN_COLAB:                                  # a block: moves as a unit, verbatim
        !pip install -q datasets
    else:
        %pip install datasets

`find_statements(source)` reads one cell (its IPython lines masked, `magics.mask_cell`) and
returns the candidate blocks and the definitions they may rely on, each with the reason it
cannot move, if any. `cells` walks the notebook in order and decides, with `missing`, which
blocks move: every name a block reads must come from a definition that moves with it.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from nbsetup.cell_lines import IPYTHON_ONLY_BREAKS, PythonLines
from nbsetup.magics import CellScan, mask_cell

#: Modules whose attributes describe the starting environment.
RUNTIME_MODULES = frozenset({"sys", "os", "platform", "importlib", "shutil"})
#: Names bound by `from M import N` that read the environment: (module, name).
_RUNTIME_IMPORTS = frozenset(
    {
        ("importlib.util", "find_spec"),
        ("importlib", "util"),
        ("shutil", "which"),
        ("os", "environ"),
        ("os", "getenv"),
        ("os", "name"),
    }
)
#: Calls, by dotted name, whose result depends only on the environment and which change
#: nothing. `"".join` is for the `"COLAB_" in "".join(os.environ.keys())` idiom.
_PURE_CALLS = frozenset(
    {
        "importlib.util.find_spec",
        "util.find_spec",
        "find_spec",
        "shutil.which",
        "which",
        "os.getenv",
        "getenv",
        "os.environ.get",
        "environ.get",
        "os.environ.keys",
        "environ.keys",
        "get_ipython",
        "str",
        "len",
        "type",
        "bool",
        ".join",
    }
)
#: Attribute chains allowed on each runtime module (a prefix match): `os.system` is not.
_MODULE_ATTRIBUTES: Mapping[str, frozenset[str] | None] = {
    "sys": None,  # sys.modules, sys.platform, sys.version_info, ...: all read-only here
    "platform": None,
    "os": frozenset({"environ", "getenv", "name"}),
    "importlib": frozenset({"util"}),
    "shutil": frozenset({"which"}),
}
#: Names a condition may read without a definition: IPython's own.
_BUILTINS = frozenset({"get_ipython", "str", "len", "type", "bool"})
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})
# Cheap test first: most cells hold no top-level `if`/`try`, runtime import or assignment.
_HINT = re.compile(
    r"^(?:if\b|try\s*:|import\s|from\s|\w+\s*=[^=].*\b(?:sys|os|platform|find_spec|which|"
    r"environ|getenv|get_ipython)\b)",
    re.MULTILINE,
)

Kind = Literal["block", "definition"]


@dataclass(frozen=True)
class Found:
    """A statement of a cell that may move with the installs: a block, or a definition.

    Lines are 0-based, `end` exclusive. A block's `installs` are the first lines of the escape
    lines its branches hold; `reads` are the names its conditions (or a definition's value)
    read, `names` the names a definition binds. `reason` says why it cannot move, if so.
    """

    kind: Kind
    start: int
    end: int
    names: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    installs: tuple[int, ...] = ()
    #: `try: import x`: the module the block imports (early, once it moves).
    imports: str | None = None
    #: `X in sys.modules`: modules whose import earlier would change the condition.
    modules: tuple[str, ...] = ()
    #: A block: "an if block" or "a try block", for the report; a definition: "an import",
    #: "an assignment" or "a try import".
    what: str = "an if block"
    reason: str | None = None


def may_hold_block(source: str) -> bool:
    """False when a cell holds no top-level `if`/`try`, runtime import or assignment."""
    return _HINT.search(source) is not None


#: A top-level `if`/`try` line, and an indented IPython escape (`!`, `%`): together, what a
#: block that may move holds (its branches' installs are escape lines).
_BLOCK_START = re.compile(r"^(?:if\b|try\s*:)", re.MULTILINE)
_INDENTED_ESCAPE = re.compile(r"^[ \t]+[!%]", re.MULTILINE)


def may_hold_install_block(source: str) -> bool:
    """False when a cell cannot hold a block of installs: no top-level `if`/`try`, or no
    indented `!`/`%` line. A notebook none of whose cells may hold one needs no definitions
    tracked (`cells`): nothing could move with them."""
    return _INDENTED_ESCAPE.search(source) is not None and _BLOCK_START.search(source) is not None


def find_statements(source: str, scan: CellScan) -> tuple[Found, ...]:
    """The candidate blocks and definitions at the top level of a cell, in line order.

    Blocks are `if`/`try` statements with an install line in a branch; definitions are
    runtime imports and assignments, and `try: import google.colab` / `IN_COLAB = ...`.
    A cell that does not parse once masked has none.
    """
    escapes = [logical for logical in scan.logical_lines if logical.escape is not None]
    parsed = _parse(source)
    if parsed is None:
        return ()
    tree, lines = parsed
    tokens = {_token_line(node) for node in _statements(tree)} - {0}
    masked = {lines.start(token) for token in tokens} & {e.start for e in escapes}
    # The masked continuation lines of an escape (`!pip install \` + `    x`) are tokens too.
    continued = {line for e in escapes for line in range(e.start + 1, e.end)}
    found = []
    for node in tree.body:
        last = node.end_lineno or node.lineno
        start, end = lines.start(node.lineno), lines.end(last)
        if isinstance(node, ast.If | ast.Try) and _holds(node, masked, lines):
            statement: Found | None = _block(node, start, end, masked, continued, lines)
        else:
            statement = _definition(node, start, end)
        if statement is not None and end - start != last - node.lineno + 1:
            # The environment cell is written with `\n` breaks: such a line break would become
            # one Python sees (` x` after `# a\u2028` would start an indented line).
            statement = replace(
                statement,
                reason=statement.reason or _odd_break(source.splitlines(keepends=True)[start:end]),
            )
        if statement is not None:
            found.append(statement)
    return tuple(found)


def _odd_break(lines: Sequence[str]) -> str:
    """Why a statement whose lines end in a break that Python does not count cannot move."""
    ends = [line[-1] for line in lines if line and line[-1] in IPYTHON_ONLY_BREAKS]
    shown = f"U+{ord(ends[0]):04X}" if ends else "a line break"
    return f"one of its lines ends in {shown}, a line break for IPython but not for Python"


def assignments(source: str) -> dict[str, list[int]]:
    """Every name a cell binds anywhere (assignment, loop, import, def, `global`), with the
    0-based lines of the top-level statements that bind it."""
    parsed = _parse(source)
    if parsed is None:
        return {}
    tree, lines = parsed
    names: dict[str, list[int]] = {}
    for statement in tree.body:
        for node in ast.walk(statement):
            bound: list[str] = []
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                bound = [node.id]
            elif isinstance(node, ast.alias):
                bound = [(node.asname or node.name).split(".")[0]]
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound = [node.name]
            elif isinstance(node, ast.Global | ast.Nonlocal):
                bound = list(node.names)
            for name in bound:
                names.setdefault(name, []).append(lines.start(statement.lineno))
    return names


@functools.lru_cache(maxsize=64)
def _parse(source: str) -> tuple[ast.Module, PythonLines] | None:
    """The cell's masked Python, parsed, with the cell lines of its line numbers; None when it
    does not parse (kept for a few cells: `find_statements` and `assignments` read the same
    cell, and the safety net scans the rewrite's unchanged cells again). The tree is only
    read, never changed.

    Masking changes no line break, so the masked text's lines are the cell's; `ast` counts
    fewer where a cell has `\f` or U+2028 (`cell_lines`), hence `PythonLines`.
    """
    masked = mask_cell(source)
    tree = parse_python(masked)
    return None if tree is None else (tree, PythonLines(masked))


def parse_python(text: str) -> ast.Module | None:
    """`text` parsed by `ast`, or None when it does not parse; its warnings not shown."""
    with warnings.catch_warnings():
        # `"\d"` in a cell is the user's business, not a warning of ours.
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError):
            return None


def _token_line(node: ast.AST) -> int:
    """The line of a bare masked name (`_3f9a...` standing for an escape line), else 0."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Name):
        return node.lineno
    return 0


def _holds(node: ast.If | ast.Try, masked: set[int], lines: PythonLines) -> bool:
    """Whether a statement has an escape line (`masked`: their cell lines) somewhere in it
    (worth judging as a block)."""
    tokens = (_token_line(child) for child in _statements(node))
    return any(token and lines.start(token) in masked for token in tokens)


def _statements(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and every statement in its bodies, at any depth, with the `except` and `case`
    clauses that hold them: all of `ast.walk` a masked escape line can be (a bare name
    statement), without the expressions, which are most of a tree."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(current, field, None)
            if isinstance(children, list):
                todo += children


def _block(
    node: ast.If | ast.Try,
    start: int,
    end: int,
    masked: set[int],
    continued: set[int],
    lines: PythonLines,
) -> Found:
    """`node` judged as a block of cell lines `start` to `end`; `masked`: the cell lines of its
    escapes, `continued`: their continuation lines."""
    what = "an if block" if isinstance(node, ast.If) else "a try block"
    branches, reason, imports = _branches(node)
    reads: set[str] = set()
    modules: set[str] = set()
    if isinstance(node, ast.If):
        for test in _tests(node):
            problem = _runtime_problem(test, reads, modules)
            reason = reason or problem
        if not reads:
            reason = reason or "its condition reads nothing of the runtime: the user's choice"
    installs: list[int] = []
    for body in branches:
        for statement in body:
            line = lines.start(statement.lineno)
            escaped = _token_line(statement) != 0  # a masked line, or a bare name
            if escaped and line in masked:
                installs.append(line)
            elif not (escaped and line in continued) and not isinstance(statement, ast.Pass):
                reason = reason or f"line {line + 1} of a branch is not an install"
    if not installs:
        reason = reason or "no install line in its branches"
    return Found(
        "block",
        start,
        end,
        reads=tuple(sorted(reads)),
        installs=tuple(installs),
        imports=imports,
        modules=tuple(sorted(modules)),
        what=what,
        reason=reason,
    )


def _tests(node: ast.If) -> Iterator[ast.expr]:
    """The conditions of an `if`/`elif` chain."""
    while True:
        yield node.test
        if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            node = node.orelse[0]
            continue
        return


def _branches(node: ast.If | ast.Try) -> tuple[list[list[ast.stmt]], str | None, str | None]:
    """A block's branch bodies, why its shape cannot move (if so), and a `try` import."""
    if isinstance(node, ast.If):
        branches = []
        current: ast.If = node
        while True:
            branches.append(current.body)
            if len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
                current = current.orelse[0]
                continue
            if current.orelse:
                branches.append(current.orelse)
            return branches, None, None
    body = node.body
    imports = None
    reason = None
    if len(body) == 1 and isinstance(body[0], ast.Import) and len(body[0].names) == 1:
        imports = body[0].names[0].name
    elif (
        len(body) == 1
        and isinstance(body[0], ast.ImportFrom)
        and body[0].module
        and not (body[0].level)
    ):
        imports = body[0].module
    else:
        reason = "its try body is not a single import"
    if node.orelse or node.finalbody:
        reason = reason or "it has an else or finally part"
    for handler in node.handlers:
        if not _catches_import_error(handler.type):
            reason = reason or "it catches more than ImportError"
    return [handler.body for handler in node.handlers], reason, imports


def _catches_import_error(kind: ast.expr | None) -> bool:
    if isinstance(kind, ast.Name):
        return kind.id in _IMPORT_ERRORS
    if isinstance(kind, ast.Tuple):
        return all(isinstance(e, ast.Name) and e.id in _IMPORT_ERRORS for e in kind.elts)
    return False


def _definition(node: ast.stmt, start: int, end: int) -> Found | None:
    """A runtime import, a runtime assignment, or the `try: import google.colab` idiom."""
    if isinstance(node, ast.Import):
        names = tuple((a.asname or a.name).split(".")[0] for a in node.names)
        plain = all(
            a.asname is None and a.name.split(".")[0] in RUNTIME_MODULES for a in node.names
        )
        reason = None if plain else "imported together with other modules"
        return Found("definition", start, end, names=names, what="an import", reason=reason)
    if isinstance(node, ast.ImportFrom):
        names = tuple(a.asname or a.name for a in node.names)
        plain = all(
            a.asname is None and (node.module, a.name) in _RUNTIME_IMPORTS for a in node.names
        )
        reason = None if plain and not node.level else "imported together with other names"
        return Found("definition", start, end, names=names, reason=reason)
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not all(isinstance(target, ast.Name) for target in targets):
            return None
        names = tuple(target.id for target in targets if isinstance(target, ast.Name))
        reads: set[str] = set()
        modules: set[str] = set()
        reason = _runtime_problem(node.value, reads, modules)
        if isinstance(node.value, ast.Constant):
            reason = "a constant, the user's choice, not a test of the runtime"
        return Found(
            "definition",
            start,
            end,
            names=names,
            what="an assignment",
            reads=tuple(sorted(reads)),
            modules=tuple(sorted(modules)),
            reason=reason,
        )
    if isinstance(node, ast.Try):
        return _try_definition(node, start, end)
    return None


def _try_definition(node: ast.Try, start: int, end: int) -> Found | None:
    """`try: import M; NAME = True` / `except ImportError: NAME = False` (and the reverse)."""
    if node.orelse or node.finalbody or len(node.handlers) != 1:
        return None
    handler = node.handlers[0]
    body = node.body
    if not (
        _catches_import_error(handler.type)
        and len(body) == 2
        and isinstance(body[0], ast.Import)
        and _flag(body[1]) is not None
        and len(handler.body) == 1
        and _flag(handler.body[0]) == _flag(body[1])
    ):
        return None
    return Found("definition", start, end, names=(_flag(body[1]) or "",), what="a try import")


def _flag(node: ast.stmt) -> str | None:
    """The name in `NAME = True` / `NAME = False`."""
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, bool)
    ):
        return node.targets[0].id
    return None


def _dotted(node: ast.expr) -> str | None:
    """`importlib.util.find_spec` for that attribute chain; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts.append("")
    else:
        return None
    return ".".join(reversed(parts))


def _runtime_problem(node: ast.expr, reads: set[str], modules: set[str]) -> str | None:
    """Why an expression may read more than the starting environment, or None.

    The names it reads are added to `reads`; `modules` gets `M` of each `"M" in sys.modules`.
    """
    if isinstance(node, ast.Constant):
        return None
    if isinstance(node, ast.BoolOp):
        return _first(_runtime_problem(value, reads, modules) for value in node.values)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _runtime_problem(node.operand, reads, modules)
    if isinstance(node, ast.Compare):
        if (
            isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
            and len(node.comparators) == 1
            and _dotted(node.comparators[0]) == "sys.modules"
        ):
            modules.add(node.left.value)
        parts = [node.left, *node.comparators]
        return _first(_runtime_problem(part, reads, modules) for part in parts)
    if isinstance(node, ast.Tuple | ast.List):
        return _first(_runtime_problem(e, reads, modules) for e in node.elts)
    if isinstance(node, ast.Subscript):
        return _runtime_problem(node.value, reads, modules) or _runtime_problem(
            node.slice, reads, modules
        )
    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        platform = name is not None and name.startswith("platform.") and not node.args
        if (name not in _PURE_CALLS and not platform) or node.keywords:
            called = f"{name}()" if name else "a function"
            return f"it calls {called}, which may do more than read"
        if isinstance(node.func, ast.Attribute):
            problem = _runtime_problem(node.func.value, reads, modules)
            if problem:
                return problem
        elif isinstance(node.func, ast.Name):
            reads.add(node.func.id)
        return _first(_runtime_problem(arg, reads, modules) for arg in node.args)
    if isinstance(node, ast.Attribute | ast.Name):
        name = _dotted(node)
        if name is None:
            return "it reads a value that is not the runtime's"
        root, _, rest = name.partition(".")
        if root == "":
            return None  # a method of a string constant, checked as a call
        allowed = _MODULE_ATTRIBUTES.get(root)
        if rest and allowed is not None and rest.split(".")[0] not in allowed:
            return f"it reads {name}"
        reads.add(root)
        return None
    return "its condition is not a plain test of the runtime"


def _first(problems: Iterator[str | None]) -> str | None:
    return next((problem for problem in problems if problem), None)


def builtin(name: str) -> bool:
    """A name a condition may read without a definition (`get_ipython`)."""
    return name in _BUILTINS
