"""The benchmark script still runs: a smoke test on a tiny corpus (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_startup import _notebook

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_compare.py"


def test_bench_compare_quick(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    cells = ("import numpy\n", "x = 1\n", "print(x)\n", "y = 2\n")
    (corpus / "sub").mkdir(parents=True)
    _notebook(corpus / "a.ipynb", "!pip install numpy pandas\n", *cells)
    _notebook(corpus / "sub" / "b.ipynb", "%pip install -q requests\n", *cells)
    _notebook(corpus / "sub" / "c.ipynb", *cells)
    (corpus / "requirements.txt").write_text("numpy==1.26.4\n", encoding="utf-8")
    output = tmp_path / "results.json"

    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--corpus", str(corpus), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )

    assert run.returncode == 0, run.stderr
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["schema"] == "nbsetup-bench-compare/2"
    assert result["machine"]["cpus"] >= 1
    assert result["machine"]["versions"]["python"]
    assert result["corpus"]["notebooks"] == 3
    for row in (
        "floor process",
        "floor in-process",
        "nbsetup process",
        "nbsetup default jobs process",
        "nbsetup in-process",
        "single nbsetup",
        "single python -c pass",
    ):
        assert result["results"][row]["best_s"] > 0, row
    assert all(seconds >= 0 for seconds in result["phases"].values())
    assert [row["factor"] for row in result["scaling"]["rows"]] == [1, 2, 4]
    assert all(row["us_per_cell"] > 0 for row in result["scaling"]["rows"])
    assert result["ratios"]["nbsetup/floor in-process"] > 0
    # Every target: the ratio of this run, its bound, and whether it is met.
    for target in result["targets"].values():
        assert target["measured"] > 0
        assert target["bound"] > 0
        assert target["met"] == (target["measured"] <= target["bound"])
    assert result["many_small"]["nbsetup"]["files"] == 40
    assert result["many_small"]["nbsetup"]["peak_rss_mib"] > 0
    assert result["big"]["bytes"] > 2 * 1024 * 1024 * 0.9
    assert result["big"]["peak_per_size"] > 0
    # The corpus itself is never modified.
    assert "numpy pandas" in (corpus / "a.ipynb").read_text(encoding="utf-8")
    # Peer tools are optional (CI installs only `.[test]`): rows for missing ones are left out.
    if result["machine"]["versions"]["nbstripout"] is None:
        assert "single nbstripout" not in result["results"]
    else:
        assert result["ratios"]["single nbsetup/nbstripout"] > 0
