"""Opt-outs: what the user asks nbsetup to leave where it is, decided in one place.

`fix` (through the recogniser, `installs`), `check` (`lint`) and the safety net read them
here, so that none of the three moves, reports as movable or accepts moving what another
leaves alone. Four levels, each with its reason in reports:

- a line: `# nbsetup: skip` as the trailing comment of an install line (any line of it), or
  a comment line of the comment block directly above it (the block that would move with it)
  keeps that install where it is (`line_reason`);
- a cell: `{"nbsetup": {"skip": true}}` in its metadata, or the tag `nbsetup-skip` in
  `metadata.tags` (as Jupyter, nbstripout and papermill read tags) keeps every install of
  the cell (`cell_reason`), and the cell is never changed;
- a notebook: `{"nbsetup": {"skip": true}}` in its metadata (`notebook_reason`): `fix`
  leaves the file byte-identical and reports it skipped, `check` checks nothing in it;
- a file: `skip = true` in a `[tool.nbsetup.per-file-settings]` table whose glob matches it
  (`config.for_file`, reported with `file_reason`).

An install left in place by choice is a barrier like any install that stays (CONTRACT R2):
nothing after it moves above it. The `# nbsetup: skip` comment is never removed: the
install it marks stays, so its comment stays with it. Only `true` opts out: any other value
(`"yes"`, `1`) is not read as a choice.

    !pip install torch  # nbsetup: skip        (stays, and so does what follows it)
    # nbsetup: skip
    !pip install torch                          (the same)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from nbsetup import comments
from nbsetup.installs.records import InstallSite

#: The metadata key nbsetup reads, in a cell's metadata and the notebook's.
NAMESPACE = "nbsetup"
#: The cell tag that opts a cell out.
CELL_TAG = "nbsetup-skip"

#: Why an install stays, when the user chose it; `install not moved: ...` in reports.
LINE_REASON = "opted out with `# nbsetup: skip`"
CELL_TAG_REASON = f"opted out by its cell's `{CELL_TAG}` tag"
CELL_METADATA_REASON = f'opted out by its cell\'s metadata `"{NAMESPACE}": {{"skip": true}}`'
NOTEBOOK_REASON = f'the notebook opts out (metadata `"{NAMESPACE}": {{"skip": true}}`)'
_CHOSEN = frozenset({LINE_REASON, CELL_TAG_REASON, CELL_METADATA_REASON})


def _skip_set(metadata: object) -> bool:
    """Whether a metadata dict holds `"nbsetup": {"skip": true}`."""
    if not isinstance(metadata, Mapping):
        return False
    ours = metadata.get(NAMESPACE)
    return isinstance(ours, Mapping) and ours.get("skip") is True


def notebook_reason(notebook: Mapping[str, Any]) -> str | None:
    """Why the whole notebook is left alone by its own choice, or None."""
    return NOTEBOOK_REASON if _skip_set(notebook.get("metadata")) else None


def file_reason(glob: str) -> str:
    """Why a file is left alone: the `per-file-settings` glob that sets `skip = true`."""
    return f'opted out by [tool.nbsetup.per-file-settings] "{glob}" (skip = true)'


def cell_reason(cell: Mapping[str, Any]) -> str | None:
    """Why every install of a code cell stays where it is by the user's choice, or None.

    `{"metadata": {"tags": ["nbsetup-skip"]}}` → `CELL_TAG_REASON`.
    """
    metadata = cell.get("metadata")
    if _skip_set(metadata):
        return CELL_METADATA_REASON
    tags = metadata.get("tags") if isinstance(metadata, Mapping) else None
    if isinstance(tags, list) and CELL_TAG in tags:
        return CELL_TAG_REASON
    return None


def cell_reasons(cells: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """`cell_reason` of every code cell that opts out, by its index in `cells`."""
    found = {}
    for index, cell in enumerate(cells):
        reason = cell_reason(cell) if cell.get("cell_type") == "code" else None
        if reason is not None:
            found[index] = reason
    return found


def line_reason(
    lines: Sequence[str],
    start: int,
    end: int,
    floor: int = 0,
    in_strings: Collection[int] = (),
) -> str | None:
    """`LINE_REASON` when `# nbsetup: skip` marks the install on lines `start` to `end`.

    The directive counts in the comment of any of those lines, or on a line of the comment
    block directly above them (`comments.block_above`, no higher than `floor`); not on a
    line inside a string literal (`in_strings`).

    `["# nbsetup: skip", "!pip install x"]`, 1, 2 → `LINE_REASON`.
    """
    first = comments.block_above(lines, start, floor, in_strings)
    for index in range(first, min(end, len(lines))):
        if index not in in_strings and comments.SKIP in comments.directives(lines[index]):
            return LINE_REASON
    return None


def keep(site: InstallSite, reason: str) -> InstallSite:
    """The site with every command left where it is, for `reason` (the user's choice)."""
    commands = tuple(replace(command, movable=False, reason=reason) for command in site.commands)
    return replace(site, commands=commands, replacement=None)


def is_chosen(reason: str | None) -> bool:
    """Whether an install stays for this reason by the user's choice (not nbsetup's)."""
    return reason in _CHOSEN
