"""Judgements that `fix`, `check` and the safety net must make alike, made in one place.

`transform.hoist` acts on them, `lint` reports them and `safety` verifies the rewrite against
them; a rule changed here changes all three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from nbsetup import envcell, installs, optouts
from nbsetup.installs.records import InstallCommand, InstallSite
from nbsetup.notebook_io import cell_text

# A line that keeps nothing alive once the installs around it are gone: blank, a comment, or
# a bare cell magic (`%%capture`, `%%bash`, `%%time`, ...), which with no body left does
# nothing but fail (IPython refuses a cell magic with an empty body).
_INERT_LINE = re.compile(r"\s*(#.*)?|%%\w+\b.*", re.DOTALL)


def is_inert(line: str) -> bool:
    """Whether a line left in a cell after its installs moved may go with the cell."""
    return _INERT_LINE.fullmatch(line) is not None


def runs_code(source: str) -> bool:
    """Whether a code cell does something: a line that is not blank, a comment or a cell magic.

    The environment cell goes where the first moved install was only when no cell before it
    runs code: a comment-only licence cell above it stays on top.
    """
    return not all(is_inert(line) for line in source.splitlines())


def is_apt_update(command: InstallCommand) -> bool:
    """`apt-get update`: it moves only to precede an apt install that moves too."""
    return command.manager == "apt" and command.action == "update"


def installs_apt(commands: Iterable[InstallCommand]) -> bool:
    """Whether an apt install is among `commands` (so an `apt-get update` moves with it)."""
    return any(c.manager == "apt" and c.action == "install" for c in commands)


def moving_sites(
    sites: Sequence[InstallSite], kept: Sequence[InstallCommand]
) -> list[InstallSite]:
    """The sites whose installs move, beside the commands the environment cell `kept`.

    Every movable site, except one that only runs `apt-get update` when no apt install is in
    the environment cell or moves into it.
    """
    movable = [site for site in sites if site.movable]
    commands = [*kept, *(c for site in movable for c in site.commands if c.movable)]
    if installs_apt(commands):
        return movable
    return [site for site in movable if not all(is_apt_update(c) for c in site.commands)]


def install_words(command: InstallCommand, *, editable: bool = True) -> list[str]:
    """What a command names, in words: `numpy`, `-e .`, `-r req.txt`, `-c constraints.txt`.

    `editable=False` leaves out `-e` targets (never moved, so never in an environment cell).
    """
    editables = [v for flag, v in command.options if flag in ("-e", "--editable")]
    return [
        *command.requirements,
        *(f"-e {value}" for value in (editables if editable else ())),
        *(f"-r {path}" for path in command.requirement_files),
        *(f"-c {path}" for path in command.constraint_files),
    ]


def left_in_place(site: InstallSite) -> dict[str, list[InstallCommand]]:
    """The commands of a site that stay where they are, grouped by the reason, in order."""
    by_reason: dict[str, list[InstallCommand]] = {}
    for command in site.commands:
        if not command.movable:
            by_reason.setdefault(command.reason or "not movable", []).append(command)
    return by_reason


def repairs(site: InstallSite) -> list[InstallCommand]:
    """The commands of a site that are broken as written and read as meant (`repaired` says
    what the original did): `% pip install x`, unquoted `pkg>=1.2`. `fix` hoists them with a
    warning; `check` reports them."""
    return [command for command in site.commands if command.repaired is not None]


@dataclass(frozen=True)
class NotebookSites:
    """A notebook's install sites, the environment cell read as nbsetup reads it back."""

    #: Each cell's source, None for markdown and raw cells.
    sources: tuple[str | None, ...]
    env_index: int | None
    #: The sites outside the environment cell, in notebook order.
    others: tuple[InstallSite, ...]
    #: The environment cell's own sites (its generated blocks read past, `envcell.user_view`).
    env_sites: tuple[InstallSite, ...]

    @property
    def all(self) -> list[InstallSite]:
        """Every site, in cell and line order."""
        return sorted((*self.others, *self.env_sites), key=lambda site: (site.cell, site.start))


def notebook_sites(notebook: dict[str, Any]) -> NotebookSites:
    """The install sites of a notebook as `check` and `lock` read them.

    The environment cell is scanned on its own, as `transform.hoist` scans it: what came
    before it does not judge it. Cells that opt out keep their installs (`optouts`).
    """
    cells = notebook["cells"]
    sources = tuple(cell_text(cell) if cell["cell_type"] == "code" else None for cell in cells)
    env_index = envcell.find(cells)
    others = installs.find_installs(
        [None if i == env_index else s for i, s in enumerate(sources)],
        optouts.cell_reasons(cells),
    )
    env_sites: tuple[InstallSite, ...] = ()
    if env_index is not None:
        env_sites = tuple(
            replace(site, cell=env_index)
            for site in installs.find_installs([envcell.user_view(sources[env_index] or "")])
        )
    return NotebookSites(sources, env_index, others, env_sites)
