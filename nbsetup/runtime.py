"""What notebook runtimes do before and around the cells: profiles, preloaded packages, restarts.

A runtime profile (`Profile`; `PROFILES`: colab, kaggle, jupyter) says which distributions a
hosted runtime has installed before the first cell and which it has already imported;
`detect` tells a notebook's runtime from its metadata (`auto`). The package lists themselves
are data, read by `nbsetup.profiles`.

Two facts decide whether an environment cell takes effect without a restart:

- Some distributions are imported before the first cell runs: the kernel's own stack, and in
  Colab some data libraries its start-up code imports. Installing another version of one, even
  in the first cell, needs a restart (`PRELOADED`; `preloaded_pins`).
- Many notebooks follow their install cell with a cell that restarts the runtime
  (`IPython.Application.instance().kernel.do_shutdown(True)`, `os.kill(os.getpid(), 9)`);
  `find_restarts` recognises them.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from packaging.utils import canonicalize_name

from nbsetup import matchspec, packages
from nbsetup.install_lines import InstallLine
from nbsetup.magics import PYTHON_CELL_MAGICS, scan_cell

KERNEL, COLAB, CONFIGURED = "kernel", "colab", "configured"
#: Loaded by Colab on a runtime chosen with `runtime = "colab"`: applies whatever the
#: notebook's metadata says (`COLAB` applies only to notebooks `detect` finds are Colab's).
COLAB_CHOSEN = "colab-runtime"
#: The runtime settings: a profile, or `auto` (each notebook's own, by `detect`).
PROFILES = ("colab", "kaggle", "jupyter")
AUTO = "auto"
RUNTIMES = (AUTO, *PROFILES)

#: Canonical distribution name → who imports it before the first cell runs.
PRELOADED: Mapping[str, str] = MappingProxyType(
    {
        # The kernel's own stack. Measured: the distributions of `sys.modules` in a fresh
        # ipykernel 7.4 / IPython 9.18 kernel on Python 3.11, mapped with
        # `importlib.metadata.packages_distributions()` (setuptools left out: only its
        # `_distutils_hack` shim is loaded). prompt-toolkit is IPython's terminal layer: not
        # loaded by a kernel, but a version IPython does not support stops it from starting.
        **dict.fromkeys(
            (
                "comm",
                "debugpy",
                "ipykernel",
                "ipython",
                "jupyter-client",
                "jupyter-core",
                "packaging",
                "platformdirs",
                "prompt-toolkit",
                "psutil",
                "pygments",
                "python-dateutil",
                "pyzmq",
                "tornado",
                "traitlets",
                "typing-extensions",
            ),
            KERNEL,
        ),
        # Colab loads `google.colab` as an IPython extension when the runtime starts
        # (googlecolab/colabtools: google/colab/__init__.py, `load_ipython_extension`); it
        # imports, at module level:
        "numpy": COLAB,  # google/colab/_reprs.py, google/colab/_quickchart.py
        "pillow": COLAB,  # google/colab/_reprs.py (`import PIL as pil`)
        "six": COLAB,  # google/colab/_kernel.py
        "astor": COLAB,  # google/colab/_inspector.py
        "ipython-genutils": COLAB,  # google/colab/_shell.py
        # googlecolab/colabtools#298: "pandas is loaded when initializing a colab runtime"
        # (a maintainer's answer); newer colabtools defer it, runtimes built on older ones
        # still load it.
        "pandas": COLAB,
    }
)


def profile_preloaded(runtime: str = AUTO) -> Mapping[str, str]:
    """What a runtime setting preloads: canonical name → who loads it.

    `jupyter` and `kaggle`: the kernel's stack (Kaggle's image does not load Colab's
    extension, and no start-up imports of its own are known). `colab`: with Colab's start-up
    imports, whatever the notebook's metadata says (`COLAB_CHOSEN`). `auto`: with Colab's
    start-up imports for the notebooks `detect` finds are Colab's (`COLAB`; `for_notebook`).
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime: {runtime}")
    if runtime == AUTO:
        return PRELOADED
    found = {name: who for name, who in PRELOADED.items() if who == KERNEL}
    if runtime == "colab":
        found.update({name: COLAB_CHOSEN for name, who in PRELOADED.items() if who == COLAB})
    return MappingProxyType(found)


