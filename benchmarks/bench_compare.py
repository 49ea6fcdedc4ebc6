"""Time `nbsetup fix` against a JSON floor, its phases, peer tools and the single-file case.

    python benchmarks/bench_compare.py [--corpus DIR] [--repeat 2] [--output FILE] [--quick]

Every measurement runs on a fresh copy of the corpus in a temporary directory (the copy is not
timed) and, except the phase breakdown's own clock, is the wall time of a whole process:

- floor: one process that reads every notebook with `json.loads` and writes it back with
  `json.dumps` (the C encoder: no indent) to the same path; `floor in-process` is that loop
  alone, `floor process` includes interpreter start-up;
- nbsetup phases: the steps of `pipeline.fix_file` (read, decode, config + pins, recognise,
  transform, dump, verify, write) timed one by one in one process over every notebook, after
  `import nbsetup.batch` (timed too); libcst is imported lazily inside "recognise", as in a
  real run. The files it leaves must equal those of the `nbsetup fix` run, else the script
  fails;
- nbsetup process: `nbsetup fix -q -j1 DIR`;
- peers, when installed: `nbstripout FILES...` (one process, every notebook), `ruff format DIR`
  and `nbqa "ruff check" DIR` (reference points only: they do other work);
- single file: `nbsetup fix ONE`, `nbstripout ONE` and `python -c pass` on a small corpus
  notebook with an install line (the pre-commit case), on a fresh copy each run;
- scaling: notebooks with 1x, 10x, 100x the cells of a typical corpus notebook (its cells
  repeated), each fixed in-process after a warm-up: the cost per cell should stay flat.

Times are the best of `--repeat` runs (median shown beside). Results go to a JSON file
(default `benchmarks/results/compare.json`, schema `nbsetup-bench-compare/1`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SCHEMA = "nbsetup-bench-compare/2"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "compare.json"
PHASES = ("read", "decode", "recognise", "transform", "dump", "verify", "write", "other")

#: Exit codes of a peer run that still did its work: 1 findings, 2 some files it cannot parse
#: (ruff refuses a few corpus notebooks with IPython syntax it does not know).
PEER_OK = (0, 1, 2)

#: Rows measured once, whatever `--repeat`: nbqa takes over a minute on the corpus.
ONCE = frozenset({"nbqa ruff check process"})

# The floor: every notebook through json.loads and json.dumps, written back, in one process.
# Prints the seconds of the loop (the process's wall time is measured by the caller).
FLOOR = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
for path in sorted(Path(sys.argv[1]).rglob("*.ipynb")):
    path.write_bytes(json.dumps(json.loads(path.read_bytes())).encode())
print(time.perf_counter() - started)
"""


# --- the in-process phase breakdown (runs in a child process: `--phases DIR`) -------------

#: Where each phase's function lives; `pipeline` looks them up on these modules at call time.
TIMED = (
    ("read", "notebook_io", "read_bytes"),
    ("decode", "notebook_io", "loads"),
    ("transform", "transform", "hoist"),
    ("recognise", "installs", "find_installs"),
    ("dump", "notebook_io", "dumps"),
    ("verify", "safety", "verify"),
    ("write", "notebook_io", "write_atomic"),
)


class PhaseClock:
    """Self time of each phase: a phase called inside another counts for the outer one.

    The exception is the recogniser inside `transform.hoist`, which is shown on its own
    ("transform" is then hoisting without recognising); inside `safety.verify` it is part
    of verifying.
    """

    def __init__(self) -> None:
        self.totals = dict.fromkeys(PHASES, 0.0)
        self._stack: list[list[Any]] = []  # [name, time spent in phases shown apart]

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            # Only a clock around the real function: its arguments and result are untouched.
            frame = [name, 0.0]
            self._stack.append(frame)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                self._stack.pop()
                parent = self._stack[-1] if self._stack else None
                if parent is None:
                    self.totals[name] += seconds - frame[1]
                elif name == "recognise" and parent[0] == "transform":
                    self.totals[name] += seconds - frame[1]
                    parent[1] += seconds

        return timed


