"""Generated lines reach the installer word for word: rendered, then run in a real IPython.

The fast tests use this virtual environment's IPython (9.x, through ipykernel); the `slow` ones
build throwaway environments with IPython 7.34 and 8.18 (`ipython_harness.OTHER_VERSIONS`) and
skip, saying why, when a version cannot be installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from nbsetup import envcell, quoting
from nbsetup.api import fix_bytes
from nbsetup.config import ProjectConfig
from nbsetup.installs import find_installs
from nbsetup.quoting import UnsafeWord
from tests.ipython_harness import (
    OTHER_VERSIONS,
    Shell,
    build_ipython,
    installer_words,
    model_words,
)

ENV = {"NBSETUP_TOKEN": "secret"}
_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)\}")

#: One entry per line kind: (kind, magic it needs or None, render(words), argv prefix).
Kind = tuple[str, str | None, Callable[[Sequence[str]], str], tuple[str, ...]]
KINDS: list[Kind] = [
    ("!pip", None, lambda w: quoting.shell_line(["pip", "install", *w]), ("pip", "install")),
    (
        "!uv pip",
        None,
        lambda w: quoting.shell_line(["uv", "pip", "install", *w]),
        ("uv", "pip", "install"),
    ),
    ("%pip", "pip", lambda w: quoting.pip_magic_line(["install", *w]), ("pip", "install")),
    (
        "%uv pip",
        "uv",
        lambda w: quoting.uv_magic_line(["pip", "install", *w]),
        ("uv", "pip", "install"),
    ),
    (
        "%conda",
        "conda",
        lambda w: quoting.conda_magic_line(["install", "-y", *w]),
        ("conda", "install", "-y"),
    ),
    (
        "%mamba",
        "mamba",
        lambda w: quoting.conda_magic_line(["install", "-y", *w], "mamba"),
        ("mamba", "install", "-y"),
    ),
    (
        "!conda",
        None,
        lambda w: quoting.shell_line(["conda", "install", "-y", *w]),
        ("conda", "install", "-y"),
    ),
    (
        "!mamba",
        None,
        lambda w: quoting.shell_line(["mamba", "install", "-y", *w]),
        ("mamba", "install", "-y"),
    ),
    (
        "!apt-get",
        None,
        lambda w: quoting.shell_line(["apt-get", "install", "-y", *w]),
        ("apt-get", "install", "-y"),
    ),
    (
        "!sudo apt-get",
        None,
        lambda w: quoting.shell_line(["sudo", "apt-get", "install", "-y", *w]),
        ("sudo", "apt-get", "install", "-y"),
    ),
]

#: Words that broke a line kind before, or would if quoting slipped.
HOSTILE = [
    "numpy",
    "numpy==1.26",
    "numpy<2",
    "numpy>=1.26",
    "numpy 1.26.*",
    "conda-forge::numpy[build=py*]",
    "numpy=1.26|1.27",
    'x; platform_release != \'{__import__("os").system("touch sentinel")}\'',
    "x; os_name == '$(touch sentinel)'",
    "x; os_name == '`touch sentinel`'",
    'x; os_name == "a;touch sentinel|b&&c"',
    "{x}",
    "{{x}}",
    "{}",
    "$x",
    "$$x",
    "$a.b",
    "${x}",
    "'$x'",
    '"$x"',
    "é$é",
    "a\\",
    "\\$x",
    "'''",
    '"""',
    "",
    " ",
    "\t",
    "=1.26",
    "~",
    "#",
    "!x",
    "torch @ https://download.pytorch.org/whl/cpu/torch-2.3.1%2Bcpu-cp311-cp311-linux_x86_64.whl",
    "whisper @ git+https://github.com/openai/whisper.git@v20231117",
    "git+https://${NBSETUP_TOKEN}@github.com/o/p.git",
    'p @ https://x/"${NBSETUP_TOKEN}"/{v}.zip',
]


def intended(words: Sequence[str]) -> list[str]:
    """The words, with pip's `${NAME}` references expanded as the shell does."""
    return [_REFERENCE.sub(lambda m: ENV.get(m.group(1), ""), word) for word in words]


