"""The runtime guard (`--guard`): two generated blocks around the environment cell's installs.

Hoisting cannot help someone who re-runs the environment cell in a kernel that has already
imported the packages. The guard makes the cell check for itself: before installing it notes
which pinned distributions this kernel has imported, and at which version; after installing
it prints one line per problem, nothing when all is well::

    nbsetup-demo-pkg 1.0 was already imported; restart the runtime (Runtime → Restart session
    in Colab, Kernel → Restart in Jupyter) to use 2.0
    pandas: installed 2.1.0 does not satisfy ==2.2.2

The code runs in users' kernels: Python 3.8 syntax, no dependency but `packaging` for the pin
check (every Jupyter kernel has it: ipykernel requires it; without it only the pins go
unchecked), and the same text for the same pins (sorted, no timestamps), so `nbsetup fix` is
idempotent. It is the text `ruff format` and black give it, so formatters leave it alone.
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
# Written as `ruff format` and black write it (two blank lines around each def, lines within 88
# columns; tests/test_formatters.py runs both), so that neither reformats what `fix` writes back,
# with one import a line, sorted, as `ruff check --fix` (isort's I001) would leave it. The
# before block ends with a statement, not a def: a formatter would put two blank lines between
# a def and whatever the cell has next.
_BEFORE_BODY = f'''\
import importlib.metadata
import sys
import warnings

_nbsetup_pins = {_PINS}


def _nbsetup_imported(name):
    """The version of distribution `name` this kernel has imported, or None."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    files = [p.with_suffix("").parts for p in dist.files or () if p.suffix == ".py"]
    modules = {{".".join(p[:-1] if p[-1] == "__init__" else p) for p in files}}
    if not modules:  # no RECORD: the top-level names it declares, or its own name
        modules = (dist.read_text("top_level.txt") or name.replace("-", "_")).split()
    loaded = sorted(m for m in modules if m in sys.modules)
    if not loaded:
        return None
    with warnings.catch_warnings():  # some packages deprecate `__version__`
        warnings.simplefilter("ignore")
        version = getattr(sys.modules[loaded[0]], "__version__", None)
    return version if isinstance(version, str) else dist.version


def _nbsetup_check(before):
    """Print a line for each pinned package that needs a restart or misses its pin."""
    importlib.invalidate_caches()
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # ipykernel requires packaging; without it, pins go unchecked
        SpecifierSet = None
    for name, spec in _nbsetup_pins.items():
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            print(f"{{name}}: not installed")
            continue
        if before[name] not in (None, version):
            print(
                f"{{name}} {{before[name]}} was already imported; restart the runtime"
                " (Runtime → Restart session in Colab, Kernel → Restart in Jupyter)"
                f" to use {{version}}"
            )
        if SpecifierSet and not SpecifierSet(spec).contains(version, prereleases=True):
            print(f"{{name}}: installed {{version}} does not satisfy {{spec}}")


_nbsetup_before = {{name: _nbsetup_imported(name) for name in _nbsetup_pins}}'''

_AFTER_BODY = ("_nbsetup_check(_nbsetup_before)",)


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
    return block(BEFORE, "note which pinned packages this kernel imported", body)


def after_block() -> list[str]:
    """The block that runs after the installs: one printed line per problem."""
    return block(AFTER, "check the installed versions; say when a restart is needed", _AFTER_BODY)
