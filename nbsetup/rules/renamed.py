"""NBS009: an install of a deprecated or renamed PyPI name, and what pip does with it today.

Each entry of `RENAMED` is a name that its maintainers replaced, with the first release that
breaks (`probe`), what happens at run time and where that is documented. An install that can
get such a release (no specifier, or one that allows it) breaks; one pinned below it still
installs, but the name gets no new releases.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup.installs.records import InstallSite
from nbsetup.rules.finding import Finding, pip_requirements

CODE = "NBS009"


@dataclass(frozen=True)
class Renamed:
    """A PyPI name replaced by another."""

    #: The name to install instead (canonical).
    replacement: str
    #: The first release that breaks; a requirement that allows it gets it (pip takes the newest).
    probe: str
    #: What installing a breaking release does, in words.
    failure: str
    #: Where the maintainers say so.
    source: str


RENAMED: Mapping[str, Renamed] = MappingProxyType(
    {
        "sklearn": Renamed(
            "scikit-learn",
            "0.0.post12",
            "since 2023-12-01 the sklearn package fails to install on purpose, so pip installs "
            "nothing this command names",
            "scikit-learn/sklearn-pypi-package README (brownout schedule)",
        ),
        "tensorflow-gpu": Renamed(
            "tensorflow",
            "2.12.0",
            "its releases since December 2022 are an empty package that raises an error when "
            "installed, so pip installs nothing this command names",
            "pypi.org/project/tensorflow-gpu (removal notice)",
        ),
        "pinecone-client": Renamed(
            "pinecone",
            "6.0.0",
            "pinecone-client 6 (2025-02-21) installs, but `import pinecone` then raises an "
            "exception saying the package was renamed",
            "pinecone-io/python-sdk v5.1.0 release notes and pull request 462",
        ),
    }
)


def find(sites: Sequence[InstallSite]) -> Iterator[Finding]:
    """NBS009 findings: pip/uv installs of a name in `RENAMED`."""
    for site, text in pip_requirements(sites):
        message = describe(text)
        if message is not None:
            yield Finding.at(site, CODE, message, _name(text))


def describe(text: str) -> str | None:
    """The NBS009 message for one requirement, or None when its name was not replaced."""
    name = _name(text)
    entry = RENAMED.get(name or "")
    if entry is None:
        return None
    requirement = Requirement(text)
    if requirement.specifier.contains(entry.probe, prereleases=True):
        return f"{text}: {entry.failure}; install {entry.replacement} instead"
    return (
        f"{text}: {name} is the old name of {entry.replacement} and gets no new releases; "
        f"install {entry.replacement} instead"
    )


def _name(text: str) -> str | None:
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return None
    if requirement.url:
        return None
    return canonicalize_name(requirement.name)
