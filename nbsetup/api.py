"""The Python API: fix or check one notebook, as bytes or as a file, from any program.

The command line is a shell around these functions: `nbsetup fix` and `fix_path` give the same
bytes and the same report for the same notebook, pins and settings. Everything here is safe to
call from threads, process pools and distributed engines: arguments and results pickle, and
nothing is written unless `fix_path` is asked to write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nbsetup import check as lint
from nbsetup import config as settings
from nbsetup import distributions, notebook_io, runtime, transform
from nbsetup.config import ProjectConfig
from nbsetup.discovery import local_modules, project_config
from nbsetup.errors import NbsetupError
from nbsetup.pins import Pins, merge_pins
from nbsetup.report import CHANGED, SKIPPED, UNCHANGED, Change, FileResult
from nbsetup.sources import load_pin_files

#: A pin file given by path.
PathLike = str | os.PathLike[str]
#: Pins as data (`load_pins`), or the pin files to read them from.
PinsArgument = Pins | PathLike | Sequence[PathLike] | None


class UnpinnedPackages(NbsetupError):
    """`pin-missing` is on and the environment cell would hold packages the pins leave open."""

    def __init__(self, packages: Sequence[str], label: str | None) -> None:
        where = f"by {label}" if label else "(no requirements file found)"
        super().__init__(f"not pinned {where}: {', '.join(packages)} (pin-missing is on)")
        #: The packages without a pin, as the environment cell names them.
        self.packages = tuple(packages)


@dataclass(frozen=True)
class FixResult:
    """What fixing one notebook gave: its new bytes, its status and the changes made.

    `data` is the notebook to keep: the input bytes themselves when nothing changed, so
    `result.data == original` exactly when `result.changed` is false.
    """

    #: `"changed"`, `"unchanged"`, or `"skipped"` (a notebook whose kernel is not rewritten).
    status: str
    #: The fixed notebook, byte for byte as `nbsetup fix` writes it.
    data: bytes
    #: What was done or declined, in report order; the reason for a skip.
    changes: tuple[Change, ...] = ()
    #: The notebook's path for `fix_path`; None for `fix_bytes`.
    path: str | None = None
    #: The pin sources, as the report names them; None: no pins.
    requirements: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the notebook needs rewriting (`data` differs from the input)."""
        return self.status == CHANGED

    def to_dict(self) -> dict[str, Any]:
        """This result as one entry of the JSON report's `files` list (schema 1)."""
        entry = FileResult(
            self.path or "", self.status, self.changes, requirements=self.requirements
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
            `load_config`); None: the defaults. Its `requirements` and `exclude` are not used:
            pins are given by `pins`.
        pins_label: How the environment cell's header names the pin source, as `nbsetup fix`
            names the requirements file relative to the notebook (`"../requirements.txt"`).
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
    loaded, label = _pins_and_label(pins, pins_label)
    return _fix(data, loaded, config or ProjectConfig(), label, label)


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
            `[tool.nbsetup]` requirements, else the nearest requirements.txt).
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
    notebook = Path(path)
    data = notebook_io.read_bytes(notebook)
    project = config if config is not None else project_config(notebook.absolute().parent)
    if isinstance(pins, Pins):
        loaded, label = _pins_and_label(pins, None)
        origin = label
    else:
        from nbsetup import batch  # the command line's own pin discovery

        if pins is None:
            sources = batch._pin_sources(notebook, project)
        else:
            sources = tuple(batch._shown(Path(p)) for p in _path_list(pins))
        loaded = merge_pins(*(batch._pins(source) for source in sources))
        here = notebook.absolute().parent
        label = ", ".join(os.path.relpath(s.absolute(), here) for s in sources) or None
        origin = ", ".join(str(source) for source in sources) or None
    result = replace(_fix(data, loaded, project, label, origin), path=str(path))
    if write and result.changed:
        notebook_io.write_atomic(notebook, result.data, expected=data)
    return result


def check_path(
    path: PathLike,
    pins: PinsArgument = None,
    config: ProjectConfig | None = None,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
) -> list[lint.Diagnostic]:
    """Lint a notebook as `nbsetup check PATH` does; its diagnostics, in notebook order.

    `pins` and `config` are as for `fix_path`; `select`/`ignore` take codes (`"NBS001"`, ...)
    as `--select`/`--ignore` do. A notebook whose kernel is not checked gives no diagnostics.
    Raises `NbsetupError` for a file that cannot be read as a notebook, and ValueError for an
    unknown code. Nothing is written.
    """
    notebook = Path(path)
    document = notebook_io.loads(notebook_io.read_bytes(notebook))
    here = notebook.absolute().parent
    project = config if config is not None else project_config(here)
    if transform.skip_reason(document.notebook, project.kernels) is not None:
        return []
    if pins is None:
        from nbsetup import batch

        loaded = merge_pins(*(batch._pins(s) for s in batch._pin_sources(notebook, project)))
    else:
        loaded, _ = _pins_and_label(pins, None)
    rules = lint.Config(
        select=frozenset(code.upper() for code in select) if select is not None else None,
        ignore=frozenset(code.upper() for code in ignore),
        kernels=project.kernels,
        local_modules=local_modules(here),
        preloaded=runtime.preloaded(project.preloaded, project.extend_preloaded),
    )
    packages = distributions.installed_packages()
    return list(lint.diagnose(document.notebook, loaded, rules, packages))


def load_config(path: PathLike) -> ProjectConfig:
    """The settings of a pyproject.toml's `[tool.nbsetup]` table (defaults for missing keys).

    Raises `NbsetupError` (a `ConfigError`) naming the file and key of an invalid setting.
    """
    return settings.load_config(Path(path))


# --- the core shared with the command line --------------------------------------------------


def _fix(
    data: bytes, pins: Pins, project: ProjectConfig, label: str | None, origin: str | None
) -> FixResult:
    """Rewrite one notebook's bytes; pure but for reading nothing and writing nothing."""
    document = notebook_io.loads(data)
    skipped = transform.skip_reason(document.notebook, project.kernels)
    if skipped is not None:
        return FixResult(SKIPPED, data, (Change("skipped", skipped),))
    options = transform.Config.for_project(project, label)
    result = transform.hoist(document.notebook, pins, options)
    unpinned = [c.package for c in result.changes if c.kind == "unpinned" and c.package]
    if project.pin_missing and unpinned:
        raise UnpinnedPackages(unpinned, label)
    new_data = notebook_io.dumps(document, result.notebook, result.origins)
    if new_data == data:
        return FixResult(UNCHANGED, data, result.changes, requirements=origin)
    # The safety net, on the data parsed back from the bytes about to be returned. Imported
    # here: it loads nbformat's validator, which a notebook with nothing to change never needs.
    from nbsetup import safety

    safety.verify(document.notebook, json.loads(new_data), result.origins)
    return FixResult(CHANGED, new_data, result.changes, requirements=origin)


def _pins_and_label(pins: PinsArgument, label: str | None) -> tuple[Pins, str | None]:
    if pins is None:
        return Pins(), label
    if isinstance(pins, Pins):
        return pins, label if label is not None else (", ".join(pins.files) or None)
    paths = _path_list(pins)
    return load_pins(paths), label if label is not None else ", ".join(map(str, paths))


def _path_list(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    if isinstance(paths, (str, os.PathLike)):
        return [paths]
    return list(paths)
