"""Read PEP 751 lock files (`pylock.toml`, `pylock.<name>.toml`) into pins.

Each `[[packages]]` table is one locked version (https://packaging.python.org/en/latest/
specifications/pylock-toml/). What it pins to: a VCS source, `name @ git+URL@commit-id`; a
remote archive, `name @ URL`; otherwise, with a `version`, `name==version` (wheels and sdists
come from an index). Local directories, local archives and entries without a version are the
project itself or files the notebook cannot reach, and pin nothing. Several versions of one
package are marker variants, see `nbsetup.sources.locks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbsetup.pins import Pins, RequirementsError
from nbsetup.sources import locks, tomlfile

#: File names PEP 751 allows: `pylock.toml` and `pylock.<name>.toml`.
FILE_NAME_RE = re.compile(r"pylock\.(?:[^.]+\.)?toml")
_VCS_TYPES = frozenset({"git", "hg", "bzr", "svn"})


def load(path: Path) -> Pins:
    """The pins of a pylock.toml file; `RequirementsError` naming the file (and line)."""
    document, text = tomlfile.read(path)
    origin = str(path)
    version = document.get("lock-version")
    if not isinstance(version, str):
        raise RequirementsError(origin, "'lock-version' must be a string such as \"1.0\"")
    if version.split(".")[0] != "1":
        reason = f"unsupported lock-version {version!r} (nbsetup reads lock-version 1.x)"
        raise RequirementsError(origin, reason)
    packages = tomlfile.table_array(document, "packages", origin)
    lines = tomlfile.table_lines(text, "packages", len(packages))
    locked = []
    for number, (package, line) in enumerate(zip(packages, lines, strict=True), start=1):
        item = _locked(package, origin, number, line)
        if item is not None:
            locked.append(item)
    return Pins(locks.entries(locked, origin), files=(origin,))


def _locked(
    package: Mapping[str, Any], origin: str, number: int, line: int | None
) -> locks.Locked | None:
    where = f"[[packages]] entry {number}"
    name = tomlfile.optional_string(package, "name", origin, where, line)
    if not name:
        raise RequirementsError(origin, f"{where}: 'name' must be a non-empty string", line)
    where = f"{where} ({name})"
    marker = tomlfile.optional_string(package, "marker", origin, where, line)
    version = tomlfile.optional_string(package, "version", origin, where, line)
    source = _source(package, name, origin, where, line)
    if source is not None:
        return locks.Locked(name, f"{name} @ {source}", marker, line)
    if any(key in package for key in ("vcs", "archive", "directory")) or version is None:
        return None
    return locks.Locked(name, f"{name}=={version}", marker, line)


def _source(
    package: Mapping[str, Any], name: str, origin: str, where: str, line: int | None
) -> str | None:
    """The direct URL of a remote VCS or archive source, or None."""
    vcs, archive = package.get("vcs"), package.get("archive")
    for key, table in (("vcs", vcs), ("archive", archive)):
        if table is not None and not isinstance(table, dict):
            raise RequirementsError(origin, f"{where}: '{key}' must be a table", line)
    if isinstance(vcs, dict):
        url = tomlfile.optional_string(vcs, "url", origin, f"{where} vcs", line)
        if url is None:
            return None  # a local repository
        kind = tomlfile.optional_string(vcs, "type", origin, f"{where} vcs", line)
        commit = tomlfile.optional_string(vcs, "commit-id", origin, f"{where} vcs", line)
        if kind not in _VCS_TYPES or not commit:
            reason = (
                f"{where}: vcs needs a 'type' ({', '.join(sorted(_VCS_TYPES))}) and 'commit-id'"
            )
            raise RequirementsError(origin, reason, line)
        return _subdirectory(f"{kind}+{url}@{commit}", vcs, origin, where, line)
    if isinstance(archive, dict):
        url = tomlfile.optional_string(archive, "url", origin, f"{where} archive", line)
        return _subdirectory(url, archive, origin, where, line) if url else None
    return None


def _subdirectory(
    url: str, table: Mapping[str, Any], origin: str, where: str, line: int | None
) -> str:
    subdirectory = tomlfile.optional_string(table, "subdirectory", origin, where, line)
    return f"{url}#subdirectory={subdirectory}" if subdirectory else url
