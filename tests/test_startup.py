"""What a one-file run imports: start-up is most of its time (a pre-commit hook runs one).

libcst only when a cell needs a Python-level parse; never the process pool, the lock
machinery, the report writers a run does not print, `check`'s rules, or jupytext for a
notebook alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs the real command line in a fresh interpreter, then records what it imported.
_SCRIPT = """
import json, sys
from nbsetup.cli import main
try:
    main(["fix", sys.argv[1]], prog_name="nbsetup")
except SystemExit as exit:
    code = exit.code
with open(sys.argv[2], "w") as out:
    record = {"code": code, "libcst": "libcst" in sys.modules, "modules": sorted(sys.modules)}
    json.dump(record, out)
"""


def _notebook(path: Path, *sources: str) -> Path:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{index}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(sources)
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return path


def _fix(tmp_path: Path, notebook: Path) -> tuple[dict[str, object], str]:
    """Run `nbsetup fix` on the notebook in a new interpreter: (what it imported, new text)."""
    (tmp_path / ".git").mkdir(exist_ok=True)  # the requirements search stops here
    (tmp_path / "requirements.txt").write_text("x==1.0\n", encoding="utf-8")
    record = tmp_path / "record.json"
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(notebook), str(record)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path},
        timeout=120,
    )
    record_data = json.loads(record.read_text())
    _imported[notebook] = set(record_data.pop("modules"))
    return record_data, notebook.read_text(encoding="utf-8")


#: What each notebook's run imported (the record's module list), by notebook.
_imported: dict[Path, set[str]] = {}

#: Modules a plain `nbsetup fix one.ipynb` has no use for, and what each is for.
_NOT_AT_START_UP = {
    "concurrent.futures.process": "the process pool of -j N",
    "multiprocessing": "the process pool of -j N",
    "pickle": "the results workers record",
    "hashlib": "mask tokens, worker records, GitLab fingerprints",
    "xml.etree.ElementTree": "the JUnit report",
    "nbsetup.report.html": "the HTML report",
    "nbsetup.report.sarif": "the SARIF report",
    "nbsetup.report.gitlab": "the GitLab report",
    "nbsetup.lock.run": "nbsetup lock",
    "nbsetup.lock.gather": "nbsetup lock",
    "difflib": "--diff and config key suggestions",
    "jupytext": "text notebooks and pairs",
    "nbformat": "notebooks of an nbformat minor nbsetup has no schema for",
    "nbsetup.lint": "the rules of nbsetup check",
    "nbsetup.rules.renamed": "the rules of nbsetup check",
    "nbsetup.imports": "NBS001 and NBS005 (what a notebook imports)",
    "nbsetup.distributions": "NBS005 (which distribution provides an import)",
    "nbsetup.profiles": "nbsetup check's runtime profiles",
}


@pytest.mark.parametrize(
    "sources",
    [
        pytest.param(("!pip install x\n", "import x\nprint(x.__version__)"), id="bang-pip"),
        pytest.param(("%pip install -q x\nimport x", "!pip3 install x"), id="magic-and-pip3"),
        pytest.param(("import os\nos.getcwd()",), id="no-installs"),
    ],
)
def test_no_libcst_without_python_calls(tmp_path: Path, sources: tuple[str, ...]):
    notebook = _notebook(tmp_path / "nb.ipynb", *sources)
    record, text = _fix(tmp_path, notebook)
    assert record == {"code": 0, "libcst": False}
    if "install" in "".join(sources):
        assert "pip install x==1.0" in text or "pip install -q x==1.0" in text


def test_libcst_imported_for_a_subprocess_install(tmp_path: Path):
    notebook = _notebook(
        tmp_path / "nb.ipynb",
        "import subprocess, sys\n"
        'subprocess.check_call([sys.executable, "-m", "pip", "install", "x"])',
        "import x",
    )
    record, text = _fix(tmp_path, notebook)
    assert record == {"code": 0, "libcst": True}
    # Recognised: hoisted into the environment cell, and gone from its own cell.
    assert "%pip install x==1.0" in text
    assert "check_call" not in text


@pytest.mark.parametrize(
    "metadata",
    [{}, {"jupytext": {"formats": "ipynb,py:percent"}}],
    ids=["alone", "pairing-without-twin"],
)
def test_a_one_file_fix_imports_only_what_it_uses(tmp_path: Path, metadata: dict) -> None:
    notebook = _notebook(tmp_path / "nb.ipynb", "import x", "!pip install x")
    data = json.loads(notebook.read_text())
    data["metadata"].update(metadata)
    notebook.write_text(json.dumps(data, indent=1) + "\n")
    record, text = _fix(tmp_path, notebook)
    assert record == {"code": 0, "libcst": False}
    assert "pip install x==1.0" in text
    imported = {name: why for name, why in _NOT_AT_START_UP.items() if name in _imported[notebook]}
    assert imported == {}
