"""Pin sources: find a notebook's pin files and read any supported format into `Pins`.

Formats, told apart by file name (`kind`):

- `pylock.toml`, `pylock.<name>.toml`: PEP 751 lock files (`pylock`);
- `uv.lock`: uv's lock file (`uvlock`);
- `pyproject.toml`: declared dependencies, as ranges (`pyproject`);
- `environment.yml`, `environment.yaml`, any `*.yml`/`*.yaml`: conda environment files
  (`conda`), whose conda pins apply to `%conda install` lines and `pip:` pins to pip lines;
- anything else: a pip requirements file (`nbsetup.sources.requirements_txt`).

Precedence, wherever the sources come from: earlier wins, except that `pyproject.toml` files
go after every other source (`ordered`), so the exact pins of a lock or requirements file win
over the ranges a pyproject.toml declares.

Discovery (`find_pin_sources`) takes, from the nearest directory that has any: the first of
`requirements.txt`, `pylock.toml`, `uv.lock`; then `environment.yml` (or `.yaml`), whose
conda pins no lock can give; then a `pyproject.toml` that declares dependencies.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from nbsetup.pins import Pins, merge_pins
from nbsetup.sources import conda, pylock, pyproject, uvlock
from nbsetup.sources.requirements_txt import load_requirements

#: What discovery looks for in each directory: the first lock present, in this order...
LOCK_NAMES = ("requirements.txt", "pylock.toml", uvlock.FILE_NAME)
#: ... then the first conda environment file present (conda pins, and pip pins after the
#: lock's)...
ENVIRONMENT_NAMES = conda.FILE_NAMES
#: ... and last a pyproject.toml that declares dependencies.
RANGES_NAME = pyproject.FILE_NAME

_READERS: dict[str, Callable[[Path], Pins]] = {
    "pylock": pylock.load,
    "uv.lock": uvlock.load,
    "pyproject": pyproject.load,
    "conda": conda.load,
    "requirements": load_requirements,
}


def kind(path: Path) -> str:
    """The format of a pin file, by its name: a key of `_READERS`."""
    name = path.name
    if pylock.FILE_NAME_RE.fullmatch(name):
        return "pylock"
    if name == uvlock.FILE_NAME:
        return "uv.lock"
    if name == pyproject.FILE_NAME:
        return "pyproject"
    if name in conda.FILE_NAMES or path.suffix.lower() in conda.SUFFIXES:
        return "conda"
    return "requirements"


def load_pins(path: Path) -> Pins:
    """Read one pin file of any supported format; `RequirementsError` naming the file."""
    return _READERS[kind(path)](path)


def load_pin_files(paths: Iterable[Path]) -> Pins:
    """Read several pin files (`ordered` first): the first to pin a package wins."""
    return merge_pins(*(load_pins(path) for path in ordered(paths)))


def ordered(paths: Iterable[Path]) -> tuple[Path, ...]:
    """The sources in precedence order: as given, pyproject.toml files last.

    `[pyproject.toml, uv.lock]` → `(uv.lock, pyproject.toml)`: ranges never beat exact pins.
    """
    paths = tuple(paths)
    return tuple(p for p in paths if kind(p) != "pyproject") + tuple(
        p for p in paths if kind(p) == "pyproject"
    )


def find_pin_sources(
    notebook_path: Path, load: Callable[[Path], Pins] = load_pins
) -> tuple[Path, ...]:
    """The pin files nearest to a notebook: its directory's, else its parents', in order.

    In each directory from the notebook's up to the repository root (a directory holding
    `.git`, itself included) or the filesystem root: the first of `LOCK_NAMES` present, the
    first of `ENVIRONMENT_NAMES` present, then `pyproject.toml` when it declares dependencies
    (read with `load`). The first directory with any of these ends the search. A
    pyproject.toml without dependencies (one holding only tool settings) is passed over, so
    the search goes on to the parents.
    """
    directory = notebook_path.absolute().parent
    while True:
        names = _names(directory)
        found = _sources_in(directory, names, load)
        if found:
            return found
        if ".git" in names or directory.parent == directory:
            return ()
        directory = directory.parent


#: Directory listings kept while `listings_kept` is in force (a batch), by directory.
_LISTINGS: dict[Path, frozenset[str]] | None = None


@contextlib.contextmanager
def listings_kept() -> Iterator[None]:
    """Meanwhile, list each directory once for `find_pin_sources`.

    For a batch: its notebooks share directories (a hundred notebooks beside one pin file),
    and nbsetup writes no pin file while it fixes them, only temp files of its own. Outside
    one, every lookup lists again: a long-lived process sees a pin file created since.
    Worker processes forked meanwhile keep listings of their own.
    """
    global _LISTINGS
    outer, _LISTINGS = _LISTINGS, {} if _LISTINGS is None else _LISTINGS
    try:
        yield
    finally:
        _LISTINGS = outer


def _names(directory: Path) -> frozenset[str]:
    """The entries of `directory` (none when it cannot be listed).

    One listing per directory instead of a stat per candidate name: batches ask this for
    every notebook, and most directories hold none of the names.
    """
    listings = _LISTINGS
    if listings is not None and directory in listings:
        return listings[directory]
    try:
        names = frozenset(os.listdir(directory))
    except OSError:
        names = frozenset()
    if listings is not None:
        listings[directory] = names
    return names


def _sources_in(
    directory: Path, names: frozenset[str], load: Callable[[Path], Pins]
) -> tuple[Path, ...]:
    lock = _first(directory, names, LOCK_NAMES)
    environment = _first(directory, names, ENVIRONMENT_NAMES)
    ranges = directory / RANGES_NAME
    declared = RANGES_NAME in names and ranges.is_file() and bool(load(ranges).entries)
    found = (lock, environment, ranges if declared else None)
    return tuple(p for p in found if p is not None)


def _first(directory: Path, names: frozenset[str], wanted: Iterable[str]) -> Path | None:
    """The first of `wanted` that is a file of `directory` (whose entries are `names`)."""
    return next((directory / n for n in wanted if n in names and (directory / n).is_file()), None)


__all__ = [
    "ENVIRONMENT_NAMES",
    "LOCK_NAMES",
    "find_pin_sources",
    "kind",
    "listings_kept",
    "load_pin_files",
    "load_pins",
    "ordered",
]
