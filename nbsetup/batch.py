"""The shell around the per-file pipeline: process each notebook safely, collect the results.

A run is `discovery.discover` (paths → notebook files) then `run` (files → one `FileResult`
each, in discovery order, in worker processes when `Settings.jobs` > 1); `run_check` is the
same for `nbsetup check`, with one `FileCheck` each. Each file goes through `pipeline`; a
file that fails becomes a failed result, and the batch goes on. Neither prints: progress goes
through the `on_result` hook, the summary and the exit code are for the caller to render.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nbsetup import lint, notebook_io, parallel, pipeline
from nbsetup.config import Overrides
from nbsetup.errors import NbsetupError, UnpinnedPackages
from nbsetup.parallel import Outcome, default_jobs
from nbsetup.report import FAILED, FileCheck, FileResult

BUG_HINT = "please report it at the nbsetup issue tracker with this notebook"

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
    #: `--installer`; None: `[tool.nbsetup] installer`.
    installer: str | None = None
    #: `--guard/--no-guard`; None: `[tool.nbsetup] guard`.
    guard: bool | None = None
    #: Worker processes; 1 processes every file in this process.
    jobs: int = 1
    #: Whether changed files record their changed cells (`--report-html`, `--report-cells`).
    cells: bool = False
    #: `--text`: `.py`/`.md` files named explicitly are text notebooks even without a header.
    text: bool = False
    #: `--runtime`; None: `[tool.nbsetup] runtime`.
    runtime: str | None = None
    #: What `nbsetup check` reports (`run_check` only).
    rules: lint.Config = field(default_factory=lint.Config)

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
        )


# --- processing one file --------------------------------------------------------------------


def process(path: Path, settings: Settings) -> FileResult:
    """Read, transform and (unless checking) write one notebook; never raises for bad input."""
    display = str(path)
    try:
        fixed = pipeline.fix_file(
            path,
            settings.overrides,
            write=settings.write,
            diff=settings.diff,
            cells=settings.cells,
            text=settings.text,
        )
    except UnpinnedPackages as error:
        return FileResult(display, FAILED, error=str(error), pin_sources=error.origin)
    except NbsetupError as error:
        return FileResult(display, FAILED, error=str(error))
    except Exception as error:  # the per-file boundary: one bad file never stops a batch
        return FileResult(display, FAILED, error=_internal(error), traceback=_frames(error))
    return FileResult(
        display,
        fixed.status,
        fixed.changes,
        diff=fixed.diff,
        pin_sources=fixed.origin,
        cells=fixed.cells,
    )


def check_file(path: Path, settings: Settings) -> FileCheck:
    """Read and lint one notebook (`nbsetup check`); never raises for bad input."""
    display = str(path)
    try:
        return pipeline.check_file(path, settings.overrides, settings.rules, text=settings.text)
    except NbsetupError as error:
        return FileCheck(display, error=str(error))
    except Exception as error:  # the per-file boundary, as in `process`
        return FileCheck(display, error=_internal(error), traceback=_frames(error))


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
    """
    task = parallel.Task(process, _work, _crashed)
    return parallel.map_files(task, files, settings, settings.jobs, on_result)


def run_check(
    files: Sequence[Path],
    settings: Settings,
    on_result: Callable[[FileCheck], None] | None = None,
) -> Outcome[FileCheck]:
    """`check` each of `files` with `settings.rules`, as `run` fixes them."""
    task = parallel.Task(check_file, _work_check, _crashed_check)
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
    "default_jobs",
    "process",
    "run",
    "run_check",
    "write_report",
]
