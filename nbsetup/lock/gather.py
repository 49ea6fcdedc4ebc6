"""What `nbsetup lock` has to pin: the installs of a collection the pin files do not pin exactly.

A notebook's pip installs are read as `fix` and `check` read them (the recogniser, in notebook
order; the environment cell through its user view), one `Request` per named requirement.
A package is *wanted* when some install of it is pinned neither in the notebook (`==1.2`,
`===x`, a URL) nor exactly by the pin files (`numpy>=1` there is a range: its line is
tightened). Every request of a wanted package then goes to the resolver, inline pins
included, so that the version chosen satisfies all of them. Two requests no single version
can satisfy are a conflict, reported with both places; that package is left out.

`alpha` in one notebook and `alpha<2` plus `alpha==1.0` in another make one wanted package
with three requests; `base<2` here and `base>=3` there make a `Conflict`.
"""

from __future__ import annotations

import dataclasses
import os.path
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from nbsetup import install_lines, packages, verdicts
from nbsetup.installs.records import InstallSite
from nbsetup.pins import Pins, RequirementEntry

#: Options that change which versions a resolver may choose; the others (`--upgrade`,
#: `--no-deps`, `--target`, ...) change what an install does, not what it resolves to.
RESOLVE_VALUE_OPTIONS = frozenset(
    {"--index-url", "--extra-index-url", "--find-links", "--only-binary", "--no-binary"}
)
RESOLVE_FLAGS = frozenset({"--no-index", "--pre", "--prefer-binary"})
_LOCAL_VALUE_OPTIONS = frozenset({"--find-links"})


@dataclass(frozen=True)
class Place:
    """Where an install is: `Place("a.ipynb", 3, 1)` is shown as `a.ipynb, cell 3, line 1`."""

    path: str
    #: 1-based cell number and line within the cell, as `check` reports them; cell 0: a
    #: line of a pin file.
    cell: int
    line: int

    def __str__(self) -> str:
        if self.cell == 0:
            return f"{self.path}, line {self.line}"
        return f"{self.path}, cell {self.cell}, line {self.line}"

    @property
    def within(self) -> str:
        """The place without the file: `cell 3, line 1`."""
        return f"cell {self.cell}, line {self.line}"


@dataclass(frozen=True)
class Request:
    """One named pip requirement a notebook installs, with the options it resolves under.

    `!pip install -q -i https://x/simple "Seaborn[stats]>=0.12"` gives
    `Request("seaborn", "Seaborn[stats]>=0.12", ("--index-url", "https://x/simple"), place)`.
    """

    name: str
    text: str
    #: Canonical option tokens that change resolution (`RESOLVE_*`), `--find-links` paths
    #: made absolute from the notebook's directory, where the notebook runs.
    options: tuple[str, ...]
    place: Place

    @property
    def requirement(self) -> Requirement:
        return Requirement(self.text)


@dataclass(frozen=True)
class Conflict:
    """Two requests for one package that no version satisfies together."""

    name: str
    first: Request
    second: Request

    @property
    def message(self) -> str:
        return (
            f"{self.name}: not locked: {self.second.text!r} here and {self.first.text!r} at "
            f"{self.first.place} allow no common version"
        )


@dataclass(frozen=True)
class Gathered:
    """What to lock, from a collection's requests and the pins in force."""

    #: Canonical names to resolve, in order of first install.
    wanted: tuple[str, ...] = ()
    #: Every request of a wanted package, in collection order.
    requests: tuple[Request, ...] = ()
    #: Pin lines to rewrite with the version found: ranges, and exact pins being upgraded.
    lines: tuple[RequirementEntry, ...] = ()
    #: Exact pins kept as they are, given to the resolver as constraints (`name==1.2`).
    constraints: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    #: Requests of packages left out for another reason, with the reason.
    refused: tuple[tuple[Request, str], ...] = ()


def notebook_requests(notebook: dict[str, Any], path: str, directory: str) -> list[Request]:
    """The named pip requirements a notebook installs, in notebook order.

    `directory` is where the notebook runs, against which relative `--find-links` paths are
    read. Skipped as `check`'s NBS002 skips them: conda and apt installs, commands with their
    own `-c` file, `-r` files, local paths, unnamed URLs and text pip would reject.
    """
    found = []
    for site in _sites(notebook):
        for command in site.commands:
            if command.action != "install" or command.manager not in ("pip", "uv"):
                continue
            if command.constraint_files:
                continue
            options = resolve_options(command.options, directory)
            for text in command.requirements:
                name = packages.named(text)
                if name is None or packages.is_local_path(text):
                    continue
                # Every requirement of a command is placed at the site's first line.
                place = Place(path, site.cell + 1, site.start + 1)
                found.append(Request(name, text, options, place))
    return found


def _sites(notebook: dict[str, Any]) -> list[InstallSite]:
    """Install sites in cell and line order, the environment cell read as `check` reads it."""
    return verdicts.notebook_sites(notebook).all


def resolve_options(options: Sequence[tuple[str, str | None]], directory: str) -> tuple[str, ...]:
    tokens = install_lines.canonical_options("pip", options)
    kept: list[str] = []
    index = 0
    while index < len(tokens):
        flag = tokens[index]
        if flag in RESOLVE_FLAGS:
            kept.append(flag)
        elif flag in RESOLVE_VALUE_OPTIONS and index + 1 < len(tokens):
            value = tokens[index + 1]
            if flag in _LOCAL_VALUE_OPTIONS and not packages.is_url(value):
                value = os.path.normpath(os.path.join(directory, os.path.expanduser(value)))
            kept += [flag, value]
            index += 1
        elif not flag.startswith("-"):
            pass  # a value of an option not kept
        index += 1
    return tuple(kept)


