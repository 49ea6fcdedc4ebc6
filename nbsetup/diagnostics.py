"""What `nbsetup check` reports, as data: the rule codes, a `Diagnostic`, and which rules run.

The rules themselves are in `nbsetup.lint` (and `nbsetup.rules`); the report layer, the
settings and `nbsetup fix` need only these records, and so never load the rules (about a
tenth of a one-file run's start-up).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from nbsetup import runtime

#: Every diagnostic code with its one-line summary.
CODES: Mapping[str, str] = MappingProxyType(
    {
        "NBS001": "package installed after it is imported",
        "NBS002": "unpinned install",
        "NBS003": "install conflicts with the requirements",
        "NBS004": "install that cannot be hoisted",
        "NBS005": "imported package not installed or required",
        "NBS006": "install outside the environment cell",
        "NBS007": "install of a package the runtime loads before the first cell",
        "NBS008": "restart cell with no install before it",
        "NBS009": "install of a deprecated or renamed PyPI name",
        "NBS010": "VCS install of a moving branch",
        "NBS011": "install whose failure %%capture hides",
        "NBS012": "a space after `%`: the magic does not run in IPython 9",
        "NBS013": "unquoted `>`/`<` in an install: a shell redirect, not a version",
    }
)


@dataclass(frozen=True)
class Diagnostic:
    """One hazard: a code, a message, and where (1-based cell, 1-based line in the cell)."""

    code: str
    message: str
    cell: int
    line: int
    #: The canonical distribution concerned; for NBS004/NBS006 what the install names.
    package: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of this diagnostic."""
        return {
            "code": self.code,
            "cell": self.cell,
            "line": self.line,
            "package": self.package,
            "message": self.message,
        }


@dataclass(frozen=True)
class Config:
    """Which rules run, and what the shell knows about the notebook's surroundings."""

    #: Codes to report; None: all of `CODES`.
    select: frozenset[str] | None = None
    #: Codes not to report, even when selected.
    ignore: frozenset[str] = frozenset()
    #: Top-level modules importable from the notebook's directory (its `*.py` files and
    #: packages), which NBS005 does not ask to install.
    local_modules: frozenset[str] = frozenset()
    #: Distributions the runtime imports before the first cell (`runtime.preloaded`).
    preloaded: Mapping[str, str] = field(default_factory=runtime.preloaded)
    #: The notebook's runtime (`nbsetup.profiles.load`): NBS005 does not ask to install what
    #: it has installed. None: nothing is known to be installed.
    profile: runtime.Profile | None = None

    def __post_init__(self) -> None:
        validate_codes({*(self.select or ()), *self.ignore})

    def enabled(self, code: str) -> bool:
        """Whether diagnostics with this code are reported."""
        return (self.select is None or code in self.select) and code not in self.ignore


def validate_codes(codes: Iterable[str]) -> None:
    """Raise ValueError naming the first code (in sorted order) not in `CODES`."""
    for code in sorted(codes):
        if code not in CODES:
            raise ValueError(f"unknown diagnostic code: {code}")


def split_codes(text: str) -> frozenset[str]:
    """Codes from a comma-separated list: `"nbs001, NBS005"` → `{"NBS001", "NBS005"}`."""
    return frozenset(code.strip().upper() for code in text.split(",") if code.strip())


#: Every rule, with nothing known of the notebook's surroundings.
ALL_RULES = Config()
