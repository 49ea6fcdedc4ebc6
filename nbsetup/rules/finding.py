"""`Finding`: a diagnostic before suppression, as every lint rule yields it."""

from __future__ import annotations

from dataclasses import dataclass

from nbsetup.installs.records import InstallSite


@dataclass(frozen=True)
class Finding:
    """A diagnostic before suppression, with the 0-based cell and line span it covers."""

    code: str
    message: str
    cell: int
    start: int
    end: int
    package: str | None = None

    @classmethod
    def at(cls, site: InstallSite, code: str, message: str, package: str | None) -> Finding:
        """A finding on an install site's lines."""
        return cls(code, message, site.cell, site.start, site.end, package)
