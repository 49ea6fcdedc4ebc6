"""What `nbsetup fix` and `nbsetup check` do alike around a run: discovery, progress, Ctrl-C,
stdin, report files, `-v` tracing and fatal errors."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from nbsetup import batch, discovery, report
from nbsetup.config import ConfigError
from nbsetup.console import Console
from nbsetup.errors import NbsetupError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar  # what `click.progressbar` returns

#: The path that means stdin (and, for `--report-file`, stdout).
DASH = "-"
#: A progress bar is shown (on a terminal) for batches of more files than this.
PROGRESS_MIN_FILES = 5

# One logger for the command line's tracing, whichever module of it logs.
log = logging.getLogger("nbsetup.cli")


def trace(results: Sequence[report.FileResult | report.FileCheck]) -> None:
    """Under `-v`: per file, the pins and settings it used, and how long it took."""
    for result in results:
        log.debug(
            "%s: %s in %.3f s; pins: %s; settings: %s",
            result.path,
            result.status,
            result.seconds,
            result.pin_sources or "none",
            result.config or "defaults (no [tool.nbsetup])",
        )


def output_format_for(given: str | None, choices: tuple[str, ...]) -> str:
    """`--output-format`, else the working directory's `[tool.nbsetup] output-format`.

    A pyproject.toml there that cannot be read gives `text`: each notebook it configures fails
    with the reason, as without this lookup.
    """
    if given is not None:
        return given
    try:
        configured = discovery.project_config(Path.cwd()).output_format
    except ConfigError:
        return "text"
    if configured is None or configured not in choices:  # `sarif` is for `check` only
        return "text"
    return configured


def existing_paths(
    ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]
) -> tuple[Path, ...]:
    """Refuse a path that does not exist, as black does: a usage error before any work.

    A path that exists but cannot be looked at (a name too long, a parent that is a file, a
    directory that may not be searched) is kept, so that processing names the reason.
    """
    for path in value:
        if str(path) == DASH:
            continue
        try:
            os.stat(path)
        except FileNotFoundError:
            raise click.BadParameter(f"Path '{path}' does not exist.", ctx, param) from None
        except OSError:
            pass
    return value


def stdin_path(paths: tuple[Path, ...], filename: Path | None) -> tuple[Path, str] | None:
    """For `-`: the path whose settings apply and the name reports use; None without `-`."""
    if not any(str(path) == DASH for path in paths):
        if filename is not None:
            raise click.UsageError("--stdin-filename is only for the path '-' (stdin)")
        return None
    if len(paths) > 1:
        raise click.UsageError("'-' (a notebook on stdin) cannot be combined with other paths")
    if filename is None:
        return Path.cwd() / DASH, DASH
    return filename, str(filename)


def check_report_targets(*targets: Path | None) -> None:
    """Refuse, before any notebook is read or written, a report file that cannot be written."""
    for target in targets:
        if target is None:
            continue
        reason = batch.report_target_problem(target)
        if reason is not None:
            fail(str(target), f"cannot write the report: {reason}")


def write_report(path: Path, text: str, out: Console) -> bool:
    """Write a report file; on failure, say why on stderr and return False."""
    try:
        batch.write_report(path, text)
    except NbsetupError as error:  # from `notebook_io.write_atomic`: a ready reason
        out.err(report.format_error(str(path), str(error)))
        return False
    except OSError as error:
        reason = f"cannot write the report: {error.strerror or error}".lower()
        out.err(report.format_error(str(path), reason))
        return False
    return True


def html_page(document: dict[str, object], page: Path) -> str:
    """The HTML report of a JSON report, its file links relative to where `page` will be.

    The report's relative paths are relative to the working directory.
    """
    try:
        root = os.path.relpath(Path.cwd(), page.absolute().parent)
    except ValueError:  # on Windows, another drive: no relative way there
        root = Path.cwd().as_posix()
    return render_html(document, Path(root).as_posix())


def render_html(document: dict[str, object], root: str) -> str:
    """The HTML report page; `report.html` (and its assets) is imported only to write one."""
    from nbsetup.report import html

    return html.render_html(document, root=root)


def one_requirements_option(requirements: Path | None, pins: tuple[Path, ...]) -> Path | None:
    """`--requirements`, which is refused next to `--pins`: which would win is not obvious."""
    if requirements is not None and pins:
        raise click.UsageError("--requirements and --pins cannot be combined; use --pins FILE")
    return requirements


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
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


def discover(paths: tuple[Path, ...], exclude: tuple[str, ...], out: Console) -> list[Path]:
    """The notebooks of a run; warns when there are none; exits on Ctrl-C or a broken
    pyproject.toml met on the way."""
    started = time.perf_counter()
    try:
        files = discovery.discover(paths, exclude)
    except KeyboardInterrupt:
        out.err("interrupted before any file was processed")
        sys.exit(130)
    except ConfigError as error:
        out.err(report.format_error(str(error.path), error.reason))
        sys.exit(2)
    log.debug("found %d notebooks in %.3f s", len(files), time.perf_counter() - started)
    if not files:
        out.err("warning: no notebooks found in the given paths")
    return files


def progress(length: int, quiet: bool) -> ProgressBar[int]:
    """A progress bar on stderr, shown for a batch of some size on a terminal only."""
    return click.progressbar(
        length=length,
        file=sys.stderr,
        show_pos=True,
        hidden=quiet or length <= PROGRESS_MIN_FILES or not sys.stderr.isatty(),
    )


def fail(path: str, reason: str) -> NoReturn:
    click.echo(report.format_error(path, reason), err=True)
    sys.exit(2)
