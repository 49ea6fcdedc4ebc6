"""Read the dependencies a `pyproject.toml` declares into pins: ranges, not exact versions.

Read, in this order: `[project] dependencies`, each `[project.optional-dependencies]` extra,
each PEP 735 `[dependency-groups]` group (with its `{include-group = "..."}` entries expanded),
each in file order. The first of these sections to name a package gives its pins, all its
lines (marker variants) and none of the later sections'. A requirement naming the project
itself (`all = ["myproject[plot,io]"]`) pins nothing. `dynamic` dependencies are unknown
without building the project, and pin nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup.pins import Pins, RequirementEntry, RequirementsError, invalid_reason, merge_pins
from nbsetup.sources import tomlfile

FILE_NAME = "pyproject.toml"


def load(path: Path) -> Pins:
    """The dependency pins of a pyproject.toml; `RequirementsError` naming the file and key."""
    document, text = tomlfile.read(path)
    origin = str(path)
    project = _table(document, "project", "[project]", origin)
    own = project.get("name")
    own_name = canonicalize_name(own) if isinstance(own, str) else None
    sections = [("[project] dependencies", _strings(project, "dependencies", origin))]
    extras = _table(project, "optional-dependencies", "[project.optional-dependencies]", origin)
    for extra in extras:
        where = f"[project.optional-dependencies] {extra}"
        sections.append((where, _strings(extras, extra, origin, where)))
    groups = _table(document, "dependency-groups", "[dependency-groups]", origin)
    expanded = _expand_groups(groups, origin)
    sections += [(f"[dependency-groups] {group}", items) for group, items in expanded.items()]
    pins = [
        Pins(tuple(_entries(items, where, own_name, origin, text))) for where, items in sections
    ]
    return Pins(merge_pins(*pins).entries, files=(origin,))


def _entries(
    items: Sequence[str], where: str, own_name: str | None, origin: str, text: str
) -> list[RequirementEntry]:
    entries = []
    for item in items:
        line = tomlfile.string_line(text, item)
        try:
            requirement = Requirement(item)
        except InvalidRequirement as error:
            reason = f"{where}: {invalid_reason(item, error)}"
            raise RequirementsError(origin, reason, line) from None
        name = canonicalize_name(requirement.name)
        if name != own_name:
            entries.append(RequirementEntry(item, requirement, name, origin, line))
    return entries


def _expand_groups(groups: Mapping[str, Any], origin: str) -> dict[str, list[str]]:
    """Each group's requirement strings, includes replaced by the included group's (PEP 735)."""
    by_name: dict[str, str] = {}
    for group in groups:
        normal = canonicalize_name(group)
        if normal in by_name:
            reason = f"[dependency-groups]: '{by_name[normal]}' and '{group}' are one group name"
            raise RequirementsError(origin, reason)
        by_name[normal] = group

    def expand(group: str, stack: tuple[str, ...]) -> list[str]:
        where = f"[dependency-groups] {group}"
        items = groups[group]
        if not isinstance(items, list):
            raise RequirementsError(origin, f"{where}: expected an array")
        result: list[str] = []
        for item in items:
            if isinstance(item, str):
                result.append(item)
                continue
            included = item.get("include-group") if isinstance(item, dict) else None
            if not isinstance(included, str) or len(item) != 1:
                reason = f'{where}: expected a requirement string or {{include-group = "..."}}'
                raise RequirementsError(origin, reason)
            target = by_name.get(canonicalize_name(included))
            if target is None:
                raise RequirementsError(origin, f"{where}: no group '{included}' to include")
            if target in stack:
                chain = " -> ".join((*stack[stack.index(target) :], target))
                raise RequirementsError(origin, f"[dependency-groups]: include cycle: {chain}")
            result += expand(target, (*stack, target))
        return result

    return {group: expand(group, (group,)) for group in groups}


def _table(document: Mapping[str, Any], key: str, where: str, origin: str) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise RequirementsError(origin, f"{where} must be a table")
    return value


def _strings(
    table: Mapping[str, Any], key: str, origin: str, where: str | None = None
) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RequirementsError(
            origin, f"{where or f'[project] {key}'}: expected an array of strings"
        )
    return value
