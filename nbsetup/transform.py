"""Pure hoisting: notebook data (+ pins, config) in, new notebook data and changes out.

Before (cells)::

    import pandas as pd                      | !pip install -q seaborn && echo ok
                                             | import seaborn

After::

    # Install the packages ... (by nbsetup)  | import pandas as pd | !echo ok
    %pip install -q seaborn                  |                     | import seaborn
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from nbsetup import (
    choices,
    command_lines,
    comments,
    envcell,
    guard,
    install_lines,
    installs,
    optouts,
    packages,
    runtime,
    verdicts,
)
from nbsetup.changes import WARNING_KINDS, Change
from nbsetup.choices import Choices
from nbsetup.installs.records import InstallCommand, InstallSite
from nbsetup.magics import scan_cell
from nbsetup.notebook_io import cell_text
from nbsetup.pins import Pins

NO_PINS = Pins()


#: Installers whose requirements are pinned from the pip pins.
PIP = frozenset({"pip", "uv"})


@dataclass(frozen=True)
class Config:
    """What the transform needs to know beyond the notebook and its pins."""

    #: The environment cell's choices (guard, installer, line style, header) asked for; those
    #: not asked are the cell's own, as it records them (`choices.resolve`).
    choices: Choices = field(default_factory=Choices)
    #: `[tool.nbsetup] pin-missing`: "unpinned" changes are kept even when nothing changes, so
    #: the shell can fail a notebook whose environment cell holds a package without a pin.
    pin_missing: bool = False
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
    sites = installs.find_installs(sources, optouts.cell_reasons(cells))
    env = _EnvDocument.read(cells[env_index]) if env_index is not None else _EnvDocument()
    old_env = cells[env_index] if env_index is not None else None
    chosen = choices.resolve(config.choices, old_env, cell_text(old_env) if old_env else "")
    moving = verdicts.moving_sites(sites, env.commands)
    changes = [change for site in sites for change in _left_changes(site)]
    changes += _unguaranteed_pins(sites, pins)
    if env_index is None and not moving:
        return Result(notebook, tuple(changes), unchanged.origins)
    changes += [_hoisted_change(site) for site in moving]
    changes += [
        Change("repaired", command.repaired or "", site.cell + 1, site.start + 1)
        for site in moving
        for command in verdicts.repairs(site)
        if command.movable
    ]

    by_cell: dict[int, list[InstallSite]] = {}
    for site in moving:
        by_cell.setdefault(site.cell, []).append(site)
    first_moved = moving[0].cell if moving else None
    entries: list[_Entry] = []
    new_cells: list[dict[str, Any]] = []
    origins: list[int | None] = []
    reusable: dict[str, Any] | None = None
    for index, cell in enumerate(cells):
        if index == env_index:
            continue
        if index not in by_cell:
            new_cells.append(cell)
            origins.append(index)
            continue
        kept, moved, whole = _split_cell(cell_text(cell), by_cell[index])
        entries += moved
        if whole:
            changes.append(
                Change(
                    "cell-removed",
                    "cell removed: all of it moved to the environment cell",
                    index + 1,
                )
            )
            if index == first_moved:
                reusable = cell
            continue
        new_cells.append({**cell, "source": envcell.as_source(kept, cell["source"])})
        origins.append(index)

    document = [*env.entries, *entries]
    style = chosen.style
    rendered = [_render(entry, pins, style) for entry in document]
    lines = [r.line for r in rendered if isinstance(r, command_lines.CommandLine) and r.line]
    notes = [n for r in rendered if not isinstance(r, str) for n in r.notes]
    changes += _pin_changes(notes, pinned=bool(pins.files or pins.entries))
    places = {id(command): site for site in moving for command in site.commands}
    changes += [
        _normalised_change(r, places[id(r.command)])
        for r in rendered
        if isinstance(r, command_lines.CommandLine) and r.normalised and id(r.command) in places
    ]
    preloaded = runtime.preloaded_pins(
        lines, runtime.for_notebook(config.preloaded, notebook, sources)
    )
    changes += [_preloaded_change(pin) for pin in preloaded]
    changes += _restart_changes(sources, {site.cell for site in moving})

    env_text = _env_text(rendered, lines, pins, chosen)
    runs_code = [_runs_code(cell) for cell in new_cells]
    first_code = next((i for i, runs in enumerate(runs_code) if runs), len(new_cells))
    if env_index is not None:
        old = cells[env_index]
        position = sum(origin is not None and origin < env_index for origin in origins)
        marker = choices.record(chosen, old["metadata"][envcell.MARKER])
        if (
            not moving
            and tuple(r if isinstance(r, str) else r.text for r in rendered) == env.lines
            and env.blocks == envcell.read_blocks(env_text)
            and env.header in ((), chosen.header_lines)
            and marker == old["metadata"][envcell.MARKER]
        ):
            env_cell = old
        else:
            metadata = {**old["metadata"], envcell.MARKER: marker}
            source = envcell.as_source(env_text, old["source"])
            env_cell = {**old, "metadata": metadata, "source": source}
            changes.append(Change("env-cell", "environment cell updated", env_index + 1))
            changes += [
                Change("env-cell", message, env_index + 1)
                for message in _env_cell_messages(env.header, chosen, old["metadata"], marker)
            ]
        env_origin: int | None = env_index
        if first_code < position:
            position = first_code
            changes.append(
                Change(
                    "env-cell",
                    f"environment cell moved to cell {position + 1}: code ran before it",
                    env_index + 1,
                )
            )
    else:
        assert first_moved is not None
        position = sum(origin is not None and origin < first_moved for origin in origins)
        if position <= first_code and reusable is not None:
            metadata = {**reusable.get("metadata", {}), envcell.MARKER: choices.record(chosen)}
            if list(reusable.get("metadata", {})) == sorted(reusable.get("metadata", {})):
                metadata = dict(sorted(metadata.items()))  # keys kept sorted, as they were
            source = envcell.as_source(env_text, reusable["source"])
            env_cell = {**reusable, "metadata": metadata, "source": source}
            env_origin = first_moved
            changes.append(
                Change("env-cell", f"environment cell takes the place of cell {first_moved + 1}")
            )
        else:
            position = min(position, first_code)
            env_cell = envcell.new_cell(
                envcell.as_source(env_text, _source_shape(cells)),
                _template(cells),
                with_id=notebook.get("nbformat_minor", 0) >= 5,
                taken=frozenset(cell["id"] for cell in cells if isinstance(cell.get("id"), str)),
                marker=choices.record(chosen),
            )
            env_origin = None
            changes.append(Change("env-cell", f"environment cell created as cell {position + 1}"))
    new_cells.insert(position, env_cell)
    origins.insert(position, env_origin)
    if len(new_cells) == len(cells) and all(a is b for a, b in zip(new_cells, cells, strict=True)):
        # Nothing to do: the notebook is returned as is, with only what still deserves a look.
        look = WARNING_KINDS | {"unpinned"} if config.pin_missing else WARNING_KINDS
        kept_changes = tuple(change for change in changes if change.kind in look)
        return Result(notebook, kept_changes, unchanged.origins)
    result = {**notebook, "cells": new_cells}
    return Result(result, tuple(changes), tuple(origins))


#: An entry of the environment cell's document: a line kept as it is, or an install command
#: (rendered with the pins on every run).
_Entry = str | InstallCommand


@dataclass(frozen=True)
class _EnvDocument:
    """What an existing environment cell holds: its entries in order, and its generated blocks."""

    entries: tuple[_Entry, ...] = ()
    #: The entries' lines as the cell has them (to tell whether anything changed).
    lines: tuple[str, ...] = ()
    #: The blocks nbsetup generated in it (`envcell.read_blocks`).
    blocks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Its header lines, stripped (`envcell.header_of`).
    header: tuple[str, ...] = ()

    @property
    def commands(self) -> tuple[InstallCommand, ...]:
        return tuple(entry for entry in self.entries if isinstance(entry, InstallCommand))

    @classmethod
    def read(cls, cell: dict[str, Any]) -> _EnvDocument:
        raw = cell_text(cell)
        header = envcell.recorded_header(cell)
        lines = envcell.document(raw, header)
        text = "\n".join(lines)
        sites = [site for site in installs.find_installs([text]) if site.movable]
        entries: list[_Entry] = []
        texts: list[str] = []
        position = 0
        for site in sites:
            entries += lines[position : site.start]
            texts += lines[position : site.start]
            entries += [command for command in site.commands if command.movable]
            texts += [
                c.written.text if c.written and c.written.text else ""
                for c in site.commands
                if c.movable
            ]
            rest = "".join(site.replacement or ()).splitlines()
            entries += rest
            texts += rest
            position = site.end
        entries += lines[position:]
        texts += lines[position:]
        blocks = envcell.read_blocks(raw)
        return cls(tuple(entries), tuple(texts), blocks, envcell.header_of(raw, header))


def _render(
    entry: _Entry, pins: Pins, style: install_lines.LineStyle
) -> str | command_lines.CommandLine:
    if isinstance(entry, str):
        return entry
    return command_lines.render(entry, pins, style)


def _split_cell(text: str, sites: Sequence[InstallSite]) -> tuple[str, list[_Entry], bool]:
    """What a cell keeps once its moving sites leave, what moves, and whether all of it moves.

    A line that moves whole takes the comment block directly above it along. When nothing is
    left but blank lines, comments and cell magics, all of the cell moves: its comments in
    order among its installs; the blank lines and the cell magic line are dropped.
    """
    lines = text.splitlines()
    scan = scan_cell(text)
    floor = 0 if scan.magic_line is None else scan.magic_line + 1
    spans: list[tuple[int, InstallSite]] = []
    for site in sorted(sites, key=lambda site: site.start):
        first = site.start
        if site.replacement == ():
            first = comments.block_above(lines, site.start, floor, scan.string_lines)
        spans.append((first, site))
        floor = site.end
    kept = _apply(text, [replace(site, start=first) for first, site in spans])
    whole = all(verdicts.is_inert(line) for line in kept.splitlines())
    moved: list[_Entry] = []
    if whole:
        starts = {site.start: site for site in sites}
        index = 0
        while index < len(lines):
            if index in starts:
                site = starts[index]
                moved += [command for command in site.commands if command.movable]
                moved += "".join(site.replacement or ()).splitlines()
                index = site.end
                continue
            if comments.is_comment_line(lines[index]):
                moved.append(lines[index].rstrip())
            index += 1
        return kept, moved, True
    for first, site in spans:
        moved += [line.rstrip() for line in lines[first : site.start]]
        moved += [command for command in site.commands if command.movable]
    return kept, moved, False


def _runs_code(cell: dict[str, Any]) -> bool:
    """A code cell with a line that does something (not blank, a comment or a cell magic)."""
    if cell["cell_type"] != "code" or envcell.find([cell]) == 0:
        return False
    return verdicts.runs_code(cell_text(cell))


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


def _env_text(
    rendered: Sequence[str | command_lines.CommandLine],
    lines: Sequence[install_lines.InstallLine],
    pins: Pins,
    chosen: choices.Resolved,
) -> str:
    """The environment cell: header, [guard], its document (or the `auto` block), [guard]."""
    checked = guard.guarded(lines) if chosen.guard else ()
    document = [entry if isinstance(entry, str) else entry.text for entry in rendered]
    style = chosen.style
    pip = [e for e in rendered if not isinstance(e, str) and e.command.manager == "pip"]
    if style.installer == "auto" and pip:
        uv_style = replace(style, installer="uv")
        uv = [
            entry
            if isinstance(entry, str)
            else command_lines.render(entry.command, pins, uv_style).text
            if entry.command.manager == "pip" and entry.line is not None
            else entry.text
            for entry in rendered
        ]
        document = envcell.installer_block(document, uv)
    text_lines = [
        *chosen.header_lines,
        *(guard.before_block(checked) if checked else ()),
        *document,
        *(guard.after_block() if checked else ()),
    ]
    return "\n".join(text_lines)


def _env_cell_messages(
    header: Sequence[str],
    chosen: choices.Resolved,
    metadata: Mapping[str, Any],
    marker: Mapping[str, Any],
) -> list[str]:
    """What became of an existing environment cell's header and recorded choices."""
    messages = []
    if header and header != chosen.header_lines:
        if not chosen.header_lines:
            messages.append("environment cell header removed (header is empty)")
        elif any(line.startswith(envcell.HEADER_PREFIX) for line in header):
            messages.append("environment cell header replaced by the one-line header")
        else:
            messages.append("environment cell header changed")
    old = metadata[envcell.MARKER]
    now = {
        key: marker[key] for key in choices.KEYS if key in marker and old.get(key) != marker[key]
    }
    gone = [key for key in choices.KEYS if key in old and key not in marker]
    if now:
        shown = ", ".join(f"{key} = {json.dumps(value)}" for key, value in now.items())
        messages.append(f"environment cell records {shown} (kept by later runs)")
    if gone:
        messages.append(f"environment cell no longer records {', '.join(gone)}")
    return messages


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
    """One change per reason a site's commands stay where they are.

    An install the user opted out is `opted-out`, for information: it asks for no look.
    """
    return [
        Change(
            "opted-out" if optouts.is_chosen(reason) else "left",
            f"install not moved: {reason}",
            site.cell + 1,
            site.start + 1,
            ", ".join(dict.fromkeys(_command_text(command) for command in commands)),
        )
        for reason, commands in verdicts.left_in_place(site).items()
    ]


