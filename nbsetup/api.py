"""The Python API: fix or check one notebook, as bytes or as a file, from any program.

The command line is a shell around these functions: `nbsetup fix` and `fix_path` give the same
bytes and the same report for the same notebook, pins and settings. Everything here is safe to
call from threads, process pools and distributed engines: arguments and results pickle, and
nothing is written unless `fix_path` is asked to write.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbsetup.config
from nbsetup import pipeline
from nbsetup.changes import Change
from nbsetup.config import ProjectConfig
from nbsetup.diagnostics import Config, Diagnostic
from nbsetup.pins import Pins
from nbsetup.report import CHANGED, FileResult
from nbsetup.sources import load_pin_files

#: A pin file given by path.
PathLike = str | os.PathLike[str]
#: Pins as data (`load_pins`), or the pin files to read them from.
PinsArgument = Pins | PathLike | Sequence[PathLike] | None


@dataclass(frozen=True)
class FixResult:
    """What fixing one notebook gave: its new bytes, its status and the changes made.

    `data` is the notebook to keep: the input bytes themselves when nothing changed, so
    `result.data == original` exactly when `result.changed` is false.
    """

    #: `"changed"`, `"unchanged"`, or `"skipped"` (a notebook whose kernel is not rewritten,
    #: or that opts out).
    status: str
    #: The fixed notebook, byte for byte as `nbsetup fix` writes it.
    data: bytes
    #: What was done or declined, in report order; the reason for a skip.
    changes: tuple[Change, ...] = ()
    #: The notebook's path for `fix_path`; None for `fix_bytes`.
    path: str | None = None
    #: The pin sources, as the report names them (its `requirements`); None: no pins.
    pin_sources: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the notebook needs rewriting (`data` differs from the input)."""
        return self.status == CHANGED

    def to_dict(self) -> dict[str, Any]:
        """This result as one entry of the JSON report's `files` list (schema 1)."""
        entry = FileResult(
            self.path or "", self.status, self.changes, pin_sources=self.pin_sources
        ).to_dict()
        entry["path"] = self.path
        return entry


def load_pins(paths: PathLike | Sequence[PathLike]) -> Pins:
    """Read pins from one pin file or several, the first file winning for a package.

    Each file is read by its name: `pylock.toml`/`pylock.*.toml`, `uv.lock`,
    `pyproject.toml` (declared ranges, which come after every other file), a conda
    `environment.yml` (needs `nbsetup[conda]`), else a requirements file in pip's format with
    its `-r`/`-c` includes. Raises `NbsetupError` (a `RequirementsError`) naming the file and
    line of a problem. The result is immutable data: pass it to any number of `fix_bytes`
    calls, in any process.
    """
    return load_pin_files([Path(path) for path in _path_list(paths)])


def fix_bytes(
    data: bytes,
    pins: PinsArgument = None,
    config: ProjectConfig | None = None,
    *,
    pins_label: str | None = None,
) -> FixResult:
    """Fix a notebook given as bytes: hoist and pin its installs into one environment cell.

    Args:
        data: The notebook file's bytes (nbformat 4 JSON, as Jupyter writes it).
        pins: The versions to pin to: a `Pins` from `load_pins`, the path of a pin file or a
            list of paths (read with `load_pins`), or None to pin nothing.
        config: The settings a `[tool.nbsetup]` table holds (`ProjectConfig`, e.g. from
            `load_config`); None: the defaults. Its `pin_sources` and `exclude` are not used:
            pins are given by `pins`.
        pins_label: How the report and errors name the pin source, as `nbsetup fix` names
            the requirements file relative to the notebook (`"../requirements.txt"`).
            Default: the pin paths as given, or the files a `Pins` was read from.

    Returns:
        A `FixResult`: `.data` is the new notebook (the input itself when unchanged),
        `.changed` says whether it differs, `.changes` reports every change, `.to_dict()`
        gives the JSON report form.

    Raises:
        NbsetupError: the bytes are not a notebook nbsetup can rewrite (the message says why),
            a pin file cannot be read, or `config.pin_missing` is on and a package is unpinned.

    Nothing is written and no global state is kept, so the function can be mapped over a
    collection by a process pool or a distributed engine. Pin files named by path are read;
    nothing else touches the file system.

    Example:
        >>> result = fix_bytes(Path("demo.ipynb").read_bytes(), pins="requirements.txt")
        >>> if result.changed:
        ...     Path("demo.ipynb").write_bytes(result.data)
    """
    choice = _choice(pins, pins_label)
    return _result(pipeline.fix_data(data, config or ProjectConfig(), choice), None)


