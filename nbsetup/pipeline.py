"""One notebook through nbsetup, for the command line and the API alike.

`fix_file` is the whole per-file pipeline of `nbsetup fix`: read the bytes, decode them, find
the project's settings, decide whether the notebook is skipped, choose and read its pins, run
the pure core (`transform.hoist`), apply the pin-missing policy, encode, verify the rewrite
(`safety`) and write it. `fix_data` is the same for bytes in memory, `check_file` the same up to
the lint rules for `nbsetup check`. Each decision is made here once, in this order, so that
`nbsetup fix PATH` and `nbsetup.fix_path(PATH)` report the same outcome and the same error for
the same inputs. Errors are raised (`NbsetupError`); the batch shell turns them into a failed
file, the API passes them on.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nbsetup import (
    choices,
    config,
    kernels,
    notebook_io,
    optouts,
    runtime,
    transform,
)
from nbsetup.changes import Change
from nbsetup.config import Overrides, ProjectConfig
from nbsetup.diagnostics import ALL_RULES, Config
from nbsetup.discovery import local_modules, project_config
from nbsetup.errors import UnpinnedPackages
from nbsetup.pins import Pins, merge_pins
from nbsetup.report import CHANGED, SKIPPED, UNCHANGED, FileCheck, render_diff
from nbsetup.report.cells import CellChange, changed_cells
from nbsetup.sources import find_pin_sources, load_pins, ordered
from nbsetup.textnb import files as textnb_files


@dataclass(frozen=True)
class PinChoice:
    """The pins of one notebook and how reports name where they came from."""

    pins: Pins = field(default_factory=Pins)
    #: How messages about the notebook name the sources: relative to its directory
    #: (`../requirements.txt`); None: no pins.
    label: str | None = None
    #: How reports name them: relative to the working directory when below it.
    origin: str | None = None


@dataclass(frozen=True)
class Fixed:
    """What fixing one notebook gave: status, the bytes to keep, the changes made."""

    #: `CHANGED`, `UNCHANGED` or `SKIPPED`.
    status: str
    #: The notebook to keep: the input bytes themselves unless `status` is `CHANGED`.
    data: bytes
    changes: tuple[Change, ...] = ()
    #: `PinChoice.origin` of the pins used.
    origin: str | None = None
    #: The unified diff of cell sources, when asked for.
    diff: str = ""
    #: The changed cells before and after, when asked for (`--report-html`).
    cells: tuple[CellChange, ...] = ()
    #: The other members of the notebook's jupytext pair that change with it, and their bytes.
    paired: tuple[tuple[Path, bytes], ...] = ()
    #: The `[tool.nbsetup]` file the settings came from (`ProjectConfig.source`), if any.
    config: str | None = None


#: How a caller gives the pins: None (the project's or the nearest pin files), pin files by
#: path, or pins already read.
PinRequest = PinChoice | Sequence[Path] | None

#: No setting given on the command line.
NO_OVERRIDES = Overrides()


def project_for(path: Path, overrides: Overrides = NO_OVERRIDES) -> ProjectConfig:
    """The settings in force for the notebook at `path`: the command line over its project's,
    with the project's `per-file-settings` for it (`config.for_file`)."""
    return config.merge(overrides, config.for_file(project_config(path.absolute().parent), path))


def skip_reason(notebook: dict[str, Any], project: ProjectConfig) -> str | None:
    """Why nbsetup leaves this notebook alone, or None: it opts out (`opt_out_reason`), or its
    kernel is not one to rewrite (`kernels`). `fix` reports it skipped, byte-identical;
    `check` checks nothing in it; `lock` reads nothing from it."""
    return opt_out_reason(notebook, project) or kernels.skip_reason(notebook, project.kernels)


def opt_out_reason(notebook: dict[str, Any], project: ProjectConfig) -> str | None:
    """Why the user has nbsetup leave this notebook alone, or None: its settings say so
    (`per-file-settings` `skip = true`), or its own metadata does (`optouts`)."""
    if project.skipped_by is not None:
        return optouts.file_reason(project.skipped_by)
    return optouts.notebook_reason(notebook)


def choose_pins(path: Path, project: ProjectConfig, request: PinRequest = None) -> PinChoice:
    """The pins for the notebook at `path`: as requested, else `[tool.nbsetup] pin-sources`,
    else the nearest pin files; each file is read once per process while it is unchanged."""
    if isinstance(request, PinChoice):
        return request
    shown = pin_sources(path, project, request)
    here = path.absolute().parent
    return PinChoice(
        merge_pins(*(cached_pins(source) for source in shown)),
        ", ".join(os.path.relpath(source.absolute(), here) for source in shown) or None,
        ", ".join(str(source) for source in shown) or None,
    )


