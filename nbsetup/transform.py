"""Pure hoisting: notebook data (+ pins, config) in, new notebook data and changes out.

Before (cells)::

    import pandas as pd              | !pip install -q seaborn && echo ok
                                     | import seaborn

After::

    # nbsetup: environment cell ...  | import pandas as pd | !echo ok
    %pip install -q seaborn          |                     | import seaborn
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from nbsetup import envcell, guard, install_lines, installs, runtime, verdicts
from nbsetup.changes import WARNING_KINDS, Change
from nbsetup.installs.records import InstallCommand, InstallSite
from nbsetup.notebook_io import cell_text
from nbsetup.pins import Pins

NO_PINS = Pins()


@dataclass(frozen=True)
class Config:
    """What the transform needs to know beyond the notebook and its pins."""

    #: How the environment cell names the pin source (e.g. "requirements.txt"); None: no pins.
    pins_label: str | None = None
    #: How pip lines are written (`%pip install -q` by default).
    style: install_lines.LineStyle = field(default_factory=install_lines.LineStyle)
    #: `[tool.nbsetup] pin-missing`: "unpinned" changes are kept even when nothing changes, so
    #: the shell can fail a notebook whose environment cell holds a package without a pin.
    pin_missing: bool = False
    #: `--guard`: the environment cell checks, when it runs, that its pins took effect.
    guard: bool = False
    #: Distributions the runtime imports before the first cell, with who loads them.
    preloaded: Mapping[str, str] = field(default_factory=runtime.preloaded)


@dataclass(frozen=True)
class Result:
    """The transformed notebook, what changed, and where each new cell came from."""

    notebook: dict[str, Any]
    changes: tuple[Change, ...] = ()
    #: For each cell of `notebook`, the index of the input cell it derives from (None: new).
    origins: tuple[int | None, ...] = ()


def hoist(notebook: dict[str, Any], pins: Pins = NO_PINS, config: Config = Config()) -> Result:
    """Return the notebook with its movable installs hoisted into one environment cell.

    The input is not modified; unchanged cells are the input's own objects. Whether the
    notebook is one to rewrite at all (its kernel) is the caller's decision (`kernels`).
    """
    cells = notebook["cells"]
    unchanged = Result(notebook, origins=tuple(range(len(cells))))
    env_index = envcell.find(cells)
    sources = [
        cell_text(cell) if cell["cell_type"] == "code" and index != env_index else None
        for index, cell in enumerate(cells)
    ]
    sites = installs.find_installs(sources)
    env = _EnvCell.read(cells[env_index]) if env_index is not None else _EnvCell.empty()
    moving = verdicts.moving_sites(sites, env.commands)
    hoisted = [command for site in moving for command in site.commands if command.movable]
    changes = [change for site in sites for change in _left_changes(site)]
    if env_index is None and not hoisted:
        return Result(notebook, tuple(changes), unchanged.origins)

    resolution = install_lines.resolve([*env.commands, *hoisted], pins)
    changes += [_hoisted_change(site) for site in moving]
    conflicts = {note.package for note in resolution.notes if note.kind == "conflict"}
    changes += [
        _pin_change(note)
        for note in resolution.notes
        if not (note.kind == "pinned" and note.package in conflicts)  # the conflict says it
    ]
    preloaded = runtime.preloaded_pins(
        resolution.lines, runtime.for_notebook(config.preloaded, notebook, sources)
    )
    changes += [_preloaded_change(pin) for pin in preloaded]
    changes += _restart_changes(sources, {site.cell for site in moving})

    new_cells: list[dict[str, Any]] = []
    origins: list[int | None] = []
    by_cell: dict[int, list[InstallSite]] = {}
    for site in moving:
        by_cell.setdefault(site.cell, []).append(site)
    for index, cell in enumerate(cells):
        if index == env_index:
            continue
        if index not in by_cell:
            new_cells.append(cell)
            origins.append(index)
            continue
        text = _apply(cell_text(cell), by_cell[index])
        if all(verdicts.is_inert(line) for line in text.splitlines()):
            changes.append(
                Change("cell-removed", "cell removed: only installs were left", index + 1)
            )
            continue
        new_cells.append({**cell, "source": envcell.as_source(text, cell["source"])})
        origins.append(index)

    env_text = _env_text(resolution, env.extra, config)
    if (
        env_index is not None
        and not hoisted
        and env.means(resolution, config.style)
        and env.blocks == envcell.read_blocks(env_text)
    ):
        env_cell, env_origin = cells[env_index], env_index
    elif env_index is not None:
        old = cells[env_index]
        env_cell = {**old, "source": envcell.as_source(env_text, old["source"])}
        env_origin = env_index
        changes.append(Change("env-cell", "environment cell updated", env_index + 1))
    else:
        env_cell = envcell.new_cell(
            envcell.as_source(env_text, _source_shape(cells)),
            _template(cells),
            with_id=notebook.get("nbformat_minor", 0) >= 5,
            taken=frozenset(cell["id"] for cell in new_cells if isinstance(cell.get("id"), str)),
        )
        env_origin = None
    position = next(
        (i for i, cell in enumerate(new_cells) if cell["cell_type"] == "code"), len(new_cells)
    )
    if env_origin is None:
        changes.append(Change("env-cell", f"environment cell created as cell {position + 1}"))
    new_cells.insert(position, env_cell)
    origins.insert(position, env_origin)
    if len(new_cells) == len(cells) and all(a is b for a, b in zip(new_cells, cells, strict=True)):
        # Nothing to do: the notebook is returned as is, with only what still deserves a look.
        look = WARNING_KINDS | {"unpinned"} if config.pin_missing else WARNING_KINDS
        kept = tuple(change for change in changes if change.kind in look)
        return Result(notebook, kept, unchanged.origins)
    result = {**notebook, "cells": new_cells}
    return Result(result, tuple(changes), tuple(origins))


@dataclass(frozen=True)
class _EnvCell:
    """What an existing environment cell holds: install commands, and the user's other lines."""

    commands: tuple[InstallCommand, ...]
    extra: tuple[str, ...]
    #: How its pip lines start (`%pip install`, `!pip install`, ...).
    pip_forms: frozenset[str] = frozenset()
    #: The blocks nbsetup generated in it (`envcell.read_blocks`).
    blocks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> _EnvCell:
        return cls((), ())

    @classmethod
    def read(cls, cell: dict[str, Any]) -> _EnvCell:
        raw = cell_text(cell)
        # Generated blocks are nbsetup's: read past them, and regenerate them from the pins.
        text = envcell.user_view(raw)
        sites = [site for site in installs.find_installs([text]) if site.movable]
        commands = tuple(c for site in sites for c in site.commands if c.movable)
        kept = _apply(text, sites).splitlines()
        extra = tuple(line for line in kept if line.strip() and not envcell.is_header(line))
        pip_forms = frozenset(
            site.form for site in sites if any(c.manager == "pip" for c in site.commands)
        )
        return cls(commands, extra, pip_forms, envcell.read_blocks(raw))

    def means(self, resolution: install_lines.Resolution, style: install_lines.LineStyle) -> bool:
        """Whether the cell already installs what `resolution` asks for (meaning, not text).

        Layout and cosmetic options do not count; whether pip runs as the `%pip` magic or in
        the shell does, since it decides which environment receives the packages.
        """
        written = install_lines.resolve(self.commands, NO_PINS)
        return (
            written.apt_update == resolution.apt_update
            and _meaning(written.lines) == _meaning(resolution.lines)
            and all(form.startswith(style.pip_command) for form in self.pip_forms)
        )


