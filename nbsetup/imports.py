"""Find the modules a notebook's code cells import, with where and in what context.

Each cell is parsed with `ast`; one that is not plain Python is parsed again after
`magics.mask_cell` has replaced its IPython syntax. A cell that still does not parse (`obj?`
help, invalid code) falls back to a line scan that finds unindented `import x` /
`from x import y` statements only, since the block an indented one belongs to is unknown.
Cells whose body is not Python (`%%bash`, `%%writefile`, ...) have no imports. Relative
imports (`from . import x`) are local code and are left out; imports through
`importlib.import_module` or `__import__` are not seen.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from nbsetup.magics import PYTHON_CELL_MAGICS, mask_cell, scan_cell

#: Cell magics whose body is Python and may import: the shared ones, plus `%%timeit`.
IMPORTING_CELL_MAGICS = PYTHON_CELL_MAGICS | {"timeit"}
#: Exceptions whose handler makes an import optional: `except ImportError:` and broader.
GUARD_EXCEPTIONS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})

# `try: ... except* ImportError:` (3.11+) has the same fields as `try`.
if sys.version_info >= (3, 11):
    TRY_NODES: tuple[type[ast.stmt], ...] = (ast.Try, ast.TryStar)
else:
    TRY_NODES = (ast.Try,)
_IMPORT = re.compile(r"import\s+(.+)", re.DOTALL)
_FROM = re.compile(r"from\s+(\.*)\s*([\w.]*)\s+import\s+(.+)", re.DOTALL)
_WORD = re.compile(r"[\w.*]+")


@dataclass(frozen=True)
class Import:
    """One module an import statement loads.

    `from sklearn import svm` on line 3 of cell 2 gives `Import(module="sklearn.svm", cell=2,
    line=2, end=3, runs=True, guarded=False)` (cell and lines 0-based, end exclusive, as in
    `InstallSite`); `from x import *` gives module `x`. The name after `from x import` may be an
    attribute rather than a module; only its leading parts matter to the distribution lookup.
    """

    module: str
    cell: int
    line: int
    end: int
    #: Executed when the cell runs: not inside a function body, which runs only when called.
    runs: bool = True
    #: Inside the body of a `try` whose handler catches ImportError (or something broader):
    #: the notebook copes without the module.
    guarded: bool = False

    @property
    def top(self) -> str:
        """The top-level package: `os` for `os.path`."""
        return self.module.split(".", 1)[0]


def find_imports(sources: Sequence[str | None]) -> tuple[Import, ...]:
    """The imports of a notebook's cells in order; sources[i] is cell i's source, None if not code.

    `["import numpy as np, pandas", None, "def f():\\n    import torch"]` →
    `numpy` and `pandas` in cell 0, `torch` in cell 2 with `runs=False`.
    """
    found: list[Import] = []
    for cell, source in enumerate(sources):
        # Cheap test first: most cells import nothing.
        if source and "import" in source:
            found.extend(_cell_imports(cell, source))
    return tuple(found)


def written_modules(sources: Sequence[str | None]) -> frozenset[str]:
    """Modules the notebook writes itself: `%%writefile utils.py` → `utils`, `pkg/a.py` → `pkg`."""
    modules = set()
    for source in sources:
        if not source or "%%writefile" not in source:
            continue
        magic = scan_cell(source).cell_magic
        if magic is None or magic[0] != "writefile" or not magic[1].split():
            continue
        path = PurePosixPath(magic[1].split()[-1])
        parts = [part for part in path.parts if part not in (".", "/")]
        if len(parts) > 1 and not path.is_absolute() and parts[0] != "..":
            modules.add(parts[0])
        elif parts and path.suffix == ".py":
            modules.add(path.stem)
    return frozenset(modules)


def parse_cell(source: str) -> tuple[ast.Module | None, bool]:
    """A code cell's syntax tree (None when it does not parse), and whether it is Python.

    Parsed as is first; only a cell that is not plain Python has its magics looked at: the body
    of a cell magic that runs something else (`%%bash`) is not Python, and in the others the
    IPython lines are masked before a second try.
    """
    tree = _parse(source)
    if tree is None:
        scan = scan_cell(source)
        if scan.cell_magic is not None and scan.cell_magic[0] not in IMPORTING_CELL_MAGICS:
            return None, False
        tree = _parse(mask_cell(source))
    return tree, True


def _cell_imports(cell: int, source: str) -> list[Import]:
    tree, python = parse_cell(source)
    if not python:
        return []
    if tree is None:
        return list(_scan_lines(cell, source))
    found: list[Import] = []
    _collect(tree.body, cell, found, runs=True, guarded=False)
    return found


def _parse(text: str) -> ast.Module | None:
    """The module's syntax tree, or None when it is not Python (top-level `await` is allowed)."""
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        with warnings.catch_warnings():
            # Invalid escapes and the like are the notebook author's business, not ours.
            warnings.simplefilter("ignore")
            tree = compile(text, "<cell>", "exec", flags=flags, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    assert isinstance(tree, ast.Module)
    return tree


def _collect(
    body: Sequence[ast.stmt], cell: int, found: list[Import], runs: bool, guarded: bool
) -> None:
    """Add the imports of a block and of the blocks nested in it, in source order.

    Only statement bodies are walked (import statements cannot occur in expressions), which is
    much faster than a full `ast.NodeVisitor` pass.
    """
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend(_node_imports(node, cell, runs, guarded))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _collect(node.body, cell, found, False, guarded)
        elif isinstance(node, TRY_NODES):
            catches = any(_catches_import_error(handler.type) for handler in node.handlers)
            _collect(node.body, cell, found, runs, guarded or catches)
            for handler in node.handlers:
                _collect(handler.body, cell, found, runs, guarded)
            _collect([*node.orelse, *node.finalbody], cell, found, runs, guarded)
        elif isinstance(node, ast.Match):
            for case in node.cases:
                _collect(case.body, cell, found, runs, guarded)
        else:
            for field in ("body", "orelse"):
                nested = getattr(node, field, None)
                if isinstance(nested, list):
                    _collect(nested, cell, found, runs, guarded)


def _node_imports(
    node: ast.Import | ast.ImportFrom, cell: int, runs: bool, guarded: bool
) -> list[Import]:
    end = node.end_lineno if node.end_lineno is not None else node.lineno
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    elif node.level or not node.module:
        modules = []  # relative: the notebook's own code
    else:
        modules = [
            node.module if alias.name == "*" else f"{node.module}.{alias.name}"
            for alias in node.names
        ]
    return [Import(module, cell, node.lineno - 1, end, runs, guarded) for module in modules]


def _catches_import_error(handler: ast.expr | None) -> bool:
    """Whether an `except` clause's type catches ImportError: bare, a superclass, or a tuple."""
    if handler is None:
        return True
    if isinstance(handler, ast.Tuple):
        return any(_catches_import_error(element) for element in handler.elts)
    if isinstance(handler, ast.Attribute):
        return handler.attr in GUARD_EXCEPTIONS
    return isinstance(handler, ast.Name) and handler.id in GUARD_EXCEPTIONS


def _scan_lines(cell: int, source: str) -> Iterator[Import]:
    """Unindented import statements of a cell that does not parse, found line by line."""
    lines = source.splitlines(keepends=True)
    for logical in scan_cell(source).logical_lines:
        if logical.escape is not None or logical.indent:
            continue
        if logical.first_word not in ("import", "from"):
            continue
        text = "".join(lines[logical.start : logical.end]).split("#", 1)[0]
        text = text.replace("\\\n", " ").replace("(", " ").replace(")", " ")
        for module in _statement_modules(text.strip()):
            yield Import(module, cell, logical.start, logical.end)


def _statement_modules(text: str) -> list[str]:
    """The modules an import statement's text names; `[]` for relative or malformed ones."""
    match = _FROM.fullmatch(text)
    if match:
        dots, module, names = match.groups()
        if dots or not module:
            return []
        words = [_first_word(name) for name in names.split(",")]
        return [module if word == "*" else f"{module}.{word}" for word in words if word]
    match = _IMPORT.fullmatch(text)
    if match:
        return [word for word in map(_first_word, match.group(1).split(",")) if word]
    return []


def _first_word(text: str) -> str:
    match = _WORD.match(text.strip())
    return match.group() if match else ""
