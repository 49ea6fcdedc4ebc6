"""The minimal edit of a requirements file: new pins added, ranges tightened, all else kept.

Every existing line, comment, include, option and blank line stays, in order, with the file's
line endings. A rewritten pin changes only its requirement text on its own line
(`numpy>=1.20  # plots` → `numpy==1.26.4  # plots`). New pins go

- in name order among the file's own pins when those are already sorted (ahead of the comment
  lines directly above the pin they precede, which belong to it);
- otherwise into the block that starts with `BLOCK_HEADER`, kept sorted, which is appended
  at the end of the file the first time.

```
numpy==1.26.4              numpy==1.26.4
-r extra.txt         →     -r extra.txt
                           <blank>
                           # Pinned by `nbsetup lock` for the notebooks' installs:
                           seaborn==0.13.2
```
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from nbsetup import packages

BLOCK_HEADER = "# Pinned by `nbsetup lock` for the notebooks' installs:"
NEW_FILE_HEADER = (
    "# Pins for the notebooks' installs, written by `nbsetup lock`; `nbsetup fix` reads them."
)


class EditError(ValueError):
    """A pin line that cannot be edited safely; the message is a ready reason."""


@dataclass(frozen=True)
class LineEdit:
    """Replace requirement `old` (as the reader reports it) on 1-based `line` with `new`."""

    line: int
    old: str
    new: str


def pinned(text: str, version: str) -> str:
    """`text` with its specifier replaced by `==version`, extras and markers kept.

    `Seaborn[stats]>=0.12; python_version >= "3.9"` and `0.13.2` give
    `Seaborn[stats]==0.13.2; python_version >= "3.9"`.
    """
    requirement = Requirement(text)
    requirement.specifier = SpecifierSet(f"=={version}")
    return str(requirement)


def edit_lines(text: str, edits: Sequence[LineEdit]) -> str:
    """Apply `edits`, each to the requirement text on its own physical line."""
    lines = text.splitlines(keepends=True)
    for edit in edits:
        index = edit.line - 1
        if not 0 <= index < len(lines):
            raise EditError(f"line {edit.line}: no such line")
        line = lines[index]
        # The reader joins a requirement's words with single spaces; the file may not.
        pattern = r"\s+".join(re.escape(word) for word in edit.old.split())
        match = re.search(pattern, line)
        if match is None:
            raise EditError(f"line {edit.line}: {edit.old!r} is not written on one line")
        lines[index] = line[: match.start()] + edit.new + line[match.end() :]
    return "".join(lines)


def new_file(pins: Sequence[str]) -> str:
    """A requirements file that holds only the pins, sorted by name."""
    return "".join(f"{line}\n" for line in (NEW_FILE_HEADER, *_sorted(pins)))


def add_pins(text: str, pins: Sequence[str], own: Mapping[int, str]) -> str:
    """`text` with `pins` added (see the module docstring).

    `own`: the file's own requirement lines (not its includes'), 1-based line → canonical
    name, as the reader found them.
    """
    if not pins:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    block = _block(lines)
    if block is not None:
        start, end = block
        names = {
            start + offset + 1: name
            for offset, line in enumerate(lines[start:end])
            if (name := _line_name(line)) is not None
        }
        return "".join(_insert_sorted(lines, pins, names, newline, end, floor=start))
    order = [own[number] for number in sorted(own)]
    if len(order) >= 2 and order == sorted(order):
        return "".join(_insert_sorted(lines, pins, own, newline, None))
    tail = [] if not lines or not lines[-1].strip() else [newline]
    added = [f"{line}{newline}" for line in (BLOCK_HEADER, *_sorted(pins))]
    return "".join([*lines, *tail, *added])


def _sorted(pins: Sequence[str]) -> list[str]:
    return sorted(pins, key=_name_of)


def _name_of(pin: str) -> str:
    return canonicalize_name(Requirement(pin).name)


def _line_name(line: str) -> str | None:
    stripped = line.split(" #")[0].strip()
    return None if not stripped or stripped.startswith(("#", "-")) else packages.named(stripped)


def _block(lines: Sequence[str]) -> tuple[int, int] | None:
    """The 0-based span of the lock block's lines after its header: up to a blank line."""
    for index, line in enumerate(lines):
        if line.strip() == BLOCK_HEADER:
            end = index + 1
            while end < len(lines) and lines[end].strip():
                end += 1
            return index + 1, end
    return None


def _insert_sorted(
    lines: list[str],
    pins: Sequence[str],
    names: Mapping[int, str],
    newline: str,
    end: int | None,
    floor: int = 0,
) -> list[str]:
    """Insert each pin before the first named line that sorts after it, else after the last.

    `end`: where to put pins that sort last (0-based), else after the last named line and
    its continuation lines. Nothing goes above `floor` (the lock block's first line).
    """
    numbers = sorted(names)
    last = end if end is not None else _after(lines, numbers[-1] - 1) if numbers else len(lines)
    at: dict[int, list[str]] = {}
    for pin in _sorted(pins):
        name = _name_of(pin)
        following = next((n for n in numbers if names[n] > name), None)
        index = last if following is None else max(floor, _above_comments(lines, following - 1))
        at.setdefault(index, []).append(f"{pin}{newline}")
    result = list(lines)
    for index in sorted(at, reverse=True):
        result[index:index] = at[index]
    return result


def _after(lines: Sequence[str], index: int) -> int:
    """The index after the logical line starting at `index` (backslash continuations)."""
    while index < len(lines) - 1 and lines[index].rstrip("\r\n").endswith("\\"):
        index += 1
    return index + 1


def _above_comments(lines: Sequence[str], index: int) -> int:
    """The start of the comment lines directly above `index`: they describe that line.

    Not when they open the file: those are the file's header.
    """
    start = index
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return index if start == 0 else start
