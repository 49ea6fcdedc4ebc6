from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from nbsetup import __version__
from nbsetup.cli import main


def _notebook(*sources, language="python", minor=4):
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for source in sources
        ],
        "metadata": {"kernelspec": {"language": language, "name": "k", "display_name": "K"}},
        "nbformat": 4,
        "nbformat_minor": minor,
    }


def _write(path, notebook):
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return path


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
    path = _write(tmp_path / "nb.ipynb", _notebook("import os"))
    before = path.read_bytes()
    os.utime(path, (1_000_000, 1_000_000))
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "0 fixed, 1 unchanged\n"
    assert path.read_bytes() == before
    assert path.stat().st_mtime == 1_000_000


def test_check_on_unchanged_notebook_exits_0(runner, tmp_path):
    path = _write(tmp_path / "nb.ipynb", _notebook("import os"))
    result = runner.invoke(main, ["fix", "--check", str(path)])
    assert result.exit_code == 0


def test_non_python_kernel_is_skipped_untouched(runner, tmp_path):
    path = _write(tmp_path / "r.ipynb", _notebook("install.packages('x')", language="R"))
    before = path.read_bytes()
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 0
    assert result.stderr == "0 fixed, 0 unchanged, 1 skipped\n"
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
    good = _write(tmp_path / "good.ipynb", _notebook("import os"))
    result = runner.invoke(main, ["fix", str(bad), str(good)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{bad}: error: {reason}",
        "0 fixed, 1 unchanged, 1 failed",
    ]
    assert bad.read_bytes() == data


def test_missing_path_is_reported_and_others_processed(runner, tmp_path):
    good = _write(tmp_path / "good.ipynb", _notebook("import os"))
    missing = tmp_path / "missing.ipynb"
    result = runner.invoke(main, ["fix", str(missing), str(good)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{missing}: error: no such file",
        "0 fixed, 1 unchanged, 1 failed",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(runner, tmp_path):
    path = _write(tmp_path / "secret.ipynb", _notebook("import os"))
    path.chmod(0)
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{path}: error: permission denied"


def test_unreadable_file_via_os_error(runner, tmp_path, monkeypatch):
    # Root can read a mode-000 file, so also simulate the OS refusing the read.
    path = _write(tmp_path / "secret.ipynb", _notebook("import os"))

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(path), "read_bytes", refuse)
    result = runner.invoke(main, ["fix", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{path}: error: permission denied"


def test_directory_walk_skips_checkpoints_hidden_and_excluded(runner, tmp_path):
    nb = _notebook("import os")
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
        _write(path, nb)
    (tmp_path / ".hidden" / "broken.ipynb").write_text("{")
    result = runner.invoke(main, ["fix", "--exclude", "build", "--format", "json", str(tmp_path)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [entry["path"] for entry in report["files"]] == [
        str(tmp_path / "a.ipynb"),
        str(tmp_path / "sub" / "b.ipynb"),
    ]
    assert report["schema"] == 1
    assert report["summary"] == {"changed": 0, "unchanged": 2, "skipped": 0, "failed": 0}
