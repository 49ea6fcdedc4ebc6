"""Hypothesis strategies: notebooks as people write them, installs in every form nbsetup knows.

`notebooks()` draws a `GeneratedNotebook`: notebook data, a random JSON style to write it in, a
requirements file pinning some of its packages, and for every code cell what hoisting must
leave of it (`kept`) and what it must move to the environment cell (`moved`). Those
expectations come from how each snippet is built (from the behaviour contract), never from
nbsetup itself, so the properties also check the recogniser.

A snippet is a few lines that mean one thing wherever they sit at the top level of a cell. They
are chosen so that cells compose without surprises: no snippet writes a file a later `-r`
reads, packages that get uninstalled are never installed, and movable `-r` files use absolute
paths (so a `%cd` snippet before them does not matter).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from packaging.utils import canonicalize_name

PIP_PACKAGES = (
    "numpy",
    "pandas",
    "Scikit_Learn",
    "torch",
    "rich",
    "requests",
    "matplotlib",
    "transformers",
    "scipy",
    "tqdm",
)
CONDA_PACKAGES = ("numpy", "ffmpeg", "cudatoolkit", "gdal")
APT_PACKAGES = ("ffmpeg", "graphviz", "libsndfile1", "poppler-utils")
#: Only ever uninstalled: installing a package after its uninstall must stay in place.
UNINSTALLED = ("legacy-lib", "old-plugin")
GIT_URLS = (
    "git+https://github.com/huggingface/peft.git",
    "git+https://github.com/org/tool.git@v1.0#egg=tool",
)
EXTRA_REQUIREMENTS = "/content/requirements-extra.txt"

PIP_PREFIXES = (
    "!pip install",
    "%pip install",
    "!pip3 install",
    "!python -m pip install",
    "!python3 -m pip install",
    "!{sys.executable} -m pip install",
    "!uv pip install",
)
CONDA_PREFIXES = ("%conda install -y", "!conda install -y", "!mamba install -y")
APT_PREFIXES = ("!apt-get install -y", "!apt install -y", "!sudo apt-get install -y")
APT_UPDATES = ("!apt-get update", "!apt-get update -qq", "!sudo apt-get update")
PIP_OPTIONS = (
    (),
    ("-q",),
    ("-U",),
    ("--upgrade",),
    ("-q", "-U"),
    ("--quiet",),
    ("--no-deps",),
    ("--pre",),
    ("--no-cache-dir",),
    ("--index-url", "https://download.pytorch.org/whl/cpu"),
    ("--extra-index-url", "https://pypi.example.org/simple"),
)
SPECIFIERS = ("", "", "==1.2.3", ">=1.0", "<3", ">=1.0,<3", "~=2.1", "!=1.5")
MARKERS = ("", "", "", "; python_version >= '3.8'")
OTHER_COMMANDS = ("echo done", "nvidia-smi", "ls -la", "echo 'ok'")

PYTHON_LINES = (
    "import os",
    "import numpy as np",
    "x = 1",
    "print('pip install is only text here')",
    "df = pd.DataFrame({'a': [1, 2]})",
    "s = 'héllo wörld ✓'",
    "rocket = '🚀'",
    "%matplotlib inline",
    "%time total = sum(range(10))",
    "%load_ext autoreload",
    "!ls -la",
    "!nvidia-smi",
    "",
    "# a comment",
)
BASH_LINES = ("echo hi", "ls -la", "nvidia-smi", "# a comment", "")
MARKDOWN_LINES = (
    "# Title",
    "Some *text* with `code`.",
    "!pip install numpy (in markdown: not code)",
    "ünïcode ✓ 中文",
    "",
    "- item",
)

MARKER = {"nbsetup": {"role": "environment"}}
Key = tuple[str, str]


def package_key(manager: str, text: str) -> Key:
    """How the properties name a package: manager family and canonical name (URLs as is)."""
    family = {"uv": "pip", "mamba": "conda"}.get(manager, manager)
    if family == "pip" and "://" not in text and not text.startswith("-r "):
        for end in "[=<>!~;":
            text = text.split(end, 1)[0]
        return family, canonicalize_name(text.strip())
    return family, text


@dataclass(frozen=True)
class Snippet:
    """Lines of a code cell, what hoisting must leave of them, and what it must move."""

    lines: tuple[str, ...]
    kept: tuple[str, ...]
    moved: frozenset[Key] = frozenset()
    #: An install (or uninstall, download) that stays in place: nothing after it may move.
    barrier: bool = False

    def after_barrier(self) -> Snippet:
        """The snippet where an earlier barrier holds: whatever would move stays, verbatim."""
        return self if not self.moved else Snippet(self.lines, self.lines, barrier=True)


def _kept(*lines: str) -> Snippet:
    return Snippet(lines, lines)


def _stays(*lines: str) -> Snippet:
    return Snippet(lines, lines, barrier=True)


def shell_word(text: str) -> str:
    """`text` as a user would type it in a shell: bare when safe, else double or single quotes."""
    if all(c in string.ascii_letters + string.digits + "_-.=/:@+,%" for c in text):
        return text
    return f'"{text}"' if '"' not in text else f"'{text}'"


# -- requirements --------------------------------------------------------------------------


# Strategies are built once, here: building them inside each draw costs more than drawing.
_names = st.sampled_from(PIP_PACKAGES)
_extras = st.sampled_from(("", "", "[extra]"))
_specifiers = st.sampled_from(SPECIFIERS)
_markers = st.sampled_from(MARKERS)
_no_marker = st.just("")
_pip_options = st.sampled_from(PIP_OPTIONS)
_git_urls = st.sampled_from(GIT_URLS)
_pip_prefixes = st.sampled_from(PIP_PREFIXES)
_uninstalled = st.sampled_from(UNINSTALLED)
_rare = st.integers(0, 14)


def pip_requirement(markers: bool = True) -> st.SearchStrategy[str]:
    """A PEP 508 requirement on one of the packages, sometimes with extras and a marker."""
    parts = st.tuples(_names, _extras, _specifiers, _markers if markers else _no_marker)
    return parts.map("".join)


_plain_requirement = pip_requirement(markers=False)
_requirements = st.lists(pip_requirement(), min_size=1, max_size=3)
_plain_requirements = st.lists(_plain_requirement, min_size=1, max_size=3)


@st.composite
def _arguments(draw: st.DrawFn, markers: bool) -> tuple[list[str], set[Key]]:
    """Options and requirements of one pip install (as words, unquoted) and its package keys."""
    words = list(draw(_pip_options))
    keys = set()
    for requirement in draw(_requirements if markers else _plain_requirements):
        words.append(requirement)
        keys.add(package_key("pip", requirement))
    if draw(_rare) < 2:
        url = draw(_git_urls)
        words.append(url)
        keys.add(package_key("pip", url))
    if draw(_rare) == 0:
        words += ["-r", EXTRA_REQUIREMENTS]
        keys.add(("pip", f"-r {EXTRA_REQUIREMENTS}"))
    return words, keys


pip_arguments = _arguments(markers=True)
_plain_arguments = _arguments(markers=False)


def _shell(words: list[str]) -> str:
    return " ".join(shell_word(word) for word in words)


# -- snippets that move --------------------------------------------------------------------


@st.composite
def pip_line(draw: st.DrawFn) -> Snippet:
    prefix = draw(_pip_prefixes)
    words, keys = draw(pip_arguments)
    return Snippet((f"{prefix} {_shell(words)}",), (), frozenset(keys))


@st.composite
def conda_line(draw: st.DrawFn) -> Snippet:
    prefix = draw(st.sampled_from(CONDA_PREFIXES))
    channel = draw(st.sampled_from(("", "-c conda-forge ")))
    names = draw(st.lists(st.sampled_from(CONDA_PACKAGES), min_size=1, max_size=2))
    keys = frozenset(package_key("conda", name) for name in names)
    return Snippet((f"{prefix} {channel}{' '.join(names)}",), (), keys)


@st.composite
def apt_lines(draw: st.DrawFn) -> Snippet:
    update = draw(st.sampled_from(((), *((line,) for line in APT_UPDATES))))
    names = draw(st.lists(st.sampled_from(APT_PACKAGES), min_size=1, max_size=2))
    line = f"{draw(st.sampled_from(APT_PREFIXES))} {' '.join(names)}"
    return Snippet((*update, line), (), frozenset(package_key("apt", name) for name in names))


@st.composite
def continued_line(draw: st.DrawFn) -> Snippet:
    """`!pip install a \\` + `    b`: one install over several lines."""
    prefix = draw(_pip_prefixes)
    words, keys = draw(pip_arguments)
    lines = [prefix + " \\"]
    lines += [f"    {shell_word(word)} \\" for word in words[:-1]]
    lines.append(f"    {shell_word(words[-1])}")
    return Snippet(tuple(lines), (), frozenset(keys))


@st.composite
def chain_line(draw: st.DrawFn) -> Snippet:
    """An install chained with another command: only the install part moves."""
    words, keys = draw(pip_arguments)
    install = "pip install " + _shell(words)
    other = draw(st.sampled_from(OTHER_COMMANDS))
    shape = draw(st.sampled_from(("first", "second-and", "second-semicolon", "middle")))
    if shape == "first":
        line, kept = f"!{install} && {other}", f"!{other}"
    elif shape == "second-semicolon":
        line, kept = f"!{other}; {install}", f"!{other}"
    elif shape == "second-and":
        # It runs only if `other` succeeds: it stays, and stops what follows.
        return _stays(f"!{other} && {install}")
    else:
        return _stays(f"!echo start && {install} && {other}")
    return Snippet((line,), (kept,), frozenset(keys))


@st.composite
def python_call(draw: st.DrawFn) -> Snippet:
    """`subprocess` and `os.system` calls that run pip at the top level."""
    words, keys = draw(_plain_arguments)
    literal = ", ".join(json.dumps(word) for word in words)
    form = draw(st.sampled_from(("run", "check_call", "call-pip", "multiline", "os.system")))
    if form == "os.system":
        lines: tuple[str, ...] = (f"os.system({json.dumps('pip install ' + _shell(words))})",)
    elif form == "call-pip":
        lines = (f'subprocess.call(["pip", "install", {literal}])',)
    elif form == "multiline":
        lines = (
            "subprocess.check_call(",
            f'    [sys.executable, "-m", "pip", "install", {literal}]',
            ")",
        )
    else:
        lines = (f'subprocess.{form}([sys.executable, "-m", "pip", "install", {literal}])',)
    return Snippet(lines, (), frozenset(keys))


#: Unquoted `pkg>=1.0` (a redirect as written) moves repaired: the spec the author meant, quoted.
unquoted_line = st.sampled_from(("numpy>=1.0", "rich>=13")).map(
    lambda spec: Snippet((f"!pip install {spec}",), (), frozenset({package_key("pip", spec)}))
)
moving_snippets = st.one_of(
    pip_line(),
    conda_line(),
    apt_lines(),
    continued_line(),
    chain_line(),
    python_call(),
    unquoted_line,
)


# -- snippets that stay --------------------------------------------------------------------


@st.composite
def staying_snippet(draw: st.DrawFn) -> Snippet:
    """Installs the contract keeps in place, each with the reason it names."""
    requirement = draw(_plain_requirement)
    word = shell_word(requirement)
    prefix = draw(_pip_prefixes)
    call = f'subprocess.run([sys.executable, "-m", "pip", "install", {json.dumps(requirement)}])'
    choices = (
        ("if not IN_COLAB:", f"    {prefix} {word}"),
        # `except ImportError` alone would move whole (`installs.blocks`): this one stays.
        ("try:", "    import rich", "except Exception:", f"    {prefix} rich"),
        ('for name in ["rich"]:', "    !pip install {name}"),
        ("def setup():", f"    {call}"),
        ("%pip install {package}",),
        ("!pip install $PACKAGE",),
        (f"{prefix} -e .",),
        (f"{prefix} ./local_package",),
        (f"!pip uninstall -y {draw(_uninstalled)}",),
        (f"!pip download {word} -d /tmp/wheels",),
        ("%cd /content/repo", "!pip install -r requirements.txt"),
        (f"out = !pip install {word}",),
        (f"!pip install {word} || echo failed",),
        (f"result = {call}",),
    )
    not_installs = (('text = """', "!pip install not-code", '"""'), (f"# {prefix} {word}",))
    chosen = draw(st.sampled_from(choices + not_installs))
    return _kept(*chosen) if chosen in not_installs else _stays(*chosen)


plain_snippets = st.one_of(
    st.sampled_from(PYTHON_LINES).map(_kept),
    st.just(_kept("def f(x):", "    return x + 1")),
    st.just(_kept("import subprocess, sys")),
)
staying_snippets = staying_snippet()


# -- cells ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Code:
    first: tuple[str, ...]
    snippets: tuple[Snippet, ...]

    @property
    def lines(self) -> tuple[str, ...]:
        return self.first + tuple(line for snippet in self.snippets for line in snippet.lines)

    def judged(self, barrier: bool) -> tuple[tuple[str, ...], frozenset[Key], bool]:
        """What must be kept and moved, given whether a barrier came before; and after."""
        kept = list(self.first)
        moved: set[Key] = set()
        for snippet in self.snippets:
            if barrier:
                snippet = snippet.after_barrier()
            kept += snippet.kept
            moved |= snippet.moved
            barrier = barrier or snippet.barrier
        return tuple(kept), frozenset(moved), barrier


def _join(first: tuple[str, ...], snippets: list[Snippet]) -> _Code:
    return _Code(first, tuple(snippets))


_python_snippets = st.one_of(plain_snippets, plain_snippets, moving_snippets, staying_snippets)
python_cells = st.lists(_python_snippets, min_size=1, max_size=6).map(lambda s: _join((), s))


_capture_snippets = st.one_of(
    pip_line(), apt_lines(), python_call(), plain_snippets, st.just(_kept("# setup"))
)
#: `%%capture`: its body is Python; installs move, and an install-only cell goes.
capture_cells = st.tuples(
    st.sampled_from(("%%capture", "%%capture --no-stderr")),
    st.lists(_capture_snippets, min_size=1, max_size=4),
).map(lambda parts: _join((parts[0],), parts[1]))


@st.composite
def bash_line(draw: st.DrawFn) -> Snippet:
    words, keys = draw(pip_arguments)
    tool = draw(st.sampled_from(("pip install", "pip3 install", "python -m pip install")))
    install = f"{tool} {_shell(words)}"
    shape = draw(st.sampled_from(("pip", "apt", "chain", "kept")))
    if shape == "kept":
        return _kept(draw(st.sampled_from(BASH_LINES)))
    if shape == "apt":
        name = draw(st.sampled_from(APT_PACKAGES))
        return Snippet((f"apt-get install -y {name}",), (), frozenset({package_key("apt", name)}))
    if shape == "chain":
        return Snippet((f"{install} && echo ok",), ("echo ok",), frozenset(keys))
    return Snippet((install,), (), frozenset(keys))


#: `%%bash`: each line is a shell command; install lines move.
bash_cells = st.lists(bash_line(), min_size=1, max_size=4).map(lambda s: _join(("%%bash",), s))
_code_cells = {"code": python_cells, "capture": capture_cells, "bash": bash_cells}


# -- notebooks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    """A JSON layout, as the tools that write notebooks produce it."""

    indent: int | None
    sort_keys: bool
    ensure_ascii: bool
    crlf: bool
    final_newline: bool

    def dumps(self, notebook: dict[str, Any]) -> bytes:
        text = json.dumps(
            notebook, indent=self.indent, sort_keys=self.sort_keys, ensure_ascii=self.ensure_ascii
        )
        newline = "\r\n" if self.crlf else "\n"
        # json.dumps escapes line breaks inside strings: every raw "\n" is layout.
        text = text.replace("\n", newline)
        return (text + newline if self.final_newline else text).encode("utf-8")


styles = st.builds(
    Style,
    indent=st.sampled_from((1, 1, 2, 4, None)),
    sort_keys=st.booleans(),
    ensure_ascii=st.booleans(),
    crlf=st.integers(0, 4).map(lambda n: n == 0),
    final_newline=st.booleans(),
)


@dataclass(frozen=True)
class GeneratedNotebook:
    """A notebook, the bytes it is written as, pins, and what hoisting must do to each cell."""

    notebook: dict[str, Any]
    style: Style
    #: requirements.txt text pinning some of the notebook's pip packages.
    requirements: str
    #: Per cell: the lines that must remain, in order (None for markdown/raw cells and for an
    #: environment cell). An ordinary code cell whose kept lines are all inert must go.
    kept: tuple[tuple[str, ...] | None, ...]
    #: Per cell: the packages whose installs must move to the environment cell.
    moved: tuple[frozenset[Key], ...]
    #: The user's own lines in an environment cell the notebook already has.
    env_kept: tuple[str, ...]
    #: The kernel is Python (else nbsetup must leave the notebook alone).
    python: bool

    @property
    def data(self) -> bytes:
        return self.style.dumps(self.notebook)

    @property
    def movable(self) -> bool:
        """Something moves, so the notebook must change."""
        return self.python and any(self.moved)


OUTPUTS = (
    {"name": "stdout", "output_type": "stream", "text": ["Collecting numpy\n", "done\n"]},
    {"name": "stderr", "output_type": "stream", "text": "warning: ünïcode\n"},
    {
        "data": {"text/plain": ["42"]},
        "execution_count": 3,
        "metadata": {},
        "output_type": "execute_result",
    },
    {
        "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]},
        "metadata": {"needs_background": "light"},
        "output_type": "display_data",
    },
    {"ename": "ValueError", "evalue": "bad", "output_type": "error", "traceback": ["line 1"]},
)
CELL_METADATA = (
    {},
    {},
    {"tags": ["setup"]},
    {"collapsed": False, "scrolled": True},
    {"colab": {"base_uri": "https://localhost:8080/"}, "id": "xYz12"},
)
NOTEBOOK_METADATA = (
    {},
    {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    {
        "kernelspec": {"display_name": "Python 3", "name": "python3"},
        "language_info": {"name": "python", "version": "3.10.12"},
    },
    {"colab": {"provenance": []}, "accelerator": "GPU", "language_info": {"name": "python"}},
)
R_METADATA = {"kernelspec": {"display_name": "R", "language": "R", "name": "ir"}}
ATTACHMENTS = {"image.png": {"image/png": "iVBORw0KGgo="}}


def _source(text: str, shape: str) -> str | list[str]:
    if shape == "str":
        return text
    if shape == "single" and text:
        return [text]
    return text.splitlines(keepends=True)


def _text(lines: tuple[str, ...], final_newline: bool, crlf: bool) -> str:
    text = "\n".join(lines)
    if lines and final_newline:
        text += "\n"
    return text.replace("\n", "\r\n") if crlf else text


_env_lines = st.lists(st.sampled_from(("import os", "%env TOKENIZERS=1")), max_size=2)


@st.composite
def notebooks(draw: st.DrawFn, max_cells: int = 8) -> GeneratedNotebook:
    """A notebook of markdown, raw and code cells in a random nbformat 4 version and style."""
    minor = draw(st.integers(0, 5))
    shapes = draw(st.sampled_from((("lines",), ("str",), ("lines", "str", "single"))))
    crlf = draw(st.integers(0, 9)) == 0
    kinds = st.sampled_from(("code", "code", "code", "capture", "bash", "markdown", "raw"))
    cells: list[dict[str, Any]] = []
    kept: list[tuple[str, ...] | None] = []
    moved: list[frozenset[Key]] = []
    barrier = False
    for kind in draw(st.lists(kinds, max_size=max_cells)):
        source_shape = draw(st.sampled_from(shapes))
        if kind in ("markdown", "raw"):
            lines = tuple(draw(st.lists(st.sampled_from(MARKDOWN_LINES), max_size=4)))
            cell: dict[str, Any] = {
                "cell_type": kind,
                "metadata": draw(st.sampled_from(({}, {"tags": ["intro"]}))),
                "source": _source(_text(lines, draw(st.booleans()), crlf), source_shape),
            }
            if draw(st.integers(0, 3)) == 0:
                cell["attachments"] = ATTACHMENTS
            cells.append(cell)
            kept.append(None)
            moved.append(frozenset())
            continue
        code = draw(_code_cells[kind])
        cells.append(
            {
                "cell_type": "code",
                "execution_count": draw(st.sampled_from((None, 1, 7))),
                "metadata": draw(st.sampled_from(CELL_METADATA)),
                "outputs": draw(st.lists(st.sampled_from(OUTPUTS), max_size=2)),
                "source": _source(_text(code.lines, draw(st.booleans()), crlf), source_shape),
            }
        )
        code_kept, code_moved, barrier = code.judged(barrier)
        kept.append(code_kept)
        moved.append(code_moved)
    env_kept: tuple[str, ...] = ()
    if draw(st.integers(0, 4)) == 0:
        # An environment cell written by hand (or by an earlier run, then edited).
        words, keys = draw(pip_arguments)
        env_kept = tuple(draw(_env_lines))
        text = "\n".join((f"%pip install {_shell(words)}", *env_kept))
        env = {
            "cell_type": "code",
            "execution_count": None,
            "metadata": MARKER,
            "outputs": [],
            "source": _source(text, draw(st.sampled_from(shapes))),
        }
        position = draw(st.integers(0, len(cells)))
        cells.insert(position, env)
        kept.insert(position, None)
        moved.insert(position, frozenset(keys))
    if minor >= 5:
        ids = draw(st.lists(st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)))
        for index, cell in enumerate(cells):
            cell["id"] = f"{ids[index] if index < len(ids) else 'c'}-{index}"
    order = draw(st.permutations(("cell_type", "id", "metadata", "source", "execution_count")))
    cells = [_ordered(cell, order) for cell in cells]
    python = draw(st.integers(0, 14)) != 0
    metadata = draw(st.sampled_from(NOTEBOOK_METADATA)) if python else R_METADATA
    top = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": minor}
    top_order = draw(st.permutations(tuple(top)))
    return GeneratedNotebook(
        notebook={key: top[key] for key in top_order},
        style=draw(styles),
        requirements=draw(requirements_texts),
        kept=tuple(kept),
        moved=tuple(moved),
        env_kept=env_kept,
        python=python,
    )


def _ordered(cell: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """The cell with its keys in `order` (the rest after, as they were)."""
    keys = [key for key in order if key in cell] + [key for key in cell if key not in order]
    return {key: cell[key] for key in keys}


@st.composite
def requirements_text(draw: st.DrawFn) -> str:
    """A requirements.txt pinning some of the pip packages, with comments and blank lines."""
    names = draw(st.lists(st.sampled_from(PIP_PACKAGES), unique=True, max_size=5))
    lines = ["# pinned for the notebooks"]
    for name in names:
        spelling = draw(st.sampled_from((name, str(canonicalize_name(name)))))
        pin = draw(st.sampled_from(("==1.26.4", "==2.1.0", ">=2.0,<3", "~=1.4")))
        marker = draw(st.sampled_from(("", "", " ; python_version >= '3.8'")))
        lines += [spelling + pin + marker, *draw(st.sampled_from(((), ("",), ("# note",))))]
    return "\n".join(lines) + "\n"


requirements_texts = requirements_text()