def phase_times(root: Path) -> dict[str, Any]:
    """Run `batch.process` (what `nbsetup fix -j1` runs per file) on every notebook under
    `root`, with a clock around each phase's function; "other" is the rest of `process`:
    project config, pin-file discovery and parsing, the re-parse before verifying, results.
    """
    import importlib

    started = time.perf_counter()
    from nbsetup import batch
    from nbsetup.discovery import discover

    imported = time.perf_counter() - started
    # A real run imports `safety` (and nbformat's validator) on its first changed file; here
    # it is imported first, so that its function can be timed, and its import shown apart.
    started = time.perf_counter()
    importlib.import_module("nbsetup.safety")
    safety_imported = time.perf_counter() - started
    clock = PhaseClock()
    for phase, module_name, attribute in TIMED:
        module = importlib.import_module(f"nbsetup.{module_name}")
        setattr(module, attribute, clock.wrap(phase, getattr(module, attribute)))
    settings = batch.Settings(jobs=1)
    files = discover([root])
    statuses: dict[str, int] = {}
    whole = 0.0
    for path in files:
        begin = time.perf_counter()
        result = batch.process(path, settings)
        whole += time.perf_counter() - begin
        statuses[result.status] = statuses.get(result.status, 0) + 1
    clock.totals["other"] = whole - sum(clock.totals.values())
    return {
        "import": imported,
        "import_safety": safety_imported,
        "phases": clock.totals,
        "total": whole,
        "files": len(files),
        "statuses": statuses,
    }


# --- notebooks for the scaling table --------------------------------------------------------


def typical_notebook(notebooks: Sequence[Path]) -> Path:
    """The notebook with an install line whose cell count is the median of such notebooks."""
    candidates = []
    for path in notebooks:
        data = path.read_bytes()
        if b"pip install" in data:
            candidates.append((len(json.loads(data)["cells"]), path.stat().st_size, str(path)))
    if not candidates:
        raise SystemExit("no notebook with a `pip install` line in the corpus")
    candidates.sort()
    return Path(candidates[len(candidates) // 2][2])


def small_notebook(notebooks: Sequence[Path]) -> Path:
    """The smallest notebook with a `pip install` line and at least 5 cells (pre-commit case)."""
    candidates = []
    for path in notebooks:
        data = path.read_bytes()
        if b"pip install" in data and len(json.loads(data)["cells"]) >= 5:
            candidates.append((len(data), str(path)))
    if not candidates:
        raise SystemExit("no notebook with a `pip install` line and 5 cells in the corpus")
    return Path(min(candidates)[1])


def scaled(data: bytes, factor: int) -> bytes:
    """The notebook with its cells repeated `factor` times (cell ids kept unique)."""
    notebook = json.loads(data)
    cells = []
    for copy in range(factor):
        for cell in notebook["cells"]:
            cell = dict(cell)
            if "id" in cell and copy:
                cell["id"] = f"{cell['id']}-{copy}"[:64]
            cells.append(cell)
    notebook["cells"] = cells
    return (json.dumps(notebook, indent=1, ensure_ascii=False) + "\n").encode()


def scaling_times(paths: Sequence[Path], repeat: int) -> list[dict[str, Any]]:
    """Fix each notebook in-process (`--scaling`): best seconds over `repeat`, after a warm-up."""
    from nbsetup import api

    rows = []
    for path in paths:
        data = path.read_bytes()
        api.fix_path(path, write=False)  # warm-up: imports (libcst) and the pin parse
        times = []
        for _ in range(repeat):
            path.write_bytes(data)
            started = time.perf_counter()
            result = api.fix_path(path)
            times.append(time.perf_counter() - started)
        cells = len(json.loads(data)["cells"])
        rows.append(
            {
                "path": path.name,
                "cells": cells,
                "bytes": len(data),
                "changed": result.changed,
                "best_s": min(times),
                "median_s": statistics.median(times),
                "us_per_cell": min(times) / cells * 1e6,
            }
        )
    return rows


# --- measuring processes --------------------------------------------------------------------


def fresh(source: Path, target: Path) -> Path:
    """A new copy of `source` at `target`, on disk before the timed run starts.

    Synced: `nbsetup fix` syncs the disk once at the end of a batch (`os.sync`), which would
    otherwise also write out this copy (and the removed one), untimed setup for the others:
    that made the 10,000-file row swing by half from run to run.
    """
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, symlinks=True, copy_function=writable_copy)
    if hasattr(os, "sync"):
        os.sync()
    return target


def writable_copy(source: str, target: str) -> None:
    """Copy a file, writable by its owner: the shared corpus is read-only, and `nbsetup fix`
    refuses to rewrite a read-only notebook."""
    shutil.copy2(source, target)
    os.chmod(target, os.stat(target).st_mode | stat.S_IWUSR)


def digest(root: Path) -> str:
    """One hash of every notebook's relative path and bytes."""
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*.ipynb")):
        hasher.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return hasher.hexdigest()


def wall(
    command: Sequence[str],
    cwd: Path | None = None,
    ok: tuple[int, ...] = (0,),
    checkout: bool = True,
) -> tuple[float, str]:
    """Wall time of running `command`, and its stdout; fails on an exit code not in `ok`.

    `checkout`: this checkout first on the path (False for the baseline interpreter, which
    must import its own nbsetup)."""
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=_env(checkout))
    seconds = time.perf_counter() - started
    if run.returncode not in ok:
        raise SystemExit(f"{command[0]} exited {run.returncode}:\n{run.stderr[-2000:]}")
    return seconds, run.stdout