def pin_sources(
    path: Path, project: ProjectConfig, request: Sequence[Path] | None = None
) -> tuple[Path, ...]:
    """The pin files `choose_pins` reads for the notebook at `path`, as reports show them."""
    if request is not None:
        sources = ordered(request)
    elif project.pin_sources:
        sources = ordered(project.pin_sources)
    else:
        sources = find_pin_sources(path.absolute(), cached_pins)
    return tuple(_shown(source) for source in sources)


def hoist_options(project: ProjectConfig) -> transform.Config:
    """The core's options for a project's settings (merged with the command line).

    The environment-cell choices not given (None) are left to the cell's own record.
    """
    asked = choices.Choices(
        guard=project.guard,
        installer=project.installer,
        env_cell_style=project.env_cell_style,
        quiet_install=project.quiet_install,
        header=project.header,
    )
    return transform.Config(
        choices=asked, pin_missing=project.pin_missing, preloaded=_preloaded(project)
    )


def _preloaded(project: ProjectConfig) -> Mapping[str, str]:
    """The distributions the project's runtime imports before the first cell, with why."""
    return runtime.preloaded(project.preloaded, project.extend_preloaded, project.runtime)


@dataclass(frozen=True)
class Extras:
    """What a caller asks for beyond the fixed notebook."""

    #: A unified diff of cell sources, headed with this path; None: no diff.
    diff_path: str | None = None
    #: The changed cells, before and after (`--report-html`, `--report-cells`).
    cells: bool = False


def fix_file(
    path: Path,
    overrides: Overrides = NO_OVERRIDES,
    *,
    project: ProjectConfig | None = None,
    pins: PinRequest = None,
    write: bool = True,
    diff: bool = False,
    cells: bool = False,
    text: bool = False,
    sync: bool = True,
) -> Fixed:
    """Fix the notebook at `path`, writing it back when it changed and `write` is set.

    `project`: the settings to use instead of the notebook's `[tool.nbsetup]` (and
    `overrides`). `text`: read a `.py`/`.md` without a jupytext header as a text notebook.
    `sync` false: the written files are not fsynced (see `files.replace`).
    The members of a jupytext pair are fixed and written with it, all or none. Raises
    `NbsetupError` for a file that cannot be fixed; it is then untouched.
    """
    data = notebook_io.read_bytes(path)
    codec = textnb_files.codec_for(path, data, text)
    fixed = _fix(
        data,
        codec,
        lambda: project if project is not None else project_for(path, overrides),
        lambda settings: choose_pins(path, settings, pins),
        Extras(str(path) if diff else None, cells),
        path,
    )
    if write and fixed.status == CHANGED:
        notebook_io.write_atomic(path, fixed.data, expected=data, sync=sync)
        for member, member_data in fixed.paired:
            notebook_io.write_atomic(member, member_data, sync=sync)
    return fixed


def fix_data(data: bytes, project: ProjectConfig, pins: PinChoice) -> Fixed:
    """Fix a notebook given as `.ipynb` bytes, with the settings and pins given; reads nothing."""
    return _fix(data, textnb_files.Codec(), lambda: project, lambda _: pins, Extras(), None)


def _fix(
    data: bytes,
    codec: textnb_files.Codec,
    settings: Callable[[], ProjectConfig],
    choose: Callable[[ProjectConfig], PinChoice],
    extras: Extras,
    path: Path | None,
) -> Fixed:
    # The order of the steps decides which error a broken input gets: the notebook's own
    # (decoding) first, then its project's settings, then its pins.
    document = codec.loads(data)
    project = settings()
    config = None if project.source is None else str(project.source)
    skipped = skip_reason(document.notebook, project)
    if skipped is not None:
        return Fixed(SKIPPED, data, (Change("skipped", skipped),), config=config)
    choice = choose(project)
    options = hoist_options(project)
    result = transform.hoist(document.notebook, choice.pins, options)
    unpinned = [c.package for c in result.changes if c.kind == "unpinned" and c.package]
    if project.pin_missing and unpinned:
        raise UnpinnedPackages(unpinned, choice.label, choice.origin)
    writes: list[tuple[Path | None, bytes]]
    if path is None:
        writes = [(None, codec.dumps(document, result.notebook, result.origins))]
    else:
        writes = [
            *textnb_files.pair_writes(
                path,
                data,
                codec,
                document,
                (result.notebook, result.origins),
                lambda twin: _rewrite(twin, choice.pins, options),
            )
        ]
    new_data = next((new for member, new in writes if member == path), data)
    paired = tuple(
        (member, new) for member, new in writes if member is not None and member != path
    )
    if new_data == data and not paired:
        return Fixed(UNCHANGED, data, result.changes, choice.origin, config=config)
    if codec.text is None:
        # The safety net, on the data parsed back from the bytes about to be written (a text
        # notebook's codec checks its own). Imported here: it loads nbformat's validator,
        # which a run with nothing to change never needs.
        from nbsetup import safety

        safety.verify(
            document.notebook,
            notebook_io.reread(document, new_data, result.notebook),
            result.origins,
        )
    changes = result.changes + tuple(
        Change("paired", f"paired {member} fixed the same way") for member, _ in paired
    )
    old, new = document.notebook, result.notebook
    shown = render_diff(extras.diff_path, old, new) if extras.diff_path else ""
    changed = changed_cells(old, new, result.origins) if extras.cells else ()
    return Fixed(CHANGED, new_data, changes, choice.origin, shown, changed, paired, config)


