"""The pin policy: hoisted install commands + pins → the environment cell's install lines.

Rules (CONTRACT "Pins"):

- pip (and `uv pip`, written back as pip) requirements compare by PEP 503 name. A package in
  the requirements gets that line's specifier (or URL) and markers, with the extras of both
  sides merged; a requirements line without a specifier keeps the notebook's, and one without
  markers keeps the notebook's markers. Marker variants (`x==1; python_version<"3.9"` and
  `x==2; python_version>="3.9"`) are all written.
- Packages absent from the requirements keep the notebook's spec. Among duplicate installs the
  later non-empty specifier wins; a later bare name does not undo an earlier specifier, since
  running `pip install x` after `pip install x==1` leaves 1 installed.
- conda match specs (`%conda install`, `!mamba install`) take the conda pins of a conda
  environment file, never pip pins: the pin replaces the spec, keeping the notebook's
  `channel::` prefix when the pin has none; a pin without a version keeps the notebook's. A
  notebook spec the pin does not satisfy (or another channel) is a conflict, the pin wins.
  Without a conda pin the last spec is kept; it is reported as unpinned when conda pins are in
  use. A package whose pip and conda pins allow no common version is reported ("mismatch").
- URL/VCS requirements (`git+https://...`, `name @ url`), requirements that do not parse and
  apt packages are not pinned: apt ones merge by name (later wins), the others by their exact
  text.
- Options stay bound to their packages: one line per (manager, option group). A package
  installed under several option groups stays in the group of its last install, which is what a
  top-to-bottom run ends with, and is reported as "moved".
- Order: managers apt, conda, pip; groups by first appearance; packages by first appearance in
  their group. Rendering and re-resolving therefore gives the same lines (idempotence).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from nbsetup import matchspec, packages, quoting
from nbsetup.envcell import INSTALLERS, PIP_STYLES
from nbsetup.installs.records import InstallCommand
from nbsetup.sources.requirements_txt import Pins, RequirementEntry

#: Output order of managers; `uv` is written back as pip.
MANAGER_ORDER = ("apt", "conda", "pip")

#: Report kinds. pinned: the requirements gave the spec. unpinned: absent from the
#: requirements, the notebook's spec is kept. conflict: a notebook specifier the pin does not
#: satisfy (the pin wins), or different notebook specs for an unpinned package (the later wins).
#: duplicate: several installs merged into one. moved: installed under several option groups,
#: kept in the group of the last install. kept: a URL/VCS or unparsable requirement, as written.
#: mismatch: the package's pip pin and conda pin allow no common version.
NOTE_KINDS = frozenset(
    {"pinned", "unpinned", "conflict", "duplicate", "moved", "kept", "mismatch"}
)

#: Options that only change output, caching or prompts, never what gets installed.
COSMETIC_OPTIONS = {
    "pip": frozenset(
        {
            "-q",
            "-qq",
            "-qqq",
            "--quiet",
            "-v",
            "-vv",
            "-vvv",
            "--verbose",
            "--progress-bar",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--root-user-action",
            "--no-warn-script-location",
            "--no-warn-conflicts",
            "--no-color",
            "--no-python-version-warning",
            "-y",
            "--yes",
            # uv's: the environment cell runs `%pip`, which targets the kernel's environment.
            "--system",
        }
    ),
    "conda": frozenset({"-y", "--yes", "-q", "--quiet", "-v", "--verbose"}),
    "apt": frozenset({"-y", "--yes", "--assume-yes", "-q", "-qq", "--quiet"}),
}
#: Short and alternative spellings, written in their long form.
OPTION_ALIASES = {
    "pip": {
        "-U": "--upgrade",
        "-i": "--index-url",
        "-f": "--find-links",
        "-I": "--ignore-installed",
        "-t": "--target",
    },
    "conda": {"-c": "--channel", "-n": "--name", "-p": "--prefix"},
    "apt": {},
}
APT_UPDATE_LINE = "!apt-get update -qq"


@dataclass(frozen=True)
class LineStyle:
    """How the environment cell spells the pip lines it renders: `%pip install ...` by default.

    `quiet` (`quiet-install`) adds `-q` to pip lines that lack it; off by default, since the
    lines are otherwise the notebook's own.
    """

    pip: str = "%pip"
    quiet: bool = False
    installer: str = "pip"

    def __post_init__(self) -> None:
        if self.pip not in PIP_STYLES:
            raise ValueError(f"pip style must be one of {', '.join(PIP_STYLES)}: {self.pip!r}")
        if self.installer not in INSTALLERS:
            choices = ", ".join(INSTALLERS)
            raise ValueError(f"installer must be one of {choices}: {self.installer!r}")

    @property
    def pip_command(self) -> str:
        """`%pip`, `!pip`, or with `installer="uv"` `%uv pip`/`!uv pip` (`auto`: pip's)."""
        return f"{self.pip[0]}uv pip" if self.installer == "uv" else self.pip


@dataclass(frozen=True)
class InstallLine:
    """One install line of the environment cell, before rendering.

    `%pip install -q --index-url https://x/simple "numpy==1.26.4" torch` is
    `InstallLine("pip", ("--index-url", "https://x/simple"), ("numpy==1.26.4", "torch"))`.
    """

    manager: str
    #: Canonical option tokens, flag and value separate; cosmetic options dropped.
    options: tuple[str, ...] = ()
    #: Final requirement strings, unquoted.
    requirements: tuple[str, ...] = ()
    requirement_files: tuple[str, ...] = ()
    constraint_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class PinNote:
    """A report entry about one package's pin; see `NOTE_KINDS`."""

    kind: str
    #: Canonical name; for kept URL/unparsable requirements, the text as written.
    package: str
    #: The notebook's requirement strings for this package, in notebook order.
    notebook: tuple[str, ...]
    #: The requirement strings written to the environment cell.
    result: tuple[str, ...]
    #: The pin source line that pinned it, with its origin file and line number; for a
    #: mismatch, the pip pin.
    pin: str | None = None
    origin: str | None = None
    line: int | None = None
    #: For a mismatch: the conda pin, with its origin file and line number.
    conda_pin: str | None = None
    conda_origin: str | None = None
    conda_line: int | None = None


@dataclass(frozen=True)
class Resolution:
    """The environment cell's install lines and what the policy did to get them."""

    lines: tuple[InstallLine, ...] = ()
    notes: tuple[PinNote, ...] = ()
    #: An `apt-get update` was hoisted: it runs before the apt lines.
    apt_update: bool = False


@dataclass
class _Group:
    manager: str
    options: tuple[str, ...]
    requirement_files: list[str] = field(default_factory=list)
    constraint_files: list[str] = field(default_factory=list)


@dataclass
class _Install:
    """One occurrence of a package in the commands."""

    group: int
    order: int
    text: str
    requirement: Requirement | None


def resolve(commands: Sequence[InstallCommand], pins: Pins) -> Resolution:
    """Merge hoisted install commands (in notebook order) into pinned install lines.

    `!pip install -q numpy` and `%pip install "numpy<2" pandas` with `numpy==1.26.4` in the
    requirements become one line, `%pip install -q numpy==1.26.4 pandas`.
    """
    groups: dict[tuple[str, tuple[tuple[str, str | None], ...]], int] = {}
    group_list: list[_Group] = []
    installs: dict[tuple[str, str], list[_Install]] = {}
    apt_update = False
    order = 0
    for command in commands:
        manager: str = "pip" if command.manager == "uv" else command.manager
        if not command.movable or manager not in MANAGER_ORDER:
            continue
        if command.action == "update":
            apt_update = apt_update or manager == "apt"
            continue
        if command.action != "install":
            continue
        pairs = list(dict.fromkeys(_canonical_pairs(manager, command.options)))
        # Option order does not change what gets installed: `--pre --no-deps` and
        # `--no-deps --pre` are one group, written in the order first seen.
        key = (manager, tuple(sorted(pairs, key=lambda pair: (pair[0], pair[1] or ""))))
        if key not in groups:
            groups[key] = len(group_list)
            group_list.append(_Group(manager, _tokens(pairs)))
        index = groups[key]
        group = group_list[index]
        _extend_unique(group.requirement_files, command.requirement_files)
        _extend_unique(group.constraint_files, command.constraint_files)
        for text in command.requirements:
            requirement = _parse(text) if manager == "pip" else None
            installs.setdefault(_policy_key(manager, text, requirement), []).append(
                _Install(index, order, text, requirement)
            )
            order += 1

    placed: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
    notes: list[PinNote] = []
    compared: set[str] = set()
    for (manager, package), occurrences in installs.items():
        final_group = occurrences[-1].group
        position = min(o.order for o in occurrences if o.group == final_group)
        last = occurrences[-1].requirement
        named = manager == "conda" or (manager == "pip" and last is not None and not last.url)
        if not named:
            result, package_notes = _resolve_as_written(manager, package, occurrences)
        elif manager == "pip":
            result, package_notes = _resolve_pip(package, occurrences, pins)
        else:
            result, package_notes = _resolve_conda(package, occurrences, pins)
        if len({o.group for o in occurrences}) > 1:
            package_notes.append(_note("moved", package, occurrences, result))
        # Once per package, even when the notebook installs it with both pip and conda.
        if named and canonicalize_name(package) not in compared:
            compared.add(canonicalize_name(package))
            package_notes += _mismatch(package, occurrences, result, pins)
        placed.setdefault(final_group, []).append((position, result))
        notes.extend(package_notes)

    lines = []
    for index, group in sorted(
        enumerate(group_list), key=lambda item: (MANAGER_ORDER.index(item[1].manager), item[0])
    ):
        requirements = tuple(r for _, result in sorted(placed.get(index, [])) for r in result)
        if requirements or group.requirement_files or group.constraint_files:
            lines.append(
                InstallLine(
                    group.manager,
                    group.options,
                    requirements,
                    tuple(group.requirement_files),
                    tuple(group.constraint_files),
                )
            )
    return Resolution(tuple(lines), tuple(notes), apt_update)


def canonical_options(manager: str, options: Sequence[tuple[str, str | None]]) -> tuple[str, ...]:
    """Option tokens with aliases spelled long and cosmetic options dropped.

    `(("-U", None), ("-q", None), ("-i", "https://x"))` → `("--upgrade", "--index-url",
    "https://x")`.
    """
    return _tokens(_canonical_pairs(manager, options))


def _canonical_pairs(
    manager: str, options: Sequence[tuple[str, str | None]]
) -> list[tuple[str, str | None]]:
    aliases = OPTION_ALIASES.get(manager, {})
    cosmetic = COSMETIC_OPTIONS.get(manager, frozenset())
    pairs: list[tuple[str, str | None]] = []
    for flag, value in options:
        if value is None and flag.startswith("--") and "=" in flag:
            flag, _, value = flag.partition("=")
        if flag not in cosmetic:
            pairs.append((aliases.get(flag, flag), value))
    return pairs


def _tokens(pairs: Sequence[tuple[str, str | None]]) -> tuple[str, ...]:
    return tuple(t for flag, value in pairs for t in ((flag,) if value is None else (flag, value)))


def render_line(line: InstallLine, style: LineStyle = LineStyle()) -> str:
    """The notebook source of an install line, its words quoted for the line's kind (`quoting`).

    `InstallLine("pip", requirements=("numpy<2", "torch"))` → `%pip install -q "numpy<2" torch`.
    Raises `quoting.UnsafeWord` for a word no line can carry (one with a line break).
    """
    arguments = [*line.options]
    for path in line.requirement_files:
        arguments += ["-r", path]
    for path in line.constraint_files:
        arguments += ["-c", path]
    arguments += line.requirements
    if line.manager == "apt":
        return quoting.shell_line(["apt-get", "install", "-y", *arguments])
    if line.manager == "conda":
        return quoting.conda_magic_line(["install", "-y", *arguments])
    words = ["install", *(["-q"] if style.quiet else []), *arguments]
    uv = style.installer == "uv"
    if style.pip == "!pip":
        return quoting.shell_line(["uv", "pip", *words] if uv else ["pip", *words])
    return quoting.uv_magic_line(["pip", *words]) if uv else quoting.pip_magic_line(words)


def render_lines(resolution: Resolution, style: LineStyle = LineStyle()) -> tuple[str, ...]:
    """All install lines of the environment cell, `apt-get update` first when hoisted."""
    update = (APT_UPDATE_LINE,) if resolution.apt_update else ()
    return update + tuple(render_line(line, style) for line in resolution.lines)


def _extend_unique(target: list[str], items: Sequence[str]) -> None:
    target.extend(item for item in items if item not in target)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Requirement | None:
    """The requirement, or None when it does not parse or does not survive printing.

    packaging prints the marker string `'\\'` as `"\"`, which it cannot read back; such
    requirements are kept as written. Parsed once per string and process (the same
    requirements recur across a collection); callers never change the result.
    """
    try:
        requirement = Requirement(text)
        Requirement(str(requirement))
    except InvalidRequirement:
        return None
    return requirement


def _policy_key(manager: str, text: str, requirement: Requirement | None) -> tuple[str, str]:
    """How the pin policy groups installs: by package, but a URL requirement (or one that does
    not parse) on its own, kept as written."""
    if manager == "pip" and (requirement is None or requirement.url):
        return (manager, text)
    return packages.package_key(manager, text)


def _note(
    kind: str,
    package: str,
    occurrences: Sequence[_Install],
    result: tuple[str, ...],
    pin: RequirementEntry | None = None,
) -> PinNote:
    return PinNote(
        kind,
        package,
        tuple(o.text for o in occurrences),
        result,
        pin.text if pin else None,
        pin.origin if pin else None,
        pin.line if pin else None,
    )


def _resolve_as_written(
    manager: str, package: str, occurrences: Sequence[_Install]
) -> tuple[tuple[str, ...], list[PinNote]]:
    """The last spec of an unpinnable package (URL, conda, apt), with its notes."""
    result = (occurrences[-1].text,)
    notes = []
    if manager == "pip":
        notes.append(_note("kept", package, occurrences, result))
    if len({o.text for o in occurrences}) > 1:
        notes.append(_note("conflict", package, occurrences, result))
    elif len(occurrences) > 1:
        notes.append(_note("duplicate", package, occurrences, result))
    return result, notes


def _resolve_conda(
    package: str, occurrences: Sequence[_Install], pins: Pins
) -> tuple[tuple[str, ...], list[PinNote]]:
    """The match spec of one conda package and its notes: the conda pin, when there is one.

    `%conda install -c conda-forge "gdal>=3.6"` with `gdal=3.8.4` in environment.yml gives
    `gdal=3.8.4`; `conda-forge::gdal` with the same pin gives `conda-forge::gdal=3.8.4`.
    """
    entry = pins.lookup(package, manager="conda")
    if entry is None:
        result, notes = _resolve_as_written("conda", package, occurrences)
        if pins.pins_for("conda"):
            notes.insert(0, _note("unpinned", package, occurrences, result))
        return result, notes
    last = occurrences[-1].text
    pin = matchspec.parse(entry.text)
    if pin.version:
        result = (matchspec.with_channel(entry.text, last),)
    else:  # like a requirements line without a specifier: the notebook's version stays
        result = (matchspec.with_channel(last, entry.text),)
    notes = [_note("pinned", package, occurrences, result, entry)]
    unsatisfied = [o for o in occurrences if _conda_conflicts(pin, matchspec.parse(o.text))]
    if unsatisfied:
        notes.append(_note("conflict", package, unsatisfied, result, entry))
    elif len(occurrences) > 1:
        notes.append(_note("duplicate", package, occurrences, result, entry))
    return result, notes


def _conda_conflicts(pin: matchspec.MatchSpec, wanted: matchspec.MatchSpec) -> bool:
    """Whether a conda pin overrides the notebook's spec with something it does not allow.

    Another explicit channel counts. Versions compare as PEP 440 sets; a version part that
    cannot be read as one (`1.2|1.3`, the bracket form) is satisfied only by the same text.
    """
    if pin.channel and wanted.channel and pin.channel != wanted.channel:
        return True
    if not wanted.version or not pin.version:
        return False
    pin_set, wanted_set = matchspec.specifier(pin), matchspec.specifier(wanted)
    if pin_set is None or wanted_set is None:
        return pin.version != wanted.version
    return not _implies(pin_set, wanted_set)


def _mismatch(
    package: str, occurrences: Sequence[_Install], result: tuple[str, ...], pins: Pins
) -> list[PinNote]:
    """A "mismatch" note when the package's pip and conda pins allow no common version.

    `numpy==2.0.0` in requirements.txt and `numpy=1.26.4` in environment.yml disagree;
    `numpy==1.26.4` and `numpy=1.26` do not. Pins without a version (or a URL, or a match spec
    that is not a plain version) say nothing to compare.
    """
    conda = pins.lookup(package, manager="conda")
    conda_set = matchspec.specifier(matchspec.parse(conda.text)) if conda else None
    if conda is None or conda_set is None:
        return []
    for entry in pins.lookup_all(package):
        pip_pin = entry.requirement
        if pip_pin is None or pip_pin.url or not pip_pin.specifier:
            continue
        if not _overlap(pip_pin.specifier, conda_set):
            notebook = tuple(o.text for o in occurrences)
            pip_where = (entry.text, entry.origin, entry.line)
            conda_where = (conda.text, conda.origin, conda.line)
            return [PinNote("mismatch", package, notebook, result, *pip_where, *conda_where)]
    return []


def _resolve_pip(
    package: str, occurrences: Sequence[_Install], pins: Pins
) -> tuple[tuple[str, ...], list[PinNote]]:
    """The requirement strings of one named pip package, with its notes."""
    named = [o for o in occurrences if o.requirement is not None and not o.requirement.url]
    requirements = [o.requirement for o in named if o.requirement is not None]
    extras: set[str] = {canonicalize_name(e) for r in requirements for e in r.extras}
    specified = [r for r in requirements if r.specifier]
    winner = specified[-1] if specified else requirements[-1]
    distinct = list(dict.fromkeys(str(r.specifier) for r in specified))
    notes: list[PinNote] = []
    entries = [e for e in pins.lookup_all(package) if e.requirement is not None]
    result: tuple[str, ...]
    if not entries:
        result = (str(_build(winner, winner, extras)),)
        notes.append(_note("unpinned", package, occurrences, result))
        if len(distinct) > 1:
            notes.append(_note("conflict", package, occurrences, result))
        elif len(occurrences) > 1:
            notes.append(_note("duplicate", package, occurrences, result))
        return result, notes

    result = tuple(
        str(_build(winner, entry.requirement, extras))
        for entry in entries
        if entry.requirement is not None
    )
    notes.append(_note("pinned", package, occurrences, result, entries[0]))
    for entry in entries:
        assert entry.requirement is not None
        pin = entry.requirement
        unsatisfied = [
            o
            for o in named
            if o.requirement is not None and _conflicts(pin, o.requirement.specifier)
        ]
        if unsatisfied:
            notes.append(_note("conflict", package, unsatisfied, result, entry))
            break
    else:
        if len(occurrences) > 1:
            notes.append(_note("duplicate", package, occurrences, result, entries[0]))
    return result, notes


def _build(notebook: Requirement, pin: Requirement, extras: set[str]) -> Requirement:
    """The notebook requirement with the pin's name, specifier or URL and markers."""
    result = Requirement(pin.name)
    result.extras = extras | {canonicalize_name(e) for e in pin.extras}
    if pin.url:
        result.url = pin.url
    else:
        result.specifier = pin.specifier or notebook.specifier
    result.marker = pin.marker or notebook.marker
    # Round trip so that the string is exactly what packaging prints for it.
    return _parse(str(result)) or notebook


def _conflicts(pin: Requirement, wanted: SpecifierSet) -> bool:
    """Whether a pin overrides a notebook specifier with something it does not allow.

    A URL pin cannot be compared with a specifier, so any specifier counts as overridden.
    """
    if not wanted:
        return False
    return bool(pin.url) or (bool(pin.specifier) and not _implies(pin.specifier, wanted))


def _implies(pin: SpecifierSet, wanted: SpecifierSet) -> bool:
    """Whether every version the pin allows is one the notebook's specifier allows.

    Exact pins (`==1.2.3`, `===x`) are checked directly. For ranges we test the versions that
    bound either set and their neighbours: a version allowed by the pin and refused by the
    notebook, if any exists, is found among them for the usual operators.
    """
    exact = [s for s in pin if s.operator in ("==", "===") and not s.version.endswith(".*")]
    if exact:
        return all(wanted.contains(s.version, prereleases=True) for s in exact)
    allowed = (v for v in _candidates(pin, wanted) if pin.contains(v, prereleases=True))
    return all(wanted.contains(v, prereleases=True) for v in allowed)


def _overlap(first: SpecifierSet, second: SpecifierSet) -> bool:
    """Whether some version is allowed by both sets (tested on the same versions as `_implies`).

    `==1.26.4` and `==1.26.*` overlap; `==2.0.0` and `==1.26.*` do not.
    """
    return any(
        first.contains(v, prereleases=True) and second.contains(v, prereleases=True)
        for v in _candidates(first, second)
    )


def _candidates(*sets: SpecifierSet) -> set[Version]:
    """The versions that bound the sets' specifiers, and their neighbours."""
    candidates = {Version("0"), Version("999999")}
    for spec in (s for specifiers in sets for s in specifiers):
        try:
            version = Version(spec.version.removesuffix(".*"))
        except InvalidVersion:
            continue
        release = version.release
        bumped = (*release[:-1], release[-1] + 1)
        candidates.add(version)
        candidates.add(Version(".".join(map(str, bumped))))
        candidates.add(Version(".".join(map(str, (*release, 1)))))
        if len(release) > 1:
            # The upper bound of `~=1.4.5` is 1.5.
            candidates.add(Version(".".join(map(str, (*release[:-2], release[-2] + 1)))))
        if release[-1] > 0:
            lowered = (*release[:-1], release[-1] - 1)
            candidates.add(Version(".".join(map(str, (*lowered, 999)))))
    return candidates
