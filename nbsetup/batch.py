"""The shell around the core: find notebooks, process each one safely, collect the results.

A run is `discover` (paths → notebook files) then `run` (files → one `FileResult` each, in
discovery order, in worker processes when `Settings.jobs` > 1). Neither prints: progress goes
through the `on_result` hook, the summary and the exit code are for the caller to render.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fnmatch
import functools
import os
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nbsetup import config, notebook_io, pinning, report, transform
from nbsetup.config import Overrides, ProjectConfig
from nbsetup.errors import NbsetupError
from nbsetup.report import CHANGED, FAILED, SKIPPED, UNCHANGED, Change, FileResult
from nbsetup.requirements import Pins, find_requirements, load_requirements, merge_pins

BUG_HINT = "please report it at the nbsetup issue tracker with this notebook"

#: Files sent to a worker at a time, at most: each task costs the parent about half a
#: millisecond of inter-process work, as much as processing a small notebook.
CHUNK_FILES = 8
#: Chunks per worker in a batch, at least, so that the workers finish at about the same time.
CHUNKS_PER_WORKER = 16
#: Chunks submitted per worker ahead of the results: enough to keep every worker busy, few
#: enough that Ctrl-C has little to cancel and memory does not grow with the batch.
QUEUED_PER_WORKER = 2
#: Frames of an internal error's traceback kept for `-v`.
TRACEBACK_FRAMES = 6
#: How often a worker checks that the process that started it is still alive (seconds).
PARENT_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Settings:
    """Per-run settings of the file-level shell."""

    check: bool = False
    diff: bool = False
    #: `--exclude`; empty: each project's `[tool.nbsetup] exclude`.
    exclude: tuple[str, ...] = ()
    #: The pin source for every notebook; None: `[tool.nbsetup] requirements`, else the nearest
    #: requirements.txt of each notebook.
    requirements: Path | None = None
    #: `--pin-missing/--no-pin-missing`; None: `[tool.nbsetup] pin-missing`.
    pin_missing: bool | None = None
    #: Worker processes; 1 processes every file in this process.
    jobs: int = 1

    @property
    def write(self) -> bool:
        """Whether changed files are written back."""
        return not (self.check or self.diff)

    @property
    def overrides(self) -> Overrides:
        """The settings given on the command line, which win over `[tool.nbsetup]`."""
        return Overrides(
            requirements=(self.requirements,) if self.requirements else None,
            exclude=self.exclude or None,
            pin_missing=self.pin_missing,
        )


@dataclass(frozen=True)
class Outcome:
    """What a run did: one result per file processed, in discovery order."""

    results: tuple[FileResult, ...]
    #: How many files the run set out to process (more than `results` when interrupted).
    total: int
    #: Ctrl-C stopped the run: the files without a result were not touched.
    interrupted: bool = False


def default_jobs() -> int:
    """The CPUs this process may run on (`os.process_cpu_count` from Python 3.13)."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1  # pragma: no cover (macOS and Windows before Python 3.13)


# --- discovery ------------------------------------------------------------------------------


