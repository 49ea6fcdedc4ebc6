"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run by the real pre-commit (`try-repo`).

pre-commit installs a hook from a commit, so this checkout (committed or not) is copied into a
new git repository and committed there. Installing it builds a virtualenv and pip-installs
nbsetup, which needs the package index: the test is skipped when pip cannot reach it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

REQUIREMENTS = "pandas==2.2.2\nseaborn==0.13.2\n"
KERNEL = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
# Long ago, so that any rewrite shows in the mtime whatever the filesystem's resolution.
OLD_MTIME_NS = 1_000_000_000 * 1_000_000_000


def _cell(cell_type: str, source: list[str], metadata: dict[str, object] | None = None):
    cell = {"cell_type": cell_type, "metadata": metadata or {}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _notebook(*cells: dict[str, object]) -> str:
    notebook = {"cells": list(cells), "metadata": KERNEL, "nbformat": 4, "nbformat_minor": 4}
    return json.dumps(notebook, indent=1) + "\n"


SCATTERED = _notebook(
    _cell("markdown", ["# Sales\n"]),
    _cell("code", ["import os\n", "!pip install pandas\n", "import pandas as pd"]),
    _cell("code", ["df = pd.DataFrame({'a': [1, 2]})\n", "df"]),
    _cell("code", ["!pip install -q seaborn matplotlib\n", "import seaborn"]),
)
# Already fixed, by hand: an environment cell that installs what the notebook needs, pinned.
TIDY = _notebook(
    _cell("markdown", ["# Tidy\n"]),
    _cell(
        "code",
        ["%pip install -q pandas==2.2.2"],
        metadata={"nbsetup": {"role": "environment"}},
    ),
    _cell("code", ["import pandas as pd"]),
)
PLAIN = _notebook(_cell("code", ["print('no installs here')"]))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment for git and pre-commit: no user or system git config, own caches."""
    empty = tmp_path / "empty-gitconfig"
    empty.touch()
    return {
        **os.environ,
        "GIT_CONFIG_GLOBAL": str(empty),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
    }


def _git(cwd: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def _index_reachable(dest: Path) -> bool:
    """Whether pip can fetch nbsetup's build backend, as pre-commit's install of the hook does."""
    options = ["--no-deps", "--no-cache-dir", "--retries", "0", "--timeout", "15"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", *options, "--dest", str(dest), "hatchling"],
        capture_output=True,
        check=False,
        timeout=120,
    )
    return result.returncode == 0


def _hook_repo(target: Path, env: dict[str, str]) -> Path:
    """This checkout's files (tracked and untracked, not ignored), committed in a new repo."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is listed too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    _git(target, env, "init", "-q")
    _git(target, env, "add", "-A")
    _git(target, env, "commit", "-q", "-m", "nbsetup")
    return target


def _try_repo(
    project: Path, hook_repo: Path, env: dict[str, str], *hook: str
) -> subprocess.CompletedProcess[str]:
    """`pre-commit try-repo HOOK_REPO [HOOK] --all-files`; each run installs the hook anew."""
    return _pre_commit(project, env, "try-repo", str(hook_repo), *hook, "--all-files")


def _pre_commit(
    project: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """The real pre-commit, run in `project`."""
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )


def _state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.slow  # four hook installs by pre-commit, about 60 s
def test_hooks_fix_then_pass(tmp_path: Path, env: dict[str, str]):
    if not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout of nbsetup to build the hook repository from")
    if not _index_reachable(tmp_path / "download"):
        pytest.skip(
            "pip cannot reach the package index, which pre-commit needs to install the hook"
        )
    hook_repo = _hook_repo(tmp_path / "hook-repo", env)

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "requirements.txt").write_text(REQUIREMENTS)
    scattered = project / "notebooks" / "sales.ipynb"
    tidy = project / "notebooks" / "tidy.ipynb"
    plain = project / "plain.ipynb"
    for path, text in ((scattered, SCATTERED), (tidy, TIDY), (plain, PLAIN)):
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    _git(project, env, "init", "-q")
    _git(project, env, "add", "-A")
    _git(project, env, "commit", "-q", "-m", "notebooks")
    untouched = {path: _state(path) for path in (tidy, plain)}

    first = _try_repo(project, hook_repo, env, "nbsetup-fix")
    assert first.returncode == 1, first.stdout + first.stderr
    assert re.search(r"^nbsetup fix\.+Failed$", first.stdout, re.MULTILINE), first.stdout
    assert "files were modified by this hook" in first.stdout
    notebook = json.loads(scattered.read_text(encoding="utf-8"))
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    environment = [c for c in notebook["cells"] if "nbsetup" in c["metadata"]]
    assert len(environment) == 1
    assert "pandas==2.2.2" in "".join(environment[0]["source"])
    assert "seaborn==0.13.2" in "".join(environment[0]["source"])
    env_index = notebook["cells"].index(environment[0])
    assert not any("!pip" in s for i, s in enumerate(sources) if i != env_index)

    # The CI hook now passes: nothing would change.
    second = _try_repo(project, hook_repo, env, "nbsetup-fix-check")
    assert second.returncode == 0, second.stdout + second.stderr
    assert re.search(r"^nbsetup fix --check\.+Passed$", second.stdout, re.MULTILINE), second.stdout

    # The linter hook runs `nbsetup check`: matplotlib is hoisted but pinned nowhere (NBS002).
    third = _try_repo(project, hook_repo, env, "nbsetup-check")
    assert third.returncode == 1, third.stdout + third.stderr
    assert re.search(r"^nbsetup check\.+Failed$", third.stdout, re.MULTILINE), third.stdout
    unpinned = r"sales\.ipynb:cell \d+:\d+:1: NBS002 matplotlib "
    assert re.search(unpinned, third.stdout), third.stdout

    for path, before in untouched.items():
        assert _state(path) == before, f"{path.name} was rewritten"

    # `nbsetup fix --guard` by hand, then the plain hook: the guard sticks, nothing changes.
    guarded = subprocess.run(
        [sys.executable, "-m", "nbsetup", "fix", "--guard", str(scattered)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert guarded.returncode == 0, guarded.stderr
    before = _state(scattered)
    fourth = _try_repo(project, hook_repo, env, "nbsetup-fix")
    assert fourth.returncode == 0, fourth.stdout + fourth.stderr
    assert re.search(r"^nbsetup fix\.+Passed$", fourth.stdout, re.MULTILINE), fourth.stdout
    assert _state(scattered) == before
    cells = json.loads(scattered.read_text(encoding="utf-8"))["cells"]
    environment = next(c for c in cells if "nbsetup" in c["metadata"])
    assert environment["metadata"]["nbsetup"] == {"role": "environment", "guard": True}
    assert "# nbsetup: begin guard-before" in "".join(environment["source"])


# Formatted by neither tool: single quotes, no spaces around `=`; and a Colab title comment that
# moves into the environment cell with its install (both formatters write it `# @title`).
UNFORMATTED = _notebook(
    _cell("code", ["#@title Setup\n", "!pip install -q seaborn"]),
    _cell(
        "code", ["import pandas as pd\n", "df=pd.DataFrame({'a':[1,2]})\n", "!pip install pandas"]
    ),
    _cell("code", ["import seaborn as sns\n", "sns.histplot(data=df,x='a')"]),
)


def _local_hooks(*fix_flags: str) -> str:
    """A `.pre-commit-config.yaml`: nbsetup-fix, ruff-format and black-jupyter, in that order.

    Each is a `repo: local` hook (`language: system`) running this environment's nbsetup, ruff
    and black with the entry and file types of the published hook (`.pre-commit-hooks.yaml`,
    ruff-pre-commit's `ruff-format`, black's `black-jupyter`): nothing is fetched.
    """
    python = shlex.quote(sys.executable)
    hooks = [
        ("nbsetup-fix", " ".join([python, "-m", "nbsetup", "fix", *fix_flags]), "[jupyter]"),
        ("ruff-format", f"{python} -m ruff format --force-exclude", "[python, pyi, jupyter]"),
        ("black-jupyter", f"{python} -m black", "[python, pyi, jupyter]"),
    ]
    lines = ["repos:", "-   repo: local", "    hooks:"]
    for hook_id, entry, types in hooks:
        lines += [
            f"    -   id: {hook_id}",
            f"        name: {hook_id}",
            f"        entry: {json.dumps(entry)}",
            "        language: system",
            f"        types_or: {types}",
            "        require_serial: true",
        ]
    return "\n".join(lines) + "\n"


def _run_hooks(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _pre_commit(project, env, "run", "--all-files")


@pytest.mark.slow  # three pre-commit runs of three hooks, about 5 s
@pytest.mark.parametrize(
    "flags",
    [
        pytest.param((), id="plain"),
        pytest.param(("--guard", "--installer", "auto"), id="guard-auto"),
    ],
)
def test_fix_and_formatter_hooks_settle(tmp_path: Path, env: dict[str, str], flags):
    env = {
        **env,
        # The formatters' user settings and caches stay out: their defaults are what is tested.
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "BLACK_CACHE_DIR": str(tmp_path / "black-cache"),
        "RUFF_CACHE_DIR": str(tmp_path / "ruff-cache"),
    }
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "requirements.txt").write_text(REQUIREMENTS)
    (project / ".pre-commit-config.yaml").write_text(_local_hooks(*flags))
    notebooks = {
        project / "notebooks" / "sales.ipynb": SCATTERED,
        project / "notebooks" / "tidy.ipynb": TIDY,
        project / "notebooks" / "unformatted.ipynb": UNFORMATTED,
        project / "plain.ipynb": PLAIN,
    }
    for path, text in notebooks.items():
        path.write_text(text, encoding="utf-8")
    _git(project, env, "init", "-q")
    _git(project, env, "add", "-A")
    _git(project, env, "commit", "-q", "-m", "notebooks")

    runs, contents = [], []
    for _ in range(3):
        runs.append(_run_hooks(project, env))
        contents.append({path: path.read_bytes() for path in notebooks})
        _git(project, env, "add", "-A")  # as a user stages the hooks' changes and commits again
    first, second, third = runs
    output = "\n---\n".join(run.stdout + run.stderr for run in runs)

    # The first run rewrites: nbsetup hoists, ruff formats the user's cells, and black finds
    # nothing left to do (both write the same).
    assert first.returncode == 1, output
    for hook, verdict in (("nbsetup-fix", "Failed"), ("ruff-format", "Failed")):
        assert re.search(rf"^{hook}\.+{verdict}$", first.stdout, re.MULTILINE), output
    assert re.search(r"^black-jupyter\.+Passed$", first.stdout, re.MULTILINE), output
    # The second finds nothing to change, and so does the third: the commits settle.
    for run in (second, third):
        assert run.returncode == 0, output
        for hook in ("nbsetup-fix", "ruff-format", "black-jupyter"):
            assert re.search(rf"^{hook}\.+Passed$", run.stdout, re.MULTILINE), output
    assert contents[2] == contents[1] == contents[0]

    notebook = json.loads(contents[0][project / "notebooks" / "unformatted.ipynb"])
    environment = [cell for cell in notebook["cells"] if "nbsetup" in cell["metadata"]]
    assert len(environment) == 1
    source = "".join(environment[0]["source"])
    assert "# @title Setup" in map(str.strip, source.splitlines())  # as ruff formats it
    assert "!pip install -q seaborn==0.13.2" in source
    assert ("# nbsetup: begin guard-before" in source) == ("--guard" in flags)
    assert ("# nbsetup: begin installer" in source) == ("auto" in flags)
    assert 'df = pd.DataFrame({"a": [1, 2]})' in "".join(notebook["cells"][1]["source"])
