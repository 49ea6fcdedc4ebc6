"""NBS011: an install in a `%%capture` cell, where its failure goes unseen.

`%%capture` keeps the cell's output, errors included, in a variable or nowhere. pip and apt
do not raise in the kernel when they fail, so the cell completes as if the install had
worked, and the notebook stops later with an ImportError far from the cause.
`%%capture --no-stderr` lets errors through and is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nbsetup import verdicts
from nbsetup.installs.records import InstallSite
from nbsetup.magics import scan_cell
from nbsetup.rules.finding import Finding

CODE = "NBS011"


def find(sites: Sequence[InstallSite], sources: Sequence[str | None]) -> Iterator[Finding]:
    """NBS011 findings: one per `%%capture` cell (without `--no-stderr`) that installs.

    Reported at the cell's first install, naming everything the cell installs.
    """
    by_cell: dict[int, list[InstallSite]] = {}
    for site in sites:
        if any(c.action == "install" for c in site.commands):
            by_cell.setdefault(site.cell, []).append(site)
    for cell, cell_sites in by_cell.items():
        if not _hides_errors(sources[cell]):
            continue
        commands = [c for site in cell_sites for c in site.commands if c.action == "install"]
        what = ", ".join(
            dict.fromkeys(word for c in commands for word in verdicts.install_words(c))
        )
        noun = "install" if len(commands) == 1 else f"{len(commands)} installs"
        message = (
            f"`%%capture` hides the output of this cell's {noun} ({what}): if one fails, the "
            "cell still completes silently and the notebook fails later with an ImportError"
        )
        if all(site.movable for site in cell_sites):
            message += "; `nbsetup fix` moves them out of the captured cell"
        yield Finding.at(cell_sites[0], CODE, message, what)


def _hides_errors(source: str | None) -> bool:
    if not source or "%%capture" not in source:
        return False
    magic = scan_cell(source).cell_magic
    return magic is not None and magic[0] == "capture" and "--no-stderr" not in magic[1].split()
