"""Colour for the human report: the lines `text` renders, painted with ANSI styles.

Lines are painted by their shape (`PATH: error: ...`, `PATH:cell 2:1:1: NBS006 ...`, diff
lines), so that renderers stay plain text. The shell decides whether the styles reach the
terminal (`--color`, `NO_COLOR`): `click.echo(..., color=False)` strips them again.
"""

from __future__ import annotations

import re

import click

_MESSAGE = re.compile(r"^(?P<path>.+?): (?P<level>error|warning|info): ")
_DIAGNOSTIC = re.compile(r"^(?P<path>.+?):(?P<where>cell \d+:\d+:\d+): (?P<code>[A-Z]+\d+) ")
_WOULD_FIX = re.compile(r"^would fix (?P<path>.+)$")
_LEVELS = {"error": "red", "warning": "yellow", "info": "cyan"}


def paint(line: str) -> str:
    """One report line with styles: path bold, level and code coloured."""
    found = _DIAGNOSTIC.match(line)
    if found:
        head = (
            f"{click.style(found['path'], bold=True)}:{click.style(found['where'], dim=True)}: "
            f"{click.style(found['code'], fg='red', bold=True)} "
        )
        return head + line[found.end() :]
    found = _MESSAGE.match(line)
    if found:
        level = click.style(found["level"], fg=_LEVELS[found["level"]], bold=True)
        return f"{click.style(found['path'], bold=True)}: {level}: {line[found.end() :]}"
    found = _WOULD_FIX.match(line)
    if found:
        return f"{click.style('would fix', bold=True)} {found['path']}"
    return line


def paint_diff(diff: str) -> str:
    """A unified diff as git colours it: headers bold, hunks cyan, removed red, added green."""
    lines = []
    for line in diff.splitlines(keepends=True):
        body, end = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")) :]
        if body.startswith(("---", "+++")):
            lines.append(click.style(body, bold=True) + end)
        elif body.startswith("@@"):
            lines.append(click.style(body, fg="cyan") + end)
        elif body.startswith("-"):
            lines.append(click.style(body, fg="red") + end)
        elif body.startswith("+"):
            lines.append(click.style(body, fg="green") + end)
        else:
            lines.append(line)
    return "".join(lines)


__all__ = ["paint", "paint_diff"]
