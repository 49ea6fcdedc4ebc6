"""Install fallbacks: `try: import x` / `except ImportError: !pip install x`.

When the import fails, nothing of `x` is loaded, so the install in the handler cannot leave an
old version in memory (NBS001 exempts it). `find_fallbacks` gives, for each `try` of a cell
whose handler catches ImportError, the lines of its body and of its handlers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nbsetup.imports import GUARD_EXCEPTIONS, TRY_NODES, parse_cell


@dataclass(frozen=True)
class Fallback:
    """A `try` whose handler catches ImportError; 0-based lines of the cell, end exclusive.

    `try:\\n    import x\\nexcept ImportError:\\n    !pip install x` gives
    `Fallback(body=(0, 2), handlers=((2, 4),))`.
    """

    #: The `try:` line through the end of its body.
    body: tuple[int, int]
    #: Each handler that catches ImportError, from its `except` line to its end.
    handlers: tuple[tuple[int, int], ...]

    def covers(self, import_line: int, install_line: int) -> bool:
        """Whether an import on `import_line` is tried here and `install_line` is its fallback."""
        start, end = self.body
        inside = start <= import_line < end
        return inside and any(first <= install_line < last for first, last in self.handlers)


def find_fallbacks(source: str) -> tuple[Fallback, ...]:
    """The install fallbacks of one code cell (a cell that is not Python has none)."""
    if "try" not in source:
        return ()
    tree, _ = parse_cell(source)
    if tree is None:
        return ()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, TRY_NODES) or not node.body:
            continue
        handlers = tuple(
            (handler.lineno - 1, handler.end_lineno or handler.lineno)
            for handler in node.handlers
            if _catches_import_error(handler.type)
        )
        if handlers:
            end = node.body[-1].end_lineno or node.body[-1].lineno
            found.append(Fallback((node.lineno - 1, end), handlers))
    return tuple(found)


def _catches_import_error(handler: ast.expr | None) -> bool:
    """Bare `except:`, `except ImportError:` or broader, or a tuple holding one."""
    if handler is None:
        return True
    if isinstance(handler, ast.Tuple):
        return any(_catches_import_error(element) for element in handler.elts)
    if isinstance(handler, ast.Attribute):
        return handler.attr in GUARD_EXCEPTIONS
    return isinstance(handler, ast.Name) and handler.id in GUARD_EXCEPTIONS
