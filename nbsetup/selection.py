"""Which lint rules run: codes, code prefixes and `ALL`, as ruff's `--select` reads them.

`expand(["NBS00"])` is every code starting with `NBS00`; `ALL` is every code. A selector that
matches no code is an error, so that a typo never silently selects nothing. `rules_for` turns
the selectors of the command line and of `[tool.nbsetup]` (`select`, `ignore`,
`per-file-ignores`) into the `diagnostics.Config` for one notebook.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path

from nbsetup import diagnostics

#: The selector that names every rule.
ALL = "ALL"


def split(text: str) -> tuple[str, ...]:
    """Selectors from a comma-separated option value: `"nbs001, NBS"` → `("NBS001", "NBS")`."""
    return tuple(part.strip().upper() for part in text.split(",") if part.strip())


def expand(selectors: Iterable[str], codes: Iterable[str] = diagnostics.CODES) -> frozenset[str]:
    """The codes the selectors name; raises ValueError naming a selector that matches none.

    `expand(["NBS00"], ["NBS001", "NBS010"])` → `{"NBS001"}`.
    """
    known = tuple(codes)
    chosen: set[str] = set()
    for selector in selectors:
        name = selector.strip().upper()
        matched = known if name == ALL else tuple(c for c in known if c.startswith(name))
        if not name or not matched:
            raise ValueError(f"unknown diagnostic code or prefix: {selector}")
        chosen.update(matched)
    return frozenset(chosen)


def rules_for(
    path: Path,
    root: Path | None,
    select: Sequence[str] | None,
    ignore: Sequence[str],
    per_file_ignores: Iterable[tuple[str, Sequence[str]]],
) -> diagnostics.Config:
    """The rules for the notebook at `path`: `select` less `ignore` and its per-file ignores.

    `select` None: every rule. A `per-file-ignores` glob matches the file's name, its path
    relative to `root` (the pyproject.toml's directory) or its path as given.
    """
    ignored = set(expand(ignore))
    for pattern, selectors in per_file_ignores:
        if matches(path, root, pattern):
            ignored |= expand(selectors)
    chosen = None if select is None else expand(select)
    return diagnostics.Config(select=chosen, ignore=frozenset(ignored))


def matches(path: Path, root: Path | None, pattern: str) -> bool:
    """Whether a `per-file-*` glob matches the file at `path`: by its name, its path as given,
    or its path relative to `root` (the pyproject.toml's directory)."""
    forms = [path.name, path.as_posix()]
    if root is not None:
        with contextlib.suppress(ValueError):  # a file outside the project
            forms.append(path.absolute().relative_to(root.absolute()).as_posix())
    return any(fnmatch.fnmatch(form, pattern.rstrip("/")) for form in forms)


__all__ = ["ALL", "expand", "matches", "rules_for", "split"]