#: Bytecode cache of the measured processes (set by `main`), so that the checkout's modules
#: are not compiled on every run even where PYTHONDONTWRITEBYTECODE is set, as installed
#: packages are not. It keeps the checkout free of `__pycache__` directories.
PYCACHE: list[str] = []


def _env(checkout: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if PYCACHE:
        env["PYTHONPYCACHEPREFIX"] = PYCACHE[0]
    if checkout:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def tool(name: str) -> str | None:
    """The tool beside this interpreter (the venv), else on PATH; None when not installed."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def version(command: Sequence[str]) -> str:
    try:
        run = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        return "?"
    return (run.stdout or run.stderr).strip().splitlines()[0] if run.stdout or run.stderr else "?"


class Series:
    """Repeated measurements of one row."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def add(self, seconds: float) -> None:
        self.times.append(seconds)

    def to_dict(self) -> dict[str, float]:
        return {"best_s": min(self.times), "median_s": statistics.median(self.times)}


# --- the whole run --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    with_cpuinfo = Path("/proc/cpuinfo")
    if with_cpuinfo.exists():
        for line in with_cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {"python": platform.python_version()}
    for name, args in (("nbstripout", ["--version"]), ("nbqa", ["--version"])):
        path = tool(name)
        versions[name] = version([path, *args]) if path else None
    ruff = tool("ruff")
    versions["ruff"] = version([ruff, "--version"]) if ruff else None
    import nbsetup

    versions["nbsetup"] = nbsetup.__version__
    return {
        "cpus": cpus,
        "cpu_model": model,
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python_executable": sys.executable,
        "versions": versions,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="notebooks to use")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run each, scaling 1x/2x/4x, nbstripout as the only peer: a smoke test",
    )
    parser.add_argument(
        "--baseline",
        metavar="PYTHON",
        help="an interpreter with the nbsetup to compare against (the many-small-notebooks row)",
    )
    parser.add_argument(
        "--small-files", type=int, help="notebooks in the many-small row (10,000; --quick 40)"
    )
    parser.add_argument(
        "--big-mib", type=float, help="size of the big-notebook row in MiB (95; --quick 2)"
    )
    parser.add_argument("--phases", type=Path, help=argparse.SUPPRESS)  # child: phase_times
    parser.add_argument("--scaling", type=Path, nargs="*", help=argparse.SUPPRESS)  # child
    args = parser.parse_args(argv)
    if args.phases is not None:
        print(json.dumps(phase_times(args.phases)))
        return 0
    if args.scaling is not None:
        print(json.dumps(scaling_times(args.scaling, args.repeat)))
        return 0

    repeat = 1 if args.quick else args.repeat
    factors = (1, 2, 4) if args.quick else (1, 10, 100)
    small_files = args.small_files or (40 if args.quick else 10_000)
    big_mib = args.big_mib or (2.0 if args.quick else 95.0)
    notebooks = sorted(args.corpus.rglob("*.ipynb"))
    if not notebooks:
        print(f"no notebooks under {args.corpus}", file=sys.stderr)
        return 2
    facts = machine()
    # A loaded machine (other jobs on the CPUs) slows every row: the load says how far to trust.
    facts["load_average_start"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"machine: {facts['cpus']} CPUs, {facts['cpu_model']}, {facts['system']}")
    print(f"versions: {', '.join(f'{k} {v}' for k, v in facts['versions'].items() if v)}")
    print(f"corpus: {len(notebooks)} notebooks, {args.corpus}; runs per row: {repeat}")

    python = sys.executable
    nbsetup = tool("nbsetup")
    nbsetup_command = [nbsetup] if nbsetup else [python, "-m", "nbsetup"]
    # Peers that are not installed are left out; --quick keeps only the cheap one.
    peers = {"nbstripout": tool("nbstripout")}
    if not args.quick:
        peers.update({name: tool(name) for name in ("nbqa", "ruff")})
    rows: dict[str, Series] = {}
    phases: list[dict[str, Any]] = []
    floor_loop = Series()

    with tempfile.TemporaryDirectory(prefix="nbsetup-compare-") as temp:
        source = Path(temp) / "source"
        work = Path(temp) / "work"
        PYCACHE[:] = [str(Path(temp) / "pycache")]
        shutil.copytree(args.corpus, source, symlinks=True, copy_function=writable_copy)

        def floor(root: Path) -> float:
            seconds, out = wall([python, "-c", FLOOR, str(root)])
            floor_loop.add(float(out))
            return seconds

        def nbsetup_fix(root: Path) -> float:
            seconds, _ = wall([*nbsetup_command, "fix", "-q", "-j1", str(root)])
            return seconds

        def nbsetup_default_jobs(root: Path) -> float:
            seconds, _ = wall([*nbsetup_command, "fix", "-q", str(root)])
            return seconds

        def nbsetup_phases(root: Path) -> float:
            seconds, out = wall([python, __file__, "--phases", str(root)])
            phases.append(json.loads(out))
            return seconds

        measurements: list[tuple[str, Callable[[Path], float]]] = [
            ("floor process", floor),
            ("nbsetup process", nbsetup_fix),
            ("nbsetup default jobs process", nbsetup_default_jobs),
            ("nbsetup phases process", nbsetup_phases),
        ]
        if peers.get("nbstripout"):
            files = [str(path.relative_to(source)) for path in sorted(source.rglob("*.ipynb"))]
            measurements.append(
                ("nbstripout process", lambda root: wall([peers["nbstripout"], *files], root)[0])
            )
        if peers.get("ruff"):
            measurements.append(
                (
                    "ruff format process",
                    lambda root: wall([peers["ruff"], "format", "."], root, PEER_OK)[0],
                )
            )
        if peers.get("nbqa") and peers.get("ruff"):
            measurements.append(
                (
                    "nbqa ruff check process",
                    lambda root: wall([peers["nbqa"], "ruff check", "."], root, PEER_OK)[0],
                )
            )
        rows = {name: Series() for name, _ in measurements}
        fixed = None
        _warm_up(python, peers)
        for index in range(1, repeat + 1):
            # Rotate the order, so that a busy spell on a shared machine hits every row alike.
            turn = index % len(measurements)
            for name, run in measurements[turn:] + measurements[:turn]:
                if name in ONCE and (index != 1):
                    continue
                seconds = run(fresh(source, work))
                rows[name].add(seconds)
                if name.startswith("nbsetup"):
                    tree = digest(work)
                    if fixed not in (None, tree):
                        print("ERROR: the phase loop and `nbsetup fix` differ", file=sys.stderr)
                        return 1
                    fixed = tree
        single = small_notebook(sorted(source.rglob("*.ipynb")))
        single_file = {"path": str(single.relative_to(source)), "bytes": single.stat().st_size}
        single_rows = _single_file(
            single, Path(temp) / "single", nbsetup_command, peers, repeat, args.quick
        )

        small_commands: dict[str, tuple[list[str], bool]] = {"nbsetup": (nbsetup_command, True)}
        if args.baseline:
            small_commands["baseline"] = ([args.baseline, "-m", "nbsetup"], False)
        many_small = _many_small(single, Path(temp) / "many", small_files, small_commands, repeat)
        big = _big(Path(temp) / "big", big_mib, nbsetup_command, repeat)

        scaling_dir = Path(temp) / "scaling"
        scaling_dir.mkdir()
        for name in ("requirements.txt",):  # pins as the typical notebook would find them
            beside = typical_notebook(notebooks).parent / name
            if beside.exists():
                shutil.copyfile(beside, scaling_dir / name)
        (scaling_dir / ".git").mkdir()  # the pin search stops here
        typical = typical_notebook(notebooks)
        paths = []
        for factor in factors:
            path = scaling_dir / f"x{factor}.ipynb"
            path.write_bytes(scaled(typical.read_bytes(), factor))
            paths.append(path)
        _, out = wall(
            [python, __file__, "--repeat", str(max(repeat, 3)), "--scaling", *map(str, paths)]
        )
        scaling = json.loads(out)
        for row, factor in zip(scaling, factors, strict=True):
            row["factor"] = factor

    # The loop plus the safety import, which a real run pays in its first verify.
    for run in phases:
        run["in_process"] = run["total"] + run["import_safety"]
    facts["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    best_phases = min(phases, key=lambda run: run["in_process"])
    results = {name: series.to_dict() for name, series in rows.items()}
    results["floor in-process"] = floor_loop.to_dict()
    results["nbsetup in-process"] = {
        "best_s": best_phases["in_process"],
        "median_s": statistics.median(run["in_process"] for run in phases),
    }
    results.update(single_rows)
    best = {name: row["best_s"] for name, row in results.items()}
    ratios = {
        "nbsetup/floor in-process": best["nbsetup in-process"] / best["floor in-process"],
        "nbsetup/floor process": best["nbsetup process"] / best["floor process"],
    }
    if "nbstripout process" in best:
        ratios["nbsetup/nbstripout process"] = best["nbsetup process"] / best["nbstripout process"]
    if "single nbstripout" in best:
        ratios["single nbsetup/nbstripout"] = best["single nbsetup"] / best["single nbstripout"]
    ratios["single nbsetup/python -c pass"] = (
        best["single nbsetup"] / best["single python -c pass"]
    )
    document = {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": facts,
        "corpus": {
            "path": str(args.corpus),
            "notebooks": len(notebooks),
            "bytes": sum(path.stat().st_size for path in notebooks),
            "nbsetup_statuses": best_phases["statuses"],
        },
        "repeat": repeat,
        "results": results,
        "phases": {
            "import_s": best_phases["import"],
            "import_safety_s": best_phases["import_safety"],
            **{f"{name}_s": seconds for name, seconds in best_phases["phases"].items()},
        },
        "single_file": single_file,
        "scaling": {"notebook": str(typical.relative_to(args.corpus)), "rows": scaling},
        "many_small": {**many_small, "baseline_python": args.baseline},
        "big": big,
        "ratios": ratios,
    }
    document["targets"] = targets(document)
    _print(document)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.output}")
    return 0


