"""Write a runtime profile's package list from a `pip freeze` (`python -m nbsetup.profiles`).

A profile file is one header line naming its source, snapshot date and licence, then one
distribution a line: its canonical name, its version (`-`: not known) and, when known, the
top-level modules it provides (comma-separated):

    # nbsetup profile colab · googlecolab/backend-info@a724079 · 2026-08-19 · Apache-2.0
    absl-py 1.4.0 absl
    torch 2.11.0+cpu

The shipped lists come from freeze files, which do not say what a distribution provides;
`--here` reads the running environment instead (run it inside the runtime itself), and then
records each distribution's top-level modules from its metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from nbsetup import packages

#: `name==version`, `name @ url`, or a bare name (`>=`-style specs keep only the name).
_LINE = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(==\s*([^\s;#]+))?")


@dataclass(frozen=True)
class Entry:
    """One distribution of a profile list."""

    name: str
    version: str | None = None
    modules: tuple[str, ...] = ()

    def line(self) -> str:
        """The entry as a line of a profile file: `absl-py 1.4.0 absl`."""
        words = [self.name, self.version or "-"]
        if self.modules:
            words.append(",".join(self.modules))
        return " ".join(words)


def parse_freeze(text: str) -> list[Entry]:
    """The distributions of a `pip freeze` or a requirements-style list, canonical, sorted.

    Comments, blank lines and option lines (`-e`, `--index-url`) are skipped; `name @ url`
    keeps the name, a bare URL gets the name `packages.pip_name` reads from it; a version is
    kept only when pinned with `==`.
    """
    found: dict[str, Entry] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if packages.is_url(line) or line.startswith(packages.VCS_SCHEMES):
            # A bare URL (`git+https://.../segment-anything.git`): the name pip would guess.
            guessed = packages.pip_name(line)
            if guessed is not None:
                found[guessed] = Entry(guessed)
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        name = canonicalize_name(match.group(1))
        found[name] = Entry(name, match.group(3))
    return [found[name] for name in sorted(found)]


def entries_here(
    versions: Mapping[str, str], providers: Mapping[str, Sequence[str]]
) -> list[Entry]:
    """Entries for an environment: `versions` name → version, `providers` module → names.

    `providers` has the shape of `importlib.metadata.packages_distributions()`; private
    modules (`_cffi_backend`) are left out.
    """
    modules: dict[str, list[str]] = {}
    for module, names in providers.items():
        if module.startswith("_") or not module.isidentifier():
            continue
        for name in names:
            modules.setdefault(canonicalize_name(name), []).append(module)
    canonical = {canonicalize_name(name): version for name, version in versions.items()}
    return [
        Entry(name, canonical[name], tuple(sorted(set(modules.get(name, ())))))
        for name in sorted(canonical)
    ]


def render(header: str, entries: Iterable[Entry]) -> str:
    """A profile file: the header line, then one entry a line."""
    if "\n" in header:
        raise ValueError("the header must be one line")
    return "".join([f"# {header}\n", *(f"{entry.line()}\n" for entry in entries)])


def read(text: str) -> tuple[str, list[Entry]]:
    """A profile file's header (without `# `) and entries."""
    lines = text.splitlines()
    header = lines[0].removeprefix("#").strip() if lines else ""
    entries = []
    for line in lines[1:]:
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        version = words[1] if len(words) > 1 and words[1] != "-" else None
        modules = tuple(words[2].split(",")) if len(words) > 2 else ()
        entries.append(Entry(canonicalize_name(words[0]), version, modules))
    return header, entries