def discover(paths: Sequence[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """The notebooks to process: files as given, then directories walked, each file once.

    A directory is walked for `*.ipynb` in sorted order, skipping hidden directories
    (`.git`, `.ipynb_checkpoints`, ...), anything an `exclude` glob matches (by name, by path
    relative to the directory, or by path as given) or, without `exclude`, anything its
    project's `[tool.nbsetup] exclude` matches (by name, or by path relative to the
    pyproject.toml's directory), and, inside a git work tree, the files git ignores. A file
    named explicitly is always kept, and so is a path that does not exist, so that processing
    reports it like any other unreadable file.
    """
    found: list[Path] = []
    seen: set[str] = set()
    for path in paths:
        for candidate in _walk(path, exclude) if path.is_dir() else [path]:
            key = os.path.realpath(candidate)  # one file under two names is processed once
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _walk(root: Path, exclude: Sequence[str]) -> list[Path]:
    found = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        patterns, anchor = (exclude, root) if exclude else _project_excludes(here, root)
        dirs[:] = sorted(
            name
            for name in dirs
            if not name.startswith(".") and not _excluded(here / name, anchor, patterns)
        )
        found += [
            here / name
            for name in sorted(files)
            if name.endswith(".ipynb") and not _excluded(here / name, anchor, patterns)
        ]
    ignored = _git_ignored(root, found)
    return [path for path in found if path not in ignored]


def _project_excludes(directory: Path, root: Path) -> tuple[Sequence[str], Path]:
    """The `[tool.nbsetup] exclude` globs for `directory`, and the directory they are under."""
    project = _project_config(directory)
    return project.exclude, project.root or root


def _excluded(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    if root.is_absolute():
        path = path.absolute()
    forms = (path.name, path.as_posix(), path.relative_to(root).as_posix())
    return any(
        fnmatch.fnmatch(form, pattern.rstrip("/")) for pattern in patterns for form in forms
    )


def _git_ignored(root: Path, paths: Sequence[Path]) -> set[Path]:
    """Those of `paths` (all under `root`) that git ignores; none when git cannot tell.

    Git is asked once per walked directory. Without git, outside a work tree, or when git
    fails (a path inside a submodule, an unsafe repository), nothing is ignored. A directory
    that git ignores as a whole was named on purpose: its files are kept.
    """
    if not paths:
        return set()
    names = {os.fsencode(path.relative_to(root)): path for path in paths}
    query = b"".join(name + b"\0" for name in [b".", *names])
    try:
        answer = subprocess.run(
            ["git", "check-ignore", "--stdin", "-z"],
            cwd=root,
            input=query,
            capture_output=True,
            check=False,
        )
    except OSError:
        return set()
    if answer.returncode not in (0, 1):  # 1: nothing ignored; 128: not a work tree, ...
        return set()
    ignored = set(answer.stdout.split(b"\0"))
    if b"." in ignored:
        return set()
    return {path for name, path in names.items() if name in ignored}


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
    project = config.merge(settings.overrides, _project_config(path.absolute().parent))
    skipped = transform.skip_reason(document.notebook, project.kernels)
    if skipped is not None:
        return FileResult(display, SKIPPED, (Change("skipped", skipped),))
    if project.requirements:
        sources = project.requirements
    else:
        found = find_requirements(path.absolute())
        sources = (found,) if found else ()
    sources = tuple(_shown(source) for source in sources)
    pins = merge_pins(*(_pins(source) for source in sources))
    here = path.absolute().parent
    label = ", ".join(os.path.relpath(source.absolute(), here) for source in sources) or None
    options = transform.Config(
        requirements_label=label,
        style=pinning.LineStyle(pip=project.env_cell_style, quiet=project.quiet_install),
        kernels=project.kernels,
        pin_missing=project.pin_missing,
    )
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
    diff = report.render_diff(display, document.notebook, result.notebook) if settings.diff else ""
    if settings.write:
        notebook_io.write_atomic(path, new_data)
    return FileResult(display, CHANGED, result.changes, diff=diff, requirements=origin)


def _shown(path: Path) -> Path:
    """`path` as reports show it: relative to the working directory when below it."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


def _pins(path: Path) -> Pins:
    """Parse a requirements file once per run (per worker), however many notebooks use it."""
    try:
        status = path.stat()
    except OSError:
        return load_requirements(path)  # reports the reason
    # The stamp keeps a long-lived process (tests, an editor integration) from using a stale
    # parse after the file changed.
    return _cached_pins(path, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=64)
def _cached_pins(path: Path, mtime_ns: int, size: int) -> Pins:
    return load_requirements(path)


@functools.lru_cache(maxsize=256)
def _find_project(directory: Path) -> Path | None:
    # Cached per directory, as black caches its project root: a pyproject.toml created while
    # the process runs is not seen. Its content is re-read when it changes (`_load_project`).
    return config.find_project_config(directory)


def _project_config(directory: Path) -> ProjectConfig:
    """The `[tool.nbsetup]` settings for notebooks in `directory` (defaults without any)."""
    found = _find_project(directory)
    if found is None:
        return ProjectConfig()
    status = found.stat()
    return _load_project(found, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=64)
def _load_project(path: Path, mtime_ns: int, size: int) -> ProjectConfig:
    return config.load_config(path)


# --- running a batch ------------------------------------------------------------------------


def run(
    files: Sequence[Path],
    settings: Settings,
    on_result: Callable[[FileResult], None] | None = None,
) -> Outcome:
    """Process `files` (see `discover`), calling `on_result` as each one is done.

    With `settings.jobs` > 1 and more than one file, worker processes share the files; the
    results come back in the order of `files` all the same. Ctrl-C stops the run cleanly:
    pending files are cancelled, the files in progress are finished (each is written
    atomically, or not at all), and the outcome holds what was done.
    """
    results: list[FileResult | None] = [None] * len(files)

    def store(index: int, result: FileResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    interrupted = False
    try:
        if min(settings.jobs, len(files)) <= 1:
            for index, path in enumerate(files):
                store(index, process(path, settings))
        else:
            _run_parallel(files, settings, store)
    except KeyboardInterrupt:
        interrupted = True
    done = tuple(result for result in results if result is not None)
    return Outcome(done, len(files), interrupted)


def _run_parallel(
    files: Sequence[Path], settings: Settings, store: Callable[[int, FileResult], None]
) -> None:
    jobs = min(settings.jobs, len(files))
    size = max(1, min(CHUNK_FILES, len(files) // (jobs * CHUNKS_PER_WORKER)))
    todo = deque(
        tuple(range(start, min(start + size, len(files)))) for start in range(0, len(files), size)
    )
    while todo:
        lost = _map_in_pool(files, settings, todo, jobs, jobs * QUEUED_PER_WORKER, store)
        # A worker died (a crash in native code, the OOM killer): retry each file it may have
        # been working on alone, so that a crash fails only the file that causes it.
        for index in lost:
            if _map_in_pool(files, settings, deque([(index,)]), 1, 1, store):
                store(index, _crashed(files[index]))


Chunk = tuple[int, ...]


def _map_in_pool(
    files: Sequence[Path],
    settings: Settings,
    todo: deque[Chunk],
    jobs: int,
    window: int,
    store: Callable[[int, FileResult], None],
) -> list[int]:
    """Process the chunks of file indexes in `todo` in one pool; return those lost if it broke."""
    in_flight: dict[concurrent.futures.Future[list[FileResult]], Chunk] = {}
    with concurrent.futures.ProcessPoolExecutor(jobs, initializer=_start_worker) as pool:
        try:
            while todo or in_flight:
                while todo and len(in_flight) < window:
                    chunk = todo.popleft()
                    paths = [files[index] for index in chunk]
                    in_flight[pool.submit(_work, paths, settings)] = chunk
                finished, _ = concurrent.futures.wait(
                    in_flight, return_when=concurrent.futures.FIRST_COMPLETED
                )
                # `process` returns for every file: an exception means the pool is broken.
                if any(future.exception() is not None for future in finished):
                    return _settle(in_flight, store)
                for future in finished:
                    _store_chunk(in_flight[future], future.result(), store)
                    del in_flight[future]
        except KeyboardInterrupt:
            # Cancel what has not started; the workers ignore SIGINT and finish their chunk.
            pool.shutdown(wait=True, cancel_futures=True)
            _settle(in_flight, store)
            raise
    return []


def _store_chunk(
    chunk: Chunk, results: list[FileResult], store: Callable[[int, FileResult], None]
) -> None:
    for index, result in zip(chunk, results, strict=True):
        store(index, result)


def _settle(
    in_flight: dict[concurrent.futures.Future[list[FileResult]], Chunk],
    store: Callable[[int, FileResult], None],
) -> list[int]:
    """Store the results of the chunks that succeeded; return the file indexes of the others."""
    unfinished = []
    for future, chunk in in_flight.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            _store_chunk(chunk, future.result(), store)
        else:
            unfinished += chunk
    return sorted(unfinished)


def _crashed(path: Path) -> FileResult:
    reason = f"internal error: the worker process died while processing this file; {BUG_HINT}"
    return FileResult(str(path), FAILED, error=reason)


# --- inside a worker process ----------------------------------------------------------------

# Held while a worker processes a file, so that it never exits halfway through one.
_BUSY = threading.Lock()


def _start_worker() -> None:
    """Prepare a worker process: Ctrl-C is for the parent, and the worker ends with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # A parent killed by SIGKILL (or the OOM killer) cannot shut its pool down, and its workers
    # would wait for work forever: exit once it is gone, between two files.
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    _BUSY.acquire()
    os._exit(0)


def _work(paths: list[Path], settings: Settings) -> list[FileResult]:
    results = []
    for path in paths:
        with _BUSY:
            results.append(process(path, settings))
    return results


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
    "default_jobs",
    "discover",
    "process",
    "run",
    "write_report",
]