# --- rendering, without IPython ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("numpy==1.26.4", "numpy==1.26.4", id="safe"),
        pytest.param("numpy<2", '"numpy<2"', id="redirect"),
        pytest.param("numpy[extra]", '"numpy[extra]"', id="glob"),
        pytest.param('x; os_name == "nt"', "'x; os_name == \"nt\"'", id="double-quote-inside"),
        pytest.param(
            "x; os_name == 'a`id`'", "'x; os_name == '\"'\"'a`id`'\"'\"''", id="backtick"
        ),
        pytest.param(
            "x; os_name == '$(rm -rf /)'",
            "'x; os_name == '\"'\"'$''(rm -rf /)'\"'\"''",
            id="command-substitution",
        ),
        pytest.param(
            "x; os_name == '$HOME'", "'x; os_name == '\"'\"'$''HOME'\"'\"''", id="dollar"
        ),
        pytest.param("x; os_name == '{a}'", "\"x; os_name == '{{a}}'\"", id="braces"),
        pytest.param(
            "git+https://${GITHUB_TOKEN}@github.com/o/p.git",
            '"git+https://${{GITHUB_TOKEN}}@github.com/o/p.git"',
            id="pip-env-var-expanded-by-shell",
        ),
        pytest.param(
            'p @ https://x/"${TOKEN}"',
            "'p @ https://x/\"'\"${{TOKEN}}\"'\"'",
            id="env-var-spliced-between-single-quotes",
        ),
        pytest.param("a && b", '"a && b"', id="and"),
        pytest.param("=1.26", '"=1.26"', id="zsh-equals-expansion"),
    ],
)
def test_shell_lines_quote_each_word_for_one_expansion(text, expected):
    line = quoting.shell_line(["pip", "install", text])
    assert line == f"!pip install {expected}"
    assert intended([text]) == intended(model_words(line)[2:])


@pytest.mark.parametrize(
    ("words", "line"),
    [
        pytest.param(["install", "-q", "numpy"], "%pip install -q numpy", id="plain"),
        pytest.param(["install", "numpy==1.26"], "%pip install numpy==1.26", id="pinned"),
        pytest.param(["install", "numpy<2"], '%pip install "numpy<2"', id="quoted"),
        pytest.param(["install", "x{v}"], '%pip install "x{{{{v}}}}"', id="braces-twice"),
    ],
)
def test_pip_magic_lines_are_unchanged_for_ordinary_words(words, line):
    assert quoting.pip_magic_line(words) == line


@pytest.mark.parametrize(
    ("words", "line"),
    [
        pytest.param(["install", "-y", "numpy=1.26"], "%conda install -y numpy=1.26", id="plain"),
        pytest.param(
            ["install", "conda-forge::gdal=3.8.4"],
            "%conda install conda-forge::gdal=3.8.4",
            id="channel",
        ),
        pytest.param(["install", "numpy>=1.26"], "%conda install '\"numpy>=1.26\"'", id="twice"),
        pytest.param(["install", "numpy 1.26.*"], "%conda install '\"numpy 1.26.*\"'", id="space"),
    ],
)
def test_conda_magic_lines_quote_twice_when_the_shell_needs_quotes(words, line):
    assert quoting.conda_magic_line(words) == line


@pytest.mark.parametrize("kind", KINDS, ids=[k[0] for k in KINDS])
@pytest.mark.parametrize("bad", ["\n", "\r", "\x0b", "\x85", "\u2028", "\u2029", "\0"])
def test_a_word_with_a_line_break_is_refused_by_every_kind(kind, bad):
    with pytest.raises(UnsafeWord, match="cannot write"):
        kind[2]([f"x{bad}; touch sentinel"])


@pytest.mark.parametrize(
    ("text", "passes", "expected"),
    [
        ("x{{{{y}}}}", 2, "x{y}"),
        ("x{{y}}", 1, "x{y}"),
        ("x{{y}}", 2, None),
        ("{y}", 1, None),
        ("x{", 1, None),
        ("plain", 2, "plain"),
    ],
)
def test_expand_literal(text, passes, expected):
    assert quoting.expand_literal(text, passes) == expected


# --- reading back what was written --------------------------------------------------------

_words = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=12)
    | st.sampled_from(HOSTILE),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(_words, st.sampled_from(KINDS))
def test_a_rendered_line_is_refused_or_modelled_word_for_word(words, kind):
    _, _, render, prefix = kind
    if any(len(f"a{word}a".splitlines()) > 1 for word in words):
        with pytest.raises(UnsafeWord):
            render(words)
        return
    line = render(words)
    assert len(line.splitlines()) == 1
    assert model_words(line) == [*prefix, *words]


@settings(max_examples=40)
@given(st.lists(st.sampled_from(HOSTILE[:37]), min_size=1, max_size=3))
def test_the_recogniser_reads_generated_lines_as_written(words):
    """What `fix`, `check` and the safety net see in an environment cell is what was rendered."""
    specs = [w for w in words if w.strip() and not w.startswith(("-", "#", "=", "~", "!"))]
    for render, manager in (
        (lambda w: quoting.pip_magic_line(["install", *w]), "pip"),
        (lambda w: quoting.shell_line(["pip", "install", *w]), "pip"),
        (lambda w: quoting.conda_magic_line(["install", "-y", *w]), "conda"),
    ):
        sites = find_installs([render(specs)])
        commands = [c for site in sites for c in site.commands]
        if not specs:
            continue
        assert len(commands) == 1
        assert commands[0].manager == manager
        if commands[0].movable:
            assert commands[0].requirements == tuple(specs)
        else:  # a live `${NAME}` is for the shell to expand; `a\\` reads as a Windows path
            assert commands[0].reason in (
                "uses the shell variable $NBSETUP_TOKEN",
                "installs a local path",
            )


