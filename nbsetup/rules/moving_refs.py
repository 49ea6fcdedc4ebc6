"""NBS010: a VCS install that follows a moving reference (a branch, or no reference at all).

`git+https://github.com/org/repo.git@main` and `git+https://github.com/org/repo.git` install
whatever commit the branch (or the default branch) points to when the cell runs: two runs of
the same notebook get different code. A commit hash is fixed; a tag such as `v1.2` is taken as
fixed too, by convention.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from nbsetup import packages
from nbsetup.installs.records import InstallSite
from nbsetup.rules.finding import Finding, pip_requirements

CODE = "NBS010"

#: An abbreviated or full commit hash.
_COMMIT = re.compile(r"[0-9a-f]{7,64}", re.IGNORECASE)
#: A release tag: `v1.2`, `1.2.0`, `release-2.0`, `pkg-v0.3.1`.
_TAG = re.compile(r"(?:[\w.-]*[-_/])?v?\d+(?:\.\d+)+[\w.+-]*|v\d+")


def find(sites: Sequence[InstallSite]) -> Iterator[Finding]:
    """NBS010 findings: pip/uv VCS requirements whose reference is not a commit or a tag."""
    for site, text in pip_requirements(sites):
        message = describe(text)
        if message is not None:
            yield Finding.at(site, CODE, message, packages.pip_name(text))


def describe(text: str) -> str | None:
    """The NBS010 message for one requirement, or None when it is not a moving VCS install."""
    if not packages.is_vcs(text):
        return None
    name = packages.pip_name(text) or text
    revision = packages.vcs_revision(text)
    if revision is None:
        return (
            f"{name} is installed from {text!r} without a reference: each run installs "
            "whatever commit the default branch points to then; pin @<commit> or a tag"
        )
    if _COMMIT.fullmatch(revision) or _TAG.fullmatch(revision):
        return None
    if "$" in revision or "{" in revision:
        return (
            f"{name} is installed from {text!r}, whose reference {revision!r} the notebook sets "
            "when it runs: when it names a branch, each run installs whatever commit the branch "
            "points to then; pin @<commit> or a tag"
        )
    return (
        f"{name} is installed from branch {revision!r} ({text!r}): each run installs whatever "
        "commit the branch points to then; pin @<commit> or a tag"
    )
