"""The public Python API: its surface, its purity, and its agreement with the command line."""

from __future__ import annotations

import inspect
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbsetup
from nbsetup import notebook_io, pipeline
from nbsetup.cli import main
from nbsetup.config import ProjectConfig
from tests import builders
from tests.conftest import CORPUS_NOTEBOOKS

LATE_INSTALL = ("import pandas as pd\n", "!pip install numpy pandas\nimport numpy as np")


def _bytes(*sources, **kwargs) -> bytes:
    return (json.dumps(builders.notebook(*sources, **kwargs), indent=1) + "\n").encode()


# --- the surface ----------------------------------------------------------------------------


def test_all_lists_exactly_the_public_names_and_each_is_documented():
    public = {name for name in vars(nbsetup) if not name.startswith("_")}
    # Submodules are attributes of the package once imported; they are not API, nor is the
    # `annotations` feature that `from __future__ import annotations` binds.
    modules = {name for name in public if inspect.ismodule(getattr(nbsetup, name))}
    assert set(nbsetup.__all__) == public - modules - {"annotations"}
    for name in nbsetup.__all__:
        value = getattr(nbsetup, name)
        if callable(value):
            assert inspect.getdoc(value), f"{name} has no docstring"


def test_help_of_fix_bytes_explains_arguments_result_and_errors():
    completed = subprocess.run(
        [sys.executable, "-c", "import nbsetup; help(nbsetup.fix_bytes)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PAGER": "cat", "TERM": "dumb"},
    )
    for part in ("Args:", "pins:", "config:", "Returns:", "FixResult", "Raises:", "Example:"):
        assert part in completed.stdout


def test_report_types_are_frozen_and_picklable(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.0.1\n")
    result = nbsetup.fix_bytes(_bytes(*LATE_INSTALL), pins=requirements)
    change = result.changes[0]
    diagnostic = nbsetup.Diagnostic("NBS001", "late install", 2, 1, "numpy")
    values = [result, change, diagnostic, nbsetup.load_pins(requirements), nbsetup.ProjectConfig()]
    for value in values:
        assert pickle.loads(pickle.dumps(value)) == value
    for value in (result, change, diagnostic):
        with pytest.raises(AttributeError):
            value.status = "x"  # frozen dataclasses


# --- fix_bytes ------------------------------------------------------------------------------


def test_fix_bytes_hoists_and_pins_then_is_a_fixed_point(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.0.1\npandas==2.2.2\n")
    data = _bytes(*LATE_INSTALL)

    result = nbsetup.fix_bytes(data, pins=str(requirements), pins_label="requirements.txt")

    assert result.changed
    assert result.status == "changed"
    cells = json.loads(result.data)["cells"]
    assert "!pip install numpy==2.0.1 pandas==2.2.2" in notebook_io.cell_text(cells[0])
    # The report names the pin source; the cell's header does not (it would churn).
    assert "requirements.txt" not in notebook_io.cell_text(cells[0])
    pinned = [change.message for change in result.changes if change.kind == "pinned"]
    assert all("requirements.txt, line" in message for message in pinned)
    assert {change.kind for change in result.changes} >= {"hoisted", "pinned"}
    assert result.pin_sources == "requirements.txt"
    again = nbsetup.fix_bytes(result.data, pins=str(requirements), pins_label="requirements.txt")
    assert not again.changed
    assert again.status == "unchanged"
    assert again.data == result.data


@pytest.mark.parametrize("form", ["path", "str", "list", "pins"])
def test_pins_can_be_given_as_data_or_as_paths(tmp_path, form):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.0.1\n")
    given = {
        "path": requirements,
        "str": str(requirements),
        "list": [requirements],
        "pins": nbsetup.load_pins(requirements),
    }[form]
    result = nbsetup.fix_bytes(_bytes(*LATE_INSTALL), pins=given)
    assert "numpy==2.0.1" in notebook_io.cell_text(json.loads(result.data)["cells"][0])
    assert result.pin_sources == str(requirements)


def test_unchanged_notebook_comes_back_as_the_same_bytes():
    data = _bytes("import os\n", "print(os.name)")
    result = nbsetup.fix_bytes(data)
    assert result == nbsetup.FixResult("unchanged", data)
    assert not result.changed


def test_non_python_kernel_is_skipped_with_the_reason():
    data = _bytes("!pip install numpy", language="R")
    result = nbsetup.fix_bytes(data)
    assert result.status == "skipped"
    assert result.data == data
    assert result.changes[0].kind == "skipped"
    assert "kernel language: r" in result.changes[0].message


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b'{"cells": []}', "not a notebook"),
    ],
)
def test_bad_bytes_raise_an_nbsetup_error_with_the_reason(data, reason):
    with pytest.raises(nbsetup.NbsetupError, match=reason):
        nbsetup.fix_bytes(data)