def preloaded(
    names: Iterable[str] | None = None, extend: Iterable[str] = (), runtime: str = AUTO
) -> Mapping[str, str]:
    """The preloaded distributions in force: `names` (None: the runtime's) plus `extend`.

    As ruff's `select`/`extend-select`: `[tool.nbsetup] preloaded` replaces the list,
    `extend-preloaded` adds to it. Names are canonicalised; a name the runtime's profile
    knows keeps its reason, others are `CONFIGURED`.
    """
    known = profile_preloaded(runtime)
    chosen = known.keys() if names is None else names
    found: dict[str, str] = {}
    for name in (*chosen, *extend):
        key = canonicalize_name(name)
        found[key] = known.get(key, CONFIGURED)
    # A plain dict: settings holding it are pickled for worker processes, and a mappingproxy
    # does not pickle.
    return found


def for_notebook(
    names: Mapping[str, str], notebook: Mapping[str, object], sources: Sequence[str | None]
) -> Mapping[str, str]:
    """The preloaded distributions that apply to a notebook: Colab's only in Colab notebooks.

    A notebook is a Colab notebook when its metadata has Colab's `colab` section (Colab
    writes it on save) or a code cell imports `google.colab`. Elsewhere numpy and pandas are
    not loaded before the first cell, and a warning about them would be noise.
    """
    if detect(notebook, sources) == "colab":
        return names
    return {name: who for name, who in names.items() if who != COLAB}


def detect(notebook: Mapping[str, object], sources: Sequence[str | None]) -> str:
    """The runtime a notebook was written for: `kaggle`, `colab` or `jupyter`.

    Kaggle writes a `kaggle` section into the notebook's metadata, Colab a `colab` one; a
    code cell importing `google.colab` (or Kaggle's `kaggle_secrets`) tells as much. Kaggle
    wins over Colab: its image starts from Colab's, and a notebook moved from Colab to Kaggle
    keeps its `colab` section.
    """
    metadata = notebook.get("metadata")
    keys = metadata.keys() if isinstance(metadata, dict) else ()
    code = [source for source in sources if source]
    if "kaggle" in keys or any(_KAGGLE_IMPORT.search(source) for source in code):
        return "kaggle"
    if "colab" in keys or any(_COLAB_IMPORT.search(source) for source in code):
        return "colab"
    return "jupyter"


def uses_gpu(notebook: Mapping[str, object]) -> bool:
    """Whether the notebook's metadata asks for a GPU runtime.

    Colab writes `"accelerator": "GPU"` and `colab.gpuType`; Kaggle writes
    `kaggle.accelerator` (`"gpu"`, `"nvidiaTeslaT4"`, ...).
    """
    metadata = notebook.get("metadata")
    if not isinstance(metadata, dict):
        return False
    colab, kaggle = metadata.get("colab"), metadata.get("kaggle")
    values = [
        metadata.get("accelerator"),
        kaggle.get("accelerator") if isinstance(kaggle, dict) else None,
    ]
    if isinstance(colab, dict) and colab.get("gpuType"):
        return True
    return any(
        isinstance(value, str) and ("gpu" in value.lower() or "nvidia" in value.lower())
        for value in values
    )


_COLAB_IMPORT = re.compile(r"^\s*(?:from\s+google\.colab\b|import\s+google\.colab\b)", re.M)
_KAGGLE_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(?:kaggle_secrets|kaggle_datasets|kaggle_web_client)\b", re.M
)


