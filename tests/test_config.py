from __future__ import annotations

from pathlib import Path

import pytest

from nbsetup.config import (
    ConfigError,
    Overrides,
    ProjectConfig,
    find_project_config,
    for_file,
    load_config,
    merge,
    parse_config,
)
from nbsetup.errors import NbsetupError


def _project(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository root: searches never go above it."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


# --- defaults and precedence ---------------------------------------------------------------


def test_defaults():
    config = ProjectConfig()
    assert config.pin_sources == ()
    assert config.exclude == ()
    assert config.pin_missing is False
    # The environment cell's choices are not given: the cell's own record applies (`choices`).
    assert config.env_cell_style is None
    assert config.quiet_install is None
    assert config.installer is None
    assert config.guard is None
    assert config.header is None
    assert config.kernels == ("python",)
    assert config.source is None
    assert config.root is None


def test_empty_table_gives_defaults(repo: Path):
    path = _project(repo, "[tool.nbsetup]\n")
    assert load_config(path) == ProjectConfig(source=path)


def test_all_keys(repo: Path):
    path = _project(
        repo,
        "[tool.nbsetup]\n"
        'requirements = "requirements/base.txt"\n'
        'exclude = ["drafts/*", "archive"]\n'
        "pin-missing = true\n"
        'env-cell-style = "!pip"\n'
        "quiet-install = false\n"
        'kernels = ["python", "sage"]\n',
    )
    assert load_config(path) == ProjectConfig(
        pin_sources=(repo / "requirements" / "base.txt",),
        exclude=("drafts/*", "archive"),
        pin_missing=True,
        env_cell_style="!pip",
        quiet_install=False,
        kernels=("python", "sage"),
        source=path,
    )


def test_command_line_over_pyproject_over_defaults(repo: Path):
    path = _project(
        repo,
        '[tool.nbsetup]\npin-missing = true\nenv-cell-style = "!pip"\nexclude = ["drafts"]\n',
    )
    merged = merge(Overrides(pin_missing=False, exclude=("scratch",)), load_config(path))
    assert merged.pin_missing is False  # command line
    assert merged.exclude == ("scratch",)  # command line, replacing the file's list
    assert merged.env_cell_style == "!pip"  # pyproject.toml
    assert merged.quiet_install is None  # not given: the environment cell's own choice
    assert merged.source == path


def test_no_overrides_keep_the_project(repo: Path):
    project = load_config(_project(repo, "[tool.nbsetup]\nquiet-install = false\n"))
    assert merge(Overrides(), project) == project


def test_overrides_without_a_project():
    merged = merge(Overrides(pin_sources=(Path("/x/req.txt"),)), ProjectConfig())
    assert merged == ProjectConfig(pin_sources=(Path("/x/req.txt"),))


# --- finding the pyproject.toml ----------------------------------------------------------


def test_found_from_a_notebook_in_a_subdirectory(repo: Path):
    path = _project(repo, "[tool.nbsetup]\n")
    notebook = repo / "a" / "b" / "nb.ipynb"
    notebook.parent.mkdir(parents=True)
    assert find_project_config(notebook) == path
    assert find_project_config(notebook.parent) == path  # a directory is searched from itself


def test_nearest_wins_in_nested_projects(repo: Path):
    outer = _project(repo, "[tool.nbsetup]\npin-missing = true\n")
    inner = _project(repo / "packages" / "inner", '[tool.nbsetup]\nenv-cell-style = "!pip"\n')
    assert find_project_config(repo / "packages" / "inner" / "nb.ipynb") == inner
    assert find_project_config(repo / "packages" / "nb.ipynb") == outer
    # The nearest table is used whole: the outer `pin-missing` does not leak into it.
    assert load_config(inner).pin_missing is False


def test_pyproject_without_the_table_is_passed_over(repo: Path):
    outer = _project(repo, "[tool.nbsetup]\n")
    _project(repo / "pkg", '[project]\nname = "pkg"\n\n[tool.black]\nline-length = 99\n')
    assert find_project_config(repo / "pkg" / "nb.ipynb") == outer


def test_search_stops_at_the_repository_root(tmp_path: Path, repo: Path):
    _project(tmp_path, "[tool.nbsetup]\npin-missing = true\n")  # above the repository
    (repo / "nb").mkdir()
    assert find_project_config(repo / "nb" / "x.ipynb") is None


def test_pyproject_beside_dot_git_counts(repo: Path):
    path = _project(repo, "[tool.nbsetup]\n")
    assert find_project_config(repo / "x.ipynb") == path


def test_none_found(repo: Path):
    _project(repo, '[project]\nname = "x"\n')
    assert find_project_config(repo / "x.ipynb") is None


def test_table_that_is_not_a_table_is_found_and_rejected(repo: Path):
    path = _project(repo, "[tool]\nnbsetup = 1\n")
    assert find_project_config(repo / "x.ipynb") == path
    with pytest.raises(ConfigError, match=r"\[tool\.nbsetup\] must be a table, not an integer"):
        load_config(path)


# --- relative paths ----------------------------------------------------------------------


def test_requirements_relative_to_the_pyproject_directory(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = _project(
        repo / "project",
        '[tool.nbsetup]\nrequirements = ["requirements.txt", "../shared/constraints.txt"]\n',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(path).pin_sources == (
        repo / "project" / "requirements.txt",
        repo / "shared" / "constraints.txt",  # normalised: no `project/..`
    )


def test_requirements_relative_to_a_relative_pyproject_path(
    repo: Path, monkeypatch: pytest.MonkeyPatch
):
    _project(repo / "sub", '[tool.nbsetup]\nrequirements = "req.txt"\n')
    monkeypatch.chdir(repo)
    config = load_config(Path("sub/pyproject.toml"))
    assert config.pin_sources == (repo / "sub" / "req.txt",)
    assert config.pin_sources[0].is_absolute()


def test_absolute_requirements_path_kept(repo: Path, tmp_path: Path):
    target = tmp_path / "pins.txt"
    path = _project(repo, f"[tool.nbsetup]\nrequirements = {str(target)!r}\n")
    assert load_config(path).pin_sources == (target,)


def test_root_is_the_pyproject_directory(repo: Path):
    assert load_config(_project(repo / "x", "[tool.nbsetup]\n")).root == repo / "x"


def test_kernels_lower_case_without_duplicates(repo: Path):
    path = _project(repo, '[tool.nbsetup]\nkernels = ["Python", "python", "SageMath"]\n')
    assert load_config(path).kernels == ("python", "sagemath")


def test_empty_exclude_is_allowed(repo: Path):
    assert load_config(_project(repo, "[tool.nbsetup]\nexclude = []\n")).exclude == ()


# --- errors ------------------------------------------------------------------------------


def test_unknown_key_names_the_key_and_the_file(repo: Path):
    path = _project(repo, "[tool.nbsetup]\npin_missing = true\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: unknown key in [tool.nbsetup]: 'pin_missing' (did you mean 'pin-missing'?)"
    )
    assert caught.value.key == "pin_missing"
    assert isinstance(caught.value, NbsetupError)


def test_unknown_keys_listed_together_with_the_known_ones(repo: Path):
    path = _project(repo, "[tool.nbsetup]\nline-length = 99\nquiet-instal = false\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: unknown keys in [tool.nbsetup]: 'line-length'")
    assert "'quiet-instal' (did you mean 'quiet-install'?)" in message
    assert message.endswith(
        "known keys: pin-sources, requirements, exclude, pin-missing, env-cell-style, "
        "quiet-install, kernels, installer, guard, header, preloaded, extend-preloaded, runtime, "
        "select, ignore, per-file-ignores, output-format, per-file-settings"
    )


@pytest.mark.parametrize(
    ("toml", "key", "reason"),
    [
        pytest.param(
            "pin-missing = 1",
            "pin-missing",
            "expected true or false, got an integer (1)",
            id="bool-as-int",
        ),
        pytest.param(
            'quiet-install = "yes"',
            "quiet-install",
            'expected true or false, got a string ("yes")',
            id="bool-as-string",
        ),
        pytest.param(
            'env-cell-style = "pip"',
            "env-cell-style",
            'expected "%pip" or "!pip", got a string ("pip")',
            id="style-not-allowed",
        ),
        pytest.param(
            "env-cell-style = true",
            "env-cell-style",
            'expected "%pip" or "!pip", got a boolean (true)',
            id="style-not-string",
        ),
        pytest.param(
            'exclude = "drafts/*"',
            "exclude",
            'expected an array of glob strings, got a string ("drafts/*")',
            id="exclude-not-array",
        ),
        pytest.param(
            'kernels = ["python", 3]',
            "kernels",
            "expected an array of kernel language names, got an integer (3) at position 2",
            id="kernel-not-string",
        ),
        pytest.param(
            "kernels = []",
            "kernels",
            "expected an array of kernel language names, got an empty array",
            id="no-kernels",
        ),
        pytest.param(
            "requirements = 1.5",
            "requirements",
            "expected a path or an array of paths, got a float (1.5)",
            id="requirements-float",
        ),
        pytest.param(
            'requirements = ["a.txt", ""]',
            "requirements",
            'expected a path or an array of paths, got a string ("") at position 2',
            id="requirements-empty-path",
        ),
        pytest.param(
            "requirements = {path = 'a.txt'}",
            "requirements",
            "expected a path or an array of paths, got a table",
            id="requirements-table",
        ),
    ],
)
def test_wrong_type(repo: Path, toml: str, key: str, reason: str):
    path = _project(repo, f"[tool.nbsetup]\n{toml}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: [tool.nbsetup] {key}: {reason}"
    assert caught.value.key == key


def test_invalid_toml_names_the_file(repo: Path):
    path = _project(repo, "[tool.nbsetup]\npin-missing = yes\n")
    with pytest.raises(ConfigError, match=r"^.*pyproject\.toml: invalid TOML: .*line 2") as caught:
        load_config(path)
    assert caught.value.path == path
    # Met on the way up, it cannot be passed over: it may hold the settings.
    with pytest.raises(ConfigError, match="invalid TOML"):
        find_project_config(repo / "nb.ipynb")


def test_not_utf8(repo: Path):
    path = repo / "pyproject.toml"
    path.write_bytes(b'[tool.nbsetup]\nexclude = ["\xff"]\n')
    with pytest.raises(ConfigError, match=r"pyproject\.toml: not valid UTF-8 text$"):
        load_config(path)


def test_unreadable(repo: Path):
    missing = repo / "pyproject.toml"
    with pytest.raises(ConfigError, match=r"pyproject\.toml: cannot read file: no such file"):
        load_config(missing)


def test_parse_config_is_pure():
    document = {"tool": {"nbsetup": {"requirements": "r.txt", "pin-missing": True}}}
    config = parse_config(document, Path("/p/pyproject.toml"))
    assert config == ProjectConfig(
        pin_sources=(Path("/p/r.txt"),), pin_missing=True, source=Path("/p/pyproject.toml")
    )
    assert parse_config({}, Path("/p/pyproject.toml")) == ProjectConfig(
        source=Path("/p/pyproject.toml")
    )


# --- per-file settings -----------------------------------------------------------------------


def test_per_file_settings_read_in_order(repo: Path):
    path = _project(
        repo,
        "[tool.nbsetup.per-file-settings]\n"
        '"legacy/*" = { skip = true }\n'
        '"colab/*.ipynb" = { guard = true, installer = "auto", env-cell-style = "!pip" }\n'
        '"legacy/keep.ipynb" = { skip = false }\n',
    )
    assert load_config(path).per_file_settings == (
        ("legacy/*", (("skipped_by", "legacy/*"),)),
        ("colab/*.ipynb", (("guard", True), ("installer", "auto"), ("env_cell_style", "!pip"))),
        ("legacy/keep.ipynb", (("skipped_by", None),)),
    )


def test_for_file_applies_the_matching_tables_a_later_one_winning(repo: Path):
    path = _project(
        repo,
        "[tool.nbsetup]\nguard = true\nquiet-install = true\n"
        "[tool.nbsetup.per-file-settings]\n"
        '"legacy/*" = { skip = true, guard = false }\n'
        '"legacy/keep.ipynb" = { skip = false }\n'
        '"*.ipynb" = { installer = "uv" }\n',
    )
    project = load_config(path)
    old = for_file(project, repo / "legacy" / "old.ipynb")
    assert (old.skipped_by, old.guard, old.installer, old.quiet_install) == (
        "legacy/*",
        False,
        "uv",
        True,
    )
    kept = for_file(project, repo / "legacy" / "keep.ipynb")
    assert (kept.skipped_by, kept.guard) == (None, False)
    other = for_file(project, repo / "nb.ipynb")
    assert (other.skipped_by, other.guard, other.installer) == (None, True, "uv")
    assert for_file(project, repo / "notes.md") == project


def test_command_line_over_per_file_settings(repo: Path):
    path = _project(repo, '[tool.nbsetup.per-file-settings]\n"*" = { guard = true }\n')
    in_file = for_file(load_config(path), repo / "nb.ipynb")
    assert merge(Overrides(guard=False), in_file).guard is False
    assert merge(Overrides(), in_file).guard is True


@pytest.mark.parametrize(
    ("toml", "reason"),
    [
        pytest.param(
            "per-file-settings = 3",
            "[tool.nbsetup] per-file-settings: expected a table of globs to tables of settings, "
            "got an integer (3)",
            id="not-a-table",
        ),
        pytest.param(
            'per-file-settings = { "legacy/*" = true }',
            '[tool.nbsetup.per-file-settings] "legacy/*": expected a table of settings, got a '
            "boolean (true)",
            id="glob-not-a-table",
        ),
        pytest.param(
            'per-file-settings = { "legacy/*" = { skp = true } }',
            "unknown key in [tool.nbsetup.per-file-settings] \"legacy/*\": 'skp' (did you mean "
            "'skip'?)",
            id="unknown-key",
        ),
        pytest.param(
            'per-file-settings = { "legacy/*" = { exclude = ["x"] } }',
            "unknown key in [tool.nbsetup.per-file-settings] \"legacy/*\": 'exclude'; known "
            "keys: skip, pin-missing, env-cell-style, quiet-install, installer, guard, header, "
            "runtime",
            id="project-wide-key",
        ),
        pytest.param(
            'per-file-settings = { "legacy/*" = { skip = "yes" } }',
            '[tool.nbsetup.per-file-settings] "legacy/*" skip: expected true or false, got a '
            'string ("yes")',
            id="skip-not-boolean",
        ),
        pytest.param(
            'per-file-settings = { "x" = { installer = "conda" } }',
            '[tool.nbsetup.per-file-settings] "x" installer: expected "pip" or "uv" or "auto", '
            'got a string ("conda")',
            id="installer-not-allowed",
        ),
        pytest.param(
            'per-file-settings = { "" = { skip = true } }',
            "[tool.nbsetup.per-file-settings]: a glob may not be empty",
            id="empty-glob",
        ),
    ],
)
def test_per_file_settings_errors(repo: Path, toml: str, reason: str):
    path = _project(repo, f"[tool.nbsetup]\n{toml}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {reason}"
    assert caught.value.key == "per-file-settings"
