"""Conda match specs: the channel, name and version of `conda-forge::gdal>=3.8`.

The syntax (https://docs.conda.io/projects/conda/en/latest/user-guide/concepts/pkg-specs.html)
is `[channel[/subdir]::]name[ version[ build]]`, `name<op>version[=build]`, or a bracket form
`name[version=">=1.2"]`. Only what pins need is read: the channel, the name and, when simple
enough, the version as a PEP 440 specifier set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

# Where a name ends. The pin policy, the safety net and the preloaded-package check all take
# a conda package's name from `parse`.
_NAME_END_RE = re.compile(r"[\s=<>!~\[]")
_OPERATOR_RE = re.compile(r"(==|!=|>=|<=|~=|>|<|=)?(.+)")


@dataclass(frozen=True)
class MatchSpec:
    """One match spec, split.

    `conda-forge::numpy=1.26.4=py311h_0` is
    `MatchSpec("conda-forge", "numpy", "=1.26.4=py311h_0")`.
    """

    #: The channel (with any `/subdir`) before `::`, or None.
    channel: str | None
    #: The package name, lower case (conda names are).
    name: str
    #: The rest as written, stripped: version, build, or bracket part; "" for a bare name.
    version: str


def parse(text: str) -> MatchSpec:
    """Split a match spec into channel, name and version part; never fails."""
    channel, _, rest = text.strip().rpartition("::")
    rest = rest.strip()
    end = _NAME_END_RE.search(rest)
    name = rest[: end.start()] if end else rest
    return MatchSpec(channel or None, name.lower(), rest[len(name) :].strip())


def specifier(spec: MatchSpec) -> SpecifierSet | None:
    """The versions the spec allows as a PEP 440 set, or None when it cannot say.

    `=1.26` (conda's fuzzy match) → `==1.26.*`; `==1.26.4`, the bare `1.26.4` of the space
    form and `=1.26.4=py311h_0` (version and build, as `conda env export` writes) →
    `==1.26.4`; `1.26*` → `==1.26.*`; `>=1.2,<2` as is. The build string is ignored. None for
    no version, `|` alternatives and the bracket form.
    """
    version = spec.version
    if not version or version.startswith("[") or "|" in version:
        return None
    if " " in version:  # the space form: `1.26.4 py311h_0`
        version = version.split()[0]
    elif version.startswith("=") and not version.startswith("=="):
        _, version, *build = version.split("=")
        version = f"=={version}" if build else f"={version}"
    parts = []
    for part in version.split(","):
        match = _OPERATOR_RE.fullmatch(part.strip())
        if match is None:
            return None
        operator, value = match.group(1) or "", match.group(2).strip()
        fuzzy = operator == "=" or value.endswith("*")
        value = value.rstrip("*").rstrip(".")
        if operator in ("", "=", "=="):
            operator = "=="
            value = f"{value}.*" if fuzzy else value
        elif fuzzy:
            return None  # `>=1.2*` means nothing more than `>=1.2`, but conda is loose here
        parts.append(f"{operator}{value}")
    try:
        return SpecifierSet(",".join(parts))
    except InvalidSpecifier:
        return None


def with_channel(pin: str, notebook: str) -> str:
    """The pin, given the notebook's channel prefix when it has none of its own.

    `with_channel("gdal=3.8.4", "conda-forge::gdal")` → `conda-forge::gdal=3.8.4`.
    """
    channel = parse(notebook).channel
    if parse(pin).channel is None and channel is not None:
        return f"{channel}::{pin.strip()}"
    return pin.strip()
