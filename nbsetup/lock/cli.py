"""The `nbsetup lock` command, and the lock step of `nbsetup fix --lock`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from nbsetup import batch, discovery
from nbsetup.config import ConfigError

if TYPE_CHECKING:
    from nbsetup.lock import run

# `lock.gather` and `lock.run` are imported where a lock runs: every `nbsetup` command defines
# this one, and a `fix` that does not lock need not pay for them at start-up.

_RESOLVERS = ("pip", "uv")


@click.command("lock")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, file_okay=True))
@click.option(
    "--from-env",
    is_flag=True,
    help="Pin the versions installed for --python instead of resolving (as `pip show` says).",
)
@click.option(
    "--python",
    "python",
    metavar="PATH",
    default=sys.executable,
    show_default="the Python running nbsetup",
    help="The kernel's interpreter: resolve for it, or read its installed versions.",
)
@click.option(
    "--resolver",
    type=click.Choice(_RESOLVERS),
    default="pip",
    show_default=True,
    help="Resolve with the interpreter's pip (`pip install --dry-run --report`) or with uv "
    "(`uv pip compile`, when uv is installed).",
)
@click.option(
    "-U",
    "--upgrade",
    is_flag=True,
    help="Re-resolve every pin of the packages the notebooks install.",
)
@click.option(
    "-P",
    "--upgrade-package",
    "upgrade_packages",
    multiple=True,
    metavar="PKG",
    help="Re-resolve the pins of PKG only (repeatable).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a pin file would change.")
@click.option("--dry-run", is_flag=True, help="Write nothing; say what would be pinned.")
@click.option(
    "--diff", "show_diff", is_flag=True, help="Write nothing; print a diff of the pin files."
)
@click.option(
    "--pins",
    "pin_files",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    metavar="FILE",
    help="Lock into FILE, a requirements file, as `fix --pins FILE` reads it (repeatable).",
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip matching files (as fix).")
@click.option("--text", "text_notebooks", is_flag=True, help="Read .py/.md as text notebooks.")
@click.option("-q", "--quiet", is_flag=True, help="Report only warnings and errors.")
@click.option("-v", "--verbose", is_flag=True, help="Trace what nbsetup does (on stderr).")
def lock(
    paths: tuple[Path, ...],
    from_env: bool,
    python: str,
    resolver: str,
    upgrade: bool,
    upgrade_packages: tuple[str, ...],
    check: bool,
    dry_run: bool,
    show_diff: bool,
    pin_files: tuple[Path, ...],
    exclude: tuple[str, ...],
    text_notebooks: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Pin the installs of the notebooks in PATHS (default: .) in the project's pin file.

    Every install the pin files do not pin exactly gets a version, written into the
    requirements file `nbsetup fix` reads (a new requirements.txt beside the nearest
    pyproject.toml or .git when there is none), so that a following `fix` pins every notebook.
    Existing lines, comments, includes and order are kept. Exit status: 0 done (with
    --check/--diff: nothing would change), 1 --check/--diff found changes, 2 a package or file
    could not be locked (the others are still written).
    """
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    if upgrade and upgrade_packages:
        raise click.UsageError("--upgrade and --upgrade-package cannot be combined")
    from nbsetup.lock import gather, run

    settings = run.Settings(
        source="env" if from_env else "uv" if resolver == "uv" else "pip",
        python=python,
        upgrade=None if upgrade else gather.canonical(upgrade_packages),
        pins=pin_files,
        exclude=exclude,
        text=text_notebooks,
    )
    sys.exit(
        lock_paths(
            paths or (Path("."),),
            settings,
            write=not (check or dry_run or show_diff),
            diff=show_diff,
            quiet=quiet,
            exit_on_change=check or show_diff,
        )
    )


def lock_paths(
    paths: tuple[Path, ...],
    settings: run.Settings,
    *,
    write: bool = True,
    diff: bool = False,
    quiet: bool = False,
    exit_on_change: bool = False,
) -> int:
    """Lock, report on stderr (the diff on stdout) and return the exit status; for `fix --lock`."""
    from nbsetup.lock import run

    try:
        notebooks = discovery.discover(paths, settings.exclude)
    except ConfigError as error:
        click.echo(f"{error.path}: error: {error.reason}", err=True)
        return 2
    plan = run.plan(notebooks, settings)
    messages = list(plan.messages)
    if write:
        messages += run.write(plan)
    if diff:
        click.echo(run.render_diff(plan), nl=False)
    for message in messages:
        if not quiet or message.level != "info":
            click.echo(str(message), err=True)
    verb = ("added", "pinned") if write else ("would add", "would pin")
    added = rewritten = 0
    for change in plan.edits:
        added += len(change.added)
        rewritten += len(change.rewritten)
        if quiet:
            continue
        for pin in sorted(change.added):
            click.echo(f"{change.path}: {verb[0]} {pin}", err=True)
        for line in change.rewritten:
            click.echo(f"{change.path}: {verb[1]} {line}", err=True)
    if not quiet:
        click.echo(_summary(added, rewritten, len(plan.edits), messages, write), err=True)
    if any(message.level == "error" for message in messages):
        return 2
    return 1 if exit_on_change and plan.edits else 0


def _summary(
    added: int, rewritten: int, files: int, messages: list[run.Message], write: bool
) -> str:
    """`2 pins added, 1 rewritten in 1 file; 1 package not locked` (`would add` when dry)."""
    left = sum(1 for message in messages if message.level in ("error", "warning"))
    if added or rewritten:
        verbs = ("added", "rewritten") if write else ("to add", "to rewrite")
        done = (
            f"{added} pin{'s' * (added != 1)} {verbs[0]}, {rewritten} {verbs[1]} in "
            f"{files} file{'s' * (files != 1)}"
        )
    else:
        done = "no pin file changed"
    return f"{done}; {left} not locked" if left else done


def lock_before_fix(paths: tuple[Path, ...], fix: batch.Settings) -> int:
    """`fix --lock`: lock with fix's paths, pins and excludes first.

    Under `--check`/`--diff` nothing is written and a pin file that would change counts as a
    change (exit status 1).
    """
    from nbsetup.lock import run

    pins = fix.pins or ((fix.requirements,) if fix.requirements is not None else ())
    settings = run.Settings(pins=tuple(pins), exclude=tuple(fix.exclude), text=fix.text)
    dry = fix.check or fix.diff
    return lock_paths(paths, settings, write=not dry, diff=fix.diff, exit_on_change=dry)