@dataclass(frozen=True)
class Profile:
    """What one runtime has installed and imported before the first cell runs.

    `nbsetup.profiles.load("colab")` builds Colab's from the shipped package lists.
    """

    #: One of `PROFILES`.
    name: str
    #: The header line of each package list read: source, snapshot date, licence.
    snapshots: tuple[str, ...]
    #: Canonical names of the distributions the CPU runtime has installed.
    installed: frozenset[str]
    #: What the runtime's GPU variant has installed besides.
    gpu_installed: frozenset[str]
    #: Top-level import name → distributions (`importlib.metadata.packages_distributions`
    #: shape), from the lists' recorded modules where they have them.
    modules: Mapping[str, tuple[str, ...]]
    #: Canonical name → who imports it before the first cell (`preloaded`).
    preloaded: Mapping[str, str]

    def has(self, name: str, gpu: bool = False) -> bool:
        """Whether the runtime has distribution `name` installed (on its GPU variant: `gpu`)."""
        return name in self.installed or (gpu and name in self.gpu_installed)


#: Why a preloaded distribution needs a restart, in words, by who loads it.
REASONS = MappingProxyType(
    {
        KERNEL: "the kernel itself imports it before the first cell runs",
        COLAB: "Colab imports it when the runtime starts",
        COLAB_CHOSEN: "Colab imports it when the runtime starts",
        CONFIGURED: "the runtime imports it before the first cell runs ([tool.nbsetup])",
    }
)
#: Options that make pip replace an installed version even without a specifier.
_REPLACING = frozenset({"--upgrade", "--force-reinstall", "--ignore-installed"})


@dataclass(frozen=True)
class PreloadedPin:
    """An install line requirement that changes a preloaded distribution."""

    #: Canonical distribution name.
    package: str
    #: The requirement as the environment cell writes it.
    requirement: str
    #: Who loads it (`KERNEL`, `COLAB`, `CONFIGURED`).
    loader: str


def preloaded_pins(
    lines: Sequence[InstallLine], names: Mapping[str, str]
) -> tuple[PreloadedPin, ...]:
    """The requirements of install lines that replace a preloaded distribution's version.

    A pip requirement counts when it has a specifier or a URL, or its line upgrades
    (`--upgrade`, `--force-reinstall`); a conda one when it names a version. A bare
    `pip install pandas` leaves an installed pandas alone, so it does not count.
    """
    found: dict[str, PreloadedPin] = {}
    for line in lines:
        for text in line.requirements:
            pin = preloaded_pin(line.manager, text, line.options, names)
            if pin is not None and pin.package not in found:
                found[pin.package] = pin
    return tuple(found.values())


def preloaded_pin(
    manager: str, text: str, options: Iterable[str], names: Mapping[str, str]
) -> PreloadedPin | None:
    """The `PreloadedPin` when requirement `text` (with its line's option tokens) replaces one."""
    name, versioned = _name_and_version("pip" if manager == "uv" else manager, text)
    if name is not None and name in names and (versioned or bool(_REPLACING & set(options))):
        return PreloadedPin(name, text, names[name])
    return None


def _name_and_version(manager: str, text: str) -> tuple[str | None, bool]:
    """A requirement's canonical name and whether it asks for particular versions."""
    if manager == "conda":
        return packages.conda_name(text), bool(matchspec.parse(text).version)
    if manager != "pip":
        return None, False
    return packages.named(text), packages.asks_for_versions(text)


# --- restart idioms -------------------------------------------------------------------------

#: Cheap test before parsing: a cell without any of these restarts nothing.
_HINT = re.compile(r"do_shutdown|\bkill\b|_exit|\bexit\b|\bquit\b")
_DEFINITION = re.compile(r"\s*(?:async\s+def|def|class)\b")
#: What a restart cell may do besides restarting: import, print, sleep, fetch the app.
_HARMLESS_CALLS = frozenset({"print", "display", "sleep", "clear_output"})


