"""Find a run's notebooks, and what applies to each: `[tool.nbsetup]`, modules beside it.

`discover` turns the paths given on the command line into notebook files: directories are
walked, skipping hidden directories, excluded globs and the files git ignores. `project_config`
and `local_modules` answer, per directory, the questions `batch` asks about each notebook.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from nbsetup import config
from nbsetup.config import ConfigError, ProjectConfig
from nbsetup.textnb.files import drop_twins, is_text_notebook

#: `git` as nbsetup runs it in a scanned tree, whose `.git/config` is not ours to trust:
#: `core.fsmonitor` names a program that any command reading the index runs (check-ignore
#: does, to tell tracked files), and an embedded bare repository could bring its own config.
#: Command-line settings win over the repository's; check-ignore runs no hooks, filters or
#: other configured programs. `--no-optional-locks`: a read-only walk never writes the index.
GIT = (
    "git",
    "--no-optional-locks",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "safe.bareRepository=explicit",
)
#: How long git may take to answer for one walked tree (seconds): a network file system
#: that stops answering must not hang the run; after it, nothing is ignored.
GIT_TIMEOUT_SECONDS = 60

_log = logging.getLogger(__name__)


def discover(paths: Sequence[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """The notebooks to process: files as given, then directories walked, each file once.

    A directory is walked for `*.ipynb` in sorted order, skipping hidden directories
    (`.git`, `.ipynb_checkpoints`, ...), anything an `exclude` glob matches (by name, by path
    relative to the directory, or by path as given) or, without `exclude`, anything its
    project's `[tool.nbsetup] exclude` matches (by name, or by path relative to the
    pyproject.toml's directory), and, inside a git work tree, the files git ignores (each
    skip is logged at debug level, for `-v`). A file named explicitly is always kept, and so is
    a path that does not exist, so that processing reports it like any other unreadable file
    (the command line refuses missing paths before this).
    """
    found: list[Path] = []
    seen: set[str] = set()
    for path in paths:
        for candidate in _walk(path, exclude) if _is_dir(path) else [path]:
            key = os.path.realpath(candidate)  # one file under two names is processed once
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _is_dir(path: Path) -> bool:
    """Whether `path` is a directory; False when it cannot be told (a name too long, a
    directory that may not be searched), so that processing the path reports why."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _walk(root: Path, exclude: Sequence[str]) -> list[Path]:
    found = []
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        patterns, anchor = (exclude, root) if exclude else _project_excludes(here, root)
        kept = []
        for name in sorted(dirs):
            if name.startswith("."):
                _log.debug("skipped %s: hidden directory", here / name)
            elif _excluded(here / name, anchor, patterns):
                _log.debug("skipped %s: %s", here / name, _why_excluded(exclude))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            if not (name.endswith(".ipynb") or is_text_notebook(here / name)):
                continue  # not a notebook: not worth a line
            if _excluded(here / name, anchor, patterns):
                _log.debug("skipped %s: %s", here / name, _why_excluded(exclude))
            else:
                found.append(here / name)
    ignored = _git_ignored(root, found)
    for path in found:
        if path in ignored:
            _log.debug("skipped %s: ignored by git", path)
    return drop_twins([path for path in found if path not in ignored])  # one file per pair


def _why_excluded(exclude: Sequence[str]) -> str:
    return "matches --exclude" if exclude else "matches [tool.nbsetup] exclude"


def _project_excludes(directory: Path, root: Path) -> tuple[Sequence[str], Path]:
    """The `[tool.nbsetup] exclude` globs for `directory`, and the directory they are under.

    No globs for a directory whose settings cannot be read (a malformed pyproject.toml): the walk
    goes on, and each notebook they would apply to fails with the reason when processed.
    """
    try:
        project = project_config(directory)
    except ConfigError:
        return (), root
    return project.exclude, project.root or root


def _excluded(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    if root.is_absolute():
        path = path.absolute()
    forms = (path.name, path.as_posix(), path.relative_to(root).as_posix())
    return any(
        fnmatch.fnmatch(form, pattern.rstrip("/")) for pattern in patterns for form in forms
    )


def _git_ignored(root: Path, paths: Sequence[Path]) -> set[Path]:
    """Those of `paths` (all under `root`) that git ignores; none when git cannot tell.

    Git is asked once per walked directory. Without git, outside a work tree, or when git
    fails (a path inside a submodule, an unsafe repository), nothing is ignored. A directory
    that git ignores as a whole was named on purpose: its files are kept.
    """
    if not paths:
        return set()
    names = {os.fsencode(path.relative_to(root)): path for path in paths}
    query = b"".join(name + b"\0" for name in [b".", *names])
    try:
        answer = subprocess.run(
            [*GIT, "check-ignore", "--stdin", "-z"],
            cwd=root,
            input=query,
            capture_output=True,
            check=False,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    if answer.returncode not in (0, 1):  # 1: nothing ignored; 128: not a work tree, ...
        return set()
    ignored = set(answer.stdout.split(b"\0"))
    if b"." in ignored:
        return set()
    return {path for name, path in names.items() if name in ignored}


# --- what applies to the notebooks of a directory -------------------------------------------


def project_config(directory: Path) -> ProjectConfig:
    """The `[tool.nbsetup]` settings for notebooks in `directory` (defaults without any)."""
    found = _find_project(directory)
    if found is None:
        return ProjectConfig()
    status = found.stat()
    return _load_project(found, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=256)
def _find_project(directory: Path) -> Path | None:
    # Cached per directory, as black caches its project root: a pyproject.toml created while
    # the process runs is not seen. Its content is re-read when it changes (`_load_project`).
    return config.find_project_config(directory)


@functools.lru_cache(maxsize=64)
def _load_project(path: Path, mtime_ns: int, size: int) -> ProjectConfig:
    return config.load_config(path)


def local_modules(directory: Path) -> frozenset[str]:
    """What a notebook in `directory` can import from there: `*.py` files and package folders."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return frozenset()
    return frozenset(
        entry.stem if entry.suffix == ".py" else entry.name
        for entry in entries
        if (entry.suffix == ".py" and entry.is_file())
        or (entry.is_dir() and entry.name.isidentifier())
    )


__all__ = ["discover", "local_modules", "project_config"]