def fix_path(
    path: PathLike,
    pins: PinsArgument = None,
    config: ProjectConfig | None = None,
    *,
    write: bool = True,
) -> FixResult:
    """Fix a notebook file in place, as `nbsetup fix PATH` does.

    Args:
        path: The notebook to fix.
        pins: As for `fix_bytes`; None: the pins `nbsetup fix` would use (the
            `[tool.nbsetup]` pin-sources, else the nearest pin files).
        config: As for `fix_bytes`; None: the nearest `[tool.nbsetup]` table, as the command
            line finds it.
        write: Write the fixed notebook back (atomically, only when it changed); False
            computes the result only, as `nbsetup fix --check` does.

    Returns:
        A `FixResult` whose `path` is `path` as given and whose `to_dict()` equals the file's
        entry in `nbsetup fix --format json`.

    Raises:
        NbsetupError: the file cannot be read as a notebook, its pins or settings are
            invalid, pin-missing fails, or the rewrite failed a safety check. The file is then
            left untouched.
    """
    fixed = pipeline.fix_file(
        Path(path), project=_for_file(config, path), pins=_request(pins), write=write
    )
    return _result(fixed, str(path))


def check_path(
    path: PathLike,
    pins: PinsArgument = None,
    config: ProjectConfig | None = None,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
) -> list[Diagnostic]:
    """Lint a notebook as `nbsetup check PATH` does; its diagnostics, in notebook order.

    `pins` and `config` are as for `fix_path`; `select`/`ignore` take codes (`"NBS001"`, ...)
    as `--select`/`--ignore` do. A notebook whose kernel is not checked gives no diagnostics.
    Raises `NbsetupError` for a file that cannot be read as a notebook, and ValueError for an
    unknown code. Nothing is written.
    """
    rules = Config(
        select=frozenset(code.upper() for code in select) if select is not None else None,
        ignore=frozenset(code.upper() for code in ignore),
    )
    checked = pipeline.check_file(
        Path(path), rules=rules, project=_for_file(config, path), pins=_request(pins)
    )
    return list(checked.diagnostics)


def load_config(path: PathLike) -> ProjectConfig:
    """The settings of a pyproject.toml's `[tool.nbsetup]` table (defaults for missing keys).

    Raises `NbsetupError` (a `ConfigError`) naming the file and key of an invalid setting.
    """
    return nbsetup.config.load_config(Path(path))


# --- from the API's arguments to the pipeline's ----------------------------------------------


def _for_file(config: ProjectConfig | None, path: PathLike) -> ProjectConfig | None:
    """The settings given for a notebook file, with their `per-file-settings` for it."""
    return None if config is None else nbsetup.config.for_file(config, Path(path))


def _result(fixed: pipeline.Fixed, path: str | None) -> FixResult:
    return FixResult(fixed.status, fixed.data, fixed.changes, path, fixed.origin)


def _choice(pins: PinsArgument, label: str | None) -> pipeline.PinChoice:
    """Pins given to `fix_bytes`, named by `label` or else by their files."""
    if pins is None:
        return pipeline.PinChoice(label=label, origin=label)
    if isinstance(pins, Pins):
        shown = label if label is not None else (", ".join(pins.files) or None)
        return pipeline.PinChoice(pins, shown, shown)
    paths = _path_list(pins)
    shown = label if label is not None else ", ".join(map(str, paths))
    return pipeline.PinChoice(load_pins(paths), shown, shown)


def _request(pins: PinsArgument) -> pipeline.PinRequest:
    """Pins given to `fix_path`/`check_path`: None discovers them, as the command line does."""
    if pins is None:
        return None
    if isinstance(pins, Pins):
        return _choice(pins, None)
    return tuple(Path(p) for p in _path_list(pins))


def _path_list(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)
