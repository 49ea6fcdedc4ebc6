"""The shell around the core: find notebooks, process each one safely, collect the results."""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nbsetup import notebook_io, report, transform
from nbsetup.errors import NbsetupError
from nbsetup.report import CHANGED, FAILED, SKIPPED, UNCHANGED, Change, FileResult
from nbsetup.requirements import Pins, find_requirements, load_requirements

logger = logging.getLogger(__name__)

BUG_HINT = "please report it at the nbsetup issue tracker with this notebook"


@dataclass(frozen=True)
class Settings:
    """Per-run settings of the file-level shell."""

    check: bool = False
    diff: bool = False
    exclude: tuple[str, ...] = ()
    #: The pin source for every notebook; None: the nearest requirements.txt of each notebook.
    requirements: Path | None = None

    @property
    def write(self) -> bool:
        """Whether changed files are written back."""
        return not (self.check or self.diff)


def discover(paths: Sequence[Path], exclude: Sequence[str] = ()) -> Iterator[Path]:
    """Yield notebook paths: files as given, directories walked for `*.ipynb` in sorted order.

    The walk skips hidden directories (`.git`, `.ipynb_checkpoints`, ...) and anything an
    `exclude` glob matches, by name or by path. A path that does not exist is yielded as is,
    so that processing reports it like any other unreadable file.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            root_path = Path(root)
            dirs[:] = sorted(
                name
                for name in dirs
                if not name.startswith(".") and not _excluded(root_path / name, exclude)
            )
            for name in sorted(files):
                candidate = root_path / name
                if name.endswith(".ipynb") and not _excluded(candidate, exclude):
                    yield candidate


def _excluded(path: Path, patterns: Sequence[str]) -> bool:
    text = path.as_posix()
    return any(
        fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(text, pattern)
        for pattern in patterns
    )


def process(path: Path, settings: Settings) -> FileResult:
    """Read, transform and (unless checking) write one notebook; never raises for bad input."""
    display = str(path)
    try:
        return _process(path, display, settings)
    except NbsetupError as error:
        return FileResult(display, FAILED, error=str(error))
    except Exception as error:  # the per-file boundary: one bad file never stops a batch
        logger.debug("internal error on %s", display, exc_info=True)
        return FileResult(
            display, FAILED, error=f"internal error: {type(error).__name__}: {error}; {BUG_HINT}"
        )


def _process(path: Path, display: str, settings: Settings) -> FileResult:
    data = notebook_io.read_bytes(path)
    document = notebook_io.loads(data)
    skipped = transform.skip_reason(document.notebook)
    if skipped is not None:
        return FileResult(display, SKIPPED, (Change("skipped", skipped),))
    requirements = settings.requirements or find_requirements(path.absolute())
    pins = _pins(requirements.absolute()) if requirements else transform.NO_PINS
    label = os.path.relpath(requirements, path.absolute().parent) if requirements else None
    result = transform.hoist(document.notebook, pins, transform.Config(requirements_label=label))
    new_data = notebook_io.dumps(document, result.notebook, result.origins)
    origin = str(requirements) if requirements else None
    if new_data == data:
        return FileResult(display, UNCHANGED, result.changes, requirements=origin)
    diff = report.render_diff(display, document.notebook, result.notebook) if settings.diff else ""
    if settings.write:
        notebook_io.write_atomic(path, new_data)
    return FileResult(display, CHANGED, result.changes, diff=diff, requirements=origin)


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


def run(paths: Sequence[Path], settings: Settings) -> list[FileResult]:
    """Process every notebook under `paths`, in sorted path order."""
    return [process(path, settings) for path in discover(paths, settings.exclude)]
