"""Pure hoisting: notebook data (+ pins, config) in, new notebook data and changes out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbsetup.report import Change


@dataclass(frozen=True)
class Result:
    """The transformed notebook, what changed, and where each new cell came from."""

    notebook: dict[str, Any]
    changes: tuple[Change, ...] = ()
    #: For each cell of `notebook`, the index of the input cell it derives from (None: new).
    origins: tuple[int | None, ...] = ()
    #: Why the notebook was not considered at all (e.g. an R kernel), else None.
    skipped: str | None = None


def kernel_language(notebook: dict[str, Any]) -> str | None:
    """The notebook's kernel language, lower case, or None when it names none."""
    metadata = notebook.get("metadata", {})
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str):
            return section[field].lower()
    return None


def hoist(notebook: dict[str, Any]) -> Result:
    """Return the notebook with its movable installs hoisted into one environment cell."""
    language = kernel_language(notebook)
    origins = tuple(range(len(notebook["cells"])))
    if language is not None and language != "python":
        return Result(notebook, origins=origins, skipped=f"kernel language is {language}")
    return Result(notebook, origins=origins)
