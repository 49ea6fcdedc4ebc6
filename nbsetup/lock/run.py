"""`nbsetup lock` over a collection: notebooks → requests → versions → pin file edits.

`plan` reads the notebooks and their pin files, asks the resolver, and returns the new text of
each pin file that changes, with one `Message` per package it could not lock; it writes
nothing. `write` writes a plan's files (each all or nothing, and only if unchanged meanwhile).

Which file: the one `fix` reads for the notebook (`pipeline.pin_sources`): its requirements
file; when its pins come only from an `environment.yml` or a `pyproject.toml`, a new
`requirements.txt` beside them (which `fix` then reads first); when there are none, a new
`requirements.txt` in the nearest directory, from the notebook's up, holding a
`pyproject.toml` or `.git`. A `pylock.toml` or `uv.lock` is refused: their formats carry
hashes and artefact lists nbsetup does not produce.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.requirements import Requirement

from nbsetup import notebook_io, pipeline
from nbsetup.errors import NbsetupError
from nbsetup.lock import edit, gather, resolve
from nbsetup.lock.gather import Request
from nbsetup.pins import Pins
from nbsetup.sources import kind
from nbsetup.textnb import files as textnb_files

Source = Literal["pip", "uv", "env"]
Level = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Settings:
    """How to lock: where versions come from, for which interpreter, what to refresh."""

    #: `pip`/`uv`: that resolver; `env`: the versions installed for `python`.
    source: Source = "pip"
    python: str = sys.executable
    #: Canonical names whose exact pins are refreshed; None: all the notebooks install.
    upgrade: frozenset[str] | None = frozenset()
    #: `--pins FILE`: the pin sources instead of the project's.
    pins: tuple[Path, ...] = ()
    exclude: tuple[str, ...] = ()
    text: bool = False


@dataclass(frozen=True)
class Message:
    """`a.ipynb: warning: cell 2, line 1: base: not locked: ...`."""

    path: str
    level: Level
    text: str

    def __str__(self) -> str:
        return f"{self.path}: {self.level}: {self.text}"


@dataclass(frozen=True)
class FileEdit:
    """A pin file's text before (None: a new file) and after, and what changed in it."""

    path: Path
    before: str | None
    after: str
    #: `seaborn==0.13.2` for each pin added; `line 3: numpy>=1 -> numpy==1.26.4` rewritten.
    added: tuple[str, ...] = ()
    rewritten: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    edits: tuple[FileEdit, ...] = ()
    messages: tuple[Message, ...] = ()

    @property
    def failed(self) -> bool:
        return any(message.level == "error" for message in self.messages)


@dataclass(frozen=True)
class _Target:
    """Where a notebook's pins go; `refusal` says why they cannot go there."""

    path: Path
    refusal: str | None = None


@dataclass
class _Collected:
    pins: Pins
    requests: list[Request] = field(default_factory=list)


def plan(notebooks: Sequence[Path], settings: Settings) -> Plan:
    """What locking the notebooks would change; reads, resolves, writes nothing."""
    messages: list[Message] = []
    targets: dict[_Target, _Collected] = {}
    for path in notebooks:
        try:
            target, pins, requests = _read(path, settings)
        except NbsetupError as error:
            messages.append(Message(str(path), "error", str(error)))
            continue
        if target is not None:
            targets.setdefault(target, _Collected(pins)).requests.extend(requests)
    edits: list[FileEdit] = []
    installed: dict[str, str] | None = None
    for target, collected in targets.items():
        gathered = gather.gather(collected.requests, collected.pins, settings.upgrade)
        messages += [_at(c.second, "warning", c.message) for c in gathered.conflicts]
        messages += [_at(request, "warning", reason) for request, reason in gathered.refused]
        if not gathered.wanted:
            continue
        if target.refusal is not None:
            messages.append(Message(str(target.path), "error", target.refusal))
            continue
        try:
            if settings.source == "env":
                installed = installed or resolve.installed_versions(settings.python)
                versions, found = _from_env(gathered, installed, settings.python)
            else:
                versions, found = _resolved(gathered, collected.pins, settings)
        except resolve.ResolverUnavailable as error:
            messages.append(Message(str(target.path), "error", str(error)))
            return Plan(tuple(edits), tuple(messages))
        messages += found
        try:
            edits += _edits(target.path, collected.pins, gathered, versions)
        except (NbsetupError, edit.EditError, OSError, UnicodeDecodeError) as error:
            messages.append(Message(str(target.path), "error", _reason(error)))
    return Plan(tuple(e for e in edits if e.before != e.after), tuple(messages))


