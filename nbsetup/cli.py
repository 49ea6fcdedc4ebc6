"""The `nbsetup` command line: options in, results out as text, JSON or GitHub annotations."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from nbsetup import __version__, batch, report

FORMATS = ("text", "json", "github")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="nbsetup")
def main() -> None:
    """Make notebooks reproducible: hoist every package install into one pinned cell."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=True))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if some file would change.")
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Write nothing; print a diff of the cell sources; exit 1 if non-empty.",
)
@click.option(
    "--requirements",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Pin from this requirements file (default: the nearest requirements.txt "
    "in the notebook's directory or a parent, up to the repository root).",
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip files and directories matching GLOB while walking directories (repeatable).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format on stdout.",
)
@click.option("-q", "--quiet", is_flag=True, help="Report only warnings and errors.")
@click.option("-v", "--verbose", is_flag=True, help="Trace what nbsetup does (on stderr).")
def fix(
    paths: tuple[Path, ...],
    check: bool,
    show_diff: bool,
    requirements: Path | None,
    exclude: tuple[str, ...],
    output_format: str,
    quiet: bool,
    verbose: bool,
) -> None:
    """Hoist and pin the installs of the notebooks in PATHS (files or directories)."""
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    settings = batch.Settings(
        check=check, diff=show_diff, exclude=exclude, requirements=requirements
    )
    results = batch.run(paths, settings)
    options = report.RunOptions(check=check, diff=show_diff)
    _emit(results, options, output_format, quiet)
    sys.exit(report.exit_code(results, options))


def _emit(
    results: Sequence[report.FileResult],
    options: report.RunOptions,
    output_format: str,
    quiet: bool,
) -> None:
    for result in results:
        if result.error is not None:
            click.echo(report.format_error(result.path, result.error), err=True)
    if output_format == "json":
        click.echo(report.render_json(results, options))
    elif output_format == "github":
        for line in report.render_github(results):
            click.echo(line)
    else:
        for result in results:
            if result.diff:
                click.echo(result.diff, nl=False)
            for change in result.changes:
                if not quiet or change.kind in report.WARNING_KINDS:
                    click.echo(report.format_change(result.path, change))
    if not quiet:
        click.echo(report.summary_line(results, options), err=True)
