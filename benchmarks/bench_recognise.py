"""Time the install recogniser on a corpus: `python benchmarks/bench_recognise.py [DIR]`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from nbsetup.installs import cells as installs_cells
from nbsetup.installs import find_installs
from nbsetup.installs.python_calls import PythonCall

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def main(argv: list[str]) -> int:
    corpus = Path(argv[0]) if argv else DEFAULT_CORPUS
    notebooks = sorted(corpus.rglob("*.ipynb"))
    if not notebooks:
        print(f"no notebooks under {corpus}", file=sys.stderr)
        return 2
    parsed_cells = 0
    real_find_calls = installs_cells.find_calls

    def counting_find_calls(source: str) -> tuple[PythonCall, ...]:
        nonlocal parsed_cells
        parsed_cells += 1
        return real_find_calls(source)

    # Count the cells that reach libcst without changing the library.
    installs_cells.find_calls = counting_find_calls
    cells = sites = 0
    started = time.perf_counter()
    for path in notebooks:
        notebook = json.loads(path.read_bytes())
        sources = []
        for cell in notebook.get("cells", []):
            source = cell.get("source", "")
            code = cell.get("cell_type") == "code"
            sources.append(
                ("".join(source) if isinstance(source, list) else source) if code else None
            )
        cells += sum(source is not None for source in sources)
        sites += len(find_installs(sources))
    seconds = time.perf_counter() - started
    installs_cells.find_calls = real_find_calls
    print(f"notebooks: {len(notebooks)}")
    print(f"code cells: {cells}")
    print(f"sites: {sites}")
    print(f"seconds: {seconds:.2f}")
    print(f"cells through libcst: {parsed_cells} ({parsed_cells / max(cells, 1):.2%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