def _rewrite(
    notebook: dict[str, Any], pins: Pins, options: transform.Config
) -> tuple[dict[str, Any], tuple[int | None, ...]]:
    """The core's rewrite of another member of a jupytext pair."""
    result = transform.hoist(notebook, pins, options)
    return result.notebook, result.origins


def check_file(
    path: Path,
    overrides: Overrides = NO_OVERRIDES,
    rules: Config = ALL_RULES,
    *,
    project: ProjectConfig | None = None,
    pins: PinRequest = None,
    text: bool = False,
) -> FileCheck:
    """Lint the notebook at `path` (`nbsetup check`); raises `NbsetupError` as `fix_file` does."""
    data = notebook_io.read_bytes(path)
    return check_data(data, path, overrides, rules, project=project, pins=pins, text=text)


def check_data(
    data: bytes,
    path: Path,
    overrides: Overrides = NO_OVERRIDES,
    rules: Config = ALL_RULES,
    *,
    project: ProjectConfig | None = None,
    pins: PinRequest = None,
    text: bool = False,
) -> FileCheck:
    """Lint a notebook's bytes as if they were the file at `path` (`check - --stdin-filename`).

    `path` decides the codec, the settings, the pins and the modules beside it; it need not
    exist. Raises `NbsetupError` as `check_file` does.
    """
    # The rules and what only they read (imports, distributions, runtime profiles) load when
    # a check runs: `nbsetup fix` never needs them, and they were a tenth of its start-up.
    from nbsetup import distributions, lint, profiles

    document = textnb_files.codec_for(path, data, text).loads(data)
    settings = project if project is not None else project_for(path, overrides)
    chosen = opt_out_reason(document.notebook, settings)
    skipped = chosen or kernels.skip_reason(document.notebook, settings.kernels)
    if skipped is not None:
        return FileCheck(str(path), skipped=skipped, opted_out=chosen is not None)
    choice = choose_pins(path, settings, pins)
    here = path.absolute().parent
    profile = profiles.load(notebook_runtime(document.notebook, settings.runtime))
    in_force = replace(
        rules,
        local_modules=rules.local_modules | local_modules(here),
        preloaded=_preloaded(settings),
        profile=profile,
    )
    # A hosted runtime's own list maps imports to distributions; for a local Jupyter kernel,
    # the environment nbsetup runs in is the best evidence there is.
    packages = profile.modules or distributions.installed_packages()
    diagnostics = lint.diagnose(document.notebook, choice.pins, in_force, packages)
    return FileCheck(str(path), diagnostics, pin_sources=choice.origin)


def notebook_runtime(notebook: dict[str, Any], setting: str) -> str:
    """The profile a notebook is checked against: the setting, or with `auto` its metadata's."""
    if setting != runtime.AUTO:
        return setting
    cells = notebook.get("cells", [])
    sources = [
        notebook_io.cell_text(cell) if cell.get("cell_type") == "code" else None for cell in cells
    ]
    return runtime.detect(notebook, sources)


def _shown(path: Path) -> Path:
    """`path` as reports show it: relative to the working directory when below it."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute


def cached_pins(path: Path) -> Pins:
    """Parse a pin file once per process (per worker), however many notebooks use it."""
    try:
        status = path.stat()
    except OSError:
        return load_pins(path)  # reports the reason
    # The stamp keeps a long-lived process (tests, an editor integration) from using a stale
    # parse after the file changed; the absolute path, from using another directory's file of
    # the same name after the working directory changed.
    return _cached_pins(path, path.absolute(), status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=64)
def _cached_pins(path: Path, absolute: Path, mtime_ns: int, size: int) -> Pins:
    del absolute, mtime_ns, size  # parts of the cache key only
    return load_pins(path)