@pytest.mark.parametrize(
    ("line", "substitutes"),
    [
        ("!pip install 'x; os_name == '\"'\"'`touch sentinel`'\"'\"''", False),
        ("!pip install 'a$(b)'", False),
        ("!pip install \\`x", False),
        ("!pip install `id`", True),
        ('!pip install "`id`"', True),
        ('!pip install "$(id)"', True),
        ("!pip install a$(id)", True),
    ],
)
def test_command_substitution_is_read_only_where_the_shell_runs_it(line, substitutes):
    """Inside single quotes, or after a backslash, `$(` and a backquote are literal text (a
    rendered marker with backquotes was kept in place as a substitution)."""
    (command,) = [c for site in find_installs([line]) for c in site.commands]
    assert (command.reason == "uses command substitution") is substitutes


# --- real IPython -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ipython(tmp_path_factory) -> Iterator[Shell]:
    """This environment's IPython, running cells in a child process."""
    shell = Shell(Path(sys.executable), tmp_path_factory.mktemp("ipython-here"))
    yield shell
    shell.close()


@pytest.fixture(scope="session", params=OTHER_VERSIONS)
def other_ipython(request, tmp_path_factory) -> Iterator[Shell]:
    """IPython 7.34 / 8.18 in a throwaway environment, built once per session."""
    root = tmp_path_factory.mktemp(f"ipython-{request.param}")
    try:
        python = build_ipython(request.param, root / "venv")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        pytest.skip(f"IPython {request.param} cannot be installed here: {error}")
    shell = Shell(python, root / "shell")
    yield shell
    shell.close()


def _workdir(shell: Shell) -> Path:
    workdir = shell.root / "workdir"
    workdir.mkdir(exist_ok=True)
    return workdir


def _run_kinds(shell: Shell, words: Sequence[str]) -> None:
    """Every kind the shell has, in one cell: each installer gets exactly `words`, once."""
    kinds = [k for k in KINDS if k[1] is None or k[1] in shell.magics]
    workdir = _workdir(shell)
    cell = "\n".join(render(words) for _, _, render, _ in kinds)
    outcome = shell.run(cell, workdir)
    assert outcome.error is None, outcome.printed
    calls = installer_words(shell, outcome)
    expected = [[*prefix, *intended(words)] for _, _, _, prefix in kinds]
    assert calls == expected, cell
    # The model the fast tests use agrees with the real thing.
    assert [intended(model_words(render(words))) for _, _, render, _ in kinds] == expected
    assert list(workdir.iterdir()) == [], "a file appeared in the working directory"


@pytest.mark.parametrize("word", HOSTILE)
def test_each_hostile_word_reaches_every_installer(ipython, word):
    _run_kinds(ipython, [word])


_hostile_chars = st.sampled_from([*"{}$'\"`;|&()<>*?[]~#!\\ \t=%.:/@-é", "a", "x", "b"])
_fragments = st.sampled_from(
    [
        "$x",
        "${x}",
        "$a.b",
        "{x}",
        "{{x}}",
        "$(touch sentinel)",
        "`touch sentinel`",
        "; touch sentinel",
        "| touch sentinel",
        "&& touch sentinel",
        "{open('sentinel', 'w')}",
        "${NBSETUP_TOKEN}",
        "numpy>=1.26",
        "; python_version >= '3.8'",
        " @ git+https://h/r.git@v1",
    ]
)
_hostile_words = st.lists(
    st.lists(_hostile_chars | _fragments, max_size=6).map("".join), min_size=1, max_size=3
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_words)
def test_no_expansion_changes_a_word_or_runs_anything(ipython, words):
    _run_kinds(ipython, words)


@pytest.mark.slow
@pytest.mark.parametrize("word", HOSTILE)
def test_each_hostile_word_reaches_every_installer_in_older_ipython(other_ipython, word):
    _run_kinds(other_ipython, [word])


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=_hostile_words)
def test_no_expansion_changes_a_word_in_older_ipython(other_ipython, words):
    _run_kinds(other_ipython, words)


def test_magics_available_here_include_the_newest(ipython):
    # If this fails, the fast tests no longer cover `%uv` and `%mamba`.
    assert {"pip", "uv", "conda", "mamba"} <= ipython.magics
    assert json.loads(json.dumps(ipython.version)).split(".")[0] == "9"


