"""Find IPython syntax in a cell and mask it so the cell parses as Python."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nbsetup.cell_lines import without_break

#: Cell magics whose body is Python (plus IPython escapes), so it can be scanned like a cell.
PYTHON_CELL_MAGICS = frozenset({"capture", "time", "prun"})
#: Cell magics whose body is shell text.
SHELL_CELL_MAGICS = frozenset({"bash", "sh"})

# `x = !cmd` / `x = %magic`: an escape whose output is assigned.
_ASSIGNED_ESCAPE = re.compile(r"[A-Za-z_][\w.]*\s*=\s*(?=[!%])")
_CELL_MAGIC = re.compile(r"%%(\w+)")
# IPython's automagic runs `pip install x` or `cd dir` as `%pip`/`%cd`: a magic name followed
# by a word that cannot continue a Python statement (`pip = 1`, `cd(x)` stay Python).
_AUTOMAGIC = re.compile(
    r"(pip|conda|mamba|micromamba|cd|pushd|popd)[ \t]+"
    r"(?!(?:is|in|and|or|if|else|not|for)\b|[-+*/%&|^<>!=]?=|[(.\[,:;)\]}])\S"
)
_QUOTES = ("'''", '"""', "'", '"')
_PYTHON_SPECIAL = re.compile(r"""'''|\"\"\"|[#()\[\]{}'"]""")
_STRING_ENDS = {quote: re.compile(r"\\.|" + quote, re.DOTALL) for quote in _QUOTES}
_OPENERS = frozenset("([{")


@dataclass(frozen=True)
class Escape:
    """One IPython escape line (`!cmd`, `%magic args`), continuation lines included.

    `    !pip install \\` + `        x` gives `Escape(start=0, end=2, indent="    ", marker="!",
    command="pip install \\\\\\n        x", target=None)`.
    """

    start: int
    end: int
    indent: str
    #: `!`, `%`, or `""` for an automagic line (`pip install x` runs `%pip install x`).
    marker: str
    #: The text after the marker as written, up to the end of the last line (its line break and
    #: trailing white space excluded, as IPython drops them).
    command: str
    #: The name in `x = !cmd`, whose output is used.
    target: str | None = None


@dataclass(frozen=True)
class LogicalLine:
    """A Python logical line (or an escape) that starts a statement, with its first word."""

    start: int
    end: int
    indent: int
    first_word: str
    escape: Escape | None


@dataclass(frozen=True)
class CellScan:
    """Where the IPython syntax is in a cell, line by line."""

    #: `("capture", "--no-stderr")` for a `%%capture --no-stderr` cell, else None.
    cell_magic: tuple[str, str] | None
    #: Index of the cell magic line (after any leading comment lines, as Colab allows).
    magic_line: int | None
    #: Statements and escapes in order; lines inside strings or brackets belong to their line.
    logical_lines: tuple[LogicalLine, ...]
    #: Lines that lie inside a (multi-line) Python string literal.
    string_lines: frozenset[int]


def _first_word(text: str) -> str:
    match = re.match(r"\s*([A-Za-z_]\w*)", text)
    return match.group(1) if match else ""


def _scan_python(line: str, quote: str | None, depth: int) -> tuple[str | None, int, bool]:
    """Advance the string/bracket state over one physical line.

    Returns (open triple quote or None, bracket depth, ends with a backslash continuation).
    String prefixes need no care: a raw string still ends at its first unescaped quote, as in
    Python's tokenizer.
    """
    i = 0
    while True:
        if quote is not None:
            match = _STRING_ENDS[quote].search(line, i)
            while match is not None and match.group() != quote:
                match = _STRING_ENDS[quote].search(line, match.end())
            if match is None:
                # A one-quote string left open is a syntax error unless a backslash continues
                # it; either way it cannot run past this line.
                continued = len(quote) == 1 and _ends_with_continuation(line)
                return (quote if len(quote) == 3 or continued else None), depth, False
            i = match.end()
            quote = None
        match = _PYTHON_SPECIAL.search(line, i)
        if match is None:
            return None, depth, _ends_with_continuation(line)
        token = match.group()
        i = match.end()
        if token == "#":
            return None, depth, False
        if token in _QUOTES:
            quote = token
        elif token in _OPENERS:
            depth += 1
        else:
            depth = max(depth - 1, 0)