def test_pin_missing_raises_naming_the_packages():
    config = nbsetup.ProjectConfig(pin_missing=True)
    with pytest.raises(nbsetup.UnpinnedPackages, match="numpy, pandas") as raised:
        nbsetup.fix_bytes(_bytes(*LATE_INSTALL), config=config)
    assert raised.value.packages == ("numpy", "pandas")


def test_config_chooses_the_line_style():
    config = nbsetup.ProjectConfig(env_cell_style="!pip", quiet_install=False)
    result = nbsetup.fix_bytes(_bytes(*LATE_INSTALL), config=config)
    assert "!pip install numpy pandas" in notebook_io.cell_text(
        json.loads(result.data)["cells"][0]
    )


def test_fix_bytes_writes_nothing_and_keeps_no_state(tmp_path, monkeypatch):
    """Purity: no file appears or changes, and results do not depend on earlier calls."""
    monkeypatch.chdir(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.0.1\n")

    def refuse(*args, **kwargs):
        raise AssertionError("fix_bytes tried to write a file")

    monkeypatch.setattr(notebook_io, "write_atomic", refuse)
    monkeypatch.setattr(os, "replace", refuse)
    notebooks = [
        _bytes(*LATE_INSTALL),
        _bytes("%conda install -y numpy\n", "import numpy"),
        _bytes("import os"),
        *(path.read_bytes() for path in CORPUS_NOTEBOOKS[:40]),
    ]
    before = {path: path.stat() for path in tmp_path.rglob("*")}

    forwards = [_outcome(data, requirements) for data in notebooks]
    backwards = [_outcome(data, requirements) for data in reversed(notebooks)]

    assert forwards == backwards[::-1]
    assert {path: path.stat() for path in tmp_path.rglob("*")} == before


def _outcome(data: bytes, pins: Path) -> nbsetup.FixResult | str:
    try:
        return nbsetup.fix_bytes(data, pins=pins)
    except nbsetup.NbsetupError as error:
        return f"{type(error).__name__}: {error}"


# --- fix_path and check_path ----------------------------------------------------------------


def test_fix_path_writes_only_when_asked_and_only_when_changed(tmp_path):
    (tmp_path / "requirements.txt").write_text("numpy==2.0.1\n")
    notebook = builders.write(tmp_path / "nb.ipynb", builders.notebook(*LATE_INSTALL))
    original = notebook.read_bytes()

    dry = nbsetup.fix_path(notebook, write=False)
    assert dry.changed
    assert notebook.read_bytes() == original
    assert dry.pin_sources == str(tmp_path / "requirements.txt")

    result = nbsetup.fix_path(notebook)
    assert result == dry
    assert notebook.read_bytes() == result.data
    assert '"role": "environment"' in result.data.decode()

    stamp = notebook.stat().st_mtime_ns
    again = nbsetup.fix_path(notebook)
    assert not again.changed
    assert notebook.stat().st_mtime_ns == stamp


def test_fix_path_leaves_a_bad_file_untouched(tmp_path):
    notebook = tmp_path / "broken.ipynb"
    notebook.write_bytes(b'{"cells": [')
    with pytest.raises(nbsetup.NbsetupError, match="not valid JSON"):
        nbsetup.fix_path(notebook)
    assert notebook.read_bytes() == b'{"cells": ['


def test_fix_path_reads_the_project_settings(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.nbsetup]\nquiet-install = true\n")
    notebook = builders.write(tmp_path / "nb.ipynb", builders.notebook(*LATE_INSTALL))
    assert "!pip install -q numpy pandas" in nbsetup.fix_path(notebook).data.decode()
    (tmp_path / "pyproject.toml").write_text('[tool.nbsetup]\nenv-cell-style = "!pip"\n')
    assert nbsetup.load_config(tmp_path / "pyproject.toml").env_cell_style == "!pip"


def test_check_path_returns_the_diagnostics_and_honours_select(tmp_path):
    notebook = builders.write(tmp_path / "nb.ipynb", builders.notebook(*LATE_INSTALL))
    diagnostics = nbsetup.check_path(notebook)
    assert diagnostics
    assert all(isinstance(d, nbsetup.Diagnostic) for d in diagnostics)
    assert {d.code for d in diagnostics} >= {"NBS001"}
    only = nbsetup.check_path(notebook, select=["nbs002"])
    assert {d.code for d in only} <= {"NBS002"}
    with pytest.raises(ValueError, match="NBS999"):
        nbsetup.check_path(notebook, select=["NBS999"])


# --- agreement with the command line --------------------------------------------------------


@pytest.fixture
def corpus_sample(corpus_copy: Path, tmp_path: Path) -> list[Path]:
    """Every fifth corpus notebook, copied with the requirements files beside them."""
    root = tmp_path / "corpus"
    shutil.copytree(corpus_copy, root)
    notebooks = sorted(root.rglob("*.ipynb"))
    return notebooks[::5]


def test_to_dict_matches_the_json_report_of_fix(corpus_sample, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = [os.path.relpath(path) for path in corpus_sample]
    result = CliRunner().invoke(main, ["fix", "--check", "--format", "json", "-j", "1", *paths])
    report = json.loads(result.stdout)
    assert report["schema"] == nbsetup.SCHEMA_VERSION

    from_api = []
    for path in paths:
        try:
            from_api.append(nbsetup.fix_path(path, write=False).to_dict())
        except nbsetup.NbsetupError as error:
            from_api.append({"path": path, "error": str(error)})
    from_cli = [
        entry if entry["status"] != "failed" else {"path": entry["path"], "error": entry["error"]}
        for entry in report["files"]
    ]
    assert from_api == from_cli


def test_diagnostics_match_the_json_report_of_check(corpus_sample, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = [os.path.relpath(path) for path in corpus_sample]
    result = CliRunner().invoke(main, ["check", "--format", "json", "-j", "1", *paths])
    report = json.loads(result.stdout)
    for path, entry in zip(paths, report["files"], strict=True):
        if entry["status"] == "failed":
            continue
        assert [d.to_dict() for d in nbsetup.check_path(path)] == entry["diagnostics"], path


# --- a distributed engine -------------------------------------------------------------------


def _fix_record(record: tuple[str, bytes, nbsetup.Pins, str | None]) -> tuple[str, str, bytes]:
    """What a worker does with one stored notebook: fix it, or say why it cannot."""
    name, data, pins, label = record
    try:
        result = nbsetup.fix_bytes(data, pins=pins, pins_label=label)
    except nbsetup.NbsetupError as error:
        return name, f"failed: {error}", data
    return name, result.status, result.data


def test_dask_bag_over_the_corpus_gives_the_bytes_the_command_line_writes(corpus_copy, tmp_path):
    """`fix_bytes` mapped by dask's process scheduler agrees with `nbsetup fix`, byte for byte.

    The records cross process boundaries (pickled notebook bytes and pins, results back), so
    this shows the API is pickle-safe and free of hidden file or global state.
    """
    import dask.bag as dask_bag  # a test-only dependency, imported where it is used

    root = tmp_path / "corpus"
    shutil.copytree(corpus_copy, root)
    for repository in root.iterdir():
        if repository.is_dir():
            (repository / ".git").mkdir()  # requirements are searched within a repository
    notebooks = sorted(root.rglob("*.ipynb"))
    records = []
    for path in notebooks:
        choice = pipeline.choose_pins(path, ProjectConfig())
        name = path.relative_to(root).as_posix()
        records.append((name, path.read_bytes(), choice.pins, choice.label))

    bag = dask_bag.from_sequence(records, npartitions=8).map(_fix_record)
    fixed = {name: (status, data) for name, status, data in bag.compute(scheduler="processes")}

    result = CliRunner().invoke(main, ["fix", "--format", "json", "-j", "1", str(root)])
    report = {
        Path(entry["path"]).relative_to(root).as_posix(): entry
        for entry in json.loads(result.stdout)["files"]
    }
    assert len(fixed) == len(report) == len(notebooks)
    for path in notebooks:
        name = path.relative_to(root).as_posix()
        status, data = fixed[name]
        entry = report[name]
        expected = f"failed: {entry['error']}" if entry["status"] == "failed" else entry["status"]
        assert status == expected, name
        assert data == path.read_bytes(), name
    assert sum(status == "changed" for status, _ in fixed.values()) > 300