# Runs a command and prints the peak RSS (KiB) of the largest process it waited for: the
# command itself or one of its workers (`RUSAGE_CHILDREN` keeps the maximum, not the sum).
RSS_WRAPPER = """
import resource, subprocess, sys
run = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(run.returncode)
"""


def wall_rss(
    command: Sequence[str], cwd: Path | None = None, checkout: bool = True
) -> tuple[float, float]:
    """Wall time of `command` and the peak RSS in MiB of its largest process."""
    seconds, out = wall([sys.executable, "-c", RSS_WRAPPER, *command], cwd, checkout=checkout)
    return seconds, int(out.split()[-1]) / 1024


def _many_small(
    notebook: Path,
    work: Path,
    count: int,
    commands: dict[str, tuple[list[str], bool]],
    repeat: int,
) -> dict[str, dict[str, float]]:
    """`nbsetup fix -q DIR` (default jobs) on `count` copies of a small notebook, 100 per
    directory, with one requirements file: best and median seconds, peak RSS per process."""
    source = work / "source"
    source.mkdir(parents=True)
    (source / ".git").mkdir()  # the pin search stops here
    (source / "requirements.txt").write_text("numpy==1.26.4\npandas==2.2.2\n", encoding="utf-8")
    data = notebook.read_bytes()
    for index in range(count):
        folder = source / f"d{index // 100:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"n{index:05d}.ipynb").write_bytes(data)
    series = {name: Series() for name in commands}
    peaks: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, (command, checkout) in commands.items():
            target = fresh(source, work / "run")
            seconds, peak = wall_rss([*command, "fix", "-q", str(target)], None, checkout)
            series[name].add(seconds)
            peaks[name].append(peak)
    return {
        name: {**series[name].to_dict(), "peak_rss_mib": max(peaks[name]), "files": count}
        for name in commands
    }


