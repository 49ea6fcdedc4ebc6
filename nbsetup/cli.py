"""The `nbsetup` command line: options in, results out as text, JSON or GitHub annotations."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from nbsetup import __version__, batch, cli_runs, console, envcell, report
from nbsetup.changes import WARNING_KINDS
from nbsetup.cli_check import check_command
from nbsetup.cli_options import (
    DEFAULT_PINS,
    FIX_FORMATS,
    color_option,
    exclude_option,
    format_option,
    jobs_option,
    paths_argument,
    pins_option,
    runtime_option,
    stdin_filename_option,
    text_option,
    verbose_option,
)
from nbsetup.cli_runs import DASH
from nbsetup.console import Console
from nbsetup.lock import cli as lock_cli
from nbsetup.report.text import format_would_fix, in_cell_order

_log = cli_runs.log


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="nbsetup")
def main() -> None:
    """Make notebooks reproducible: hoist every package install into one pinned cell."""


@main.command()
@paths_argument
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if some file would change.")
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Write nothing; print a diff of the cell sources (alone on stdout); exit 1 if non-empty.",
)
@click.option(
    "--requirements",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=f"Pin from this requirements file, as one --pins FILE (default: {DEFAULT_PINS}).",
)
@pins_option
@exclude_option
@click.option(
    "--installer",
    type=click.Choice(envcell.INSTALLERS),
    default=None,
    help="What runs the environment cell's pip lines: pip (%pip install), uv (%uv pip "
    "install, for uv-made environments without pip) or auto (pip when the kernel has it, else "
    "uv). Recorded in the environment cell, so later runs keep it. Default: [tool.nbsetup] "
    "installer, else the cell's recorded choice, else pip.",
)
@click.option(
    "--guard/--no-guard",
    default=None,
    help="Add a check to the environment cell that prints, when the cell runs, each pinned "
    "package needing a restart or not at its pin; recorded in the cell, so later runs keep it "
    "until --no-guard. Default: [tool.nbsetup] guard, else the cell's recorded choice, else "
    "off.",
)
@click.option(
    "--pin-missing/--no-pin-missing",
    default=None,
    help="Fail a notebook that installs a package the requirements do not pin "
    "(default: [tool.nbsetup] pin-missing, else off).",
)
@format_option(FIX_FORMATS)
@jobs_option
@click.option(
    "--report-file",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Also write the JSON report of the run (as with --format json) to this file ('-': "
    "stdout, the human report going to stderr).",
)
@click.option(
    "--report-html",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="Also write the report as one self-contained HTML page, with the changed cells.",
)
@click.option(
    "--report-cells",
    is_flag=True,
    help="Add each changed cell's text before and after to the JSON report (files[].cells).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Report only warnings and errors; no progress bar."
)
@runtime_option
@text_option
@verbose_option
@color_option
@stdin_filename_option
@click.option(
    "--lock", "lock_first", is_flag=True, help="Run `nbsetup lock` on PATHS first (see lock)."
)
def fix(
    paths: tuple[Path, ...],
    check: bool,
    show_diff: bool,
    requirements: Path | None,
    pin_files: tuple[Path, ...],
    exclude: tuple[str, ...],
    installer: str | None,
    guard: bool | None,
    pin_missing: bool | None,
    output_format: str | None,
    jobs: int | None,
    report_file: Path | None,
    report_html: Path | None,
    report_cells: bool,
    quiet: bool,
    runtime_name: str | None,
    text_notebooks: bool,
    verbose: bool,
    color: str,
    stdin_filename: Path | None,
    lock_first: bool,
) -> None:
    """Hoist and pin the installs of the notebooks in PATHS (files or directories).

    Directories are searched for *.ipynb and for *.py/*.md with a jupytext header, skipping
    hidden directories (such as .ipynb_checkpoints), --exclude globs and, in a git work tree,
    the files git ignores.
    Files named on the command line are always processed. PATH '-' reads one notebook from
    stdin and writes it, fixed, to stdout (see --stdin-filename).
    """
    out = Console(console.color_setting(color))
    shown_format = cli_runs.output_format_for(output_format, FIX_FORMATS)
    stdin = cli_runs.stdin_path(paths, stdin_filename)
    json_to_stdout = report_file is not None and str(report_file) == DASH
    if json_to_stdout and (show_diff or shown_format != "text" or stdin is not None):
        raise click.UsageError(
            "--report-file - writes the JSON report to stdout: it cannot be combined with "
            "--diff, another --output-format or a notebook from stdin"
        )
    if stdin is not None and shown_format != "text":
        raise click.UsageError(
            "with '-', stdout holds the notebook; use --report-file PATH for a report"
        )
    cli_runs.check_report_targets(None if json_to_stdout else report_file, report_html)
    settings = batch.Settings(
        check=check,
        diff=show_diff,
        exclude=exclude,
        requirements=cli_runs.one_requirements_option(requirements, pin_files),
        pins=pin_files,
        pin_missing=pin_missing,
        installer=installer,
        guard=guard,
        runtime=runtime_name,
        jobs=jobs or batch.default_jobs(),
        cells=report_cells or report_html is not None,
        text=text_notebooks,
    )
    if lock_first and stdin is not None:
        raise click.UsageError("--lock needs notebook paths, not '-'")
    locked = lock_cli.lock_before_fix(paths, settings) if lock_first else 0
    options = report.RunOptions(check=check, diff=show_diff)
    notebook = b""
    with console.tracing(verbose), cli_runs.sigterm_as_ctrl_c():
        if stdin is not None:
            result, notebook = batch.fix_stdin(sys.stdin.buffer.read(), *stdin, settings)
            outcome = batch.Outcome((result,), 1)
        else:
            files = cli_runs.discover(paths, exclude, out)
            started = time.perf_counter()
            with cli_runs.progress(len(files), quiet) as progress:
                outcome = batch.run(files, settings, on_result=lambda _: progress.update(1))
            _log.debug("processed %d files in %.3f s", len(files), time.perf_counter() - started)
        cli_runs.trace(outcome.results)
    human_to_stderr = show_diff or json_to_stdout or stdin is not None
    _emit_fix(outcome, options, shown_format, quiet, verbose, report_cells, out, human_to_stderr)
    if stdin is not None and settings.write and outcome.results[0].error is None:
        out.raw(notebook.decode("utf-8"))
    code = report.fix_exit_code(outcome.results, options, interrupted=outcome.interrupted)
    reports = []
    if report_file is not None:
        # Built only when asked for: a big batch's JSON text is several KiB per file.
        json_report = report.fix_json(
            outcome.results, options, interrupted=outcome.interrupted, cells=report_cells
        )
        if json_to_stdout:
            click.echo(json_report)
        else:
            reports.append((report_file, json_report))
    if report_html is not None:
        full = report.fix_json(
            outcome.results, options, interrupted=outcome.interrupted, cells=True
        )
        reports.append((report_html, cli_runs.html_page(json.loads(full), report_html)))
    for target, text in reports:
        if not cli_runs.write_report(target, text, out):
            code = max(code, 2)
    sys.exit(max(code, locked))


main.add_command(lock_cli.lock)


def _emit_fix(
    outcome: batch.Outcome[report.FileResult],
    options: report.RunOptions,
    output_format: str,
    quiet: bool,
    verbose: bool,
    cells: bool,
    out: Console,
    human_to_stderr: bool,
) -> None:
    """The report on stdout (on stderr when stdout holds a diff, a notebook or the JSON
    report); then, on stderr, `would fix` lines and the failed files next to the summary."""
    results = outcome.results
    checking = options.check or options.diff
    if output_format == "json":
        document = report.fix_json(
            results, options, interrupted=outcome.interrupted, cells=cells, diff=options.diff
        )
        click.echo(document)
    elif output_format == "github":
        for result in results:
            if result.diff:
                out.diff(result.diff)
        for line in report.fix_annotations(results, checking=checking):
            click.echo(line)
    else:
        for result in results:
            if result.diff:
                out.diff(result.diff)
            for change in in_cell_order(result.changes):
                if not quiet or change.kind in WARNING_KINDS:
                    line = report.format_change(result.path, change)
                    out.err(line) if human_to_stderr else out.out(line)
    for result in results:
        if result.error is not None:
            out.err(report.format_error(result.path, result.error))
            if verbose and result.traceback:
                out.err(result.traceback, nl=False)
        elif checking and result.status == report.CHANGED:
            out.err(format_would_fix(result.path))
    if not quiet or outcome.interrupted:
        line = report.fix_summary(
            results, options, interrupted=outcome.interrupted, total=outcome.total
        )
        out.err(line)


@main.command("report")
@click.argument("report_file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="Write the HTML page here ('-': stdout).",
)
def report_command(report_file: Path, output: Path) -> None:
    """Render a saved JSON report of `fix` (--report-file) as one self-contained HTML page.

    File links are relative to the working directory, as the report's paths are. Run
    `fix --report-file r.json --report-cells` for a report that shows the changed cells.
    """
    shown = str(report_file)
    try:
        text = sys.stdin.read() if shown == "-" else report_file.read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        cli_runs.fail(shown, f"cannot read the report: {reason.lower()}")
    except json.JSONDecodeError as error:
        cli_runs.fail(shown, f"not valid JSON (line {error.lineno}, column {error.colno})")
    if not (
        isinstance(document, dict)
        and document.get("schema") == report.SCHEMA_VERSION
        and isinstance(document.get("files"), list)
        and isinstance(document.get("summary"), dict)
    ):
        cli_runs.fail(shown, f"not an nbsetup fix report of schema {report.SCHEMA_VERSION}")
    if str(output) == "-":
        click.echo(cli_runs.render_html(document, "."))
        return
    if not cli_runs.write_report(output, cli_runs.html_page(document, output), Console()):
        sys.exit(2)


main.add_command(check_command)
