"""NBS012 and NBS013: install lines that are broken as written (`fix` repairs both).

- NBS012, `% pip install x`: IPython 9 refuses a space after `%` ("Line magic function `%`
  not found"); older versions ran `%pip`. The cell fails before anything is installed.
- NBS013, `!pip install pkg>=1.2` unquoted: the shell reads `>` as a redirect, so pip installs
  `pkg` unpinned and its output lands in a file named `=1.2` (with `<`, the shell reads a file
  named after the version, and the install fails).

The recogniser reads both as the author meant and records what the line did as written
(`InstallCommand.repaired`, listed by `verdicts.repairs`); `nbsetup fix` hoists them repaired,
and these rules report them wherever they stand, hoisted or not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nbsetup import verdicts
from nbsetup.installs.records import InstallSite
from nbsetup.rules.finding import Finding

PERCENT_SPACE = "NBS012"
UNQUOTED = "NBS013"


def find(sites: Sequence[InstallSite]) -> Iterator[Finding]:
    """One finding per repaired command, with what the line does as written."""
    for site in sites:
        for command in verdicts.repairs(site):
            what = ", ".join(verdicts.install_words(command))
            fixed = "; `nbsetup fix` repairs it" if command.movable else ""
            repaired = command.repaired or ""
            code = UNQUOTED if repaired.startswith("unquoted") else PERCENT_SPACE
            if code == UNQUOTED:
                message = f"{repaired}; quote the requirement{fixed}"
            else:
                magic = "%" + site.form.lstrip("%! ")
                message = (
                    f"{repaired}: the cell fails and installs nothing; write `{magic}`{fixed}"
                )
            yield Finding.at(site, code, message, what)
