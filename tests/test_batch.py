"""Batches: discovery, parallel runs, progress, summary, and safety when interrupted or killed."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbsetup import batch, discovery, transform
from nbsetup.cli import main
from tests import builders

ROOT = Path(__file__).resolve().parents[1]
HAS_GIT = shutil.which("git") is not None
FORKS = multiprocessing.get_start_method() == "fork"
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and terminals")
TEMP_SUFFIX = ".nbsetup-tmp"


def _write(path, notebook):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return path


INSTALL = builders.notebook("!pip install requests", "import requests")

#: The generated collection: relative path → notebook (bytes for a broken one).
COLLECTION = {
    "a.ipynb": INSTALL,
    "nested/b.ipynb": builders.notebook("%pip install numpy==1.0 pandas", "import numpy"),
    "nested/deeper/c.ipynb": builders.notebook("import os"),
    "nested/deeper/left.ipynb": builders.notebook(
        "if True:\n    !pip install scipy", "import scipy"
    ),
    "nested/.ipynb_checkpoints/b-checkpoint.ipynb": INSTALL,
    ".hidden/d.ipynb": INSTALL,
    "build/e.ipynb": INSTALL,
    "drafts/f.ipynb": INSTALL,
    "broken.ipynb": b'{\n "cells": [\n',
    "r.ipynb": builders.notebook("install.packages('x')", language="R"),
}
REQUIREMENTS = "numpy==1.26.4\n"
EXCLUDES = ["--exclude", "build", "--exclude", "drafts/*.ipynb"]
#: What the walk keeps, in order.
PROCESSED = [
    "a.ipynb",
    "broken.ipynb",
    "r.ipynb",
    "nested/b.ipynb",
    "nested/deeper/c.ipynb",
    "nested/deeper/left.ipynb",
]
SUMMARY = (
    "6 files scanned: 2 fixed, 2 unchanged, 1 skipped, 1 failed; "
    "3 packages hoisted, 1 conflict, 1 install left in place"
)


def _make_collection(root: Path) -> Path:
    for relative, notebook in COLLECTION.items():
        path = root / relative
        if isinstance(notebook, bytes):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(notebook)
        else:
            _write(path, notebook)
    (root / "requirements.txt").write_text(REQUIREMENTS)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def runner():
    return CliRunner()


# --- discovery and summary ------------------------------------------------------------------


def test_collection_summary_exit_code_and_untouched_files(runner, tmp_path):
    root = _make_collection(tmp_path / "nbs")
    before = _snapshot(root)
    result = runner.invoke(main, ["fix", "-j2", *EXCLUDES, "--format", "json", str(root)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{root / 'broken.ipynb'}: error: not valid JSON (line 3, column 1: expecting value)",
        SUMMARY,
    ]
    files = json.loads(result.stdout)["files"]
    assert [entry["path"] for entry in files] == [str(root / name) for name in PROCESSED]
    assert [entry["status"] for entry in files] == [
        "changed",
        "failed",
        "skipped",
        "changed",
        "unchanged",
        "unchanged",
    ]
    after = _snapshot(root)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"a.ipynb", "nested/b.ipynb"}


def test_check_summary_says_would_change(runner, tmp_path):
    root = _make_collection(tmp_path / "nbs")
    before = _snapshot(root)
    result = runner.invoke(main, ["fix", "--check", *EXCLUDES, str(root)])
    assert result.exit_code == 2  # the broken notebook wins over "would change"
    assert result.stderr.splitlines()[-1] == (
        "6 files scanned: 2 would change, 2 unchanged, 1 skipped, 1 failed; "
        "3 packages to hoist, 1 conflict, 1 install left in place"
    )
    assert _snapshot(root) == before


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_git_ignored_files_are_skipped_inside_a_work_tree(runner, tmp_path):
    root = _make_collection(tmp_path / "repo")
    _write(root / "ignored" / "g.ipynb", INSTALL)
    _write(root / "nested" / "h.out.ipynb", INSTALL)
    (root / ".gitignore").write_text("ignored/\n*.out.ipynb\n")
    _git(root, "init", "-q")
    result = runner.invoke(main, ["fix", *EXCLUDES, "--format", "json", str(root)])
    paths = [entry["path"] for entry in json.loads(result.stdout)["files"]]
    assert paths == [str(root / name) for name in PROCESSED]
    assert result.stderr.splitlines()[-1] == SUMMARY


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_ignored_directory_named_explicitly_is_walked(tmp_path):
    root = tmp_path / "repo"
    _write(root / "ignored" / "g.ipynb", INSTALL)
    (root / ".gitignore").write_text("ignored/\n")
    _git(root, "init", "-q")
    assert discovery.discover([root]) == []
    assert discovery.discover([root / "ignored"]) == [root / "ignored" / "g.ipynb"]


def test_without_a_work_tree_or_git_nothing_counts_as_ignored(tmp_path, monkeypatch):
    root = tmp_path / "plain"
    _write(root / "ignored" / "g.ipynb", INSTALL)
    (root / ".gitignore").write_text("ignored/\n")
    assert discovery.discover([root]) == [root / "ignored" / "g.ipynb"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # git cannot be found: no error
    assert discovery.discover([root]) == [root / "ignored" / "g.ipynb"]


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_tracked_file_matching_gitignore_is_kept(tmp_path):
    # Git does not ignore a tracked file, whatever .gitignore says; neither does nbsetup.
    root = tmp_path / "repo"
    tracked = _write(root / "tracked.out.ipynb", INSTALL)
    _git(root, "init", "-q")
    _git(root, "add", "tracked.out.ipynb")
    (root / ".gitignore").write_text("*.out.ipynb\n")
    assert discovery.discover([root]) == [tracked]


def test_explicit_files_are_processed_even_when_excluded_or_hidden(runner, tmp_path):
    root = _make_collection(tmp_path / "nbs")
    hidden = root / ".hidden" / "d.ipynb"
    excluded = root / "build" / "e.ipynb"
    checkpoint = root / "nested" / ".ipynb_checkpoints" / "b-checkpoint.ipynb"
    before = _snapshot(root)
    result = runner.invoke(main, ["fix", *EXCLUDES, str(hidden), str(excluded), str(checkpoint)])
    assert result.exit_code == 0
    assert result.stderr == "3 files scanned: 3 fixed, 0 unchanged; 3 packages hoisted\n"
    after = _snapshot(root)
    assert {name for name in before if before[name] != after[name]} == {
        ".hidden/d.ipynb",
        "build/e.ipynb",
        "nested/.ipynb_checkpoints/b-checkpoint.ipynb",
    }


def test_a_file_named_twice_is_processed_once(tmp_path):
    path = _write(tmp_path / "a.ipynb", INSTALL)
    assert discovery.discover([path, tmp_path, tmp_path / "." / "a.ipynb"]) == [path]


# --- parallel runs --------------------------------------------------------------------------


def _corpus_sample(corpus: Path, count: int) -> list[Path]:
    """Small corpus notebooks that install something, with their requirements files."""
    picked = [
        path
        for path in sorted(corpus.rglob("*.ipynb"))
        if path.stat().st_size < 60_000 and b"pip install" in path.read_bytes()
    ]
    return picked[:count]


def test_jobs_1_and_2_give_identical_files_and_reports(runner, tmp_path, corpus_copy):
    source = _make_collection(tmp_path / "source")
    for notebook in _corpus_sample(corpus_copy, 40):
        target = source / "corpus" / notebook.relative_to(corpus_copy)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)
    for requirements in corpus_copy.rglob("requirements.txt"):
        target = source / "corpus" / requirements.relative_to(corpus_copy)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(requirements, target)
    work = tmp_path / "work"  # both runs at the same place: the reports name absolute paths
    outputs = {}
    for jobs in ("1", "2"):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(source, work)
        report = tmp_path / f"report-{jobs}.json"
        args = ["fix", "-j", jobs, *EXCLUDES, "--format", "json", "--report-file", str(report)]
        result = runner.invoke(main, [*args, str(work)])
        assert result.exit_code == 2
        assert report.read_text() == result.stdout
        outputs[jobs] = (_snapshot(work), result.stdout, result.stderr)
    assert outputs["1"] == outputs["2"]
    assert outputs["1"][0] != _snapshot(source)  # something was fixed


def test_run_reports_each_result_through_the_hook_in_any_order(tmp_path):
    files = [_write(tmp_path / f"nb{index}.ipynb", INSTALL) for index in range(7)]
    seen = []
    outcome = batch.run(files, batch.Settings(jobs=3), on_result=seen.append)
    assert [result.path for result in outcome.results] == [str(path) for path in files]
    assert sorted(result.path for result in seen) == sorted(str(path) for path in files)
    assert (outcome.total, outcome.interrupted) == (7, False)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_internal_error_names_the_file_and_batch_goes_on(runner, tmp_path, monkeypatch, jobs):
    if jobs == "2" and not FORKS:
        pytest.skip("the patch reaches worker processes only when they are forked")
    bad = _write(tmp_path / "bad.ipynb", builders.notebook("!pip install boom"))
    good = _write(tmp_path / "good.ipynb", INSTALL)
    real_hoist = transform.hoist

    def hoist(notebook, pins, config):
        if "boom" in json.dumps(notebook):
            raise ZeroDivisionError("division by zero")
        return real_hoist(notebook, pins, config)

    monkeypatch.setattr(transform, "hoist", hoist)
    result = runner.invoke(main, ["fix", "-j", jobs, str(bad), str(good)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{bad}: error: internal error: ZeroDivisionError: division by zero; {batch.BUG_HINT}",
        "2 files scanned: 1 fixed, 0 unchanged, 1 failed; 1 package hoisted",
    ]
    assert "Traceback" not in result.stderr
    verbose = runner.invoke(main, ["fix", "-v", "-j", jobs, str(bad), str(good)])
    lines = [line for line in verbose.stderr.splitlines() if not line.startswith("nbsetup.")]
    assert lines[0].startswith(f"{bad}: error: internal error: ZeroDivisionError")
    assert lines[1] == "Traceback (most recent call last):"
    assert 'raise ZeroDivisionError("division by zero")' in verbose.stderr


@pytest.mark.skipif(not FORKS, reason="the patch reaches worker processes only when forked")
def test_a_crashing_worker_fails_only_its_file(runner, tmp_path, monkeypatch):
    paths = [_write(tmp_path / f"nb{index}.ipynb", INSTALL) for index in range(6)]
    crash = paths[2]
    real_process = batch.process

    def process(path, settings):
        if path == crash:
            os._exit(70)  # as a segfault in native code would end the worker
        return real_process(path, settings)

    monkeypatch.setattr(batch, "process", process)
    result = runner.invoke(main, ["fix", "-j2", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{crash}: error: internal error: the worker process died while processing this "
        f"file; {batch.BUG_HINT}",
        "6 files scanned: 5 fixed, 0 unchanged, 1 failed; 5 packages hoisted",
    ]


@pytest.mark.slow
@pytest.mark.skipif(not FORKS, reason="the patch reaches worker processes only when forked")
def test_a_crash_never_miscounts_the_files_a_neighbour_worker_wrote(tmp_path, monkeypatch):
    # When one worker dies, the pool ends the other, which may have just written its file:
    # retried, that file would be "unchanged". Its recorded result is taken instead.
    real_process = batch.process
    for attempt in range(20):
        root = tmp_path / str(attempt)
        paths = [_write(root / f"nb{index}.ipynb", INSTALL) for index in range(6)]
        crash = paths[attempt % 6]

        def process(path, settings, crash=crash):
            if path == crash:
                os._exit(70)
            return real_process(path, settings)

        monkeypatch.setattr(batch, "process", process)
        outcome = batch.run(paths, batch.Settings(jobs=2))
        statuses = [result.status for result in outcome.results]
        expected = ["failed" if path == crash else "changed" for path in paths]
        assert statuses == expected, f"attempt {attempt}"


# --- progress bar ---------------------------------------------------------------------------


def _stderr_on_a_terminal(args: list[str]) -> str:
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "nbsetup", *args],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode()


@POSIX_ONLY
@pytest.mark.parametrize(
    ("count", "quiet", "shown"),
    [
        pytest.param(6, False, True, id="six-files"),
        pytest.param(5, False, False, id="five-files"),
        pytest.param(6, True, False, id="quiet"),
    ],
)
def test_progress_bar_only_on_a_terminal_for_more_than_5_files(tmp_path, count, quiet, shown):
    for index in range(count):
        _write(tmp_path / f"nb{index}.ipynb", builders.notebook("import os"))
    output = _stderr_on_a_terminal(["fix", "-j1", *(["-q"] if quiet else []), str(tmp_path)])
    assert (f"{count}/{count}" in output) == shown
    assert ("[####" in output) == shown


def test_no_progress_bar_when_stderr_is_not_a_terminal(runner, tmp_path):
    for index in range(8):
        _write(tmp_path / f"nb{index}.ipynb", builders.notebook("import os"))
    result = runner.invoke(main, ["fix", str(tmp_path)])
    assert result.stderr == "8 files scanned: 0 fixed, 8 unchanged\n"


# --- interrupted and killed runs ------------------------------------------------------------

COPIES = 12


@pytest.fixture(scope="module")
def kill_sample(corpus_copy, tmp_path_factory):
    """Corpus notebooks for a big collection, with their old and (after a clean fix) new bytes.

    A copy's new bytes depend only on its content and on the path to its requirements file,
    which is the same in every copy: fixing one reference copy gives the new bytes of all.
    """
    original = tmp_path_factory.mktemp("sample") / "original"
    for notebook in [*_corpus_sample(corpus_copy, 30), *corpus_copy.rglob("requirements.txt")]:
        target = original / notebook.relative_to(corpus_copy)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebook, target)
    fixed = shutil.copytree(original, original.parent / "fixed")
    outcome = batch.run(discovery.discover([fixed]), batch.Settings(jobs=2))
    assert not any(result.error for result in outcome.results)
    return original, _snapshot(original), _snapshot(fixed)


def _big_collection(root: Path, original: Path) -> None:
    for copy in range(COPIES):
        shutil.copytree(original, root / f"copy{copy:02}")


def _start(root: Path, *args: str) -> subprocess.Popen[bytes]:
    """`nbsetup fix` on `root` in the background, its temporary files in `_temp(root)`."""
    _temp(root).mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "nbsetup", "fix", "-q", *args, str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(_temp(root))},
        start_new_session=True,  # its own process group, as a shell job: pgid == pid
    )


def _temp(root: Path) -> Path:
    """The TMPDIR of a run on `root`: what a SIGKILL leaves there stays in the test's tmp_path."""
    return root.parent / "tmp"


