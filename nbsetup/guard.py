"""The runtime guard (`--guard`): two generated blocks around the environment cell's installs.

Hoisting cannot help someone who re-runs the environment cell in a kernel that has already
imported the packages. The guard makes the cell check for itself: before installing it notes
which pinned distributions this kernel has imported, and at which version; after installing
it prints one line per problem, nothing when all is well::

    nbsetup-demo-pkg 1.0 was already imported; restart the runtime (Runtime → Restart session
    in Colab, Kernel → Restart in Jupyter) to use 2.0
    pandas: installed 2.1.0 does not satisfy ==2.2.2

The code runs in users' kernels: dependency-free (`packaging` only when importable, else `==`
pins compare as strings), Python 3.8 syntax, and the same text for the same pins (sorted, no
timestamps), so `nbsetup fix` is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup.envcell import block
from nbsetup.install_lines import InstallLine

#: Block names in the environment cell's `# nbsetup: begin NAME` delimiters.
BEFORE, AFTER = "guard-before", "guard-after"

_PINS = "__PINS__"
_BEFORE_BODY = f'''\
import importlib, importlib.metadata, sys, warnings

_nbsetup_pins = {_PINS}

def _nbsetup_imported(name):
    """The version of distribution `name` this kernel has imported, or None."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    modules = set()  # the modules the distribution installed (its RECORD)
    for path in dist.files or ():
        if path.suffix == ".py":
            parts = path.with_suffix("").parts
            modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    if not modules:
        modules = set((dist.read_text("top_level.txt") or name.replace("-", "_")).split())
    loaded = sorted(modules & set(sys.modules))
    if not loaded:
        return None
    with warnings.catch_warnings():  # some packages deprecate `__version__`
        warnings.simplefilter("ignore")
        version = getattr(sys.modules[loaded[0]], "__version__", None)
    return version if isinstance(version, str) else dist.version

def _nbsetup_satisfies(version, spec):
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # without packaging, only exact pins are checked
        exact = spec.startswith("==") and not any(c in spec for c in ",*")
        return not exact or spec.lstrip("=") == version
    return SpecifierSet(spec).contains(version, prereleases=True)

def _nbsetup_problems(before):
    """One line per pinned package that needs a restart or does not satisfy its pin."""
    importlib.invalidate_caches()
    problems = []
    for name, spec in _nbsetup_pins.items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{{name}}: not installed")
            continue
        if before[name] not in (None, version):
            problems.append(
                f"{{name}} {{before[name]}} was already imported; restart the runtime"
                " (Runtime → Restart session in Colab, Kernel → Restart in Jupyter)"
                f" to use {{version}}"
            )
        if spec and not _nbsetup_satisfies(version, spec):
            problems.append(f"{{name}}: installed {{version}} does not satisfy {{spec}}")
    return problems

_nbsetup_before = {{name: _nbsetup_imported(name) for name in _nbsetup_pins}}'''

_AFTER_BODY = (
    "for _nbsetup_problem in _nbsetup_problems(_nbsetup_before):",
    "    print(_nbsetup_problem)",
)


def guarded(lines: Sequence[InstallLine]) -> tuple[tuple[str, str], ...]:
    """(canonical name, specifier) of each named pip requirement, sorted by name.

    URL requirements have no version to check; requirements with environment markers may not
    apply to the kernel, and checking them would need `packaging` at run time, so both are
    left out. A name installed twice keeps its last specifier, as pip would.
    """
    found: dict[str, str] = {}
    for line in lines:
        if line.manager != "pip":
            continue
        for text in line.requirements:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if not requirement.url and requirement.marker is None:
                found[canonicalize_name(requirement.name)] = str(requirement.specifier)
    return tuple(sorted(found.items()))


def before_block(pins: Sequence[tuple[str, str]]) -> list[str]:
    """The block that runs before the installs: the checks, and what is imported already."""
    data = "{\n" + "".join(f"    {json.dumps(n)}: {json.dumps(s)},\n" for n, s in pins) + "}"
    body = _BEFORE_BODY.replace(_PINS, data, 1).split("\n")
    return block(BEFORE, "before installing, note which pinned packages are imported", body)


def after_block() -> list[str]:
    """The block that runs after the installs: one printed line per problem."""
    return block(AFTER, "check the installed versions; say when a restart is needed", _AFTER_BODY)
