"""Records of what the transform did or declined to do, and which of them deserve a look.

The core returns these as data (`transform.Result.changes`); the report layer
(`nbsetup.report`) renders them. Nothing here knows how they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Kinds a user should look at (warnings in text, annotations on GitHub); a notebook with
#: nothing to change still reports these.
WARNING_KINDS = frozenset(
    {"conflict", "mismatch", "left", "moved", "preloaded", "restart", "repaired", "unguaranteed"}
)
#: Kinds the pin policy reports once per package of the environment cell it writes.
PACKAGE_KINDS = frozenset(
    {"pinned", "unpinned", "conflict", "mismatch", "duplicate", "moved", "kept"}
)


@dataclass(frozen=True)
class Change:
    """One thing the transform did or declined to do, with where (1-based cell and line)."""

    kind: str
    message: str
    cell: int | None = None
    line: int | None = None
    package: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON report form of this change."""
        return {
            "kind": self.kind,
            "cell": self.cell,
            "line": self.line,
            "package": self.package,
            "message": self.message,
        }
