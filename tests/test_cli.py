from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from nbsetup import __version__, batch
from nbsetup.cli import main
from tests import builders


@pytest.fixture
def runner():
    return CliRunner()


def test_no_arguments_is_a_usage_error(runner):
    result = runner.invoke(main, ["fix"])
    assert result.exit_code == 2
    assert "Missing argument 'PATHS...'" in result.stderr


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_python_m_nbsetup_runs():
    process = subprocess.run(
        [sys.executable, "-m", "nbsetup", "--help"], capture_output=True, text=True, check=False
    )
    assert process.returncode == 0
    assert "fix" in process.stdout


def test_unchanged_notebook_is_not_written(runner, tmp_path):
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("import os"))
    before = path.read_bytes()
    os.utime(path, (1_000_000, 1_000_000))
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "1 file scanned: 0 fixed, 1 unchanged\n"
    assert path.read_bytes() == before
    assert path.stat().st_mtime == 1_000_000


def test_check_on_unchanged_notebook_exits_0(runner, tmp_path):
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("import os"))
    result = runner.invoke(main, ["fix", "--check", str(path)])
    assert result.exit_code == 0


def test_non_python_kernel_is_skipped_untouched(runner, tmp_path):
    path = builders.write(
        tmp_path / "r.ipynb", builders.notebook("install.packages('x')", language="R")
    )
    before = path.read_bytes()
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 0
    assert result.stderr == "1 file scanned: 0 fixed, 0 unchanged, 1 skipped\n"
    assert path.read_bytes() == before


BAD_INPUTS = [
    pytest.param(b"", "empty file", id="empty"),
    pytest.param(b"\x00\x01binary", "binary file, not a notebook", id="binary"),
    pytest.param(b'{"cells": "caf\xe9"}', "not UTF-8 text (invalid byte at offset 14)", id="utf8"),
    pytest.param(
        b'{\n "cells": [\n',
        "not valid JSON (line 3, column 1: expecting value)",
        id="invalid-json",
    ),
    pytest.param(
        b'{"name": "x"}', "JSON is not a notebook (no integer 'nbformat' key)", id="other-json"
    ),
    pytest.param(
        b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}',
        "nbformat 3 notebook is not supported; upgrade it with "
        "`jupyter nbconvert --to notebook --nbformat 4 --inplace PATH`",
        id="nbformat-3",
    ),
]