def big_notebook(path: Path, mib: float) -> int:
    """Write a notebook of about `mib` MiB: an install cell, then cells with a 1 MB output."""
    import base64
    import random

    blob = base64.b64encode(random.Random(0).randbytes(750_000)).decode()
    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "c0",
            "metadata": {},
            "outputs": [],
            "source": ["!pip install numpy pandas\n", "import numpy\n"],
        }
    ]
    while len(cells) * 1_000_000 < mib * 1024 * 1024:
        number = len(cells)
        output = {"output_type": "display_data", "metadata": {}, "data": {"image/png": blob}}
        cells.append(
            {
                "cell_type": "code",
                "execution_count": number + 1,
                "id": f"c{number}",
                "metadata": {},
                "outputs": [output],
                "source": [f"show({number})\n"],
            }
        )
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return path.stat().st_size


def _big(work: Path, mib: float, nbsetup_command: Sequence[str], repeat: int) -> dict[str, float]:
    """`nbsetup fix` on one big notebook: seconds and peak RSS, against the file's size."""
    work.mkdir()
    (work / ".git").mkdir()
    original = work / "original.ipynb"
    size = big_notebook(original, mib)
    series = Series()
    peaks = []
    for _ in range(repeat):
        target = work / "big.ipynb"
        shutil.copyfile(original, target)
        seconds, peak = wall_rss([*nbsetup_command, "fix", "-q", str(target)])
        series.add(seconds)
        peaks.append(peak)
    peak = max(peaks)
    return {
        **series.to_dict(),
        "bytes": size,
        "peak_rss_mib": peak,
        "peak_per_size": peak * 1024 * 1024 / size,
    }


