"""The shell around the core: process each notebook safely, collect the results.

A run is `discovery.discover` (paths → notebook files) then `run` (files → one `FileResult`
each, in discovery order, in worker processes when `Settings.jobs` > 1); `run_check` is the
same for `nbsetup check`, with one `check.FileCheck` each. Neither prints: progress goes through
the `on_result` hook, the summary and the exit code are for the caller to render.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from nbsetup import check as lint
from nbsetup import config, distributions, notebook_io, parallel, report, runtime, transform
from nbsetup.config import Overrides, ProjectConfig
from nbsetup.discovery import local_modules, project_config
from nbsetup.errors import NbsetupError
from nbsetup.parallel import Outcome, default_jobs
from nbsetup.pins import Pins, merge_pins
from nbsetup.report import CHANGED, FAILED, SKIPPED, UNCHANGED, Change, FileResult
from nbsetup.sources import find_pin_sources, load_pins, ordered

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
    #: What `nbsetup check` reports (`run_check` only); its `kernels` come from `[tool.nbsetup]`.
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
            requirements=sources or None,
            exclude=self.exclude or None,
            pin_missing=self.pin_missing,
            installer=self.installer,
            guard=self.guard,
        )


# --- processing one file --------------------------------------------------------------------


def process(path: Path, settings: Settings) -> FileResult:
    """Read, transform and (unless checking) write one notebook; never raises for bad input."""
    display = str(path)
    try:
        return _process(path, display, settings)
    except NbsetupError as error:
        return FileResult(display, FAILED, error=str(error))
    except Exception as error:  # the per-file boundary: one bad file never stops a batch
        return FileResult(
            display,
            FAILED,
            error=f"internal error: {type(error).__name__}: {error}; {BUG_HINT}",
            traceback="".join(traceback.format_exception(error, limit=-TRACEBACK_FRAMES)),
        )


def _process(path: Path, display: str, settings: Settings) -> FileResult:
    data = notebook_io.read_bytes(path)
    document = notebook_io.loads(data)
    project = config.merge(settings.overrides, project_config(path.absolute().parent))
    skipped = transform.skip_reason(document.notebook, project.kernels)
    if skipped is not None:
        return FileResult(display, SKIPPED, (Change("skipped", skipped),))
    sources = _pin_sources(path, project)
    pins = merge_pins(*(_pins(source) for source in sources))
    here = path.absolute().parent
    label = ", ".join(os.path.relpath(source.absolute(), here) for source in sources) or None
    options = transform.Config.for_project(project, label)
    result = transform.hoist(document.notebook, pins, options)
    origin = ", ".join(str(source) for source in sources) or None
    unpinned = [c.package for c in result.changes if c.kind == "unpinned" and c.package]
    if project.pin_missing and unpinned:
        where = f"by {label}" if label else "(no requirements file found)"
        reason = f"not pinned {where}: {', '.join(unpinned)} (pin-missing is on)"
        return FileResult(display, FAILED, error=reason, requirements=origin)
    new_data = notebook_io.dumps(document, result.notebook, result.origins)
    if new_data == data:
        return FileResult(display, UNCHANGED, result.changes, requirements=origin)
    # The safety net, on the data parsed back from the bytes about to be written. Imported
    # here: it loads nbformat's validator, which a run with nothing to change never needs.
    from nbsetup import safety

    safety.verify(document.notebook, json.loads(new_data), result.origins)
    diff = report.render_diff(display, document.notebook, result.notebook) if settings.diff else ""
    if settings.write:
        notebook_io.write_atomic(path, new_data, expected=data)
    return FileResult(display, CHANGED, result.changes, diff=diff, requirements=origin)


def _pin_sources(path: Path, project: ProjectConfig) -> tuple[Path, ...]:
    """The pin files of the notebook at `path`, in precedence order, as reports show them."""
    if project.requirements:
        sources = ordered(project.requirements)
    else:
        sources = find_pin_sources(path.absolute(), _pins)
    return tuple(_shown(source) for source in sources)


def _shown(path: Path) -> Path:
    """`path` as reports show it: relative to the working directory when below it."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


def _pins(path: Path) -> Pins:
    """Parse a pin file once per run (per worker), however many notebooks use it."""
    try:
        status = path.stat()
    except OSError:
        return load_pins(path)  # reports the reason
    # The stamp keeps a long-lived process (tests, an editor integration) from using a stale
    # parse after the file changed.
    return _cached_pins(path, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=64)
def _cached_pins(path: Path, mtime_ns: int, size: int) -> Pins:
    return load_pins(path)


def check_file(path: Path, settings: Settings) -> lint.FileCheck:
    """Read and lint one notebook (`nbsetup check`); never raises for bad input."""
    display = str(path)
    try:
        return _check_file(path, display, settings)
    except NbsetupError as error:
        return lint.FileCheck(display, error=str(error))
    except Exception as error:  # the per-file boundary, as in `process`
        return lint.FileCheck(
            display,
            error=f"internal error: {type(error).__name__}: {error}; {BUG_HINT}",
            traceback="".join(traceback.format_exception(error, limit=-TRACEBACK_FRAMES)),
        )


def _check_file(path: Path, display: str, settings: Settings) -> lint.FileCheck:
    document = notebook_io.loads(notebook_io.read_bytes(path))
    here = path.absolute().parent
    project = config.merge(settings.overrides, project_config(here))
    skipped = transform.skip_reason(document.notebook, project.kernels)
    if skipped is not None:
        return lint.FileCheck(display, skipped=skipped)
    sources = _pin_sources(path, project)
    pins = merge_pins(*(_pins(source) for source in sources))
    local = settings.rules.local_modules | local_modules(here)
    preloaded = runtime.preloaded(project.preloaded, project.extend_preloaded)
    rules = replace(
        settings.rules, kernels=project.kernels, local_modules=local, preloaded=preloaded
    )
    packages = distributions.installed_packages()
    diagnostics = lint.diagnose(document.notebook, pins, rules, packages)
    origin = ", ".join(str(source) for source in sources) or None
    return lint.FileCheck(display, diagnostics, requirements=origin)


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
    on_result: Callable[[lint.FileCheck], None] | None = None,
) -> Outcome[lint.FileCheck]:
    """`check` each of `files` with `settings.rules`, as `run` fixes them."""
    task = parallel.Task(check_file, _work_check, _crashed_check)
    return parallel.map_files(task, files, settings, settings.jobs, on_result)


_CRASHED = f"internal error: the worker process died while processing this file; {BUG_HINT}"


def _crashed(path: Path) -> FileResult:
    return FileResult(str(path), FAILED, error=_CRASHED)


def _crashed_check(path: Path) -> lint.FileCheck:
    return lint.FileCheck(str(path), error=_CRASHED)


# What the pool sends to its workers. They look `process` and `check_file` up when called, so
# that a test's replacement reaches forked workers.


def _work(paths: list[Path], settings: Settings) -> list[FileResult]:
    return parallel.each(process, paths, settings)


def _work_check(paths: list[Path], settings: Settings) -> list[lint.FileCheck]:
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
