"""Comments in cell sources: which travel with a moved install, and every one of a cell.

CONTRACT "What moves, what stays": comments are never deleted. The block of comment lines
directly above a moved install moves with it (its trailing comment is part of its text);
Colab form lines (`#@title`, `#@param`, `#@markdown`) belong to their cell and stop the block.
`comments` lists every comment of a source, for the safety net and the property tests.
`directives` reads nbsetup's own comments, `# nbsetup: ignore[CODES]` (for `check`) and
`# nbsetup: skip` (an opt-out, `optouts`), with one grammar for both.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from nbsetup.notebook_io import cell_text

_COLAB_FORM = re.compile(r"\s*#\s*@(title|param|markdown)\b")
#: `# nbsetup: skip`, `# nbsetup: ignore`, `# nbsetup: ignore[NBS001, NBS002]`. Spaces after
#: `#` and after the colon are optional (`#nbsetup:skip`), as ruff's noqa and black's fmt
#: comments allow; the words are lower case; the directive may follow another comment
#: (`# for CUDA  # nbsetup: skip`).
_DIRECTIVE = re.compile(r"#\s*nbsetup:\s*(ignore|skip)\b(?:\[([^\]]*)\])?")
#: The directives `directives` reads.
IGNORE, SKIP = "ignore", "skip"


def is_comment_line(line: str) -> bool:
    """A line holding only a comment (`  # note`)."""
    return line.lstrip().startswith("#")


def is_form_line(line: str) -> bool:
    """A Colab form line (`#@title Install`, `x = 1  #@param`), which belongs to its cell."""
    return _COLAB_FORM.match(line) is not None or "#@param" in line.replace(" ", "")


def block_above(
    lines: Sequence[str], start: int, floor: int, in_strings: Collection[int] = ()
) -> int:
    """The first line of the comment block directly above line `start` (`start` if none).

    The block is the run of whole-line comments ending on line `start - 1`, no higher than
    `floor`; a blank line, a Colab form line or a line inside a string literal ends it.

    `["# for plots", "!pip install seaborn"]`, start 1 → 0.
    """
    first = start
    while (
        first - 1 >= floor
        and first - 1 not in in_strings
        and is_comment_line(lines[first - 1])
        and not is_form_line(lines[first - 1])
    ):
        first -= 1
    return first


def comments(source: str) -> list[str]:
    """Every comment of a cell's source, from its `#`, stripped, in order.

    A `#` inside a quoted string on its line does not start one. Lines inside multi-line
    strings may be counted too: the rule is for keeping text, and counting more is safe.
    """
    found: list[str] = []
    if "#" not in source:
        return found
    for line in source.splitlines():
        at = _comment_start(line)
        if at is not None:
            found.append(line[at:].strip())
    return found


def directives(line: str) -> dict[str, str | None]:
    """nbsetup's directives in a line's comment: each word with its `[...]` text (None: none).

    Only a comment counts: a `#` inside a quoted string on the line does not start one.
    `!pip install x  # nbsetup: ignore[NBS002]` → `{"ignore": "NBS002"}`;
    `x = "# nbsetup: skip"` → `{}`.
    """
    if "nbsetup" not in line:
        return {}
    at = _comment_start(line)
    if at is None:
        return {}
    found: dict[str, str | None] = {}
    for match in _DIRECTIVE.finditer(line, at):
        found.setdefault(match.group(1), match.group(2))
    return found


def is_directive_line(line: str) -> bool:
    """A comment line that is an nbsetup directive (`# nbsetup: skip`): the user's, not a
    line nbsetup generated, though both start with `# nbsetup:`."""
    return is_comment_line(line) and bool(directives(line))


def notebook_comments(notebook: dict[str, Any]) -> Counter[str]:
    """Every comment of a notebook's code cells, counted; the environment cell's header and
    generated blocks, nbsetup's own, left out (`envcell.document`)."""
    return cells_comments(notebook["cells"])


def cells_comments(cells: Iterable[dict[str, Any]]) -> Counter[str]:
    """`notebook_comments` of some cells of a notebook."""
    # Imported here: `envcell` reads directives from this module.
    from nbsetup import envcell

    found: Counter[str] = Counter()
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        text = cell_text(cell)
        if envcell.find([cell]) == 0:
            text = "\n".join(envcell.document(text, envcell.recorded_header(cell)))
        found.update(comments(text))
    return found


def _comment_start(line: str) -> int | None:
    at = line.find("#")
    if at < 0:
        return None
    before = line[:at]
    if "'" not in before and '"' not in before:
        return at  # no quote before the first `#`: nothing can hide it
    quote: str | None = None
    index = 0
    while index < len(line):
        char = line[index]
        if quote is None and char == "#":
            return index
        if char == "\\" and quote is not None:
            index += 2
            continue
        if char in "'\"":
            quote = char if quote is None else (None if quote == char else quote)
        index += 1
    return None
