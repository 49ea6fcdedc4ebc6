"""Time `nbsetup fix` on a big collection with one and with several worker processes.

    python benchmarks/bench_batch.py [--files 2000 --small 500 --jobs 1,2 --repeat 3]

Builds collections of copies of the shared corpus notebooks (with the requirements files beside
them) in a temporary directory, then runs `python -m nbsetup fix -q -jN DIR` on a fresh copy
for every measurement, alternating the worker counts. Columns:

- best s, median: wall time of the run (best and median of `--repeat`); files/s from the best;
- speed-up: best time of the first `--jobs` value / this best time; paired: median of the
  same ratio over runs made one after the other (robust to a busy spell on a shared machine);
- cpu s: CPU time of all the run's processes (best run);
- RSS MiB: the peak RSS of the largest process of the run (parent or worker), read with
  `resource.getrusage(RUSAGE_CHILDREN)` in a small wrapper process, so that each run is
  measured alone; `--small` against `--files` shows whether memory grows with the file count;
- others: CPUs kept busy by other processes during the best run (Linux, from /proc/stat).

Every run on one collection must leave byte-identical files, whatever the number of workers.
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
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

# Runs the command in argv and prints its wall time, CPU time and peak RSS (of the largest
# process among it and its descendants) as JSON.
MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[1:])
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
rss_kib = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"code": code, "wall": wall, "cpu": cpu, "rss_kib": rss_kib}))
"""


def build(corpus: Path, target: Path, count: int) -> int:
    """Copy corpus notebooks into `target/copyNN/...` until it holds `count` notebooks.

    Each copy keeps the corpus layout and gets the requirements files, so that every
    notebook finds the same pins as in the corpus.
    """
    notebooks = sorted(corpus.rglob("*.ipynb"))
    requirements = sorted(corpus.rglob("requirements.txt"))
    if not notebooks:
        raise SystemExit(f"no notebooks under {corpus}")
    for index in range(count):
        copy = target / f"copy{index // len(notebooks):02}"
        if index % len(notebooks) == 0:
            for path in requirements:
                _copy(path, copy / path.relative_to(corpus))
        notebook = notebooks[index % len(notebooks)]
        _copy(notebook, copy / notebook.relative_to(corpus))
    return count


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def digest(root: Path) -> str:
    """One hash of every file's relative path and bytes."""
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            hasher.update(path.relative_to(root).as_posix().encode() + b"\0")
            hasher.update(path.read_bytes())
    return hasher.hexdigest()


def measure(source: Path, work: Path, jobs: int) -> tuple[dict[str, float], str]:
    """One run on a fresh copy of `source`: its measurements and the digest of the result.

    `others` is the average number of CPUs that other processes kept busy during the run (from
    /proc/stat, Linux only): on a shared machine it explains a run slower than it should be.
    """
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    for path in work.rglob("*"):  # the shared corpus is read-only; fix refuses such files
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    if hasattr(os, "sync"):  # the copy goes to disk now, not in the run's own `os.sync`
        os.sync()
    command = [sys.executable, "-m", "nbsetup", "fix", "-q", "-j", str(jobs), str(work)]
    busy_before = _busy_seconds()
    output = subprocess.run(
        [sys.executable, "-c", MEASURE, *command],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    busy_after = _busy_seconds()
    result = json.loads(output.splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"nbsetup exited {result['code']} on {work}")
    others = float("nan")
    if busy_before is not None and busy_after is not None:
        others = max(0.0, busy_after - busy_before - result["cpu"]) / result["wall"]
    result["others"] = others
    return result, digest(work)


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot; None without /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def import_seconds() -> float:
    """How long `import nbsetup.cli` takes in a fresh interpreter (a serial cost of each run)."""
    code = "import time; t = time.perf_counter(); import nbsetup.cli; print(time.perf_counter()-t)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(run.stdout)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--files", type=int, default=2000, help="notebooks in the big collection")
    parser.add_argument("--small", type=int, default=500, help="notebooks in the small one")
    parser.add_argument("--jobs", default="1,2", help="worker counts to compare, first = base")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    args = parser.parse_args(argv)
    jobs_list = [int(jobs) for jobs in args.jobs.split(",")]

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cpus} CPUs, {platform.machine()}, {platform.system()} {platform.release()}")
    print(f"python: {platform.python_version()} ({sys.executable})")
    print(f"import nbsetup.cli: {import_seconds():.2f} s")
    print(f"runs per measurement: {args.repeat}")
    print()
    print(
        f"{'files':>6} {'jobs':>4} {'best s':>7} {'median':>7} {'files/s':>8} {'speed-up':>8} "
        f"{'paired':>8} {'cpu s':>6} {'RSS MiB':>9} {'others':>7}"
    )
    with tempfile.TemporaryDirectory(prefix="nbsetup-bench-") as temp:
        for count in sorted({args.small, args.files}):
            source = Path(temp) / f"source-{count}"
            build(args.corpus, source, count)
            runs: dict[int, list[dict[str, float]]] = {jobs: [] for jobs in jobs_list}
            digests = set()
            for repeat in range(args.repeat):
                # Alternate the order, so that a busy spell on a shared machine hits all alike.
                for jobs in jobs_list if repeat % 2 == 0 else reversed(jobs_list):
                    result, tree = measure(source, Path(temp) / "work", jobs)
                    runs[jobs].append(result)
                    digests.add(tree)
            if len(digests) != 1:
                print(f"ERROR: the runs on {count} files left different files", file=sys.stderr)
                return 1
            _print_rows(count, runs)
    return 0


def _print_rows(count: int, runs: dict[int, list[dict[str, float]]]) -> None:
    base_jobs = next(iter(runs))
    base = runs[base_jobs]
    for jobs, results in runs.items():
        best = min(results, key=lambda result: result["wall"])
        # Speed-up of each pair of runs made one after the other, then the median of those.
        paired = statistics.median(
            a["wall"] / b["wall"] for a, b in zip(base, results, strict=True)
        )
        print(
            f"{count:>6} {jobs:>4} {best['wall']:>7.2f} "
            f"{statistics.median(result['wall'] for result in results):>7.2f} "
            f"{count / best['wall']:>8.1f} {min(r['wall'] for r in base) / best['wall']:>7.2f}x "
            f"{paired:>7.2f}x {best['cpu']:>6.1f} "
            f"{max(result['rss_kib'] for result in results) / 1024:>9.1f} "
            f"{best['others']:>7.2f}",
            flush=True,
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
