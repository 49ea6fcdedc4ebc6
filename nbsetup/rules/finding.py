"""`Finding`: a diagnostic before suppression, as every lint rule yields it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


def pip_requirements(sites: Sequence[InstallSite]) -> Iterator[tuple[InstallSite, str]]:
    """Each requirement a pip (or uv) install names, with its site, in notebook order."""
    for site in sites:
        for command in site.commands:
            if command.action == "install" and command.manager in ("pip", "uv"):
                for text in command.requirements:
                    yield site, text
