"""Reading, walking and writing hazards: each run ends in bounded time with a clear line.

Most tests run the command line in a subprocess with a timeout, so that a regression (a read
that blocks, an include that explodes) fails the test instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbsetup import files, notebook_io
from nbsetup.cli import main
from nbsetup.errors import ChangedMeanwhile
from nbsetup.pins import RequirementsError
from nbsetup.sources.requirements_txt import (
    MAX_INCLUDE_DEPTH,
    load_requirements,
    parse_requirements,
)

#: Generous: every run here takes well under a second when nothing hangs.
TIMEOUT = 60
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _notebook(*sources: str) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{index}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for index, source in enumerate(sources)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _write(path: Path, *sources: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_notebook(*sources), indent=1) + "\n", encoding="utf-8")
    return path


INSTALL = ("import os", "!pip install numpy\nimport numpy")
#: What the environment cell of a fixed `INSTALL` notebook holds (its last line).
FIXED = "!pip install numpy"


def _nbsetup(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the command line in a subprocess; a hang fails the test after `TIMEOUT`."""
    return subprocess.run(
        [sys.executable, "-m", "nbsetup", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob(f"*{files.TEMP_SUFFIX}"))


# --- reading: only regular files, with a size limit ---------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_fifo_notebook_is_refused_at_once_and_the_batch_goes_on(tmp_path, jobs):
    fifo = tmp_path / "x.ipynb"
    os.mkfifo(fifo)
    good = _write(tmp_path / "y.ipynb", *INSTALL)
    result = _nbsetup("fix", "-j", jobs, fifo, tmp_path, cwd=tmp_path)
    assert result.returncode == 2
    assert f"{fifo}: error: is a FIFO, not a regular file" in result.stderr.splitlines()
    assert FIXED in good.read_text()
    assert "internal error" not in result.stderr


def test_a_fifo_or_device_include_is_refused_naming_file_and_line(tmp_path):
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n-r fifo.txt\n-r /dev/zero\n")
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    before = notebook.read_bytes()
    result = _nbsetup("fix", notebook, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f"{notebook}: error: requirements.txt, line 2: cannot read 'fifo.txt': is a FIFO, "
        "not a regular file"
    )
    (tmp_path / "requirements.txt").write_text("numpy==1.26.4\n-r /dev/zero\n")
    result = _nbsetup("fix", notebook, cwd=tmp_path)
    assert result.stderr.splitlines()[0] == (
        f"{notebook}: error: requirements.txt, line 2: cannot read '/dev/zero': is a "
        "character device, not a regular file"
    )
    assert notebook.read_bytes() == before


def test_a_device_given_as_pins_or_notebook_is_refused_before_any_read(tmp_path):
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    result = _nbsetup("fix", "--pins", "/dev/zero", notebook, "/dev/zero", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert (
        f"{notebook}: error: /dev/zero: cannot read file: is a character device, not a "
        "regular file" in lines
    )
    assert "/dev/zero: error: is a character device, not a regular file" in lines


def test_a_pin_file_above_the_limit_is_refused_from_its_size(tmp_path, monkeypatch):
    pins = tmp_path / "requirements.txt"
    pins.write_text("numpy==1.26.4\n" * 10)
    monkeypatch.setattr(files, "MAX_PIN_FILE_BYTES", 100)
    with pytest.raises(RequirementsError, match=r"file too large \(0\.0 MiB; the limit is 0"):
        load_requirements(pins)


def test_a_thirty_level_include_diamond_reads_each_file_once():
    # Level i has a{i} and b{i}, each including both files of level i + 1: 2**30 paths.
    texts = {"requirements.txt": "-r a0.txt\n-r b0.txt\n"}
    for level in range(30):
        body = f"-r a{level + 1}.txt\n-r b{level + 1}.txt\n" if level < 29 else "numpy==2\n"
        texts[f"a{level}.txt"] = texts[f"b{level}.txt"] = body
    reads: list[str] = []

    def read(path: str) -> str:
        reads.append(path)
        return texts[path]

    pins = parse_requirements(texts["requirements.txt"], "requirements.txt", read)
    assert sorted(reads) == sorted(set(texts) - {"requirements.txt"})
    assert [entry.text for entry in pins.entries] == ["numpy==2", "numpy==2"]
    assert len(pins.files) == 61


def test_a_file_included_as_requirements_and_as_constraints_is_read_as_both():
    texts = {"c.txt": "numpy==2\n"}
    pins = parse_requirements("-r c.txt\n-c c.txt\n-r c.txt\n", "r.txt", texts.__getitem__)
    assert [entry.constraint for entry in pins.entries] == [False, True]


def test_a_deep_include_chain_is_a_clear_error(tmp_path):
    depth = 1200  # beyond Python's recursion limit, once a RecursionError "internal error"
    for index in range(depth):
        text = f"-r r{index + 1}.txt\n" if index + 1 < depth else "numpy==1.26.4\n"
        (tmp_path / f"r{index}.txt").write_text(text)
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    result = _nbsetup("fix", "--pins", "r0.txt", notebook, cwd=tmp_path)
    assert result.returncode == 2
    last = MAX_INCLUDE_DEPTH - 1
    assert result.stderr.splitlines()[0] == (
        f"{notebook}: error: r{last}.txt, line 1: includes nested more than "
        f"{MAX_INCLUDE_DEPTH} levels deep at 'r{last + 1}.txt'"
    )


def test_a_chain_at_the_depth_limit_is_read(tmp_path):
    for index in range(MAX_INCLUDE_DEPTH):
        last = index + 1 == MAX_INCLUDE_DEPTH
        (tmp_path / f"r{index}.txt").write_text(
            "numpy==1.26.4\n" if last else f"-r r{index + 1}.txt\n"
        )
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    result = _nbsetup("fix", "--pins", "r0.txt", notebook, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "numpy==1.26.4" in notebook.read_text()


@pytest.mark.parametrize(
    ("name", "shown"),
    [("requirements-dev.txt", True), (".env", False), ("shadow", False)],
)
def test_a_malformed_line_is_quoted_only_for_a_file_named_as_pins(tmp_path, name, shown):
    secret = "API_KEY=sk-live-0123456789"
    (tmp_path / name).write_text(f"{secret}\n")
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    result = _nbsetup("fix", "--pins", name, notebook, cwd=tmp_path)
    assert result.returncode == 2
    line = result.stderr.splitlines()[0]
    assert line.startswith(f"{notebook}: error: {name}, line 1: ")
    assert (secret in result.stderr) is shown
    if not shown:
        assert line.endswith(
            "not a valid requirements line (its text is not shown: the file "
            "is not named like a requirements file)"
        )


def test_a_conda_file_not_named_as_one_is_not_quoted(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "secrets.yml").write_text("dependencies:\n  - '=hunter2'\n")
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    result = _nbsetup("fix", "--pins", "secrets.yml", notebook, cwd=tmp_path)
    assert result.returncode == 2
    assert "hunter2" not in result.stderr
    assert "secrets.yml, line 2: invalid conda package (its text is not shown)" in result.stderr


# --- walking: no repository code runs ------------------------------------------------------


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("command", [["fix"], ["fix", "--check"], ["fix", "--diff"], ["check"]])
def test_the_walk_never_runs_the_scanned_trees_fsmonitor(tmp_path, command):
    repo = tmp_path / "repo"
    repo.mkdir()
    sentinel = tmp_path / "SENTINEL"
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch '{sentinel}'\nexit 1\n")
    hook.chmod(0o755)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=60)

    git("init", "-q", ".")
    _write(repo / "nb.ipynb", *INSTALL)
    (repo / ".gitignore").write_text("ignored/\n")
    _write(repo / "ignored" / "g.ipynb", *INSTALL)
    git("-c", "core.fsmonitor=false", "add", "nb.ipynb", ".gitignore")
    git("config", "core.fsmonitor", str(hook))
    # The control: plain git in this tree does run the hook, so its absence below means
    # something.
    git("status", "--short")
    assert sentinel.exists()
    sentinel.unlink()
    result = _nbsetup(*command, repo, cwd=tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert not sentinel.exists()
    assert "g.ipynb" not in result.stdout + result.stderr  # git still told what it ignores


def test_a_malformed_pyproject_in_a_walked_tree_fails_only_its_notebooks(tmp_path):
    good = _write(tmp_path / "a.ipynb", *INSTALL)
    broken = tmp_path / "sub" / "pyproject.toml"
    _write(tmp_path / "sub" / "b.ipynb", *INSTALL)
    broken.write_text("[tool.nbsetup\n")
    before = (tmp_path / "sub" / "b.ipynb").read_bytes()
    result = _nbsetup("fix", tmp_path, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith(
        f"{tmp_path / 'sub' / 'b.ipynb'}: error: {broken}: invalid TOML: "
    )
    assert FIXED in good.read_text()
    assert (tmp_path / "sub" / "b.ipynb").read_bytes() == before


def test_unreadable_paths_on_the_command_line_each_get_a_line(tmp_path):
    good = _write(tmp_path / "good.ipynb", *INSTALL)
    too_long = tmp_path / ("x" * 300) / "nb.ipynb"
    not_a_directory = good / "nb.ipynb"
    result = _nbsetup("fix", too_long, not_a_directory, good, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert f"{too_long}: error: file name too long" in lines
    assert f"{not_a_directory}: error: not a directory" in lines
    assert FIXED in good.read_text()


@pytest.mark.skipif(not IS_ROOT, reason="drops to another user, which needs root")
def test_a_file_this_user_may_not_read_is_named_and_the_batch_goes_on(tmp_path):
    # Root reads any file: run as `nobody` on a copy of the tree that user can enter.
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"nbsetup-hazards-{os.getpid()}"
    root.mkdir(mode=0o755)
    try:
        secret = _write(root / "secret.ipynb", *INSTALL)
        secret.chmod(0o600)
        good = _write(root / "good.ipynb", *INSTALL)
        good.chmod(0o666)
        root.chmod(0o777)
        try:
            result = subprocess.run(
                [sys.executable, "-m", "nbsetup", "fix", "-j1", str(secret), str(good)],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                user=65534,
                group=65534,
                env={**os.environ, "HOME": str(root)},
            )
        except PermissionError:
            pytest.skip("the nobody user may not run this checkout's Python")
        if "ModuleNotFoundError" in result.stderr or "Permission denied: '" in result.stderr:
            pytest.skip("the nobody user cannot import this checkout")
        assert result.returncode == 2, result.stderr
        assert f"{secret}: error: permission denied" in result.stderr.splitlines()
        assert FIXED in good.read_text()
    finally:
        shutil.rmtree(root)


# --- writing: compare before replace, keep the owner, clean up ------------------------------


def test_a_save_made_while_nbsetup_ran_is_kept(tmp_path, monkeypatch):
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    saved = json.dumps(_notebook("!pip install pandas", "import pandas")).encode()
    real_dumps = notebook_io.dumps

    def dumps_then_editor_saves(*args, **kwargs):
        data = real_dumps(*args, **kwargs)
        notebook.write_bytes(saved)  # Jupyter's autosave, between our read and our write
        return data

    monkeypatch.setattr(notebook_io, "dumps", dumps_then_editor_saves)
    result = CliRunner().invoke(main, ["fix", "-j1", str(notebook)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{notebook}: error: changed while nbsetup ran"
    assert notebook.read_bytes() == saved
    assert _temps(tmp_path) == []


def test_write_atomic_compares_bytes_not_times(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(b"old")
    stamp = path.stat().st_mtime_ns
    path.write_bytes(b"ole")  # same size, and the same mtime on a coarse clock
    os.utime(path, ns=(stamp, stamp))
    with pytest.raises(ChangedMeanwhile, match=r"^changed while nbsetup ran$"):
        notebook_io.write_atomic(path, b"new", expected=b"old")
    assert path.read_bytes() == b"ole"
    notebook_io.write_atomic(path, b"new", expected=b"ole")
    assert path.read_bytes() == b"new"
    path.unlink()
    with pytest.raises(ChangedMeanwhile, match="removed"):
        notebook_io.write_atomic(path, b"newer", expected=b"new")
    assert not path.exists()
    assert _temps(tmp_path) == []


@pytest.mark.skipif(not IS_ROOT, reason="only root may give a file to another user")
def test_root_keeps_the_owner_and_mode_of_the_file(tmp_path):
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    os.chown(notebook, 4242, 4343)
    notebook.chmod(0o640)
    result = _nbsetup("fix", notebook, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert FIXED in notebook.read_text()
    status = notebook.stat()
    assert (status.st_uid, status.st_gid, status.st_mode & 0o777) == (4242, 4343, 0o640)


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A fresh tmpfs at `path`, or a skip saying why there is none."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=60)


def test_a_full_file_system_is_one_clear_line_and_the_file_is_kept(tmp_path):
    with _tmpfs(tmp_path / "small", "64k") as small:
        notebook = _write(small / "nb.ipynb", *INSTALL, "# " + "x" * 10_000)
        before = notebook.read_bytes()
        with contextlib.suppress(OSError), (small / "filler").open("wb") as filler:
            while True:  # fill the file system up to its last byte
                filler.write(b"\0" * 4096)
                filler.flush()
        result = _nbsetup("fix", notebook, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.splitlines()[0] == (
            f"{notebook}: error: cannot write: no space left on device"
        )
        assert notebook.read_bytes() == before
        assert _temps(small) == []


def test_a_read_only_directory_is_one_clear_line(tmp_path):
    if IS_ROOT:
        # Root writes into a mode-555 directory: make the file system read-only instead.
        with _tmpfs(tmp_path / "ro", "1m") as directory:
            notebook = _write(directory / "nb.ipynb", *INSTALL)
            subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True, timeout=60)
            reason = "read-only file system"
            _assert_not_written(notebook, reason, tmp_path)
    else:
        directory = tmp_path / "ro"
        notebook = _write(directory / "nb.ipynb", *INSTALL)
        directory.chmod(0o555)
        try:
            _assert_not_written(notebook, "permission denied", tmp_path)
        finally:
            directory.chmod(0o755)


def _assert_not_written(notebook: Path, reason: str, cwd: Path) -> None:
    before = notebook.read_bytes()
    other = _write(cwd / "other.ipynb", *INSTALL)
    result = _nbsetup("fix", notebook, other, cwd=cwd)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == f"{notebook}: error: cannot write: {reason}"
    assert "internal error" not in result.stderr
    assert notebook.read_bytes() == before
    assert FIXED in other.read_text()  # the batch went on


def test_a_234_character_name_is_written(tmp_path):
    notebook = _write(tmp_path / ("n" * 228 + ".ipynb"), *INSTALL)
    assert len(notebook.name) == 234
    result = _nbsetup("fix", notebook, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert FIXED in notebook.read_text()
    assert _temps(tmp_path) == []
    assert len(os.fsencode(files.temp_prefix("é" * 200))) <= 255 - 8 - len(files.TEMP_SUFFIX)


def test_stale_temp_files_of_the_file_are_removed_on_write(tmp_path):
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    stale = tmp_path / f".nb.ipynb.ab_c1234{files.TEMP_SUFFIX}"
    fresh = tmp_path / f".nb.ipynb.zz9z9999{files.TEMP_SUFFIX}"
    others = [
        tmp_path / f".other.ipynb.ab_c1234{files.TEMP_SUFFIX}",  # another file's
        tmp_path / f".nb.ipynb.not-ours{files.TEMP_SUFFIX}",  # not our naming pattern
        tmp_path / "nb.ipynb.nbsetup-tmp",
    ]
    hour_ago = time.time() - 3600
    for path in [stale, fresh, *others]:
        path.write_bytes(b"partial")
        if path != fresh:
            os.utime(path, (hour_ago, hour_ago))
    result = _nbsetup("fix", notebook, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert fresh.exists()  # it may be another nbsetup's, writing now
    assert all(path.exists() for path in others)


@pytest.mark.slow
def test_a_notebook_just_under_the_limit_is_not_written_above_it(tmp_path):
    notebook = _write(tmp_path / "nb.ipynb", *INSTALL)
    data = notebook.read_bytes()
    # Pad a markdown cell so that the file is 100 bytes under the limit.
    padded = _notebook(*INSTALL)
    padded["cells"].append({"cell_type": "markdown", "id": "m", "metadata": {}, "source": ""})
    base = len(json.dumps(padded, indent=1)) + 1
    padded["cells"][-1]["source"] = "x" * (notebook_io.MAX_BYTES - 100 - base)
    notebook.write_text(json.dumps(padded, indent=1) + "\n")
    data = notebook.read_bytes()
    assert notebook_io.MAX_BYTES - 200 < len(data) <= notebook_io.MAX_BYTES
    result = _nbsetup("fix", notebook, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0].startswith(
        f"{notebook}: error: the fixed notebook would be 100.0 MiB, above the 100 MiB"
    )
    assert notebook.read_bytes() == data


# --- SIGTERM stops a run as Ctrl-C does -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_sigterm_stops_the_run_cleanly(tmp_path, jobs):
    padding = "# " + "x" * 200_000  # a few milliseconds per notebook, so the run lasts
    paths = [_write(tmp_path / f"nb{i:03}.ipynb", *INSTALL, padding) for i in range(300)]
    original = paths[0].read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-m", "nbsetup", "fix", "-j", jobs, str(tmp_path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while paths[0].read_bytes() == original and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert stderr.splitlines()[-1].startswith("interrupted after ")
    assert "Traceback" not in stderr
    written = [path for path in paths if path.read_bytes() != original]
    assert 0 < len(written) < len(paths)
    for path in written:  # whole, never half written
        source = json.loads(path.read_bytes())["cells"][0]["source"]
        assert "".join(source).endswith(FIXED)
    assert _temps(tmp_path) == []
