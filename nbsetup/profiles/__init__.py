"""The shipped runtime profiles: what Colab, Kaggle and a plain Jupyter kernel have installed.

`load("colab")` reads the package lists under `data/` once per process and returns a
`runtime.Profile`. The lists are snapshots of the runtimes' own published package lists, each
with a header line naming its source, date and licence:

- `colab.txt`, `colab-gpu.txt`: googlecolab/backend-info `pip-freeze.txt` and
  `pip-freeze.gpu.txt` (Colab's CPU and GPU runtimes).
- `kaggle.txt`: Kaggle/docker-python `kaggle_requirements.txt`, what Kaggle installs on top
  of Colab's image (names only).

`python -m nbsetup.profiles refresh` regenerates a list from a newer `pip freeze`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from nbsetup import distributions, runtime
from nbsetup.profiles.refresh import Entry, read

DATA = Path(__file__).resolve().parent / "data"
#: Each profile's lists: the CPU runtime's, then what its GPU runtime adds.
PROFILE_LISTS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = MappingProxyType(
    {
        "colab": (("colab",), ("colab-gpu",)),
        # Kaggle's image starts from Colab's (Kaggle/docker-python: Dockerfile.tmpl).
        "kaggle": (("colab", "kaggle"), ("colab-gpu",)),
        "jupyter": ((), ()),
    }
)
LISTS = frozenset(name for cpu, gpu in PROFILE_LISTS.values() for name in (*cpu, *gpu))


@functools.cache
def load(name: str) -> runtime.Profile:
    """The profile `name` (one of `runtime.PROFILES`), read once per process."""
    cpu, gpu = PROFILE_LISTS[name]
    headers: list[str] = []
    installed: list[Entry] = []
    extra: list[Entry] = []
    for list_name, into in [*((n, installed) for n in cpu), *((n, extra) for n in gpu)]:
        header, entries = read((DATA / f"{list_name}.txt").read_text(encoding="utf-8"))
        headers.append(header)
        into.extend(entries)
    cpu_names = frozenset(entry.name for entry in installed)
    return runtime.Profile(
        name=name,
        snapshots=tuple(headers),
        installed=cpu_names,
        gpu_installed=frozenset(entry.name for entry in extra) - cpu_names,
        modules=_modules([*installed, *extra]),
        preloaded=runtime.preloaded(runtime=name),
    )


def _modules(entries: list[Entry]) -> Mapping[str, tuple[str, ...]]:
    """Import name → distributions, in `packages_distributions()` shape.

    A list's recorded top-level modules are used where it has them; otherwise a distribution
    counts as providing its own name with underscores (`absl-py` → `absl_py`), and a
    namespace's distributions (`google-genai`) provide the namespace (`google`), so that
    `distributions.provider` can confirm its guesses.
    """
    found: dict[str, list[str]] = {}
    tops = {namespace.split(".")[0] for namespace in distributions.NAMESPACES}
    for entry in entries:
        modules = entry.modules or (entry.name.replace("-", "_"),)
        if not entry.modules:
            owner = [top for top in tops if entry.name.startswith(top.replace("_", "-") + "-")]
            modules = (*modules, *owner)
        for module in modules:
            found.setdefault(module, []).append(entry.name)
    # A plain dict: a profile travels to worker processes, and a mappingproxy does not pickle.
    return {module: tuple(names) for module, names in found.items()}