@pytest.mark.parametrize(("data", "reason"), BAD_INPUTS)
def test_bad_input_one_line_exit_2_file_untouched(runner, tmp_path, data, reason):
    bad = tmp_path / "bad.ipynb"
    bad.write_bytes(data)
    good = builders.write(tmp_path / "good.ipynb", builders.notebook("import os"))
    result = runner.invoke(main, ["fix", str(bad), str(good)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{bad}: error: {reason}",
        "2 files scanned: 0 fixed, 1 unchanged, 1 failed",
    ]
    assert bad.read_bytes() == data


def test_missing_path_is_a_usage_error_and_nothing_is_processed(runner, tmp_path):
    good = builders.write(tmp_path / "good.ipynb", builders.notebook("!pip install numpy"))
    before = good.read_bytes()
    missing = tmp_path / "missing.ipynb"
    result = runner.invoke(main, ["fix", str(missing), str(good)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for 'PATHS...': Path '{missing}' does not exist."
    )
    assert good.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(runner, tmp_path):
    path = builders.write(tmp_path / "secret.ipynb", builders.notebook("import os"))
    path.chmod(0)
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{path}: error: permission denied"


def test_unreadable_file_via_os_error(runner, tmp_path, monkeypatch):
    # Root can read a mode-000 file, so also simulate the OS refusing the read.
    path = builders.write(tmp_path / "secret.ipynb", builders.notebook("import os"))

    real_open = os.open

    def refuse(name, *args, **kwargs):
        if os.fspath(name) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{path}: error: permission denied"


def test_directory_walk_skips_checkpoints_hidden_and_excluded(runner, tmp_path):
    nb = builders.notebook("import os")
    for relative in [
        "a.ipynb",
        "sub/b.ipynb",
        "sub/.ipynb_checkpoints/b-checkpoint.ipynb",
        ".hidden/c.ipynb",
        "build/d.ipynb",
        "notes.txt",
    ]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        builders.write(path, nb)
    (tmp_path / ".hidden" / "broken.ipynb").write_text("{")
    result = runner.invoke(main, ["fix", "--exclude", "build", "--format", "json", str(tmp_path)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [entry["path"] for entry in report["files"]] == [
        str(tmp_path / "a.ipynb"),
        str(tmp_path / "sub" / "b.ipynb"),
    ]
    assert report["schema"] == 1
    assert report["summary"] == {
        "changed": 0,
        "unchanged": 2,
        "skipped": 0,
        "failed": 0,
        "packages": 0,
        "conflicts": 0,
        "left": 0,
    }
    assert report["interrupted"] is False


def test_jobs_must_be_positive(runner, tmp_path):
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("import os"))
    result = runner.invoke(main, ["fix", "-j", "0", str(path)])
    assert result.exit_code == 2
    assert "Invalid value for '-j' / '--jobs'" in result.stderr


def test_summary_counts_packages_conflicts_and_installs_left(runner, tmp_path):
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n")
    path = builders.write(
        tmp_path / "nb.ipynb",
        builders.notebook("!pip install numpy==1.0 pandas\n!pip install {pkg}", "import numpy"),
    )
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == (
        "1 file scanned: 1 fixed, 0 unchanged; "
        "2 packages hoisted, 1 conflict, 1 install left in place"
    )
    again = runner.invoke(main, ["fix", "--check", str(path)])
    assert again.exit_code == 0
    assert again.stderr.splitlines()[-1] == (
        "1 file scanned: 0 would change, 1 unchanged; 1 install left in place"
    )


def test_report_file_is_the_json_report(runner, tmp_path):
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("!pip install requests"))
    report_file = tmp_path / "out" / "report.json"
    report_file.parent.mkdir()
    result = runner.invoke(
        main, ["fix", "--check", "--format", "json", "--report-file", str(report_file), str(path)]
    )
    assert result.exit_code == 1
    assert report_file.read_text() == result.stdout
    assert json.loads(result.stdout)["files"][0]["status"] == "changed"
    assert stat.S_IMODE(report_file.stat().st_mode) == 0o666 & ~_umask()
    assert os.listdir(report_file.parent) == ["report.json"]  # no temp file left


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_report_file_replaces_an_old_report_keeping_its_mode(runner, tmp_path):
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("import os"))
    report_file = tmp_path / "report.json"
    report_file.write_text("old")
    report_file.chmod(0o640)
    result = runner.invoke(main, ["fix", "--report-file", str(report_file), str(path)])
    assert result.exit_code == 0
    assert json.loads(report_file.read_text())["summary"]["unchanged"] == 1
    assert stat.S_IMODE(report_file.stat().st_mode) == 0o640


def test_report_file_that_cannot_be_written_is_refused_before_any_write(runner, tmp_path):
    path = builders.write(tmp_path / "nb.ipynb", builders.notebook("!pip install numpy"))
    before = path.read_bytes()
    report_file = tmp_path / "missing-dir" / "report.json"
    result = runner.invoke(main, ["fix", "--report-file", str(report_file), str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"{report_file}: error: cannot write the report: no such directory: {report_file.parent}",
    ]
    assert path.read_bytes() == before


def test_ctrl_c_in_process_reports_what_was_done_and_exits_130(runner, tmp_path, monkeypatch):
    paths = [
        builders.write(tmp_path / f"nb{index}.ipynb", builders.notebook("import os"))
        for index in range(5)
    ]
    real_process = batch.process

    def process(path, settings):
        if path == paths[2]:
            raise KeyboardInterrupt
        return real_process(path, settings)

    monkeypatch.setattr(batch, "process", process)
    result = runner.invoke(main, ["fix", "-q", "-j1", "--format", "json", str(tmp_path)])
    assert result.exit_code == 130
    assert result.stderr == "interrupted after 2 of 5 files: 0 fixed, 2 unchanged\n"
    report = json.loads(result.stdout)
    assert (report["interrupted"], report["exit_code"]) == (True, 130)
    assert [entry["path"] for entry in report["files"]] == [str(p) for p in paths[:2]]
