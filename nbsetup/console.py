"""The terminal side of the command line: colour, `-v` tracing, and where each line goes.

stdout carries the product (the report, a diff, a fixed notebook from stdin); everything for
humans goes to stderr. `Console` writes both, painting text lines (`report.colour`) when
colour is on: `--color always`, or `auto` on a terminal unless `NO_COLOR` is set
(https://no-color.org: any non-empty value).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import click

from nbsetup.report import colour

COLOR_CHOICES = ("auto", "always", "never")
#: The logger every nbsetup module's logger is a child of.
ROOT_LOGGER = "nbsetup"


def color_setting(choice: str) -> bool | None:
    """Whether to keep styles (`click.echo`'s `color`): None lets click ask the stream whether
    it is a terminal."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return None


@dataclass(frozen=True)
class Console:
    """Writes report lines to stdout and messages to stderr, in colour or not."""

    color: bool | None = None

    def out(self, line: str) -> None:
        """A report line on stdout."""
        click.echo(colour.paint(line), color=self.color)

    def raw(self, text: str) -> None:
        """Text on stdout exactly as given (JSON, XML, a notebook)."""
        click.echo(text, nl=False)

    def diff(self, text: str, *, err: bool = False) -> None:
        """A unified diff, coloured as git colours it."""
        click.echo(colour.paint_diff(text), nl=False, color=self.color, err=err)

    def err(self, line: str, *, nl: bool = True) -> None:
        """A message on stderr."""
        click.echo(colour.paint(line), err=True, nl=nl, color=self.color)


class _EchoHandler(logging.Handler):
    """Log records as lines on stderr, through click so that test runners capture them."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


@contextlib.contextmanager
def tracing(verbose: bool) -> Iterator[None]:
    """With `verbose`, nbsetup's debug log on stderr (`nbsetup.batch: ...`) for the block."""
    if not verbose:
        yield
        return
    logger = logging.getLogger(ROOT_LOGGER)
    handler = _EchoHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


__all__ = ["COLOR_CHOICES", "ROOT_LOGGER", "Console", "color_setting", "tracing"]
