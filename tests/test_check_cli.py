"""`nbsetup check` on the command line: exit codes, formats, select/ignore, batches, config."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest
from click.testing import CliRunner

from nbsetup import batch, lint
from nbsetup.cli import main
from tests import builders

FORKS = multiprocessing.get_start_method() == "fork"


def _repo(tmp_path):
    """`tmp_path` as a repository root, so no requirements file above it is used."""
    (tmp_path / ".git").mkdir(exist_ok=True)
    return tmp_path


def test_check_reports_diagnostics_and_writes_nothing(tmp_path):
    tmp_path = _repo(tmp_path)
    (tmp_path / "requirements.txt").write_text("numpy==2.1\n")
    path = builders.write(
        tmp_path / "nb.ipynb", builders.notebook("import numpy", "!pip install 'numpy<2'")
    )
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:cell 2:1:1: NBS001 numpy is installed after it is imported as `numpy` "
        "(cell 1, line 1); the kernel keeps the version it loaded until restarted",
        f"{path}:cell 2:1:1: NBS003 numpy: the notebook asks for 'numpy<2', "
        f"{tmp_path / 'requirements.txt'}, line 1 pins 'numpy==2.1'",
        f"{path}:cell 2:1:1: NBS006 install of numpy<2 after the first code cell (cell 1); "
        "`nbsetup fix` would hoist it",
    ]
    assert result.stderr == "1 file scanned: 1 flagged, 0 clean; 3 diagnostics\n"
    assert path.read_bytes() == before


def test_check_clean_exits_0(tmp_path):
    tmp_path = _repo(tmp_path)
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("import os"))
    result = CliRunner().invoke(main, ["check", "-q", str(path)])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_check_select_ignore_and_json(tmp_path):
    tmp_path = _repo(tmp_path)
    path = builders.write(
        tmp_path / "nb.ipynb", builders.notebook("import os", "!pip install numpy")
    )
    args = ["check", "--select", "NBS002,nbs006", "--ignore", "NBS006", "--format", "json"]
    result = CliRunner().invoke(main, [*args, str(path)])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [d["code"] for d in document["files"][0]["diagnostics"]] == ["NBS002"]
    assert document["exit_code"] == 1


def test_check_unknown_code_is_a_usage_error(tmp_path):
    tmp_path = _repo(tmp_path)
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("import os"))
    result = CliRunner().invoke(main, ["check", "--ignore", "NBS999", str(path)])
    assert result.exit_code == 2
    assert "unknown diagnostic code or prefix: NBS999" in result.stderr


def test_check_bad_file_exits_2_and_checks_the_others(tmp_path):
    tmp_path = _repo(tmp_path)
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    builders.write(tmp_path / "ok.ipynb", builders.notebook("!pip install numpy==1.26.4"))
    result = CliRunner().invoke(main, ["check", "--format", "github", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"::error file={bad}::not valid JSON (line 1, column 2: expecting property name "
        "enclosed in double quotes)",
        f"::warning file={tmp_path / 'ok.ipynb'},title=NBS006::cell 1, line 1: install of "
        "numpy==1.26.4 outside an environment cell; `nbsetup fix` would hoist it",
    ]


def test_check_local_modules_beside_the_notebook(tmp_path):
    tmp_path = _repo(tmp_path)
    (tmp_path / "helpers.py").write_text("")
    path = builders.write(
        tmp_path / "nb.ipynb", builders.notebook("import helpers\nimport sklearn")
    )
    result = CliRunner().invoke(main, ["check", "--select", "NBS005", str(path)])
    assert result.stdout.splitlines() == [
        f"{path}:cell 1:2:1: NBS005 `sklearn` is imported, but scikit-learn is neither "
        "installed by the notebook nor listed in a requirements file"
    ]


def test_check_parallel_matches_serial(tmp_path):
    tmp_path = _repo(tmp_path)
    for index in range(6):
        builders.write(
            tmp_path / f"nb{index}.ipynb", builders.notebook("import os", f"!pip install p{index}")
        )
    serial = CliRunner().invoke(main, ["check", "-j1", "--format", "json", str(tmp_path)])
    parallel = CliRunner().invoke(main, ["check", "-j2", "--format", "json", str(tmp_path)])
    assert serial.exit_code == parallel.exit_code == 1
    assert serial.stdout == parallel.stdout


# --- exit codes, formats and stderr ---------------------------------------------------------


def test_check_clean_reports_the_summary_on_stderr(tmp_path):
    path = builders.write(_repo(tmp_path) / "nb.ipynb", builders.notebook("import os"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "1 file scanned: 0 flagged, 1 clean; 0 diagnostics\n"


def test_check_json_of_a_clean_notebook(tmp_path):
    path = builders.write(_repo(tmp_path) / "nb.ipynb", builders.notebook("import os"))
    result = CliRunner().invoke(main, ["check", "--format", "json", str(path)])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["summary"] == {
        "flagged": 0,
        "clean": 1,
        "skipped": 0,
        "failed": 0,
        "diagnostics": {},
    }
    assert [(f["path"], f["status"]) for f in document["files"]] == [(str(path), "clean")]


def test_check_select_is_repeatable(tmp_path):
    path = builders.write(
        _repo(tmp_path) / "nb.ipynb", builders.notebook("import os", "!pip install numpy")
    )
    args = ["check", "--select", "NBS002", "--select", "NBS006", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert [line.split()[2] for line in result.stdout.splitlines()] == ["NBS002", "NBS006"]


def test_check_ignore_everything_found_exits_0(tmp_path):
    path = builders.write(
        _repo(tmp_path) / "nb.ipynb", builders.notebook("import os", "!pip install numpy")
    )
    result = CliRunner().invoke(main, ["check", "--ignore", "nbs002,NBS006", str(path)])
    assert (result.exit_code, result.stdout) == (0, "")


def test_check_unknown_select_code_is_a_usage_error(tmp_path):
    path = builders.write(_repo(tmp_path) / "nb.ipynb", builders.notebook("import os"))
    result = CliRunner().invoke(main, ["check", "--select", "NBS001,bogus", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        "Invalid value for '--select': unknown diagnostic code or prefix: BOGUS" in result.stderr
    )


def test_check_skips_an_r_notebook(tmp_path):
    path = builders.write(
        _repo(tmp_path) / "r.ipynb", builders.notebook("install.packages('x')", language="R")
    )
    result = CliRunner().invoke(main, ["check", str(path)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.splitlines() == [
        f"{path}: info: skipped: not a Python notebook (kernel language: r)",
        "1 file scanned: 0 flagged, 0 clean, 1 skipped; 0 diagnostics",
    ]
    quiet = CliRunner().invoke(main, ["check", "-q", str(path)])
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


def test_check_bad_notebook_in_a_batch_text(tmp_path):
    tmp_path = _repo(tmp_path)
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{")
    flagged = builders.write(
        tmp_path / "flagged.ipynb", builders.notebook("import os", "!pip install numpy")
    )
    result = CliRunner().invoke(main, ["check", "-q", "--select", "NBS002", str(tmp_path)])
    assert result.exit_code == 2  # an error wins over diagnostics
    assert result.stdout.splitlines() == [
        f"{flagged}:cell 2:1:1: NBS002 numpy is installed unpinned ('numpy'): pin it with == "
        "here or in the requirements"
    ]
    assert result.stderr.splitlines() == [
        f"{bad}: error: not valid JSON (line 1, column 2: expecting property name enclosed in "
        "double quotes)"
    ]


def test_check_missing_path_is_an_error(tmp_path):
    missing = _repo(tmp_path) / "missing.ipynb"
    result = CliRunner().invoke(main, ["check", "-q", str(missing)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert f"Error: Invalid value for 'PATHS...': Path '{missing}' does not exist." in (
        result.stderr
    )


def test_check_internal_error_names_the_file_and_shows_a_traceback_under_v(tmp_path, monkeypatch):
    tmp_path = _repo(tmp_path)
    bad = builders.write(tmp_path / "bad.ipynb", builders.notebook("import boom"))
    builders.write(tmp_path / "good.ipynb", builders.notebook("import os"))
    real_diagnose = lint.diagnose

    def diagnose(notebook, *args):
        if "boom" in json.dumps(notebook):
            raise ZeroDivisionError("division by zero")
        return real_diagnose(notebook, *args)

    monkeypatch.setattr(lint, "diagnose", diagnose)
    result = CliRunner().invoke(main, ["check", "-j1", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{bad}: error: internal error: ZeroDivisionError: division by zero; {batch.BUG_HINT}",
        "2 files scanned: 0 flagged, 1 clean, 1 failed; 0 diagnostics",
    ]
    verbose = CliRunner().invoke(main, ["check", "-v", "-j1", str(tmp_path)])
    lines = [line for line in verbose.stderr.splitlines() if not line.startswith("nbsetup.")]
    assert lines[1] == "Traceback (most recent call last):"
    assert 'raise ZeroDivisionError("division by zero")' in verbose.stderr


# --- parallel runs --------------------------------------------------------------------------


def _mixed_batch(tmp_path):
    tmp_path = _repo(tmp_path)
    for index in range(6):
        builders.write(
            tmp_path / f"nb{index}.ipynb", builders.notebook("import os", f"!pip install p{index}")
        )
    builders.write(tmp_path / "clean.ipynb", builders.notebook("import os"))
    builders.write(tmp_path / "r.ipynb", builders.notebook("install.packages('x')", language="R"))
    (tmp_path / "bad.ipynb").write_text("{")
    return tmp_path


@pytest.mark.parametrize("output_format", ["text", "json", "github"])
def test_check_j1_and_j2_give_identical_output(tmp_path, output_format):
    root = _mixed_batch(tmp_path)
    args = ["check", "--format", output_format, str(root)]
    serial = CliRunner().invoke(main, [*args, "-j1"])
    parallel = CliRunner().invoke(main, [*args, "-j2"])
    assert serial.exit_code == parallel.exit_code == 2
    assert serial.stdout == parallel.stdout
    assert serial.stderr == parallel.stderr
    assert serial.stderr.splitlines()[-1] == (
        "9 files scanned: 6 flagged, 1 clean, 1 skipped, 1 failed; 12 diagnostics"
    )


@pytest.mark.skipif(not FORKS, reason="the patch reaches worker processes only when forked")
def test_check_a_crashing_worker_fails_only_its_file(tmp_path, monkeypatch):
    tmp_path = _repo(tmp_path)
    paths = [
        builders.write(tmp_path / f"nb{index}.ipynb", builders.notebook("import os"))
        for index in range(4)
    ]
    real_check_file = batch.check_file

    def check_file(path, settings):
        if path == paths[1]:
            os._exit(70)  # as a segfault in native code would end the worker
        return real_check_file(path, settings)

    monkeypatch.setattr(batch, "check_file", check_file)
    result = CliRunner().invoke(main, ["check", "-j2", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{paths[1]}: error: internal error: the worker process died while processing this "
        f"file; {batch.BUG_HINT}",
        "4 files scanned: 0 flagged, 3 clean, 1 failed; 0 diagnostics",
    ]


# --- paths, requirements and [tool.nbsetup] -------------------------------------------------


def test_check_exclude_skips_walked_files_but_not_named_ones(tmp_path):
    tmp_path = _repo(tmp_path)
    (tmp_path / "drafts").mkdir()
    drafts = builders.write(
        tmp_path / "drafts" / "nb.ipynb", builders.notebook("import os", "!pip install x")
    )
    result = CliRunner().invoke(main, ["check", "--exclude", "drafts", str(tmp_path)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        "warning: no notebooks found in the given paths\n"
        "0 files scanned: 0 flagged, 0 clean; 0 diagnostics\n"
    )
    named = CliRunner().invoke(main, ["check", "-q", "--exclude", "drafts", str(drafts)])
    assert named.exit_code == 1


def test_check_requirements_option_is_shown_relative_to_the_cwd(tmp_path, monkeypatch):
    tmp_path = _repo(tmp_path)
    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "req.txt").write_text("numpy==2.1\n")
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("!pip install 'numpy<2'"))
    monkeypatch.chdir(tmp_path)
    args = ["check", "--select", "NBS003", "--requirements", "pins/req.txt", str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:cell 1:1:1: NBS003 numpy: the notebook asks for 'numpy<2', pins/req.txt, line 1 "
        "pins 'numpy==2.1'"
    ]


def test_check_uses_tool_nbsetup_requirements_exclude_and_kernels(tmp_path, monkeypatch):
    tmp_path = _repo(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.nbsetup]\n"
        'requirements = "pins.txt"\n'
        'exclude = ["drafts"]\n'
        'kernels = ["python", "sage"]\n'
    )
    (tmp_path / "pins.txt").write_text("numpy==2.1\n")
    (tmp_path / "drafts").mkdir()
    builders.write(
        tmp_path / "drafts" / "skip.ipynb", builders.notebook("import os", "!pip install x")
    )
    sage = builders.write(
        tmp_path / "sage.ipynb", builders.notebook("!pip install 'numpy<2'", language="sage")
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--select", "NBS003", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{sage}:cell 1:1:1: NBS003 numpy: the notebook asks for 'numpy<2', pins.txt, line 1 pins "
        "'numpy==2.1'"
    ]
    assert result.stderr == "1 file scanned: 1 flagged, 0 clean; 1 diagnostic\n"


def test_check_broken_pyproject_while_walking_is_an_error(tmp_path):
    tmp_path = _repo(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.nbsetup]\nbogus = 1\n")
    builders.write(tmp_path / "nb.ipynb", builders.notebook("import os"))
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 2
    # The walk goes on; each notebook the settings apply to fails with the reason.
    notebook = tmp_path / "nb.ipynb"
    assert result.stderr.startswith(
        f"{notebook}: error: {tmp_path / 'pyproject.toml'}: unknown key"
    )
