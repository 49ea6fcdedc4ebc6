"""From locked package versions to pins: one version per package, or its marker variants.

A lock (pylock.toml, uv.lock) holds one entry per package version it may install. A package
locked once is pinned to that version, without the lock's marker: the notebook asked for the
package, and keeps its own marker. A package locked several times for different environments
(`numpy==2.1.0` where `python_full_version >= '3.13'`, `numpy==1.26.4` elsewhere) gives one
marker variant per version, `numpy==2.1.0; python_full_version >= "3.13"` and so on, so that
pip chooses on the kernel that runs the notebook, as the locker would have. nbsetup does not
evaluate the markers itself: the kernel the notebook runs on (Colab, a server) is often not
the interpreter running nbsetup.

A variant whose marker depends on `extra`, `extras` or `dependency_groups` (uv's conflicting
extras, PEP 751's per-group entries) cannot be chosen at install time by a notebook, which
installs no extras of the project: such variants are left out, and a package left with no
variant is not pinned by the lock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup.pins import RequirementEntry, RequirementsError, invalid_reason

# Quoted strings of a marker, removed before looking for the names it uses.
_QUOTED_RE = re.compile(r"'[^']*'|\"[^\"]*\"")
_PROJECT_NAMES_RE = re.compile(r"\b(?:extras?|dependency_groups)\b")


@dataclass(frozen=True)
class Locked:
    """One locked version of a package: `Locked("numpy", "numpy==2.1.0", None, 12)`."""

    name: str
    #: The pin without a marker: `numpy==2.1.0`, `httpx @ git+https://...@<commit>`.
    text: str
    #: When this version is installed (PEP 508), or None: always.
    marker: str | None
    line: int | None


def entries(locked: Sequence[Locked], origin: str) -> tuple[RequirementEntry, ...]:
    """The pins of a lock's packages, in lock order (see the module docstring)."""
    by_name: dict[str, list[Locked]] = {}
    for item in locked:
        by_name.setdefault(canonicalize_name(item.name), []).append(item)
    result: list[RequirementEntry] = []
    for name, versions in by_name.items():
        if len(versions) == 1:
            result.append(_entry(versions[0], None, origin))
            continue
        unmarked = [v for v in versions if v.marker is None]
        if unmarked:
            reason = f"'{name}' is locked {len(versions)} times, not every time with a marker"
            raise RequirementsError(origin, reason, unmarked[0].line)
        for version in versions:
            assert version.marker is not None
            marker = _marker(version.marker, origin, version.line)
            if not _PROJECT_NAMES_RE.search(_QUOTED_RE.sub("", str(marker))):
                result.append(_entry(version, marker, origin))
    return tuple(result)


def _marker(text: str, origin: str, line: int | None) -> Marker:
    try:
        return Marker(text)
    except InvalidMarker as error:
        first = str(error).splitlines()[0] if str(error) else "not a valid marker"
        reason = f"invalid marker '{text}': {first[:1].lower()}{first[1:].rstrip('.')}"
        raise RequirementsError(origin, reason, line) from None


def _entry(item: Locked, marker: Marker | None, origin: str) -> RequirementEntry:
    try:
        requirement = Requirement(item.text)
    except InvalidRequirement as error:
        raise RequirementsError(origin, invalid_reason(item.text, error), item.line) from None
    requirement.marker = marker
    text = str(requirement)
    return RequirementEntry(
        text, requirement, canonicalize_name(requirement.name), origin, item.line
    )
