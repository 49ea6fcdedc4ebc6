"""The cells a fix changed, each with its text before and after, for reports that show them.

`nbsetup fix --report-html` (and `--report-cells` for the JSON report) lists, per changed
notebook, the cells that were added, rewritten or removed, in notebook order, so that a
reviewer reads what happened without running `--diff` per notebook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nbsetup import envcell
from nbsetup.notebook_io import cell_text


@dataclass(frozen=True)
class CellChange:
    """One added, rewritten or removed cell (1-based indices; None where it does not exist).

    A new environment cell at the top: `CellChange(1, None, True, None, "%pip install x\\n")`.
    """

    #: Its index in the fixed notebook; None: the cell was removed.
    cell: int | None
    #: Its index in the original notebook; None: the cell is new.
    original: int | None
    #: Whether it is the environment cell.
    environment: bool
    #: The source before the fix; None: the cell is new.
    before: str | None
    #: The source after the fix; None: the cell was removed.
    after: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON report form (an entry of a file's `cells` list)."""
        return {
            "cell": self.cell,
            "original_cell": self.original,
            "environment": self.environment,
            "before": self.before,
            "after": self.after,
        }


def changed_cells(
    old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None]
) -> tuple[CellChange, ...]:
    """The cells that differ between `old` and `new`, in notebook order.

    `origins[i]` is the index in `old` of the cell `new["cells"][i]` derives from (None: a new
    cell), as `transform.Result.origins` gives it. A removed cell is listed where it stood: after
    the kept cells that preceded it.
    """
    old_cells, new_cells = old["cells"], new["cells"]
    env_index = envcell.find(new_cells)
    kept = {origin for origin in origins if origin is not None}
    removed = [index for index in range(len(old_cells)) if index not in kept]
    changes: list[CellChange] = []

    def flush_removed(below: int) -> None:
        while removed and removed[0] < below:
            index = removed.pop(0)
            changes.append(CellChange(None, index + 1, False, cell_text(old_cells[index]), None))

    for index, (cell, origin) in enumerate(zip(new_cells, origins, strict=True)):
        environment = index == env_index
        if origin is None:
            changes.append(CellChange(index + 1, None, environment, None, cell_text(cell)))
            continue
        flush_removed(origin)
        before, after = cell_text(old_cells[origin]), cell_text(cell)
        if cell is not old_cells[origin] and before != after:
            changes.append(CellChange(index + 1, origin + 1, environment, before, after))
    flush_removed(len(old_cells))
    return tuple(changes)


__all__ = ["CellChange", "changed_cells"]