def _meaning(lines: Sequence[install_lines.InstallLine]) -> set[tuple[object, ...]]:
    """Install lines compared by what they install, not how they are spelt or ordered."""
    return {
        (
            line.manager,
            tuple(sorted(line.options)),
            frozenset(_normal_requirement(text) for text in line.requirements),
            frozenset(line.requirement_files),
            frozenset(line.constraint_files),
        )
        for line in lines
    }


def _normal_requirement(text: str) -> str:
    try:
        return str(Requirement(text))
    except InvalidRequirement:
        return text


def _apply(text: str, sites: Sequence[InstallSite]) -> str:
    """Replace each site's lines by its replacement (sites of one cell, in any order)."""
    lines = text.splitlines(keepends=True)
    for site in sorted(sites, key=lambda site: site.start, reverse=True):
        assert site.replacement is not None
        replacement = list(site.replacement)
        # The cell's last line may lack a newline; the line before it then ends the cell.
        if site.end >= len(lines) and replacement and not lines[-1].endswith(("\n", "\r")):
            replacement[-1] = replacement[-1].rstrip("\r\n")
        lines[site.start : site.end] = replacement
    if lines and not text.endswith(("\n", "\r")):
        lines[-1] = lines[-1].rstrip("\r\n")
    return "".join(lines)


def _env_text(resolution: install_lines.Resolution, extra: Sequence[str], config: Config) -> str:
    """The environment cell: header, [guard], install lines or the `auto` block, [guard], rest."""
    checked = guard.guarded(resolution.lines) if config.guard else ()
    lines = [
        *envcell.header(config.pins_label),
        *(guard.before_block(checked) if checked else ()),
        *_install_lines(resolution, config.style),
        *(guard.after_block() if checked else ()),
        *extra,
    ]
    return "\n".join(lines)