@dataclass(frozen=True)
class Restart:
    """A statement that restarts the runtime, in a code cell (0-based cell and lines)."""

    cell: int
    start: int
    end: int
    #: How it restarts: `kernel.do_shutdown`, `os.kill`, `os._exit`, `exit()`.
    idiom: str
    #: The cell does nothing else: a restart cell.
    alone: bool


def find_restarts(sources: Sequence[str | None]) -> tuple[Restart, ...]:
    """The restart statements of a notebook's code cells (`sources[i]`: None if not code).

    Recognised: `X.kernel.do_shutdown(...)` (`IPython.Application.instance()`,
    `get_ipython()`, an `app` variable), `os.kill(os.getpid(), ...)` whatever the signal,
    `os._exit(...)`, and `exit()`/`quit()`: in ipykernel they stop the kernel, which Jupyter and
    Colab start again. A cell is a restart cell when every statement is a restart, an import,
    a `print`/`display`/`sleep`, a docstring or an assignment of `get_ipython()` or
    `X.instance()`, and it has no IPython escapes (`!cmd`, `%magic`).
    """
    found: list[Restart] = []
    for cell, source in enumerate(sources):
        if source and _HINT.search(source):
            found += _cell_restarts(cell, source)
    return tuple(found)


def _cell_restarts(cell: int, source: str) -> list[Restart]:
    scan = scan_cell(source)
    if scan.cell_magic is not None and scan.cell_magic[0] not in PYTHON_CELL_MAGICS:
        return []
    lines = source.splitlines()
    restarts: list[tuple[int, int, str]] = []
    alone = True
    definition: int | None = None  # the indentation of the `def`/`class` being passed over
    for logical in scan.logical_lines:
        if logical.escape is not None:
            alone = False
            continue
        text = "\n".join(lines[logical.start : logical.end])
        indent = len(text) - len(text.lstrip())
        if definition is not None and (indent > definition or not text.strip()):
            continue  # a function body does not run with its cell
        definition = indent if _DEFINITION.match(text) else None
        if definition is not None:
            alone = False
            continue
        statement = _parse(text)
        idiom = _idiom(statement)
        if idiom is not None:
            restarts.append((logical.start, logical.end, idiom))
        elif statement is None or not _harmless(statement):
            alone = False
    alone = alone and bool(restarts)
    return [Restart(cell, start, end, idiom, alone) for start, end, idiom in restarts]


def _parse(text: str) -> ast.stmt | None:
    """The one statement a logical line holds, or None (a block header, not Python)."""
    try:
        body = ast.parse(textwrap.dedent(text)).body
    except SyntaxError:
        return None
    return body[0] if len(body) == 1 else None


def _dotted(node: ast.expr) -> str:
    """`os.kill` for `os.kill`, `?.kernel.do_shutdown` for `f().kernel.do_shutdown`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def _idiom(statement: ast.stmt | None) -> str | None:
    """How a statement restarts the runtime, or None."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    call = statement.value
    name = _dotted(call.func)
    if name.endswith(".kernel.do_shutdown"):
        return "kernel.do_shutdown"
    first = call.args[0] if call.args else None
    if name == "os.kill" and isinstance(first, ast.Call) and _dotted(first.func) == "os.getpid":
        return "os.kill"
    if name == "os._exit":
        return "os._exit"
    if name in ("exit", "quit") and not call.args and not call.keywords:
        return f"{name}()"
    return None


def _harmless(statement: ast.stmt) -> bool:
    """Whether a restart cell may hold this statement and still only restart."""
    if isinstance(statement, (ast.Import, ast.ImportFrom, ast.Pass)):
        return True
    if isinstance(statement, ast.Expr):
        value = statement.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return True
        return (
            isinstance(value, ast.Call)
            and _dotted(value.func).rpartition(".")[2] in _HARMLESS_CALLS
        )
    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
        return _dotted(statement.value.func).rpartition(".")[2] in ("instance", "get_ipython")
    return False
