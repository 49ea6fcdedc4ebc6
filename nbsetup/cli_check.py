"""`nbsetup check`: lint notebooks for install hazards, reporting in the format CI wants."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from nbsetup import batch, cli_runs, console, report
from nbsetup.cli_options import (
    DEFAULT_PINS,
    OUTPUT_FORMATS,
    color_option,
    exclude_option,
    format_option,
    jobs_option,
    paths_argument,
    pins_option,
    runtime_option,
    selectors,
    stdin_filename_option,
    text_option,
    verbose_option,
)
from nbsetup.console import Console
from nbsetup.report.json_report import statistics_json
from nbsetup.report.text import statistics_lines

# The SARIF, JUnit and GitLab writers (xml.etree, hashlib) are imported by the run that prints
# one: every `nbsetup` command defines `check`, and start-up is most of a one-file run.

_log = cli_runs.log


@click.command("check")
@paths_argument
@click.option(
    "--requirements",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=f"Judge pins against this requirements file, as one --pins FILE (default: "
    f"{DEFAULT_PINS}).",
)
@pins_option
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    callback=selectors,
    help="Report only these codes or prefixes (comma-separated, repeatable; ALL: every rule; "
    "default: [tool.nbsetup] select, else all).",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="CODES",
    callback=selectors,
    help="Do not report these codes or prefixes (comma-separated, repeatable; default: "
    "[tool.nbsetup] ignore).",
)
@exclude_option
@format_option(OUTPUT_FORMATS)
@jobs_option
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 even when diagnostics are found (2 still means a file could not be checked).",
)
@click.option(
    "--statistics",
    is_flag=True,
    help="Print the number of diagnostics per code instead of the diagnostics (text or json).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Report only diagnostics and errors; no progress bar."
)
@runtime_option
@text_option
@verbose_option
@color_option
@stdin_filename_option
def check_command(
    paths: tuple[Path, ...],
    requirements: Path | None,
    pin_files: tuple[Path, ...],
    select: tuple[str, ...] | None,
    ignore: tuple[str, ...] | None,
    exclude: tuple[str, ...],
    output_format: str | None,
    jobs: int | None,
    exit_zero: bool,
    statistics: bool,
    quiet: bool,
    runtime_name: str | None,
    text_notebooks: bool,
    verbose: bool,
    color: str,
    stdin_filename: Path | None,
) -> None:
    """Report install hazards in the notebooks in PATHS (files or directories), changing nothing.

    Directories are searched as by `fix`; '-' reads one notebook from stdin (see
    --stdin-filename). Exit status: 0 no diagnostics, 1 some diagnostics, 2 a file could not
    be checked.
    """
    out = Console(console.color_setting(color))
    shown_format = cli_runs.output_format_for(output_format, OUTPUT_FORMATS)
    if statistics and shown_format not in ("text", "json"):
        raise click.UsageError("--statistics is printed as text or json only")
    stdin = cli_runs.stdin_path(paths, stdin_filename)
    settings = batch.Settings(
        exclude=exclude,
        requirements=cli_runs.one_requirements_option(requirements, pin_files),
        pins=pin_files,
        jobs=jobs or batch.default_jobs(),
        select=select,
        ignore=ignore or (),
        runtime=runtime_name,
        text=text_notebooks,
    )
    with console.tracing(verbose), cli_runs.sigterm_as_ctrl_c():
        if stdin is not None:
            checked = batch.check_stdin(sys.stdin.buffer.read(), *stdin, settings)
            outcome = batch.Outcome((checked,), 1)
        else:
            files = cli_runs.discover(paths, exclude, out)
            started = time.perf_counter()
            with cli_runs.progress(len(files), quiet) as progress:
                outcome = batch.run_check(files, settings, on_result=lambda _: progress.update(1))
            _log.debug("checked %d files in %.3f s", len(files), time.perf_counter() - started)
        cli_runs.trace(outcome.results)
    results = outcome.results
    if statistics:
        if shown_format == "json":
            click.echo(statistics_json(results))
        for line in statistics_lines(results) if shown_format == "text" else ():
            out.out(line)
    elif shown_format == "json":
        click.echo(report.check_json(results, interrupted=outcome.interrupted))
    elif shown_format == "sarif":
        from nbsetup.report.sarif import check_sarif

        click.echo(check_sarif(results, interrupted=outcome.interrupted))
    elif shown_format == "junit":
        from nbsetup.report.junit import check_junit

        click.echo(check_junit(results))
    elif shown_format == "gitlab":
        from nbsetup.report.gitlab import check_gitlab

        click.echo(check_gitlab(results))
    elif shown_format == "github":
        for line in report.check_annotations(results):
            click.echo(line)
    else:
        for line in report.check_lines(results):
            out.out(line)
    for result in results:
        if result.error is not None:
            out.err(report.format_error(result.path, result.error))
            if verbose and result.traceback:
                out.err(result.traceback, nl=False)
        elif result.skipped is not None and not quiet and (verbose or not result.opted_out):
            out.err(f"{result.path}: info: skipped: {result.skipped}")
    if not quiet or outcome.interrupted:
        summary = report.check_summary(
            results, interrupted=outcome.interrupted, total=outcome.total
        )
        out.err(summary)
    code = report.check_exit_code(results, interrupted=outcome.interrupted)
    sys.exit(0 if exit_zero and code == 1 else code)