def _unguaranteed_pins(sites: Sequence[InstallSite], pins: Pins) -> list[Change]:
    """R3: a pinned pip package that an install left in place installs (again) is reported.

    That install runs where it stands, after the environment cell, as written: it may install
    another version than the pin, so the report does not claim the pin holds.
    """
    changes = []
    for site in sites:
        for command in site.commands:
            if command.movable or command.action != "install" or command.manager not in PIP:
                continue
            for text in command.requirements:
                name = packages.named(text)
                entry = pins.lookup(name) if name is not None else None
                if entry is None:
                    continue
                message = (
                    f"{name}: pinned to {entry.text!r} by {_where(entry.origin, entry.line)}, but "
                    f"this install stays in place and installs {text!r}: the pin is not "
                    "guaranteed"
                )
                changes.append(
                    Change("unguaranteed", message, site.cell + 1, site.start + 1, name)
                )
    return changes


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


def _pin_changes(notes: Sequence[install_lines.PinNote], pinned: bool) -> list[Change]:
    """One change per package and kind: the notes of its installs, merged in order.

    `pinned`: whether there are pin files at all (the report says so when there are none).
    """
    merged: dict[tuple[str, str], install_lines.PinNote] = {}
    for note in notes:
        key = (note.kind, note.package)
        if key in merged:
            old = merged[key]
            note = replace(
                old,
                notebook=tuple(dict.fromkeys((*old.notebook, *note.notebook))),
                result=tuple(dict.fromkeys((*old.result, *note.result))),
            )
        merged[key] = note
    conflicts = {package for kind, package in merged if kind == "conflict"}
    return [
        _pin_change(note, pinned)
        for (kind, package), note in merged.items()
        if not (kind == "pinned" and package in conflicts)  # the conflict says it
    ]


def _normalised_change(line: command_lines.CommandLine, site: InstallSite) -> Change:
    message = f"written as {line.text!r}: {'; '.join(line.normalised)}"
    return Change("normalised", message, site.cell + 1, site.start + 1)


def _pin_change(note: install_lines.PinNote, pinned: bool) -> Change:
    notebook = " and ".join(repr(text) for text in dict.fromkeys(note.notebook))
    result = ", ".join(repr(text) for text in note.result)
    where = _where(note.origin, note.line)
    messages = {
        "pinned": f"{note.package}: pinned to {result} by {where}",
        "unpinned": (
            f"{note.package}: not in the requirements; kept as {result}"
            if pinned
            else f"{note.package}: no pin file found; kept as {result}"
        ),
        "conflict": (
            f"{note.package}: notebook asks for {notebook}, {where} pins {result}; the pin wins"
        ),
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
