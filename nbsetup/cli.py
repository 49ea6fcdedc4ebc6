"""The `nbsetup` command line: options in, results out as text, JSON or GitHub annotations."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from nbsetup import __version__, batch, discovery, envcell, lint, report, runtime
from nbsetup.changes import WARNING_KINDS
from nbsetup.config import ConfigError
from nbsetup.errors import NbsetupError
from nbsetup.lock import cli as lock_cli
from nbsetup.report import html

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what `click.progressbar` returns

FORMATS = ("text", "json", "github")
#: A progress bar is shown (on a terminal) for batches of more files than this.
PROGRESS_MIN_FILES = 5

# Options that `fix` and `check` share.
_paths = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=True)
)
_exclude = click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip files and directories matching GLOB while walking directories (repeatable; "
    "replaces [tool.nbsetup] exclude).",
)
_format = click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format on stdout.",
)
_jobs = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Process files in N worker processes (default: the number of CPUs).",
)
_text = click.option(
    "--text",
    "text_notebooks",
    is_flag=True,
    help="Read .py/.md files named in PATHS as jupytext text notebooks even without a "
    "jupytext header (directories only ever yield those with one). Needs nbsetup[text].",
)
_runtime = click.option(
    "--runtime",
    "runtime_name",
    type=click.Choice(runtime.RUNTIMES),
    default=None,
    help="The runtime the notebooks run on: what it has installed and loads before the first "
    "cell (colab, kaggle, jupyter), or auto: each notebook's, from its metadata. Default: "
    "[tool.nbsetup] runtime, else auto.",
)
_verbose = click.option(
    "-v", "--verbose", is_flag=True, help="Trace what nbsetup does (on stderr)."
)
_pins = click.option(
    "--pins",
    "pin_files",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    metavar="FILE",
    help="Pin from FILE: a requirements file, pylock.toml, uv.lock, pyproject.toml or conda "
    "environment.yml (repeatable; the first file to pin a package wins, pyproject.toml ranges "
    "after the others; replaces [tool.nbsetup] pin-sources).",
)
#: Pin sources when none is given: the nearest of these, walking up to the repository root.
_DEFAULT_PINS = (
    "[tool.nbsetup] pin-sources, else the pin files of the nearest directory, from the "
    "notebook's up to the repository root, that has any: the first of requirements.txt, "
    "pylock.toml, uv.lock; environment.yml; a pyproject.toml that declares dependencies"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="nbsetup")
def main() -> None:
    """Make notebooks reproducible: hoist every package install into one pinned cell."""


@main.command()
@_paths
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
    help=f"Pin from this requirements file, as one --pins FILE (default: {_DEFAULT_PINS}).",
)
@_pins
@_exclude
@click.option(
    "--installer",
    type=click.Choice(envcell.INSTALLERS),
    default=None,
    help="What runs the environment cell's pip lines: pip (%pip install), uv (%uv pip "
    "install, for uv-made environments without pip) or auto (pip when the kernel has it, else "
    "uv). Default: [tool.nbsetup] installer, else pip.",
)
@click.option(
    "--guard/--no-guard",
    default=None,
    help="Add a check to the environment cell that prints, when the cell runs, each pinned "
    "package needing a restart or not at its pin. Default: [tool.nbsetup] guard, else off.",
)
@click.option(
    "--pin-missing/--no-pin-missing",
    default=None,
    help="Fail a notebook that installs a package the requirements do not pin "
    "(default: [tool.nbsetup] pin-missing, else off).",
)
@_runtime
@_format
@_jobs
@click.option(
    "--report-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the JSON report of the run (as with --format json) to this file.",
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
@_text
@_verbose
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
    runtime_name: str | None,
    output_format: str,
    jobs: int | None,
    report_file: Path | None,
    report_html: Path | None,
    report_cells: bool,
    quiet: bool,
    text_notebooks: bool,
    verbose: bool,
    lock_first: bool,
) -> None:
    """Hoist and pin the installs of the notebooks in PATHS (files or directories).

    Directories are searched for *.ipynb and for *.py/*.md with a jupytext header, skipping
    hidden directories (such as .ipynb_checkpoints), --exclude globs and, in a git work tree,
    the files git ignores.
    Files named on the command line are always processed.
    """
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    settings = batch.Settings(
        check=check,
        diff=show_diff,
        exclude=exclude,
        requirements=_one_requirements_option(requirements, pin_files),
        pins=pin_files,
        pin_missing=pin_missing,
        installer=installer,
        guard=guard,
        runtime=runtime_name,
        jobs=jobs or batch.default_jobs(),
        cells=report_cells or report_html is not None,
        text=text_notebooks,
    )
    locked = lock_cli.lock_before_fix(paths, settings) if lock_first else 0
    with _sigterm_as_ctrl_c():
        files = _discover(paths, exclude)
        with _progress(len(files), quiet) as progress:
            outcome = batch.run(files, settings, on_result=lambda _: progress.update(1))
    options = report.RunOptions(check=check, diff=show_diff)
    _emit(outcome, options, output_format, quiet, verbose, report_cells)
    code = report.fix_exit_code(outcome.results, options, interrupted=outcome.interrupted)
    reports = []
    if report_file is not None:
        json_text = report.fix_json(
            outcome.results, options, interrupted=outcome.interrupted, cells=report_cells
        )
        reports.append((report_file, json_text))
    if report_html is not None:
        full = report.fix_json(
            outcome.results, options, interrupted=outcome.interrupted, cells=True
        )
        reports.append((report_html, _html(json.loads(full), report_html)))
    for target, text in reports:
        if not _write_report(target, text):
            code = max(code, 2)
    sys.exit(max(code, locked))


main.add_command(lock_cli.lock)


def _emit(
    outcome: batch.Outcome[report.FileResult],
    options: report.RunOptions,
    output_format: str,
    quiet: bool,
    verbose: bool,
    cells: bool,
) -> None:
    """The report on stdout; then, on stderr, the failed files next to the closing summary."""
    results = outcome.results
    if output_format == "json":
        click.echo(report.fix_json(results, options, interrupted=outcome.interrupted, cells=cells))
    elif output_format == "github":
        for line in report.fix_annotations(results):
            click.echo(line)
    else:
        for result in results:
            if result.diff:
                click.echo(result.diff, nl=False)
            for change in result.changes:
                if not quiet or change.kind in WARNING_KINDS:
                    click.echo(report.format_change(result.path, change))
    for result in results:
        if result.error is not None:
            click.echo(report.format_error(result.path, result.error), err=True)
            if verbose and result.traceback:
                click.echo(result.traceback, err=True, nl=False)
    if not quiet or outcome.interrupted:
        line = report.fix_summary(
            results, options, interrupted=outcome.interrupted, total=outcome.total
        )
        click.echo(line, err=True)


def _write_report(path: Path, text: str) -> bool:
    """Write a report file; on failure, say why on stderr and return False."""
    try:
        batch.write_report(path, text)
    except NbsetupError as error:  # from `notebook_io.write_atomic`: a ready reason
        click.echo(report.format_error(str(path), str(error)), err=True)
        return False
    except OSError as error:
        reason = f"cannot write the report: {error.strerror or error}".lower()
        click.echo(report.format_error(str(path), reason), err=True)
        return False
    return True


def _html(document: dict[str, object], page: Path) -> str:
    """The HTML report of a JSON report, its file links relative to where `page` will be.

    The report's relative paths are relative to the working directory.
    """
    try:
        root = os.path.relpath(Path.cwd(), page.absolute().parent)
    except ValueError:  # on Windows, another drive: no relative way there
        root = Path.cwd().as_posix()
    return html.render_html(document, root=Path(root).as_posix())


def _codes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> frozenset[str]:
    try:
        return lint.parse_codes(",".join(value))
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@main.command("check")
@_paths
@click.option(
    "--requirements",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help=f"Judge pins against this requirements file, as one --pins FILE (default: "
    f"{_DEFAULT_PINS}).",
)
@_pins
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    callback=_codes,
    help="Report only these codes (comma-separated, repeatable; default: all).",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="CODES",
    callback=_codes,
    help="Do not report these codes (comma-separated, repeatable).",
)
@_runtime
@_exclude
@_format
@_jobs
@click.option(
    "-q", "--quiet", is_flag=True, help="Report only diagnostics and errors; no progress bar."
)
@_text
@_verbose
def check_command(
    paths: tuple[Path, ...],
    requirements: Path | None,
    pin_files: tuple[Path, ...],
    select: frozenset[str],
    ignore: frozenset[str],
    runtime_name: str | None,
    exclude: tuple[str, ...],
    output_format: str,
    jobs: int | None,
    quiet: bool,
    text_notebooks: bool,
    verbose: bool,
) -> None:
    """Report install hazards in the notebooks in PATHS (files or directories), changing nothing.

    Directories are searched as by `fix`. Exit status: 0 no diagnostics, 1 some diagnostics,
    2 a file could not be checked.
    """
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    settings = batch.Settings(
        exclude=exclude,
        requirements=_one_requirements_option(requirements, pin_files),
        pins=pin_files,
        jobs=jobs or batch.default_jobs(),
        rules=lint.Config(select=select or None, ignore=ignore),
        runtime=runtime_name,
        text=text_notebooks,
    )
    with _sigterm_as_ctrl_c():
        files = _discover(paths, exclude)
        with _progress(len(files), quiet) as progress:
            outcome = batch.run_check(files, settings, on_result=lambda _: progress.update(1))
    results = outcome.results
    if output_format == "json":
        click.echo(report.check_json(results, interrupted=outcome.interrupted))
    else:
        render = report.check_annotations if output_format == "github" else report.check_lines
        for line in render(results):
            click.echo(line)
    for result in results:
        if result.error is not None:
            click.echo(report.format_error(result.path, result.error), err=True)
            if verbose and result.traceback:
                click.echo(result.traceback, err=True, nl=False)
        elif result.skipped is not None and not quiet:
            click.echo(f"{result.path}: info: skipped: {result.skipped}", err=True)
    if not quiet or outcome.interrupted:
        summary = report.check_summary(
            results, interrupted=outcome.interrupted, total=outcome.total
        )
        click.echo(summary, err=True)
    sys.exit(report.check_exit_code(results, interrupted=outcome.interrupted))


def _one_requirements_option(requirements: Path | None, pins: tuple[Path, ...]) -> Path | None:
    """`--requirements`, which is refused next to `--pins`: which would win is not obvious."""
    if requirements is not None and pins:
        raise click.UsageError("--requirements and --pins cannot be combined; use --pins FILE")
    return requirements


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (`kill`, `timeout`, a CI job or container stopped) stops the run as Ctrl-C does.

    Files in progress are finished or left untouched, never half written; the report covers
    what was done and the exit status is 130. The previous handler is restored afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers (an embedding application)
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _discover(paths: tuple[Path, ...], exclude: tuple[str, ...]) -> list[Path]:
    """The notebooks of a run; exits on Ctrl-C or a broken pyproject.toml met on the way."""
    try:
        return discovery.discover(paths, exclude)
    except KeyboardInterrupt:
        click.echo("interrupted before any file was processed", err=True)
        sys.exit(130)
    except ConfigError as error:
        click.echo(report.format_error(str(error.path), error.reason), err=True)
        sys.exit(2)


def _progress(length: int, quiet: bool) -> ProgressBar[int]:
    """A progress bar on stderr, shown for a batch of some size on a terminal only."""
    return click.progressbar(
        length=length,
        file=sys.stderr,
        show_pos=True,
        hidden=quiet or length <= PROGRESS_MIN_FILES or not sys.stderr.isatty(),
    )


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
        _fail(shown, f"cannot read the report: {reason.lower()}")
    except json.JSONDecodeError as error:
        _fail(shown, f"not valid JSON (line {error.lineno}, column {error.colno})")
    if not (
        isinstance(document, dict)
        and document.get("schema") == report.SCHEMA_VERSION
        and isinstance(document.get("files"), list)
        and isinstance(document.get("summary"), dict)
    ):
        _fail(shown, f"not an nbsetup fix report of schema {report.SCHEMA_VERSION}")
    if str(output) == "-":
        click.echo(html.render_html(document, root="."))
        return
    if not _write_report(output, _html(document, output)):
        sys.exit(2)


def _fail(path: str, reason: str) -> NoReturn:
    click.echo(report.format_error(path, reason), err=True)
    sys.exit(2)