def _ends_with_continuation(line: str) -> bool:
    body = line.rstrip("\r\n")
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def _cell_magic(lines: list[str]) -> tuple[int, tuple[str, str]] | None:
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not stripped.startswith("#!")):
            continue
        match = _CELL_MAGIC.match(line)
        if match is None:
            return None
        return index, (match.group(1), line[match.end() :].strip())
    return None


def scan_cell(source: str) -> CellScan:
    """Split a cell into statements and IPython escapes, skipping string and bracket interiors."""
    lines = source.splitlines(keepends=True)
    found = _cell_magic(lines)
    magic_line, cell_magic = (found[0], found[1]) if found else (None, None)
    logical: list[LogicalLine] = []
    string_lines: set[int] = set()
    quote: str | None = None
    index = 0 if magic_line is None else magic_line + 1
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        assigned = _ASSIGNED_ESCAPE.match(stripped)
        automagic = _AUTOMAGIC.match(stripped)
        if stripped.startswith(("!", "%")) or assigned or automagic:
            start = index
            while _ends_with_continuation(lines[index]) and index + 1 < len(lines):
                index += 1
            index += 1
            # IPython ends the command at its last line's break and trailing white space
            # (`str.rstrip`: U+2028 and a no-break space too), so the shell never sees them.
            text = "".join(lines[start : index - 1]) + lines[index - 1].rstrip()
            head = text[len(indent) :]
            target = None
            if assigned:
                target = assigned.group(0).split("=")[0].strip()
                head = head[assigned.end() :]
            marker = "" if automagic and not assigned else head[0]
            escape = Escape(start, index, indent, marker, head[len(marker) :], target)
            logical.append(LogicalLine(start, index, len(indent), "", escape))
            continue
        start = index
        depth = 0
        while True:
            quote, depth, continued = _scan_python(lines[index], quote, depth)
            index += 1
            if index >= len(lines) or not (quote or depth or continued):
                break
            if quote:
                string_lines.add(index)
        if stripped.strip() and not stripped.startswith("#"):
            logical.append(LogicalLine(start, index, len(indent), _first_word(stripped), None))
    return CellScan(cell_magic, magic_line, tuple(logical), frozenset(string_lines))


def _token(seed: str, length: int, taken: str) -> str:
    # Deterministic (a hash of the cell), so masking the same cell twice gives the same text.
    # hashlib is imported here: loading OpenSSL costs start-up a few ms that most runs, which
    # mask no cell, need not pay.
    import hashlib

    counter = 0
    while True:
        digest = hashlib.sha256(f"{seed}\0{counter}".encode()).hexdigest()
        token = ("_" + digest * (length // 64 + 1))[: max(length, 8)]
        if token not in taken:
            return token
        counter += 1


def mask_cell(source: str) -> str:
    """Replace IPython escapes and the cell magic line with unique Python names.

    `"%%capture\\n!pip install x\\nimport x\\n"` becomes `"_3f9a0c1d\\n_8be2...\\nimport x\\n"`:
    each masked line keeps its indentation, and its first line keeps its length when that is at
    least 8 characters.
    """
    lines = source.splitlines(keepends=True)
    scan = scan_cell(source)
    masked = list(lines)
    taken = source

    def mask_line(index: int, indent: str, keep: str) -> None:
        nonlocal taken
        line = lines[index]
        body = without_break(line)
        newline = line[len(body) :]
        token = _token(f"{source}\0{index}", len(body) - len(indent) - len(keep), taken)
        taken += "\n" + token
        masked[index] = f"{indent}{keep}{token}{newline}"

    if scan.magic_line is not None:
        mask_line(scan.magic_line, "", "")
    for logical in scan.logical_lines:
        escape = logical.escape
        if escape is None:
            continue
        keep = f"{escape.target} = " if escape.target else ""
        for index in range(escape.start, escape.end):
            mask_line(index, escape.indent, keep if index == escape.start else "")
    return "".join(masked)
