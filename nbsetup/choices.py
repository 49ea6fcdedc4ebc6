"""The choices that shape the environment cell, and how a later run keeps them.

`nbsetup fix --guard` once, then the plain `nbsetup fix` of a pre-commit hook: the guard
stays. Each choice (the guard, the installer, the pip line style, `-q`, the header) comes from

1. the command line or `[tool.nbsetup]`, when either gives it (`Choices`, None: not given);
2. else what the environment cell records in its `nbsetup` metadata;
3. else, for a cell written before choices were recorded, what its generated blocks show
   (a guard block: the guard is on; the `auto` installer block: the installer is `auto`);
4. else the default.

The cell records the choices that differ from the defaults, under their `[tool.nbsetup]`
names, beside the marker::

    {"nbsetup": {"role": "environment", "guard": true, "installer": "auto"}}

`--no-guard` (`guard = false`) is a choice given like any other: the guard goes, and so does
its record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from nbsetup import envcell, guard
from nbsetup.envcell import INSTALLERS, PIP_STYLES
from nbsetup.install_lines import LineStyle


@dataclass(frozen=True)
class Choices:
    """The choices asked for (command line over `[tool.nbsetup]`); None: not asked."""

    guard: bool | None = None
    #: `envcell.INSTALLERS`.
    installer: str | None = None
    #: `envcell.PIP_STYLES`.
    env_cell_style: str | None = None
    quiet_install: bool | None = None
    #: The cell's first line (`envcell.is_header_text`; "": none).
    header: str | None = None


@dataclass(frozen=True)
class Resolved:
    """The choices in force for one environment cell; the defaults as built."""

    guard: bool = False
    installer: str = "pip"
    env_cell_style: str = "%pip"
    quiet_install: bool = False
    header: str = envcell.DEFAULT_HEADER

    @property
    def style(self) -> LineStyle:
        """How the cell's pip lines are written."""
        return LineStyle(
            pip=self.env_cell_style, quiet=self.quiet_install, installer=self.installer
        )

    @property
    def header_lines(self) -> tuple[str, ...]:
        """The header as lines of the cell: none for an empty header."""
        return (self.header,) if self.header else ()


DEFAULTS = Resolved()


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


#: Each choice: its name in the metadata (as in `[tool.nbsetup]`) and which values are valid.
_RECORDS = {
    "guard": ("guard", _is_bool),
    "installer": ("installer", lambda value: value in INSTALLERS),
    "env_cell_style": ("env-cell-style", lambda value: value in PIP_STYLES),
    "quiet_install": ("quiet-install", _is_bool),
    "header": ("header", envcell.is_header_text),
}


#: The metadata keys of the choices.
KEYS = tuple(key for key, _ in _RECORDS.values())


def recorded(cell: Mapping[str, Any]) -> Choices:
    """The choices an environment cell records; a value that is not valid counts as absent."""
    marker = cell.get("metadata", {}).get(envcell.MARKER)
    if not isinstance(marker, dict):
        return Choices()
    values: dict[str, Any] = {}
    for name, (key, valid) in _RECORDS.items():
        value = marker.get(key)
        if isinstance(value, str | bool) and valid(value):
            values[name] = value
    return Choices(**values)


def inferred(text: str) -> Choices:
    """The choices an environment cell's generated blocks show (for cells that record none)."""
    blocks = envcell.read_blocks(text)
    return Choices(
        guard=True if guard.BEFORE in blocks or guard.AFTER in blocks else None,
        installer="auto" if envcell.INSTALLER_BLOCK in blocks else None,
    )


def resolve(asked: Choices, cell: Mapping[str, Any] | None, text: str = "") -> Resolved:
    """The choices for the environment cell `cell` (None: a new one) whose source is `text`."""
    layers = [asked]
    if cell is not None:
        layers += [recorded(cell), inferred(text)]
    values: dict[str, Any] = {}
    for item in fields(Choices):
        given = (getattr(layer, item.name) for layer in layers)
        values[item.name] = next((value for value in given if value is not None), None)
    return Resolved(**{name: value for name, value in values.items() if value is not None})


def record(resolved: Resolved, marker: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `nbsetup` metadata of a cell written with `resolved`: `marker` (the cell's; None: a
    new cell's, `envcell.MARKER_VALUE`) with the choices that differ from the defaults, the
    others left out. Keys that are not choices are kept as they are, in place.

    `record(Resolved(guard=True))` is `{"role": "environment", "guard": True}`.
    """
    value = dict(envcell.MARKER_VALUE if marker is None else marker)
    for name, (key, _) in _RECORDS.items():
        chosen = getattr(resolved, name)
        if chosen == getattr(DEFAULTS, name):
            value.pop(key, None)
        else:
            value[key] = chosen
    return value
