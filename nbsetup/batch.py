"""The shell around the per-file pipeline: process each notebook safely, collect the results.

A run is `discovery.discover` (paths → notebook files) then `run` (files → one `FileResult`
each, in discovery order, in worker processes when `Settings.jobs` > 1); `run_check` is the
same for `nbsetup check`, with one `FileCheck` each. Each file goes through `pipeline`; a
file that fails becomes a failed result, and the batch goes on. Neither prints: progress goes
through the `on_result` hook, the summary and the exit code are for the caller to render.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from nbsetup import notebook_io, parallel, pipeline, selection
from nbsetup.config import ConfigError, Overrides, ProjectConfig
from nbsetup.errors import EmptyFile, InvalidJson, NbsetupError, NotText, UnpinnedPackages
from nbsetup.files import sync_all
from nbsetup.parallel import Outcome, default_jobs
from nbsetup.report import CHANGED, FAILED, FileCheck, FileResult, render_diff
from nbsetup.sources import listings_kept
from nbsetup.textnb.files import codec_for

BUG_HINT = "please report it at the nbsetup issue tracker with this notebook"

#: Errors that say a file's bytes are not notebook JSON at all.
NOT_JSON = (EmptyFile, InvalidJson, NotText)

#: Frames of an internal error's traceback kept for `-v`.
TRACEBACK_FRAMES = 6


@dataclass(frozen=True)
class Settings:
    """Per-run settings of the file-level shell."""

    check: bool = False
    diff: bool = False
    #: `--exclude`; empty: each project's `[tool.nbsetup] exclude`.
    exclude: tuple[str, ...] = ()
    #: `--requirements`: the pin source for every notebook, read before `pins`. With neither:
    #: `[tool.nbsetup] pin-sources`, else the nearest pin files of each notebook.
    requirements: Path | None = None
    #: `--pins`, in the order given (any supported format).
    pins: tuple[Path, ...] = ()
    #: `--pin-missing/--no-pin-missing`; None: `[tool.nbsetup] pin-missing`.
    pin_missing: bool | None = None
    #: `--installer`; None: `[tool.nbsetup] installer`, else the environment cell's own.
    installer: str | None = None
    #: `--guard/--no-guard`; None: `[tool.nbsetup] guard`, else the environment cell's own.
    guard: bool | None = None
    #: Worker processes; 1 processes every file in this process.
    jobs: int = 1
    #: Whether changed files record their changed cells (`--report-html`, `--report-cells`).
    cells: bool = False
    #: `--text`: `.py`/`.md` files named explicitly are text notebooks even without a header.
    text: bool = False
    #: `--runtime`; None: `[tool.nbsetup] runtime`.
    runtime: str | None = None
    #: `--select` (codes, prefixes, `ALL`); None: `[tool.nbsetup] select`, else every rule.
    select: tuple[str, ...] | None = None
    #: `--ignore`; empty: `[tool.nbsetup] ignore`.
    ignore: tuple[str, ...] = ()

    @property
    def write(self) -> bool:
        """Whether changed files are written back."""
        return not (self.check or self.diff)

    @property
    def overrides(self) -> Overrides:
        """The settings given on the command line, which win over `[tool.nbsetup]`."""
        sources = ((self.requirements,) if self.requirements else ()) + self.pins
        return Overrides(
            pin_sources=sources or None,
            exclude=self.exclude or None,
            pin_missing=self.pin_missing,
            installer=self.installer,
            guard=self.guard,
            runtime=self.runtime,
            select=self.select,
            # `--select` starts the selection afresh: the file's `ignore` no longer applies.
            ignore=self.ignore or (() if self.select is not None else None),
        )


# --- processing one file --------------------------------------------------------------------


def process(path: Path, settings: Settings) -> FileResult:
    """Read, transform and (unless checking) write one notebook; never raises for bad input.

    A changed notebook that cannot be rewritten safely (read-only, or hard-linked: a write
    through rename would leave the other names with the old content) fails with the reason,
    untouched, as black refuses a read-only file.
    """
    display = str(path)
    started = time.perf_counter()
    blocked = unwritable(path) if settings.write else None
    try:
        fixed = pipeline.fix_file(
            path,
            settings.overrides,
            write=settings.write and blocked is None,
            diff=settings.diff,
            cells=settings.cells,
            text=settings.text,
            sync=False,  # `run` syncs once at the end of the batch
        )
    except UnpinnedPackages as error:
        return FileResult(display, FAILED, error=str(error), pin_sources=error.origin)
    except NbsetupError as error:
        return FileResult(display, FAILED, error=_reason(path, error))
    except Exception as error:  # the per-file boundary: one bad file never stops a batch
        return FileResult(display, FAILED, error=_internal(error), traceback=_frames(error))
    if blocked is not None and fixed.status == CHANGED:
        return FileResult(display, FAILED, error=blocked, pin_sources=fixed.origin)
    return FileResult(
        display,
        fixed.status,
        fixed.changes,
        diff=fixed.diff,
        pin_sources=fixed.origin,
        cells=fixed.cells,
        config=fixed.config,
        seconds=time.perf_counter() - started,
    )


def check_file(path: Path, settings: Settings) -> FileCheck:
    """Read and lint one notebook (`nbsetup check`); never raises for bad input.

    The rules are the command line's `--select`/`--ignore`, else the project's, less the
    project's `per-file-ignores` that match the file.
    """
    return _check(path, str(path), settings, None)


def check_stdin(data: bytes, path: Path, display: str, settings: Settings) -> FileCheck:
    """Lint a notebook read from stdin as the file at `path` would be (`--stdin-filename`)."""
    return _check(path, display, settings, data)


def _check(path: Path, display: str, settings: Settings, data: bytes | None) -> FileCheck:
    started = time.perf_counter()
    try:
        if data is None:
            data = notebook_io.read_bytes(path)
        project = _project(path, data, settings)
        rules = selection.rules_for(
            path, project.root, project.select, project.ignore, project.per_file_ignores
        )
        checked = pipeline.check_data(data, path, rules=rules, project=project, text=settings.text)
    except NbsetupError as error:
        return FileCheck(display, error=_reason(path, error))
    except Exception as error:  # the per-file boundary, as in `process`
        return FileCheck(display, error=_internal(error), traceback=_frames(error))
    source = str(project.source) if project.source is not None else None
    return replace(checked, path=display, config=source, seconds=time.perf_counter() - started)


def _project(path: Path, data: bytes, settings: Settings) -> ProjectConfig:
    """The settings for the notebook at `path`; when they cannot be read, the notebook's own
    error comes first (as in `pipeline.fix_file`): a broken notebook is reported as broken."""
    try:
        return pipeline.project_for(path, settings.overrides)
    except ConfigError:
        codec_for(path, data, settings.text).loads(data)
        raise


def fix_stdin(
    data: bytes, path: Path, display: str, settings: Settings
) -> tuple[FileResult, bytes]:
    """Fix a notebook read from stdin with the settings and pins of the file at `path`.

    Returns the result and the notebook to write to stdout: the fixed bytes, the input as it
    was when nothing changed, nothing when it failed.
    """
    started = time.perf_counter()
    try:
        project = pipeline.project_for(path, settings.overrides)
        choice = pipeline.choose_pins(path, project)
        fixed = pipeline.fix_data(data, project, choice)
    except UnpinnedPackages as error:
        return FileResult(display, FAILED, error=str(error), pin_sources=error.origin), b""
    except NbsetupError as error:
        return FileResult(display, FAILED, error=str(error)), b""
    except Exception as error:  # the per-file boundary, as in `process`
        failed = FileResult(display, FAILED, error=_internal(error), traceback=_frames(error))
        return failed, b""
    shown = ""
    if settings.diff and fixed.status == CHANGED:
        shown = render_diff(display, json.loads(data), json.loads(fixed.data))
    result = FileResult(
        display,
        fixed.status,
        fixed.changes,
        diff=shown,
        pin_sources=fixed.origin,
        config=str(project.source) if project.source is not None else None,
        seconds=time.perf_counter() - started,
    )
    return result, fixed.data


def unwritable(path: Path) -> str | None:
    """Why `path` must not be rewritten, or None: read-only or hard-linked.

    A file whose mode has no write bit is refused even for root, who could write it.
    """
    try:
        status = os.stat(path)
    except OSError:
        return None  # reading it reports the reason
    if not status.st_mode & 0o222:
        mode = stat.S_IMODE(status.st_mode)
        return f"read-only file (mode {mode:04o}): not rewritten; make it writable to fix it"
    if status.st_nlink > 1:
        return (
            f"file has {status.st_nlink} hard links, which rewriting it would separate (the "
            "other names would keep the old content): not rewritten; copy it over itself "
            "to break the link first"
        )
    return None


def _reason(path: Path, error: NbsetupError) -> str:
    """The error's reason; for a file that is not `.ipynb` and not notebook JSON, say so."""
    if path.suffix.lower() != ".ipynb" and isinstance(error, NOT_JSON):
        return "not a notebook: not an .ipynb file, and its content is not notebook JSON"
    return str(error)


