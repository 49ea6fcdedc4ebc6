"""Run a per-file function over a batch: in order, in worker processes, safe to interrupt.

`map_files(task, files, settings, jobs)` gives one result per file, in the order of `files`,
whatever order the workers finish in. A worker that dies fails only the file it died on, and
Ctrl-C returns what was done. `batch` runs `fix` and `check` through it.

The process pool (`concurrent.futures.process`, multiprocessing, pickle) is imported by the
runs that start one: a one-file run, as a pre-commit hook makes, spends most of its time
starting up, and never needs it.
"""

from __future__ import annotations

import functools
import os
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from nbsetup import files

if TYPE_CHECKING:
    import concurrent.futures

#: Files sent to a worker at a time, at most: each task costs the parent about half a
#: millisecond of inter-process work, as much as processing a small notebook.
CHUNK_FILES = 8
#: Chunks per worker in a batch, at least, so that the workers finish at about the same time.
CHUNKS_PER_WORKER = 16
#: Chunks submitted per worker ahead of the results: enough to keep every worker busy, few
#: enough that Ctrl-C has little to cancel and memory does not grow with the batch.
QUEUED_PER_WORKER = 2
#: How often a worker checks that the process that started it is still alive (seconds).
PARENT_POLL_SECONDS = 0.5

#: A per-file result (`report.FileResult` for `fix`, `check.FileCheck` for `check`).
R = TypeVar("R")
#: The run's settings, passed to every call.
S = TypeVar("S")

Chunk = tuple[int, ...]


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What a run did: one result per file processed, in discovery order."""

    results: tuple[R, ...]
    #: How many files the run set out to process (more than `results` when interrupted).
    total: int
    #: Ctrl-C stopped the run: the files without a result were not touched.
    interrupted: bool = False


@dataclass(frozen=True)
class Task(Generic[S, R]):
    """What a run does to each file, and the result of a file whose worker process died."""

    #: Processes a file in this process; never raises.
    process: Callable[[Path, S], R]
    #: The same for a chunk of files in a worker (`each(process, ...)`): a module-level
    #: function, which the pool sends by name.
    work: Callable[[list[Path], S], list[R]]
    crashed: Callable[[Path], R]


def default_jobs() -> int:
    """The CPUs this process may run on (`os.process_cpu_count` from Python 3.13)."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1  # pragma: no cover (macOS and Windows before Python 3.13)


def map_files(
    task: Task[S, R],
    files: Sequence[Path],
    settings: S,
    jobs: int,
    on_result: Callable[[R], None] | None = None,
) -> Outcome[R]:
    """Run `task` on `files`, calling `on_result` as each one is done.

    With `jobs` > 1 and more than one file, worker processes share the files; the results
    come back in the order of `files` all the same. Ctrl-C stops the run cleanly: pending
    files are cancelled, the files in progress are finished, and the outcome holds what was
    done.
    """
    results: list[R | None] = [None] * len(files)

    def store(index: int, result: R) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    interrupted = False
    try:
        if min(jobs, len(files)) <= 1:
            for index, path in enumerate(files):
                store(index, task.process(path, settings))
        else:
            _run_parallel(task, files, settings, min(jobs, len(files)), store)
    except KeyboardInterrupt:
        interrupted = True
    done = tuple(result for result in results if result is not None)
    return Outcome(done, len(files), interrupted)