def _read(path: Path, settings: Settings) -> tuple[_Target | None, Pins, list[Request]]:
    data = notebook_io.read_bytes(path)
    document = textnb_files.codec_for(path, data, settings.text).loads(data)
    project = pipeline.project_for(path)
    if pipeline.skip_reason(document.notebook, project) is not None:
        return None, Pins(), []
    request = settings.pins or None
    sources = pipeline.pin_sources(path, project, request)
    pins = pipeline.choose_pins(path, project, request).pins
    directory = str(path.absolute().parent)
    requests = gather.notebook_requests(document.notebook, str(path), directory)
    return _target(path, sources, bool(request or project.pin_sources)), pins, requests


def _target(path: Path, sources: Sequence[Path], given: bool) -> _Target:
    for source in sources:
        found = kind(source)
        if found == "requirements":
            return _Target(source)
        if found in ("pylock", "uv.lock"):
            tool = "pip lock or uv export" if found == "pylock" else "uv add"
            reason = (
                f"nbsetup lock writes requirements files only, not {found} files (which list "
                f"artefacts and hashes); add the packages with {tool}"
            )
            return _Target(source, reason)
    if given:
        named = ", ".join(str(s) for s in sources) or "none"
        reason = f"the pin sources given ({named}) hold no requirements file to write; add one"
        return _Target(Path(sources[0]) if sources else path, reason)
    directory = sources[0].absolute().parent if sources else _project_root(path)
    return _Target(_shown(directory / "requirements.txt"))


def _project_root(path: Path) -> Path:
    """The nearest directory, from the notebook's up, holding pyproject.toml or .git."""
    start = path.absolute().parent
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file() or (directory / ".git").exists():
            return directory
    return start