def _internal(error: Exception) -> str:
    return f"internal error: {type(error).__name__}: {error}; {BUG_HINT}"


def _frames(error: Exception) -> str:
    return "".join(traceback.format_exception(error, limit=-TRACEBACK_FRAMES))


# --- running a batch ------------------------------------------------------------------------


def run(
    files: Sequence[Path],
    settings: Settings,
    on_result: Callable[[FileResult], None] | None = None,
) -> Outcome[FileResult]:
    """`fix` each of `files` (see `parallel.map_files`), calling `on_result` as each is done.

    Each file is written atomically, or not at all, so Ctrl-C leaves no file half written.
    The files are synced to disk once, when the batch ends (also when interrupted), instead
    of one fsync per file, which cost about a tenth of a corpus run.
    """
    task = parallel.Task(process, _work, _crashed)
    try:
        with listings_kept():
            return parallel.map_files(task, files, settings, settings.jobs, on_result)
    finally:
        if settings.write:
            sync_all()


def run_check(
    files: Sequence[Path],
    settings: Settings,
    on_result: Callable[[FileCheck], None] | None = None,
) -> Outcome[FileCheck]:
    """`check` each of `files` with the rules each project selects, as `run` fixes them."""
    task = parallel.Task(check_file, _work_check, _crashed_check)
    with listings_kept():
        return parallel.map_files(task, files, settings, settings.jobs, on_result)