def is_exact(requirement: Requirement) -> bool:
    """`x==1.2`, `x===1.2` or `x @ URL`: one version; `x==1.*` and `x>=1` are ranges."""
    return bool(requirement.url) or any(
        spec.operator in ("==", "===") and not spec.version.endswith(".*")
        for spec in requirement.specifier
    )


def gather(
    requests: Iterable[Request], pins: Pins, upgrade: frozenset[str] | None = frozenset()
) -> Gathered:
    """What to lock: wanted packages, their requests, lines to rewrite, conflicts.

    `upgrade`: canonical names whose exact pins are re-resolved (their lines rewritten), or
    None for every package the notebooks install.
    """
    by_name: dict[str, list[Request]] = {}
    for request in requests:
        by_name.setdefault(request.name, []).append(request)
    wanted: list[str] = []
    chosen: list[Request] = []
    lines: list[RequirementEntry] = []
    constraints: list[str] = []
    conflicts: list[Conflict] = []
    refused: list[tuple[Request, str]] = []
    for name, asked in by_name.items():
        effective = pins.lookup_all(name)
        upgrading = upgrade is None or name in upgrade
        in_file = [e for e in effective if e.requirement is not None]
        exact_file = bool(in_file) and all(
            is_exact(e.requirement) for e in in_file if e.requirement
        )
        if exact_file and not upgrading:
            constraints += [
                _constraint(e) for e in in_file if e.requirement and not e.requirement.url
            ]
            continue
        if not in_file and all(is_exact(r.requirement) for r in asked):
            continue  # pinned where it is installed, and not in the pin files
        conflict = _first_conflict(name, asked, in_file if not upgrading else ())
        if conflict is not None:
            conflicts.append(conflict)
            continue
        rewrite = [
            e
            for e in _raw_lines(pins, name)
            if upgrading or (e.requirement is not None and not is_exact(e.requirement))
        ]
        hashed = [e for e in rewrite if "--hash" in e.options]
        if hashed:
            reason = (
                f"{name}: not locked: {hashed[0].origin}, line {hashed[0].line} has hashes, "
                "which nbsetup cannot compute; regenerate that file"
            )
            refused += [(r, reason) for r in asked[:1]]
            continue
        wanted.append(name)
        chosen += asked
        lines += rewrite
        if not upgrading:
            chosen += [
                dataclasses.replace(asked[0], text=str(e.requirement))
                for e in in_file
                if e.requirement is not None and not e.requirement.url
            ]
    return Gathered(
        tuple(wanted),
        tuple(chosen),
        tuple(lines),
        tuple(dict.fromkeys(constraints)),
        tuple(conflicts),
        tuple(refused),
    )


def _constraint(entry: RequirementEntry) -> str:
    """A pin as a constraint: pip refuses extras in constraints files."""
    assert entry.requirement is not None
    requirement = Requirement(str(entry.requirement))
    requirement.extras = set()
    return str(requirement)


def _raw_lines(pins: Pins, name: str) -> list[RequirementEntry]:
    """The pin lines for a package as written: requirement lines, else its constraints."""
    mine = [
        e
        for e in pins.entries
        if e.name == name
        and e.manager == "pip"
        and e.requirement is not None
        and not e.requirement.url
    ]
    lines = [e for e in mine if not e.constraint]
    return lines or [e for e in mine if e.constraint]


def _first_conflict(
    name: str, asked: Sequence[Request], in_file: Sequence[RequirementEntry]
) -> Conflict | None:
    """The first pair of requests (pin lines count as requests) no version satisfies."""
    seen: list[Request] = [
        Request(name, str(e.requirement), (), Place(e.origin, 0, e.line or 0))
        for e in in_file
        if e.requirement is not None
    ]
    for request in asked:
        try:
            specifier = request.requirement.specifier
        except InvalidRequirement:
            continue
        for earlier in seen:
            if not compatible(earlier.requirement.specifier, specifier):
                return Conflict(name, earlier, request)
        seen.append(request)
    return None


def compatible(first: SpecifierSet, second: SpecifierSet) -> bool:
    """Whether some version could satisfy both specifier sets.

    Tried on the versions they name and their neighbours (`1.2` gives `1.2`, `1.2.1`, `1.3`,
    `1.1.1`), which covers the specifiers people write; a pair this misses is caught by the
    resolver instead.
    """
    if not first or not second:
        return True
    both = first & second
    return any(both.contains(version, prereleases=True) for version in _candidates(both))


def _candidates(specifiers: SpecifierSet) -> set[Version]:
    found: set[Version] = set()
    for spec in specifiers:
        text = spec.version.removesuffix(".*")
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        release = list(version.release)
        bumped = [*release[:-1], release[-1] + 1]
        lower = [*release[:-1], release[-1] - 1] if release[-1] > 0 else release
        for parts in (release, [*release, 1], bumped, [*lower, 1], lower):
            found.add(Version(".".join(str(p) for p in parts)))
        found.add(version)
    return found


def canonical(names: Iterable[str]) -> frozenset[str]:
    """Package names as given on the command line, PEP 503-normalised."""
    return frozenset(canonicalize_name(name) for name in names)
