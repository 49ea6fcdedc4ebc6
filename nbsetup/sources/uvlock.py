"""Read uv's lock file (`uv.lock`) into pins.

Each `[[package]]` table is one locked version. What it pins to, by its `source`: a registry,
`name==version`; git, `name @ git+URL@commit` (uv writes `URL?rev=...#<commit>`); a URL,
`name @ URL`. The project itself, the workspace members (`[manifest] members`) and every
local source (`editable`, `virtual`, `directory`, `path`) pin nothing. A package locked in
several versions (a forked resolution) gives marker variants from each version's
`resolution-markers`, see `nbsetup.sources.locks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from nbsetup.pins import Pins, RequirementsError
from nbsetup.sources import locks, tomlfile

FILE_NAME = "uv.lock"
#: The lock format versions read (uv's top-level `version`).
VERSIONS = frozenset({1})
_LOCAL_SOURCES = frozenset({"editable", "virtual", "directory", "path"})


def load(path: Path) -> Pins:
    """The pins of a uv.lock file; `RequirementsError` naming the file (and line)."""
    document, text = tomlfile.read(path)
    origin = str(path)
    version = document.get("version")
    if version not in VERSIONS or isinstance(version, bool):
        reason = f"unsupported uv.lock version {version!r} (nbsetup reads version 1)"
        raise RequirementsError(origin, reason)
    manifest = document.get("manifest", {})
    members = manifest.get("members", []) if isinstance(manifest, dict) else None
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise RequirementsError(origin, "[manifest] members must be an array of names")
    skip = {canonicalize_name(member) for member in members}
    packages = tomlfile.table_array(document, "package", origin)
    lines = tomlfile.table_lines(text, "package", len(packages))
    locked = []
    for number, (package, line) in enumerate(zip(packages, lines, strict=True), start=1):
        item = _locked(package, origin, number, line)
        if item is not None and canonicalize_name(item.name) not in skip:
            locked.append(item)
    return Pins(locks.entries(locked, origin), files=(origin,))


def _locked(
    package: Mapping[str, Any], origin: str, number: int, line: int | None
) -> locks.Locked | None:
    where = f"[[package]] entry {number}"
    name = tomlfile.optional_string(package, "name", origin, where, line)
    if not name:
        raise RequirementsError(origin, f"{where}: 'name' must be a non-empty string", line)
    where = f"{where} ({name})"
    source = package.get("source", {})
    if not isinstance(source, dict):
        raise RequirementsError(origin, f"{where}: 'source' must be a table", line)
    if _LOCAL_SOURCES & source.keys():
        return None
    markers = package.get("resolution-markers", [])
    if not isinstance(markers, list) or not all(isinstance(m, str) for m in markers):
        raise RequirementsError(origin, f"{where}: 'resolution-markers' must be strings", line)
    # Several fork markers: this version is used in any of those forks.
    marker = markers[0] if len(markers) == 1 else " or ".join(f"({m})" for m in markers) or None
    if "git" in source:
        git = tomlfile.optional_string(source, "git", origin, where, line)
        return locks.Locked(name, f"{name} @ {_git_url(git or '')}", marker, line)
    if "url" in source:
        url = tomlfile.optional_string(source, "url", origin, where, line)
        return locks.Locked(name, f"{name} @ {url}", marker, line)
    version = tomlfile.optional_string(package, "version", origin, where, line)
    if version is None:
        return None
    return locks.Locked(name, f"{name}=={version}", marker, line)


def _git_url(source: str) -> str:
    """pip's form of uv's git source: `https://x/y?rev=v1#abc` → `git+https://x/y@abc`.

    The fragment is the resolved commit; `subdirectory` in the query is kept as pip's
    `#subdirectory=` fragment.
    """
    parts = urlsplit(source)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    url = f"git+{base}@{parts.fragment}" if parts.fragment else f"git+{base}"
    subdirectory = parse_qs(parts.query).get("subdirectory")
    return f"{url}#subdirectory={subdirectory[0]}" if subdirectory else url
