"""What ruff, black and pre-commit users expect of the command line (issue 26).

Each test asserts the exit code, stdout and stderr separately: stdout carries the product
(report, diff, fixed notebook), stderr everything for humans.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbsetup.cli import main
from tests.builders import notebook, write

ANSI = re.compile(r"\x1b\[[0-9;]*m")
REQUIREMENTS = "numpy==2.1\npandas==2.2.2\n"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository root with pins, so nothing above it is used."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    return tmp_path


def _scattered(path: Path) -> Path:
    """A notebook that `fix` changes: an install after the first code cell."""
    return write(path, notebook("import os", "!pip install numpy", "import numpy"))


def _tidy(path: Path) -> Path:
    return write(path, notebook("import os"))


# --- fix --check, --diff, github annotations -------------------------------------------------


def test_check_quiet_names_each_file_that_would_change(runner, repo):
    changed, tidy = _scattered(repo / "a.ipynb"), _tidy(repo / "b.ipynb")
    result = runner.invoke(main, ["fix", "--check", "-q", str(changed), str(tidy)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"would fix {changed}\n"


def test_check_github_annotates_the_failing_notebooks_as_errors(runner, repo):
    changed, tidy = _scattered(repo / "a.ipynb"), _tidy(repo / "b.ipynb")
    args = ["fix", "--check", "-q", "--output-format", "github", str(changed), str(tidy)]
    result = runner.invoke(main, args)
    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    path = str(changed).replace(":", "%3A").replace(",", "%2C")
    assert errors == [
        f"::error file={path}::would be changed by nbsetup fix (run `nbsetup fix` on it and "
        "commit the result)"
    ]
    assert result.stderr == f"would fix {changed}\n"


def test_diff_is_alone_on_stdout_and_the_report_on_stderr(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    before = path.read_bytes()
    result = runner.invoke(main, ["fix", "--diff", str(path)])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"--- {path} (original)\n+++ {path} (fixed)\n@@ ")
    assert all(line[:1] in " +-@" for line in result.stdout.splitlines())
    lines = result.stderr.splitlines()
    assert (
        f"{path}: info: cell 2, line 1: moved !pip install of numpy to the environment cell"
        in (lines)
    )
    assert lines[-2:] == [
        f"would fix {path}",
        "1 file scanned: 1 would change, 0 unchanged; 1 package to hoist",
    ]
    assert path.read_bytes() == before


def test_diff_with_json_puts_the_diff_in_the_report(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    text = runner.invoke(main, ["fix", "--diff", str(path)])
    result = runner.invoke(main, ["fix", "--diff", "--output-format", "json", str(path)])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["files"][0]["diff"] == text.stdout
    assert result.stderr.splitlines()[0] == f"would fix {path}"


def test_json_report_without_new_options_keeps_its_keys_and_order(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    result = runner.invoke(main, ["fix", "--check", "--format", "json", str(path)])
    document = json.loads(result.stdout)
    assert list(document) == ["schema", "summary", "interrupted", "exit_code", "files"]
    assert list(document["files"][0]) == ["path", "status", "error", "requirements", "changes"]
    assert result.stdout == json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def test_format_is_an_alias_of_output_format(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    old = runner.invoke(main, ["check", "--format", "json", str(path)])
    new = runner.invoke(main, ["check", "--output-format", "json", str(path)])
    assert (old.exit_code, old.stdout, old.stderr) == (new.exit_code, new.stdout, new.stderr)


def test_sarif_is_only_for_check(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    result = runner.invoke(main, ["fix", "--output-format", "sarif", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert "Invalid value for '--output-format'" in result.stderr


# --- report lines: cell order, cell locations -----------------------------------------------


def test_report_lines_are_in_cell_order(runner, repo):
    path = write(
        repo / "nb.ipynb",
        notebook(
            "import os", "!pip install numpy", "if os.path.isdir('data'):\n    !pip install pandas"
        ),
    )
    result = runner.invoke(main, ["fix", "--check", str(path)])
    assert result.exit_code == 1
    cells = [
        int(found[1])
        for line in result.stdout.splitlines()
        if (found := re.search(r": cell (\d+)", line))
    ]
    assert cells == sorted(cells)
    assert any(": warning: cell 3" in line for line in result.stdout.splitlines())
    assert result.stderr.splitlines()[0] == f"would fix {path}"


def test_check_locates_diagnostics_by_cell_as_ruff_does(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{path}:cell 2:1:1: NBS006 install of numpy after the first code cell (cell 1); "
        "`nbsetup fix` would hoist it\n"
    )
    assert result.stderr == "1 file scanned: 1 flagged, 0 clean; 1 diagnostic\n"


# --- discovery: empty directories, missing paths, not notebooks -----------------------------


def test_an_empty_directory_warns(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(main, ["fix", str(tmp_path / "empty")])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        "warning: no notebooks found in the given paths\n0 files scanned: 0 fixed, 0 unchanged\n"
    )


def test_a_directory_typo_is_a_usage_error(runner, tmp_path):
    (tmp_path / "notebooks").mkdir()
    result = runner.invoke(main, ["check", str(tmp_path / "notebook")])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.endswith(
        f"Error: Invalid value for 'PATHS...': Path '{tmp_path / 'notebook'}' does not exist.\n"
    )


@pytest.mark.parametrize("name", ["notes.txt", "data.json"])
def test_a_file_that_is_not_a_notebook_says_so(runner, tmp_path, name):
    path = tmp_path / name
    path.write_text("print('hello')\n")
    result = runner.invoke(main, ["fix", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"{path}: error: not a notebook: not an .ipynb file, and its content is not notebook JSON",
        "1 file scanned: 0 fixed, 0 unchanged, 1 failed",
    ]


def test_a_plain_python_script_is_not_a_notebook(runner, tmp_path):
    path = tmp_path / "x.py"
    path.write_text("print('hello')\n")
    result = runner.invoke(main, ["check", "-q", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"{path}: error: not a text notebook (no jupytext header); pass --text to read it as one\n"
    )


# --- -v ---------------------------------------------------------------------------------------


def test_verbose_names_pins_settings_skipped_files_and_timings(runner, repo):
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nexclude = ["drafts"]\n')
    (repo / ".gitignore").write_text("scratch.ipynb\n")
    path = _scattered(repo / "nb.ipynb")
    _tidy(repo / "scratch.ipynb")
    (repo / "drafts").mkdir()
    _tidy(repo / "drafts" / "d.ipynb")
    os.system(f"git -C {repo} init -q")
    result = runner.invoke(main, ["fix", "--check", "-v", str(repo)])
    assert result.exit_code == 1
    log = [line for line in result.stderr.splitlines() if line.startswith("nbsetup.")]
    assert f"nbsetup.discovery: skipped {repo / 'drafts'}: matches [tool.nbsetup] exclude" in log
    assert f"nbsetup.discovery: skipped {repo / 'scratch.ipynb'}: ignored by git" in log
    assert any(re.fullmatch(r"nbsetup\.cli: found 1 notebooks in \d+\.\d{3} s", x) for x in log)
    traced = [line for line in log if line.startswith(f"nbsetup.cli: {path}: ")]
    assert len(traced) == 1
    assert re.fullmatch(
        rf"nbsetup\.cli: {re.escape(str(path))}: changed in \d+\.\d{{3}} s; pins: "
        rf"{re.escape(str(repo / 'requirements.txt'))}; settings: "
        rf"{re.escape(str(repo / 'pyproject.toml'))}",
        traced[0],
    )
    quiet = runner.invoke(main, ["fix", "--check", str(repo)])
    assert not any(line.startswith("nbsetup.") for line in quiet.stderr.splitlines())
    assert result.stdout == quiet.stdout


# --- --report-file ----------------------------------------------------------------------------


def test_report_file_dash_is_stdout_and_the_report_lines_move_to_stderr(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    result = runner.invoke(main, ["fix", "--check", "--report-file", "-", str(path)])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["files"][0]["path"] == str(path)
    assert f"{path}: info: environment cell created as cell 1" in result.stderr.splitlines()
    assert not (Path.cwd() / "-").exists()


def test_report_file_in_a_directory_that_is_a_file_is_refused_first(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    before = path.read_bytes()
    (repo / "out").write_text("")
    result = runner.invoke(main, ["fix", "--report-file", str(repo / "out" / "r.json"), str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"{repo / 'out' / 'r.json'}: error: cannot write the report: no such directory: "
        f"{repo / 'out'}\n"
    )
    assert path.read_bytes() == before


def test_report_file_dash_cannot_share_stdout_with_a_diff(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    result = runner.invoke(main, ["fix", "--diff", "--report-file", "-", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert "--report-file - writes the JSON report to stdout" in result.stderr


# --- stdin ------------------------------------------------------------------------------------


def test_editor_round_trip_through_stdin(runner, repo):
    (repo / "sub").mkdir()
    (repo / "sub" / "requirements.txt").write_text("numpy==1.26.4\n")
    on_disk = _scattered(repo / "sub" / "nb.ipynb")
    original = on_disk.read_bytes()
    args = ["fix", "-", "--stdin-filename", str(on_disk)]
    result = runner.invoke(main, args, input=original)
    assert result.exit_code == 0
    assert "!pip install numpy==1.26.4" in result.stdout  # the pins beside the file
    assert (
        result.stderr.splitlines()[-1] == "1 file scanned: 1 fixed, 0 unchanged; 1 package hoisted"
    )
    assert on_disk.read_bytes() == original  # the editor's buffer is the product, not the file
    # what the file itself would become, byte for byte
    copy = repo / "sub" / "copy.ipynb"
    copy.write_bytes(original)
    assert runner.invoke(main, ["fix", "-q", str(copy)]).exit_code == 0
    assert result.stdout_bytes == copy.read_bytes()
    # the editor saves and formats again: nothing changes
    again = runner.invoke(main, [*args, "-q"], input=result.stdout_bytes)
    assert (again.exit_code, again.stdout_bytes, again.stderr) == (0, result.stdout_bytes, "")
    checked = runner.invoke(main, ["check", "-", "--stdin-filename", str(on_disk)], input=original)
    assert checked.exit_code == 1
    assert checked.stdout.startswith(f"{on_disk}:cell 2:1:1: NBS006 ")
    assert checked.stderr == "1 file scanned: 1 flagged, 0 clean; 1 diagnostic\n"
    clean = runner.invoke(
        main, ["check", "-", "--stdin-filename", str(on_disk)], input=result.stdout_bytes
    )
    assert (clean.exit_code, clean.stdout) == (0, "")


def test_stdin_check_and_diff_write_no_notebook(runner, repo):
    data = _scattered(repo / "nb.ipynb").read_bytes()
    check = runner.invoke(main, ["fix", "--check", "-q", "-"], input=data)
    assert (check.exit_code, check.stdout, check.stderr) == (1, "", "would fix -\n")
    diff = runner.invoke(main, ["fix", "--diff", "-q", "-"], input=data)
    assert diff.exit_code == 1
    assert diff.stdout.startswith("--- - (original)\n+++ - (fixed)\n")
    assert diff.stderr == "would fix -\n"


def test_stdin_bad_input_writes_nothing_to_stdout(runner, repo):
    result = runner.invoke(main, ["fix", "-", "--stdin-filename", "nb.ipynb"], input=b"{")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines()[0] == (
        "nb.ipynb: error: not valid JSON (line 1, column 2: expecting property name enclosed in "
        "double quotes)"
    )


def test_stdin_cannot_be_mixed_with_paths(runner, repo):
    path = _tidy(repo / "nb.ipynb")
    result = runner.invoke(main, ["fix", "-", str(path)], input=b"")
    assert (result.exit_code, result.stdout) == (2, "")
    assert "'-' (a notebook on stdin) cannot be combined with other paths" in result.stderr


# --- colour -----------------------------------------------------------------------------------


def test_color_always_never_and_no_color(runner, repo, monkeypatch):
    path = _scattered(repo / "nb.ipynb")
    always = runner.invoke(main, ["check", "--color", "always", str(path)])
    assert always.exit_code == 1
    assert "\x1b[" in always.stdout
    assert "\x1b[" not in always.stderr  # the summary is not painted
    assert ANSI.sub("", always.stdout) == runner.invoke(main, ["check", str(path)]).stdout
    never = runner.invoke(main, ["check", "--color", "never", str(path)])
    assert "\x1b[" not in never.stdout + never.stderr
    monkeypatch.setenv("NO_COLOR", "1")
    auto = runner.invoke(main, ["check", "--color", "auto", str(path)], color=True)
    assert "\x1b[" not in auto.stdout + auto.stderr
    forced = runner.invoke(main, ["check", "--color", "always", str(path)])
    assert forced.stdout == always.stdout
    monkeypatch.delenv("NO_COLOR")
    errors = runner.invoke(main, ["fix", "--color", "always", "--diff", str(path)])
    assert "\x1b[32m+!pip install numpy==2.1\x1b[0m" in errors.stdout
    assert f"\x1b[1m{path}\x1b[0m: \x1b[36m\x1b[1minfo\x1b[0m: " in errors.stderr


# --- read-only and hard-linked notebooks ------------------------------------------------------


def test_read_only_notebook_is_refused_untouched(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    before = path.read_bytes()
    path.chmod(0o444)
    result = runner.invoke(main, ["fix", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        f"{path}: error: read-only file (mode 0444): not rewritten; make it writable to fix it",
        "1 file scanned: 0 fixed, 0 unchanged, 1 failed",
    ]
    assert path.read_bytes() == before
    assert stat_mode(path) == 0o444
    checked = runner.invoke(main, ["fix", "--check", "-q", str(path)])  # reading is fine
    assert (checked.exit_code, checked.stderr) == (1, f"would fix {path}\n")
    tidy = _tidy(repo / "tidy.ipynb")
    tidy.chmod(0o444)
    unchanged = runner.invoke(main, ["fix", "-q", str(tidy)])  # nothing to write: no error
    assert (unchanged.exit_code, unchanged.stdout, unchanged.stderr) == (0, "", "")


def test_hard_linked_notebook_is_refused_rather_than_split(runner, repo):
    path = _scattered(repo / "nb.ipynb")
    before = path.read_bytes()
    os.link(path, repo / "twin.ipynb")
    result = runner.invoke(main, ["fix", str(path)])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines()[0] == (
        f"{path}: error: file has 2 hard links, which rewriting it would separate (the other "
        "names would keep the old content): not rewritten; copy it over itself to break the "
        "link first"
    )
    assert path.read_bytes() == before == (repo / "twin.ipynb").read_bytes()
    shutil.copyfile(path, repo / "copy.ipynb")
    os.replace(repo / "copy.ipynb", path)  # the link broken as the message says
    assert runner.invoke(main, ["fix", "-q", str(path)]).exit_code == 0


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
