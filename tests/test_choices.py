"""Choices that stick (`choices`): asked for > recorded in the env cell > inferred > default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from nbsetup import choices, envcell, guard, transform
from nbsetup.choices import Choices, Resolved
from nbsetup.cli import main
from nbsetup.notebook_io import cell_text

OLD_HEADER = [
    "# nbsetup: environment cell, generated from this notebook's installs, pinned by "
    "requirements.txt.",
    "# nbsetup: it runs before any other code; to change it, edit the installs or the "
    "requirements and run `nbsetup fix`.",
]
KERNEL = {"kernelspec": {"language": "python", "name": "k", "display_name": "K"}}


def _code(source: str, metadata: dict | None = None) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata or {},
        "outputs": [],
        "source": source,
    }


def _env_cell(text: str, **recorded: object) -> dict:
    return _code(text, {"nbsetup": {"role": "environment", **recorded}})


# --- resolving ------------------------------------------------------------------------------

GUARD_BLOCKS = "\n".join(
    [*guard.before_block([("x", "")]), "%pip install x", *guard.after_block()]
)
AUTO_BLOCK = "\n".join(envcell.installer_block(["%pip install x"], ["%uv pip install x"]))


@pytest.mark.parametrize(
    ("asked", "cell", "text", "expected"),
    [
        pytest.param(Choices(), None, "", Resolved(), id="new-cell-defaults"),
        pytest.param(Choices(guard=True), None, "", Resolved(guard=True), id="asked"),
        pytest.param(
            Choices(), _env_cell("", guard=True), "", Resolved(guard=True), id="recorded"
        ),
        pytest.param(
            Choices(guard=False), _env_cell("", guard=True), "", Resolved(), id="asked-wins"
        ),
        pytest.param(
            Choices(), _env_cell(""), GUARD_BLOCKS, Resolved(guard=True), id="inferred-guard"
        ),
        pytest.param(
            Choices(),
            _env_cell(""),
            AUTO_BLOCK,
            Resolved(installer="auto"),
            id="inferred-auto-installer",
        ),
        pytest.param(
            Choices(),
            _env_cell("", installer="uv"),
            AUTO_BLOCK,
            Resolved(installer="uv"),
            id="recorded-wins-over-inferred",
        ),
        pytest.param(
            Choices(installer="pip"), _env_cell(""), AUTO_BLOCK, Resolved(), id="asked-over-blocks"
        ),
        pytest.param(
            Choices(header=""),
            _env_cell("", header="# Setup"),
            "",
            Resolved(header=""),
            id="empty-header-asked",
        ),
        pytest.param(
            Choices(),
            _env_cell("", guard="yes", installer="conda", header="no comment"),
            "",
            Resolved(),
            id="invalid-records-ignored",
        ),
    ],
)
def test_choices_resolve_in_order(asked, cell, text, expected):
    assert choices.resolve(asked, cell, text) == expected


def test_only_choices_other_than_the_defaults_are_recorded():
    assert choices.record(Resolved()) == {"role": "environment"}
    assert choices.record(Resolved(guard=True, installer="auto")) == {
        "role": "environment",
        "guard": True,
        "installer": "auto",
    }
    everything = Resolved(True, "uv", "!pip", True, "# Setup")
    assert choices.record(everything) == {
        "role": "environment",
        "guard": True,
        "installer": "uv",
        "env-cell-style": "!pip",
        "quiet-install": True,
        "header": "# Setup",
    }
    assert choices.recorded(_env_cell("", **choices.record(everything))) == Choices(
        True, "uv", "!pip", True, "# Setup"
    )


def test_recording_keeps_keys_nbsetup_does_not_know_and_drops_defaults():
    old = {"role": "environment", "note": "mine", "guard": True}
    assert choices.record(Resolved(), old) == {"role": "environment", "note": "mine"}
    assert choices.record(Resolved(installer="uv"), {}) == {"installer": "uv"}


# --- the core: a later run keeps what an earlier one chose ----------------------------------


def _nb(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": KERNEL, "nbformat": 4, "nbformat_minor": 4}


def _hoist(notebook: dict, **asked: object) -> transform.Result:
    return transform.hoist(notebook, config=transform.Config(choices=Choices(**asked)))


def test_a_legacy_cell_with_guard_and_auto_blocks_keeps_both_records_them_and_new_header():
    first = _hoist(_nb(_code("!pip install x\nimport x")), guard=True, installer="auto")
    cell = first.notebook["cells"][0]
    body = cell_text(cell).splitlines()[1:]
    legacy = _nb(_env_cell("\n".join([*OLD_HEADER, "# my note", *body])), _code("import x"))
    fixed = _hoist(legacy)
    env = fixed.notebook["cells"][0]
    assert env["metadata"] == {
        "nbsetup": {"role": "environment", "guard": True, "installer": "auto"}
    }
    text = cell_text(env)
    assert text.splitlines()[0] == envcell.DEFAULT_HEADER
    assert "    # my note\n    !pip install x\n" in text  # in the `auto` block's branches
    assert set(envcell.read_blocks(text)) == {guard.BEFORE, envcell.INSTALLER_BLOCK, guard.AFTER}
    assert "# nbsetup: environment cell" not in text
    messages = [change.message for change in fixed.changes if change.kind == "env-cell"]
    assert "environment cell header replaced by the one-line header" in messages
    assert 'environment cell records guard = true, installer = "auto" (kept by later runs)' in (
        messages
    )
    assert _hoist(fixed.notebook).notebook is fixed.notebook


def test_a_new_install_joins_a_guarded_auto_cell_the_same_way():
    first = _hoist(_nb(_code("!pip install x\nimport x")), guard=True, installer="auto")
    notebook = first.notebook
    notebook["cells"].append(_code("!pip install y\nimport y"))
    text = cell_text(_hoist(notebook).notebook["cells"][0])
    assert "# nbsetup: begin guard-before" in text
    assert '    "y": "",' in text
    assert "    %uv pip install y" in text


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("x==1.0\n")
    # There from the start: a process finds a directory's pyproject.toml once (`discovery`).
    (tmp_path / "pyproject.toml").write_text("[tool.nbsetup]\n")
    return tmp_path


def _notebook(path: Path) -> Path:
    cells = [_code("!pip install x\nimport x")]
    path.write_text(json.dumps(_nb(*cells), indent=1) + "\n", encoding="utf-8")
    return path


def _fix(*args: object) -> Result:
    result = CliRunner().invoke(main, ["fix", "-j", "1", *map(str, args)])
    assert result.exit_code == 0, result.stderr
    return result


def _env(path: Path) -> dict:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return next(cell for cell in cells if "nbsetup" in cell["metadata"])


def test_guard_sticks_until_no_guard(repo: Path):
    notebook = _notebook(repo / "a.ipynb")
    _fix("--guard", notebook)
    guarded = notebook.read_bytes()
    assert _env(notebook)["metadata"]["nbsetup"] == {"role": "environment", "guard": True}
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr
    assert notebook.read_bytes() == guarded
    _fix("--no-guard", notebook)
    env = _env(notebook)
    assert env["metadata"]["nbsetup"] == {"role": "environment"}
    assert "guard" not in "".join(env["source"])
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr


def test_installer_auto_sticks_and_another_installer_replaces_it(repo: Path):
    notebook = _notebook(repo / "a.ipynb")
    _fix("--installer", "auto", notebook)
    auto = notebook.read_bytes()
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr
    assert notebook.read_bytes() == auto
    assert "%uv pip install x==1.0" in "".join(_env(notebook)["source"])
    _fix("--installer", "pip", notebook)
    env = _env(notebook)
    assert env["metadata"]["nbsetup"] == {"role": "environment"}
    assert "".join(env["source"]).splitlines()[1:] == ["!pip install x==1.0"]


def test_the_config_wins_over_what_the_cell_records(repo: Path):
    notebook = _notebook(repo / "a.ipynb")
    _fix("--guard", "--installer", "auto", notebook)
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nguard = false\ninstaller = "uv"\n')
    _fix(notebook)
    env = _env(notebook)
    assert env["metadata"]["nbsetup"] == {"role": "environment", "installer": "uv"}
    assert "".join(env["source"]).splitlines()[1:] == ["%uv pip install x==1.0"]
    # The command line wins over the config; without either, the record stands.
    _fix("--guard", notebook)
    recorded = {"role": "environment", "installer": "uv", "guard": True}
    assert _env(notebook)["metadata"]["nbsetup"] == recorded
    (repo / "pyproject.toml").write_text("[tool.nbsetup]\n")
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr


# --- the header -----------------------------------------------------------------------------


def test_the_default_header_is_one_short_line_without_run_state(repo: Path):
    assert len(envcell.DEFAULT_HEADER) <= 88
    assert envcell.is_header_text(envcell.DEFAULT_HEADER)
    notebook = _notebook(repo / "a.ipynb")
    _fix(notebook)
    assert "".join(_env(notebook)["source"]).splitlines()[0] == envcell.DEFAULT_HEADER
    before = notebook.read_bytes()
    (repo / "requirements.txt").unlink()  # the header does not name the pin source
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\npin-sources = "r.txt"\n')
    (repo / "r.txt").write_text("x==1.0\n")
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr
    assert notebook.read_bytes() == before


def test_a_custom_header_replaces_the_old_one_and_is_recorded(repo: Path):
    notebook = _notebook(repo / "a.ipynb")
    _fix(notebook)
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nheader = "# Setup (nbsetup)"\n')
    report = _fix(notebook).stdout
    assert "environment cell header changed" in report
    env = _env(notebook)
    assert "".join(env["source"]).splitlines() == ["# Setup (nbsetup)", "!pip install x==1.0"]
    assert env["metadata"]["nbsetup"] == {"role": "environment", "header": "# Setup (nbsetup)"}
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr


def test_an_empty_header_writes_no_header_line(repo: Path):
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nheader = ""\n')
    notebook = _notebook(repo / "a.ipynb")
    _fix(notebook)
    env = _env(notebook)
    assert "".join(env["source"]) == "!pip install x==1.0"
    assert env["metadata"]["nbsetup"] == {"role": "environment", "header": ""}
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr


@pytest.mark.parametrize(
    "value", ['"Setup"', '"#Setup"', '"# Setup "', '"# a\\n# b"', "true"], ids=repr
)
def test_a_header_that_formatters_would_change_is_refused(repo: Path, value: str):
    (repo / "pyproject.toml").write_text(f"[tool.nbsetup]\nheader = {value}\n")
    notebook = _notebook(repo / "a.ipynb")
    result = CliRunner().invoke(main, ["fix", str(notebook)])
    assert result.exit_code == 2
    assert '[tool.nbsetup] header: expected one comment line starting with "# "' in result.stderr


def test_a_user_comment_like_the_header_elsewhere_is_kept(repo: Path):
    notebook = _notebook(repo / "a.ipynb")
    _fix(notebook)
    data = json.loads(notebook.read_text(encoding="utf-8"))
    data["cells"][0]["source"] += f"\n{envcell.DEFAULT_HEADER}\n# mine"
    notebook.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    assert "0 fixed, 1 unchanged" in _fix(notebook).stderr
    (repo / "pyproject.toml").write_text('[tool.nbsetup]\nheader = "# Setup"\n')
    _fix(notebook)
    lines = "".join(_env(notebook)["source"]).splitlines()
    assert lines == ["# Setup", "!pip install x==1.0", envcell.DEFAULT_HEADER, "# mine"]