def _install_lines(
    resolution: install_lines.Resolution, style: install_lines.LineStyle
) -> list[str]:
    """The install lines; with `installer="auto"` the pip ones in the installer block.

    pip lines come last (`install_lines.MANAGER_ORDER`), so apt and conda lines stay before the
    block, as plain lines.
    """
    if style.installer != "auto" or not any(line.manager == "pip" for line in resolution.lines):
        return list(install_lines.render_lines(resolution, style))  # `auto` writes pip's lines
    pip = install_lines.render_lines(resolution, replace(style, installer="pip"))
    uv = install_lines.render_lines(resolution, replace(style, installer="uv"))
    plain = len(pip) - sum(line.manager == "pip" for line in resolution.lines)
    return [*pip[:plain], *envcell.installer_block(pip[plain:], uv[plain:])]


def _source_shape(cells: Sequence[dict[str, Any]]) -> str | list[str]:
    """`""` or `[]`: how most code cells store their source (lists on a tie)."""
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    strings = sum(isinstance(cell["source"], str) for cell in code)
    return "" if strings * 2 > len(code) else []


def _template(cells: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return next((cell for cell in cells if cell["cell_type"] == "code"), None)


def _command_text(command: InstallCommand) -> str:
    """What a command installs, for the report: `numpy pandas`, `-r requirements.txt`."""
    words = verdicts.install_words(command, editable=False)
    return " ".join(words) or f"{command.manager} {command.action}"


def _left_changes(site: InstallSite) -> list[Change]:
    """One change per reason a site's commands stay where they are."""
    return [
        Change(
            "left",
            f"install not moved: {reason}",
            site.cell + 1,
            site.start + 1,
            ", ".join(dict.fromkeys(_command_text(command) for command in commands)),
        )
        for reason, commands in verdicts.left_in_place(site).items()
    ]


def _hoisted_change(site: InstallSite) -> Change:
    moved = [command for command in site.commands if command.movable]
    what = ", ".join(_command_text(command) for command in moved)
    if all(verdicts.is_apt_update(command) for command in moved):
        message = "moved apt-get update to the environment cell (it precedes the apt installs)"
    else:
        message = f"moved {site.form} install of {what} to the environment cell"
    return Change(
        "hoisted",
        message,
        site.cell + 1,
        site.start + 1,
        what,
    )


def _preloaded_change(pin: runtime.PreloadedPin) -> Change:
    message = (
        f"{pin.package}: {runtime.REASONS[pin.loader]}; the environment cell installs "
        f"{pin.requirement!r}, which takes effect only after a restart of the runtime"
    )
    return Change("preloaded", message, package=pin.package)


def _restart_changes(sources: Sequence[str | None], moved_from: set[int]) -> list[Change]:
    """Restarts left in place where the installs before them, or beside them, moved away.

    A restart cell right after an install cell that was hoisted now restarts the runtime in
    the middle of the notebook; a restart line in a cell whose installs moved stays in it.
    Neither is moved or deleted: whether it is still wanted is for the user to say.
    """
    changes = []
    code = [index for index, source in enumerate(sources) if source is not None]
    previous = {cell: code[i - 1] for i, cell in enumerate(code) if i > 0}
    # Only the cells whose installs moved, and the code cell after each, can be reported.
    candidates = moved_from | {cell for cell, before in previous.items() if before in moved_from}
    scanned = [source if index in candidates else None for index, source in enumerate(sources)]
    for restart in runtime.find_restarts(scanned):
        if restart.alone and previous.get(restart.cell) in moved_from:
            message = (
                f"restart cell kept ({restart.idiom}): the installs of the cell before it moved "
                "to the environment cell; move it to follow the environment cell, or delete it"
            )
        elif not restart.alone and restart.cell in moved_from:
            message = (
                f"restart kept in place ({restart.idiom}): the installs of its cell moved to the "
                "environment cell"
            )
        else:
            continue
        changes.append(Change("restart", message, restart.cell + 1, restart.start + 1))
    return changes


def _pin_change(note: install_lines.PinNote) -> Change:
    notebook = " and ".join(repr(text) for text in dict.fromkeys(note.notebook))
    result = ", ".join(repr(text) for text in note.result)
    where = _where(note.origin, note.line)
    messages = {
        "pinned": f"{note.package}: pinned to {result} by {where}",
        "unpinned": f"{note.package}: not in the requirements; kept as {result}",
        "conflict": (
            f"{note.package}: notebook asks for {notebook}, {where} pins {result}; the pin wins"
            if note.origin
            else f"{note.package}: notebook asks for {notebook}; the last one wins: {result}"
        ),
        "duplicate": f"{note.package}: installed {len(note.notebook)} times; merged into {result}",
        "moved": f"{note.package}: installed with different options; kept with its last install",
        "kept": f"{note.package}: kept as written",
        "mismatch": (
            f"{note.package}: {where} pins {note.pin!r} for pip, "
            f"{_where(note.conda_origin, note.conda_line)} pins {note.conda_pin!r} for conda"
        ),
    }
    return Change(note.kind, messages[note.kind], package=note.package)


def _where(origin: str | None, line: int | None) -> str:
    """`requirements.txt, line 3`; only the file when the line is unknown."""
    if origin is None:
        return "the requirements"
    return origin if line is None else f"{origin}, line {line}"