def scaling_linear(rows: Sequence[dict[str, Any]]) -> float:
    """How far the cost per cell of the biggest scaled notebook is above the smallest's
    beyond the first factor (1.0: flat; the 1x notebook also pays the fixed part)."""
    per_cell = [row["us_per_cell"] for row in rows]
    return max(per_cell[1:]) / min(per_cell[1:]) if len(per_cell) > 2 else 1.0


def targets(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of issue 30: the ratio measured in this run, the bound, whether it is met."""
    best = {name: row["best_s"] for name, row in document["results"].items()}
    found: dict[str, tuple[float | None, float]] = {}
    if "nbstripout process" in best:
        found["corpus -j1 process <= 1.0x nbstripout"] = (
            best["nbsetup process"] / best["nbstripout process"],
            1.0,
        )
    found["corpus default jobs process <= 1.5x floor"] = (
        best["nbsetup default jobs process"] / best["floor process"],
        1.5,
    )
    if "single nbstripout" in best:
        found["single file process <= 0.8x nbstripout"] = (
            best["single nbsetup"] / best["single nbstripout"],
            0.8,
        )
    small = document["many_small"]
    if "baseline" in small:
        found["many small <= 0.5x baseline"] = (
            small["nbsetup"]["best_s"] / small["baseline"]["best_s"],
            0.5,
        )
    found["many small peak RSS per process <= 100 MiB"] = (small["nbsetup"]["peak_rss_mib"], 100.0)
    found["big notebook peak RSS <= 3x file size"] = (document["big"]["peak_per_size"], 3.0)
    found["scaling: cost per cell flat (10x..100x within 1.3x)"] = (
        scaling_linear(document["scaling"]["rows"]),
        1.3,
    )
    return {
        name: {"measured": ratio, "bound": bound, "met": ratio is not None and ratio <= bound}
        for name, (ratio, bound) in found.items()
    }


def _warm_up(python: str, peers: dict[str, str | None]) -> None:
    """Fill the bytecode cache (see `_env`) with what the measured processes import."""
    modules = "json, pathlib, nbsetup.cli, nbsetup.safety, nbsetup.installs.python_calls"
    wall([python, "-c", f"import {modules}"])
    for name in ("nbstripout", "nbqa"):
        if peers.get(name):
            wall([str(peers[name]), "--version"])


def _single_file(
    notebook: Path,
    work: Path,
    nbsetup_command: Sequence[str],
    peers: dict[str, str | None],
    repeat: int,
    quick: bool,
) -> dict[str, dict[str, float]]:
    """Whole-process latency on one small notebook, on a fresh copy each run."""
    work.mkdir()
    (work / ".git").mkdir()  # as in a repository: the pin search stops here
    target = work / "one.ipynb"
    commands = {
        "single nbsetup": [*nbsetup_command, "fix", "one.ipynb"],
        "single python -c pass": [sys.executable, "-c", "pass"],
    }
    if peers.get("nbstripout"):
        commands["single nbstripout"] = [str(peers["nbstripout"]), "one.ipynb"]
    series = {name: Series() for name in commands}
    runs = repeat if quick else max(repeat, 5)  # short runs: more of them
    for index in range(runs + 1):  # after a warm-up
        for name, command in commands.items():
            shutil.copyfile(notebook, target)
            seconds = wall(command, work)[0]
            if index:
                series[name].add(seconds)
    return {name: s.to_dict() for name, s in series.items()}


def _print(document: dict[str, Any]) -> None:
    results = document["results"]
    print(f"\n{'row':<28} {'best s':>8} {'median s':>9}")
    for name, row in results.items():
        print(f"{name:<28} {row['best_s']:>8.3f} {row['median_s']:>9.3f}")
    print("\nnbsetup in-process phases (best run), seconds:")
    print("  " + "  ".join(f"{k[:-2]} {v:.3f}" for k, v in document["phases"].items()))
    print(f"\n{'factor':>6} {'cells':>6} {'bytes':>9} {'best s':>8} {'us/cell':>8}")
    for row in document["scaling"]["rows"]:
        print(
            f"{row['factor']:>5}x {row['cells']:>6} {row['bytes']:>9} {row['best_s']:>8.4f} "
            f"{row['us_per_cell']:>8.1f}"
        )
    print()
    for name, ratio in document["ratios"].items():
        print(f"{name:<34} {ratio:>6.2f}x")
    small = {k: v for k, v in document["many_small"].items() if isinstance(v, dict)}
    for name, row in small.items():
        print(
            f"many small ({row['files']} notebooks), {name}: best {row['best_s']:.2f} s, "
            f"median {row['median_s']:.2f} s, peak RSS {row['peak_rss_mib']:.0f} MiB"
        )
    big = document["big"]
    print(
        f"big notebook ({big['bytes'] / 2**20:.1f} MiB): best {big['best_s']:.2f} s, "
        f"peak RSS {big['peak_rss_mib']:.0f} MiB ({big['peak_per_size']:.2f}x the file)"
    )
    print(f"\n{'target':<54} {'measured':>9} {'bound':>7}  met?")
    for name, target in document["targets"].items():
        print(
            f"{name:<54} {target['measured']:>9.2f} {target['bound']:>7.2f}  "
            f"{'yes' if target['met'] else 'NO'}"
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