def _run_parallel(
    task: Task[S, R],
    files: Sequence[Path],
    settings: S,
    jobs: int,
    store: Callable[[int, R], None],
) -> None:
    size = max(1, min(CHUNK_FILES, len(files) // (jobs * CHUNKS_PER_WORKER)))
    todo = deque(
        tuple(range(start, min(start + size, len(files)))) for start in range(0, len(files), size)
    )
    with tempfile.TemporaryDirectory(prefix="nbsetup-results-") as records:
        pool = functools.partial(_map_in_pool, task, files, settings, records=Path(records))
        while todo:
            lost = pool(todo, jobs, jobs * QUEUED_PER_WORKER, store)
            # A worker died (a crash in native code, the OOM killer), and the pool ended the
            # others: a file that a worker finished is taken from its record (processing it
            # again would find it written, "unchanged"); each other file it may have been
            # working on is retried alone, so that a crash fails only the file that causes it.
            for index in lost:
                recorded = _recorded(Path(records), files[index])
                if recorded is not None:
                    store(index, recorded)
                elif pool(deque([(index,)]), 1, 1, store):
                    store(index, task.crashed(files[index]))


def _map_in_pool(
    task: Task[S, R],
    files: Sequence[Path],
    settings: S,
    todo: deque[Chunk],
    jobs: int,
    window: int,
    store: Callable[[int, R], None],
    *,
    records: Path,
) -> list[int]:
    """Process the chunks of file indexes in `todo` in one pool; return those lost if it broke.

    Each worker also records each file's result in `records` as soon as it is done.
    """
    import concurrent.futures
    from concurrent.futures.process import BrokenProcessPool

    in_flight: dict[concurrent.futures.Future[list[R]], Chunk] = {}
    with concurrent.futures.ProcessPoolExecutor(
        jobs, initializer=_start_worker, initargs=(str(records),)
    ) as pool:
        try:
            while todo or in_flight:
                while todo and len(in_flight) < window:
                    chunk = todo.popleft()
                    paths = [files[index] for index in chunk]
                    try:
                        in_flight[pool.submit(task.work, paths, settings)] = chunk
                    except BrokenProcessPool:
                        # A worker died since the last look: the chunk waits for a new pool.
                        todo.appendleft(chunk)
                        return _settle(in_flight, store)
                finished, _ = concurrent.futures.wait(
                    in_flight, return_when=concurrent.futures.FIRST_COMPLETED
                )
                # `task.work` returns for every file: an exception means the pool is broken.
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


def _store_chunk(chunk: Chunk, results: list[R], store: Callable[[int, R], None]) -> None:
    for index, result in zip(chunk, results, strict=True):
        store(index, result)


def _settle(
    in_flight: dict[concurrent.futures.Future[list[R]], Chunk],
    store: Callable[[int, R], None],
) -> list[int]:
    """Store the results of the chunks that succeeded; return the file indexes of the others."""
    unfinished: list[int] = []
    for future, chunk in in_flight.items():
        if future.done() and not future.cancelled() and future.exception() is None:
            _store_chunk(chunk, future.result(), store)
        else:
            unfinished += chunk
    return sorted(unfinished)


def _record_path(records: Path, path: Path) -> Path:
    import hashlib

    return records / hashlib.sha256(os.fsencode(path)).hexdigest()


def _recorded(records: Path, path: Path) -> Any:
    """The result a worker recorded for `path` before it was stopped, or None."""
    import pickle

    try:
        return pickle.loads(_record_path(records, path).read_bytes())
    except FileNotFoundError:
        return None


# --- inside a worker process ----------------------------------------------------------------

# Held while a worker processes a file, so that it never exits halfway through one.
_BUSY = threading.Lock()
#: Where this worker records each file's result (`_start_worker`); None outside a worker.
_RECORDS: Path | None = None
#: What a worker holds back while it processes a file: SIGTERM, with which the pool ends the
#: workers of a broken pool, takes effect once the file is done and its result recorded.
_HELD = frozenset({signal.SIGTERM})


def each(process: Callable[[Path, S], R], paths: list[Path], settings: S) -> list[R]:
    """`process` each of `paths` in a worker, never leaving one half done when the parent dies.

    Each result is recorded before the next file starts, so that a result whose chunk the
    pool lost (another worker crashed) is not lost with it.
    """
    results = []
    for path in paths:
        with _BUSY, files.signals_held(_HELD):
            result = process(path, settings)
            if _RECORDS is not None:
                import pickle

                _record_path(_RECORDS, path).write_bytes(pickle.dumps(result))
        results.append(result)
    return results


def _start_worker(records: str) -> None:
    """Prepare a worker process: Ctrl-C is for the parent, and the worker ends with it."""
    global _RECORDS
    _RECORDS = Path(records)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the command line's SIGTERM handler (stop as Ctrl-C does), which
    # is for the parent. A worker dies of SIGTERM, as the pool expects when it ends the workers
    # of a broken pool, but only between two files (`each` holds it back meanwhile).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # The watcher thread is started with SIGTERM blocked, and keeps it so: a signal sent to
    # the process is then delivered to the main thread alone, which holds it while busy.
    with files.signals_held(_HELD):
        threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # A parent killed by SIGKILL (or the OOM killer) cannot shut its pool down, and its workers
    # would wait for work forever: exit once it is gone, between two files.
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    _BUSY.acquire()
    os._exit(0)


__all__ = ["Outcome", "Task", "default_jobs", "each", "map_files"]