_CRASHED = f"internal error: the worker process died while processing this file; {BUG_HINT}"


def _crashed(path: Path) -> FileResult:
    return FileResult(str(path), FAILED, error=_CRASHED)


def _crashed_check(path: Path) -> FileCheck:
    return FileCheck(str(path), error=_CRASHED)


# What the pool sends to its workers. They look `process` and `check_file` up when called, so
# that a test's replacement reaches forked workers.


def _work(paths: list[Path], settings: Settings) -> list[FileResult]:
    return parallel.each(process, paths, settings)


def _work_check(paths: list[Path], settings: Settings) -> list[FileCheck]:
    return parallel.each(check_file, paths, settings)


# --- the report file ------------------------------------------------------------------------


def report_target_problem(path: Path) -> str | None:
    """Why a report could not be written to `path`, told before the run; None: it can be.

    `cannot write the report: no such directory: out` is better said before the notebooks are
    rewritten than after.
    """
    directory = path.absolute().parent
    if path.is_dir():
        return "is a directory"
    if not directory.is_dir():
        return f"no such directory: {path.parent}"
    if path.exists() and not os.access(path, os.W_OK):
        return "permission denied"
    if not path.exists() and not os.access(directory, os.W_OK | os.X_OK):
        return f"permission denied in {path.parent}"
    return None


def write_report(path: Path, text: str) -> None:
    """Write the run's report to `path` atomically: readers see the old file or the new one."""
    data = text.encode() + b"\n"
    if path.exists():
        notebook_io.write_atomic(path, data)  # keeps the mode, writes through a symlink
        return
    handle, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".nbsetup-tmp"
    )
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
        os.chmod(temp_name, 0o666 & ~_umask())  # what `open` would have given a new file
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


__all__ = [
    "BUG_HINT",
    "Outcome",
    "Settings",
    "check_file",
    "check_stdin",
    "default_jobs",
    "fix_stdin",
    "process",
    "report_target_problem",
    "run",
    "run_check",
    "unwritable",
    "write_report",
]