def test_a_kernel_style_system_piped_passes_the_same_words(ipython):
    kinds = [k for k in KINDS if k[1] is None or k[1] in ipython.magics]
    outcome = ipython.run("\n".join(k[2](HOSTILE) for k in kinds), _workdir(ipython), piped=True)
    assert outcome.error is None, outcome.printed
    assert installer_words(ipython, outcome) == [[*k[3], *intended(HOSTILE)] for k in kinds]
    assert list(_workdir(ipython).iterdir()) == []


# --- whole environment cells, as `nbsetup fix` writes them ------------------------------------

_PIP_PINS = [
    "torch @ https://download.pytorch.org/whl/cpu/torch-2.3.1%2Bcpu-cp311-cp311-linux_x86_64.whl",
    "whisper @ git+https://github.com/openai/whisper.git@v20231117",
    'x==1; platform_release != \'{__import__("os").system("touch sentinel")}\'',
    "y==2; platform_release != '$(touch sentinel)|`touch sentinel`;{x}$x$a.b'",
    'z===a{b}$c; os_name == "it\'s"',
    # No marker: the guard checks it, from Python code nbsetup writes.
    "w===a{b}$x'\"",
]
_CONDA_PINS = ["numpy>=1.26", "scipy 1.11.*", "gdal=3.8|3.9"]
_NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "a",
            "metadata": {},
            "outputs": [],
            "source": "!pip install torch whisper x y z w\n%conda install -y numpy scipy gdal\n",
        }
    ],
    "metadata": {"language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _fixed_env_cell(tmp_path: Path, config: ProjectConfig, label: str | None = None) -> str:
    (tmp_path / "requirements.txt").write_text("\n".join(_PIP_PINS) + "\n", encoding="utf-8")
    dependencies = "".join(f"  - {json.dumps(spec)}\n" for spec in _CONDA_PINS)
    (tmp_path / "environment.yml").write_text(f"dependencies:\n{dependencies}", encoding="utf-8")
    pins = [tmp_path / "requirements.txt", tmp_path / "environment.yml"]
    result = fix_bytes(json.dumps(_NOTEBOOK).encode(), pins, config, pins_label=label)
    assert result.changed
    cell = json.loads(result.data)["cells"][0]
    assert envcell.MARKER in cell["metadata"]
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def _assert_installs_pins(shell: Shell, source: str, guard: bool = False) -> None:
    outcome = shell.run(source, _workdir(shell))
    assert outcome.error is None, outcome.printed
    calls = installer_words(shell, outcome)
    conda = [call for call in calls if call[0] == "conda"]
    pip = [call for call in calls if call[0] in ("pip", "uv")]
    assert conda == [["conda", "install", "-y", *_CONDA_PINS]]
    assert len(pip) == 1
    assert [Requirement(text) for text in pip[0][-len(_PIP_PINS) :]] == [
        Requirement(text) for text in _PIP_PINS
    ]
    assert list(_workdir(shell).iterdir()) == []
    if guard:  # the guard's own code ran, with the hostile pin in its data
        assert "w: not installed" in outcome.printed


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(ProjectConfig(), id="default"),
        pytest.param(ProjectConfig(guard=True), id="guard"),
        pytest.param(ProjectConfig(installer="auto"), id="installer-auto"),
        pytest.param(ProjectConfig(installer="uv"), id="installer-uv"),
    ],
)
def test_a_fixed_environment_cell_installs_exactly_the_pins(ipython, tmp_path, config):
    source = _fixed_env_cell(tmp_path, config)
    _assert_installs_pins(ipython, source, config.guard)


def test_a_pin_source_name_with_line_breaks_never_reaches_the_cell(ipython, tmp_path):
    source = _fixed_env_cell(tmp_path, ProjectConfig(), "r.txt\n!touch from-label\u2028x")
    assert source.splitlines()[0] == envcell.DEFAULT_HEADER
    assert "from-label" not in source
    _assert_installs_pins(ipython, source)


@pytest.mark.slow
def test_a_fixed_environment_cell_installs_exactly_the_pins_in_older_ipython(
    other_ipython, tmp_path
):
    source = _fixed_env_cell(tmp_path, ProjectConfig(guard=True))
    _assert_installs_pins(other_ipython, source, guard=True)


def test_a_pin_with_a_line_break_is_refused_not_written(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\ndependencies = ["x==1; os_name == \'a\\u2028!touch sentinel\'"]\n',
        encoding="utf-8",
    )
    notebook = {**_NOTEBOOK, "cells": [{**_NOTEBOOK["cells"][0], "source": "!pip install x\n"}]}
    with pytest.raises(UnsafeWord, match=r"into a ! line: it contains a line break"):
        fix_bytes(json.dumps(notebook).encode(), tmp_path / "pyproject.toml")
