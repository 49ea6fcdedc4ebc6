"""`nbsetup lock` end to end, offline: real pip resolves against local file:// wheel indexes.

The indexes are `pipworld`'s (tiny wheels written with zipfile): `pypi` is the default index
(set with PIP_INDEX_URL, the machine's pip configuration switched off), `cu128` an
alternative index a notebook names with `--index-url`, and a `--find-links` directory. uv
gets the same index through its own UV_INDEX_URL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbsetup.cli import main
from nbsetup.lock import edit
from tests import pipworld
from tests.builders import notebook, to_bytes

pytestmark = pytest.mark.slow  # each test runs pip (about a second a resolve)

GOLDEN = Path(__file__).parent / "lock_golden"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> pipworld.World:
    return pipworld.build_world(tmp_path_factory.mktemp("lock-world"))


@pytest.fixture
def project(tmp_path: Path, world: pipworld.World, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git project as the working directory; pip sees only the local indexes."""
    for key in list(os.environ):
        if key.startswith("PIP_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", world.url("pypi"))
    # uv reads its own settings, never pip's.
    for key in list(os.environ):
        if key.startswith("UV_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_INDEX_URL", world.url("pypi"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def _write(path: Path, *cells: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(notebook(*cells)))
    return path


def _nbsetup(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _env_cell(path: Path) -> str:
    cell = json.loads(path.read_text())["cells"][0]
    assert "nbsetup" in cell["metadata"]
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _install_lines(path: Path) -> list[str]:
    return [line for line in _env_cell(path).splitlines() if not line.startswith("#")]


def test_lock_then_fix_pins_every_install_with_markers_and_extras_kept(project: Path):
    first = _write(
        project / "analysis" / "explore.ipynb",
        "!pip install -q capped 'base[fast]>=2'\nimport capped",
        "%pip install \"alpha; python_version >= '3'\"",
    )
    second = _write(project / "report.ipynb", "!pip install gamma alpha==2.0")

    locked = _nbsetup("lock", ".")
    assert locked.exit_code == 0, locked.stderr
    assert (project / "requirements.txt").read_text() == edit.new_file(
        ["alpha==2.0", "base==2.1", "capped==2.0", "gamma==1.1"]
    )
    assert "requirements.txt: added base==2.1" in locked.stderr
    assert locked.stderr.endswith("4 pins added, 0 rewritten in 1 file\n")

    assert _nbsetup("fix", ".").exit_code == 0
    # One line per install, as the notebook wrote it; only the pinned requirements change.
    assert _install_lines(first) == [
        '!pip install -q capped==2.0 "base[fast]==2.1"',
        """%pip install 'alpha==2.0; python_version >= "3"'""",
    ]
    assert _install_lines(second) == ["!pip install gamma==1.1 alpha==2.0"]
    checked = _nbsetup("check", "--select", "NBS002", ".")
    assert (checked.exit_code, checked.stdout) == (0, "")
    again = _nbsetup("lock", "--check", ".")
    assert (again.exit_code, again.stderr) == (0, "no pin file changed\n")


def test_index_options_and_find_links_of_the_notebooks_are_honoured(
    project: Path, world: pipworld.World
):
    wheels = project / "nbs" / "wheels"
    wheels.mkdir(parents=True)
    pipworld.write_wheel(wheels, pipworld.Dist("localonly", "0.3"))
    _write(
        project / "nbs" / "gpu.ipynb",
        f"!pip install torch --index-url {world.url('cu128')}",
        "!pip install -f wheels localonly",
    )
    result = _nbsetup("lock", "nbs")
    assert result.exit_code == 0, result.stderr
    assert (project / "requirements.txt").read_text().splitlines()[1:] == [
        "localonly==0.3",
        "torch==2.1.0+cu128",
    ]


def test_a_requirements_file_with_comments_and_includes_is_edited_minimally(project: Path):
    for name in ("requirements.txt", "extra.txt"):
        shutil.copy(GOLDEN / "includes" / name, project / name)
    _write(
        project / "nb.ipynb",
        "!pip install -q alpha 'base[fast]' capped",
        "%pip install gamma torch",
    )
    result = _nbsetup("lock", "nb.ipynb")
    assert result.exit_code == 0, result.stderr
    for name in ("requirements.txt", "extra.txt"):
        expected = (GOLDEN / "includes" / f"expected-{name}").read_text()
        assert (project / name).read_text() == expected, name
    assert "extra.txt: pinned line 2: capped -> capped==2.0" in result.stderr
    assert "requirements.txt: pinned line 7: base<3 -> base==2.1" in result.stderr


def test_from_env_pins_what_a_fresh_venv_has_installed(project: Path, world: pipworld.World):
    target = project.parent / "kernel"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    installed = subprocess.run(
        [*pip, "--index-url", world.url("pypi"), "alpha==1.0", "base==2.0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    _write(project / "nb.ipynb", "!pip install Alpha 'base<3' gamma")
    result = _nbsetup("lock", "--from-env", "--python", str(python), "nb.ipynb")
    assert result.exit_code == 0, result.stderr
    assert (project / "requirements.txt").read_text() == edit.new_file(["alpha==1.0", "base==2.0"])
    assert f"nb.ipynb: warning: cell 1, line 1: gamma: not locked: not installed in {python}" in (
        result.stderr
    )


def test_check_in_ci_exits_1_when_the_pin_file_would_change_and_writes_nothing(project: Path):
    requirements = project / "requirements.txt"
    requirements.write_text("alpha==1.0\n")
    _write(project / "nb.ipynb", "!pip install alpha gamma")
    result = _nbsetup("lock", "--check", ".")
    assert result.exit_code == 1
    assert requirements.read_text() == "alpha==1.0\n"
    assert "requirements.txt: would add gamma==1.1" in result.stderr
    diff = _nbsetup("lock", "--diff", ".")
    assert diff.exit_code == 1
    assert f"+{edit.BLOCK_HEADER}\n+gamma==1.1\n" in diff.stdout
    dry = _nbsetup("lock", "--dry-run", ".")
    assert (dry.exit_code, requirements.read_text()) == (0, "alpha==1.0\n")


def test_a_resolution_failure_is_one_line_and_leaves_the_file_untouched(project: Path):
    requirements = project / "requirements.txt"
    requirements.write_bytes(b"# pins\r\nalpha==1.0\r\n")
    _write(project / "nb.ipynb", "!pip install nosuchpkg")
    result = _nbsetup("lock", ".")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        "nb.ipynb: error: cell 1, line 1: nosuchpkg: cannot lock: could not find a version "
        "that satisfies the requirement nosuchpkg (from versions: none)"
    ]
    assert requirements.read_bytes() == b"# pins\r\nalpha==1.0\r\n"


def test_a_failing_package_does_not_stop_the_others(project: Path):
    _write(project / "nb.ipynb", "!pip install alpha 'base<2' floored")
    result = _nbsetup("lock", ".")
    assert result.exit_code == 2
    # `floored` needs base>=2: the pair does not resolve, and each alone does.
    assert "does not resolve with the other packages" in result.stderr
    _write(project / "nb.ipynb", "!pip install alpha nosuchpkg")
    result = _nbsetup("lock", ".")
    assert result.exit_code == 2
    assert (project / "requirements.txt").read_text() == edit.new_file(["alpha==2.0"])


def test_conflicting_specs_across_the_collection_name_both_places(project: Path):
    _write(project / "a.ipynb", "!pip install 'base<2'")
    _write(project / "b.ipynb", "!pip install 'base>=3' gamma")
    result = _nbsetup("lock", ".")
    assert result.exit_code == 0
    assert (
        "b.ipynb: warning: cell 1, line 1: base: not locked: 'base>=3' here and 'base<2' at "
        "a.ipynb, cell 1, line 1 allow no common version"
    ) in result.stderr
    assert (project / "requirements.txt").read_text() == edit.new_file(["gamma==1.1"])


def test_upgrade_package_refreshes_one_pin_in_place(project: Path):
    requirements = project / "requirements.txt"
    requirements.write_text("alpha==1.0  # old\ngamma==1.0\n")
    _write(project / "nb.ipynb", "!pip install alpha gamma")
    result = _nbsetup("lock", "--upgrade-package", "Alpha", ".")
    assert result.exit_code == 0, result.stderr
    assert requirements.read_text() == "alpha==2.0  # old\ngamma==1.0\n"
    assert _nbsetup("lock", "--upgrade", ".").exit_code == 0
    assert requirements.read_text() == "alpha==2.0  # old\ngamma==1.1\n"


def test_a_pyproject_only_project_gets_a_requirements_file_fix_then_reads(project: Path):
    declared = '[project]\nname = "x"\ndependencies = ["base>=2"]\n'
    (project / "pyproject.toml").write_text(declared)
    nb = _write(project / "nb.ipynb", "!pip install base capped")
    assert _nbsetup("lock", ".").exit_code == 0
    assert (project / "requirements.txt").read_text() == edit.new_file(
        ["base==2.1", "capped==2.0"]
    )
    assert (project / "pyproject.toml").read_text() == declared
    assert _nbsetup("fix", ".").exit_code == 0
    assert _install_lines(nb) == ["!pip install base==2.1 capped==2.0"]


def test_a_pylock_project_is_refused_clearly(project: Path):
    lock = project / "pylock.toml"
    lock.write_text(
        'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "alpha"\nversion = "1.0"\n'
    )
    _write(project / "nb.ipynb", "!pip install alpha gamma")
    result = _nbsetup("lock", ".")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "pylock.toml: error: nbsetup lock writes requirements files only, not pylock files"
    )
    assert not (project / "requirements.txt").exists()


def test_fix_lock_locks_then_fixes_in_one_go(project: Path):
    nb = _write(project / "nb.ipynb", "!pip install gamma")
    checked = _nbsetup("fix", "--lock", "--check", ".")
    assert checked.exit_code == 1
    assert not (project / "requirements.txt").exists()
    result = _nbsetup("fix", "--lock", ".")
    assert result.exit_code == 0, result.stderr
    assert _install_lines(nb) == ["!pip install gamma==1.1"]


@pytest.mark.skipif(
    shutil.which("uv") is None
    and shutil.which("uv", path=str(Path(sys.executable).parent)) is None,
    reason="uv is not installed",
)
def test_uv_resolves_the_same_versions(project: Path):
    _write(project / "nb.ipynb", "!pip install capped 'base<3'")
    result = _nbsetup("lock", "--resolver", "uv", ".")
    assert result.exit_code == 0, result.stderr
    assert (project / "requirements.txt").read_text() == edit.new_file(
        ["base==2.1", "capped==2.0"]
    )