def _shown(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _at(request: Request, level: Level, text: str) -> Message:
    return Message(request.place.path, level, f"{request.place.within}: {text}")


def _from_env(
    gathered: gather.Gathered, installed: Mapping[str, str], python: str
) -> tuple[dict[str, str], list[Message]]:
    versions: dict[str, str] = {}
    messages: list[Message] = []
    for name in gathered.wanted:
        asked = [r for r in gathered.requests if r.name == name]
        version = installed.get(name)
        if version is None:
            messages.append(
                _at(asked[0], "warning", f"{name}: not locked: not installed in {python}")
            )
            continue
        unmet = [
            r for r in asked if not r.requirement.specifier.contains(version, prereleases=True)
        ]
        if unmet:
            asks = unmet[0].text
            text = f"{name}: not locked: {python} has {version}, the notebook asks for {asks!r}"
            messages.append(_at(unmet[0], "warning", text))
            continue
        versions[name] = version
    return versions, messages


def _resolved(
    gathered: gather.Gathered, pins: Pins, settings: Settings
) -> tuple[dict[str, str], list[Message]]:
    run = resolve.runner("uv" if settings.source == "uv" else "pip", settings.python)
    # The pin file's own index options (`--index-url` in requirements.txt) apply to every install.
    base = gather.resolve_options(tuple(_pairs(pins.options)), "")
    groups: dict[tuple[str, ...], list[Request]] = {}
    for request in gathered.requests:
        groups.setdefault((*base, *request.options), []).append(request)
    versions: dict[str, str] = {}
    where: dict[str, Request] = {}
    messages: list[Message] = []
    failed: set[str] = set()
    for options, requests in groups.items():
        result = resolve.resolve_group(run, requests, options, gathered.constraints)
        for name, reason in result.failures.items():
            first = next(r for r in requests if r.name == name)
            messages.append(_at(first, "error", f"{name}: cannot lock: {reason}"))
            failed.add(name)
        for name in dict.fromkeys(r.name for r in requests):
            first = next(r for r in requests if r.name == name)
            version = result.versions.get(name)
            if name in result.failures:
                continue
            if version is None:
                text = f"{name}: not locked: its marker is false for {settings.python}"
                messages.append(_at(first, "warning", text))
            elif name in versions and versions[name] != version:
                text = (
                    f"{name}: not locked: resolves to {version} with this install's index "
                    f"options and to {versions[name]} at {where[name].place}"
                )
                messages.append(_at(first, "warning", text))
                failed.add(name)
            else:
                versions.setdefault(name, version)
                where.setdefault(name, first)
    return {n: v for n, v in versions.items() if n not in failed}, messages


def _pairs(tokens: Sequence[str]) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for token in tokens:
        if token.startswith("-"):
            pairs.append((token, None))
        elif pairs:
            pairs[-1] = (pairs[-1][0], token)
    return pairs


def _edits(
    target: Path, pins: Pins, gathered: gather.Gathered, versions: Mapping[str, str]
) -> list[FileEdit]:
    """The new text of the target file and of each included file with a line to rewrite."""
    by_file: dict[str, list[edit.LineEdit]] = {}
    shown: dict[str, list[str]] = {}
    rewritten = set()
    for entry in gathered.lines:
        version = versions.get(entry.name or "")
        # Only requirements files are edited: a pyproject.toml's range stays as declared,
        # and the new pin, in the requirements file that `fix` reads first, wins over it.
        if version is None or entry.line is None or kind(Path(entry.origin)) != "requirements":
            continue
        rewritten.add(entry.name)
        new = edit.pinned(entry.text, version)
        if Requirement(new) == entry.requirement and new == entry.text:
            continue
        key = os.path.realpath(entry.origin)
        by_file.setdefault(key, []).append(edit.LineEdit(entry.line, entry.text, new))
        shown.setdefault(key, []).append(f"line {entry.line}: {entry.text} -> {new}")
    added = tuple(f"{name}=={v}" for name, v in versions.items() if name not in rewritten)
    target_key = os.path.realpath(target)
    result = []
    if target.exists():
        before = _read_text(target)
        own = {
            e.line: e.name
            for e in pins.entries
            if e.line is not None and e.name and os.path.realpath(e.origin) == target_key
        }
        after = edit.add_pins(edit.edit_lines(before, by_file.pop(target_key, [])), added, own)
        result.append(FileEdit(target, before, after, added, tuple(shown.get(target_key, ()))))
    elif added:
        result.append(FileEdit(target, None, edit.new_file(added), added))
    for key, line_edits in by_file.items():
        path = _shown(Path(key))
        before = _read_text(path)
        result.append(
            FileEdit(path, before, edit.edit_lines(before, line_edits), (), tuple(shown[key]))
        )
    return result


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NbsetupError(f"{path}: not UTF-8; nbsetup lock edits UTF-8 files only") from None


def _reason(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"cannot read: {(error.strerror or str(error)).lower()}"
    return str(error)


def write(plan: Plan) -> list[Message]:
    """Write the plan's files; a file changed meanwhile or unwritable is reported, left as is."""
    failures = []
    for change in plan.edits:
        data = change.after.encode("utf-8")
        try:
            if change.before is None:
                with change.path.open("xb") as handle:
                    handle.write(data)
            else:
                notebook_io.write_atomic(change.path, data, expected=change.before.encode("utf-8"))
        except FileExistsError:
            failures.append(Message(str(change.path), "error", "created meanwhile; left as is"))
        except OSError as error:
            failures.append(
                Message(str(change.path), "error", _reason(error).replace("read", "write"))
            )
        except NbsetupError as error:
            failures.append(Message(str(change.path), "error", str(error)))
    return failures


def render_diff(plan: Plan) -> str:
    """A unified diff of every pin file the plan changes."""
    parts: list[str] = []
    for change in plan.edits:
        before = (change.before or "").splitlines(keepends=True)
        after = change.after.splitlines(keepends=True)
        source = "/dev/null" if change.before is None else str(change.path)
        parts += difflib.unified_diff(before, after, source, str(change.path))
    return "".join(line if line.endswith("\n") else f"{line}\n" for line in parts)