def _wait_for_first_changes(root: Path, old: dict[str, bytes], new: dict[str, bytes]) -> None:
    watched = [name for name in sorted(new) if new[name] != old[name]][:8]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any((root / name).read_bytes() != old[name] for name in watched):
            return
        time.sleep(0.005)
    pytest.fail("the run never changed a file")


def _expected(kill_sample) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The old and new bytes of every file of `_big_collection`, by relative path."""
    _, old, new = kill_sample
    old_all, new_all = {}, {}
    for copy in range(COPIES):
        for name in old:
            old_all[f"copy{copy:02}/{name}"] = old[name]
            new_all[f"copy{copy:02}/{name}"] = new[name]
    return old_all, new_all


def _assert_each_file_old_or_new(root: Path, old: dict[str, bytes], new: dict[str, bytes]):
    states = {"old": 0, "new": 0}
    for name in old:
        data = (root / name).read_bytes()
        if name.endswith(".ipynb"):
            json.loads(data)
        assert data in (old[name], new[name]), name
        if old[name] != new[name]:
            states["old" if data == old[name] else "new"] += 1
    assert states["old"] > 0, "the run was not caught in the middle"
    assert states["new"] > 0
    return states


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if not children.exists():
        pytest.skip("needs /proc/PID/task/PID/children (Linux)")
    return [int(child) for child in children.read_text().split()]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


@POSIX_ONLY
@pytest.mark.parametrize("target", ["group", "parent"])
def test_sigkill_leaves_every_file_old_or_new(tmp_path, kill_sample, target):
    root = tmp_path / "collection"
    _big_collection(root, kill_sample[0])
    old, new = _expected(kill_sample)
    process = _start(root, "-j2")
    _wait_for_first_changes(root, old, new)
    workers = _children(process.pid)
    if target == "group":  # everything dies at once, wherever it is
        os.killpg(process.pid, signal.SIGKILL)
    else:  # the workers are orphaned: they finish their file and exit
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    process.stderr.close()
    deadline = time.monotonic() + 10
    while not all(_gone(worker) for worker in workers):
        assert time.monotonic() < deadline, "worker processes outlived their parent"
        time.sleep(0.05)
    _assert_each_file_old_or_new(root, old, new)
    if target == "parent":  # nobody was killed while writing
        assert not list(root.rglob(f"*{TEMP_SUFFIX}"))


@POSIX_ONLY
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigint_stops_cleanly_and_reports_what_was_done(tmp_path, kill_sample, jobs):
    root = tmp_path / "collection"
    _big_collection(root, kill_sample[0])
    old, new = _expected(kill_sample)
    report_file = tmp_path / "report.json"
    process = _start(root, "-j", jobs, "--report-file", str(report_file))
    _wait_for_first_changes(root, old, new)
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the whole job gets it
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr.decode()
    summary = stderr.decode().splitlines()[-1]
    assert summary.startswith("interrupted after ")
    notebooks = sum(name.endswith(".ipynb") for name in new)
    assert f" of {notebooks} files: " in summary
    assert not list(root.rglob(f"*{TEMP_SUFFIX}"))
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
    assert not list(_temp(root).iterdir())  # the workers' result records are gone too
    _assert_each_file_old_or_new(root, old, new)
    report = json.loads(report_file.read_text())
    assert report["interrupted"] is True
    assert report["exit_code"] == 130
    for entry in report["files"]:
        name = Path(entry["path"]).relative_to(root).as_posix()
        expected = new[name] if entry["status"] == "changed" else old[name]
        assert (root / name).read_bytes() == expected, name


def test_a_batch_syncs_once_at_the_end_not_once_per_file(tmp_path, monkeypatch):
    """Per-file fsyncs cost about a tenth of a corpus run; one `os.sync` after the batch."""
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync"))
    monkeypatch.setattr(os, "sync", lambda: calls.append("sync"))
    paths = [_write(tmp_path / f"n{i}.ipynb", INSTALL) for i in range(3)]
    outcome = batch.run(paths, batch.Settings(jobs=1))
    assert [r.status for r in outcome.results] == ["changed"] * 3
    assert calls == ["sync"]
    # Nothing to write under --check: nothing to sync either.
    calls.clear()
    batch.run(paths, batch.Settings(check=True, jobs=1))
    assert calls == []


def test_a_single_write_through_the_api_is_fsynced(tmp_path, monkeypatch):
    import nbsetup

    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    path = _write(tmp_path / "n.ipynb", INSTALL)
    nbsetup.fix_path(path)
    assert calls == ["fsync"]
