"""Pins: what a project's pin sources say, looked up by package name and installer.

A pin source is a requirements file, a lock file (`pylock.toml`, `uv.lock`), a
`pyproject.toml` or a conda `environment.yml` (one reader each, in `nbsetup.sources`); each
gives `RequirementEntry` records, which `Pins` indexes. pip pins are looked up by PEP 503
name; conda pins (match specs such as `gdal=3.8.4`) by the same normalised name, separately,
since they apply to `%conda install` lines only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup.errors import NbsetupError


class RequirementsError(NbsetupError):
    """A pin source that cannot be read or holds a malformed entry.

    Its message is one line naming the file, and the line or key where one is known:
    `requirements.txt, line 3: invalid requirement 'numpy=1': ...`.
    """

    def __init__(self, origin: str, reason: str, line: int | None = None) -> None:
        where = origin if line is None else f"{origin}, line {line}"
        super().__init__(f"{where}: {reason}")
        self.origin = origin
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class RequirementEntry:
    """One pin: a requirement line of a requirements file, a locked package, a dependency.

    `numpy==1.26.4 --hash=sha256:abc  # via pandas` on line 3 of `requirements.txt` becomes
    `RequirementEntry(text="numpy==1.26.4", name="numpy", origin="requirements.txt", line=3,
    options=("--hash", "sha256:abc"), ...)`; `gdal=3.8.4` in an environment.yml becomes
    `RequirementEntry(text="gdal=3.8.4", requirement=None, name="gdal", ..., manager="conda")`.
    """

    #: The requirement as written, without options and comments; a conda match spec for conda.
    text: str
    #: Parsed requirement; a `git+...#egg=name` URL becomes `name @ git+...`. None for local
    #: paths, for URLs without a name and for conda match specs.
    requirement: Requirement | None
    #: PEP 503 canonical name, when one can be found.
    name: str | None
    origin: str
    #: 1-based line in `origin`; None when it cannot be told (a TOML value written unusually).
    line: int | None
    #: Per-requirement options (`--hash`, `--config-settings`) as separate flag/value tokens.
    options: tuple[str, ...] = ()
    editable: bool = False
    #: Came from a `-c` constraints file.
    constraint: bool = False
    #: The installer the pin is for: "pip", or "conda" for a conda match spec.
    manager: str = "pip"


@dataclass(frozen=True)
class Pins:
    """What the pin sources say; an empty `Pins()` means no pins."""

    entries: tuple[RequirementEntry, ...] = ()
    #: Global options (`--index-url URL`, `--pre`, ...) as separate flag/value tokens.
    options: tuple[str, ...] = ()
    #: Every file read, top-level first, as given or as joined from the including file.
    files: tuple[str, ...] = ()
    _index: dict[tuple[str, str], tuple[RequirementEntry, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], list[RequirementEntry]] = {}
        for entry in self.entries:
            usable = entry.requirement is not None or entry.manager != "pip"
            if entry.name is not None and usable:
                index.setdefault((entry.manager, entry.name), []).append(entry)
        # A frozen dataclass still needs a derived lookup table; built once here.
        object.__setattr__(self, "_index", {k: tuple(v) for k, v in index.items()})

    def pins_for(self, manager: str) -> bool:
        """Whether some pin is for `manager`: a conda environment file gives conda pins."""
        return any(key[0] == manager for key in self._index)

    def lookup(self, name: str, manager: str = "pip") -> RequirementEntry | None:
        """The pin for a package name (any spelling), or None; see `lookup_all`."""
        found = self.lookup_all(name, manager)
        return found[0] if found else None

    def lookup_all(self, name: str, manager: str = "pip") -> tuple[RequirementEntry, ...]:
        """Every pin for a package, one per requirement line (marker variants), in file order.

        A requirement line wins over a constraint. When both exist, pip installs what satisfies
        both, so the constraint's specifier is intersected into each requirement line that has
        no URL; a requirement line without a specifier then takes the constraint's origin and
        line, since that is where its version comes from. Constraints alone are pins too.
        `manager="conda"` gives the conda match specs for the name instead.
        """
        candidates = self._index.get((manager, canonicalize_name(name)), ())
        lines = [e for e in candidates if not e.constraint]
        constraints = [e for e in candidates if e.constraint]
        if not lines:
            return tuple(constraints[:1])
        if not constraints:
            return tuple(lines)
        return tuple(_constrain(entry, constraints[0]) for entry in lines)


def _constrain(entry: RequirementEntry, constraint: RequirementEntry) -> RequirementEntry:
    """Intersect a constraint's specifier into a requirement line's."""
    assert entry.requirement is not None
    assert constraint.requirement is not None
    if entry.requirement.url or not constraint.requirement.specifier:
        return entry
    combined = Requirement(str(entry.requirement))
    combined.specifier = entry.requirement.specifier & constraint.requirement.specifier
    if entry.requirement.specifier:
        return replace(entry, requirement=combined)
    return replace(entry, requirement=combined, origin=constraint.origin, line=constraint.line)


def merge_pins(*pins: Pins) -> Pins:
    """Pins of several sources; where two pin one package, the earlier source wins.

    pip and conda pins are separate: a conda pin for numpy does not hide a pip pin for it.
    """
    entries: list[RequirementEntry] = []
    named: set[tuple[str, str]] = set()
    for source in pins:
        # A later source's lines for a package are dropped whole, marker variants included:
        # `lookup_all` would otherwise return the lines of both sources.
        entries += [
            e for e in source.entries if e.name is None or (e.manager, e.name) not in named
        ]
        named |= {(e.manager, e.name) for e in source.entries if e.name is not None}
    return Pins(
        tuple(entries),
        tuple(o for p in pins for o in p.options),
        tuple(f for p in pins for f in p.files),
    )


def invalid_reason(text: str, error: InvalidRequirement) -> str:
    """packaging's message is several lines with a caret; keep its first line, lower case."""
    first = str(error).splitlines()[0].strip() if str(error) else "not a valid requirement"
    return f"invalid requirement '{text}': {first[:1].lower()}{first[1:].rstrip('.')}"
