"""`nbsetup fix` → `ruff format` / `black` → `nbsetup fix`: the second fix has nothing to do.

The code nbsetup generates (the guard, the `auto` installer block) is written as both
formatters write it, so a formatter hook and the nbsetup-fix hook settle instead of undoing
each other. Each pipeline runs the real tools once over a whole tree (a copy of the golden
inputs or of the shared corpus): `nbsetup fix [FLAGS]`, the formatter with its default
settings (line length 88), then `nbsetup fix --check [FLAGS]`. Each notebook is then a test:

- the second fix would change nothing;
- the environment cell is as nbsetup wrote it: a formatter may only have touched lines the user
  owns (a moved comment such as Colab's `#@title`, which both write `# @title`, or the user's
  own code), never a header, install or generated line;
- a notebook the formatter cannot read or parse is skipped with the formatter's reason, after
  checking that the formatter fails on the notebook as it was before nbsetup touched it too
  (the user's code does not parse), so that no skip hides a fault of nbsetup's output.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbsetup import envcell, transform
from nbsetup.choices import Choices
from nbsetup.notebook_io import cell_text
from nbsetup.sources.requirements_txt import parse_requirements
from tests.conftest import CORPUS, CORPUS_NOTEBOOKS
from tests.test_check import _nb
from tests.test_golden import CASES, GOLDEN

pytest.importorskip("ruff", reason="ruff is not installed (pip install -e '.[test]')")
black = pytest.importorskip("black", reason="black is not installed (pip install -e '.[test]')")
pytest.importorskip("tokenize_rt", reason="black's jupyter extra is not installed")

GUARD = ("--guard",)
AUTO = ("--installer", "auto")
GOLDEN_FLAGS = {"plain": (), "guard": GUARD, "auto": AUTO, "guard-auto": GUARD + AUTO}
# The corpus is run without and with both generated blocks; the goldens cover each alone.
CORPUS_FLAGS = {"plain": (), "guard-auto": GUARD + AUTO}
TOOLS = ("ruff", "black")
CORPUS_NAMES = [path.relative_to(CORPUS).as_posix() for path in CORPUS_NOTEBOOKS]
GOLDEN_NAMES = [f"{case}/notebook.ipynb" for case in CASES]

# How each formatter names a notebook it could not format (on stderr, one line each).
_FAILURE = {
    "ruff": re.compile(
        r"^error: Failed to (?:parse|read) (?P<path>.+?\.ipynb)(?::\d+)*: (?P<why>.*)"
    ),
    "black": re.compile(r"^error: cannot format (?P<path>.+?\.ipynb): (?P<why>.*)"),
}


def _formatter(tool: str, root: Path) -> list[str]:
    """The command line of `tool` with its default settings, whatever config files it finds."""
    if tool == "ruff":
        return [sys.executable, "-m", "ruff", "format", "--isolated", "--no-cache"]
    empty = root / "black-config.toml"  # black reads no pyproject.toml when given one
    empty.touch()
    # --fast skips black's own check that its output parses alike; the output is the same.
    return [sys.executable, "-m", "black", "--config", str(empty), "--fast", "--ipynb"]


def _format(tool: str, root: Path, names: Sequence[str]) -> dict[str, str]:
    """Run `tool` once over `names` (relative to `root`); the ones it failed on, with why."""
    process = subprocess.run(
        [*_formatter(tool, root.parent), *names],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BLACK_CACHE_DIR": str(root.parent / "black-cache")},
        timeout=900,
    )
    failed = {}
    for line in process.stderr.splitlines():
        match = _FAILURE[tool].match(line)
        if match:
            path = Path(match["path"])
            name = (path.relative_to(root) if path.is_absolute() else path).as_posix()
            failed[name] = match["why"]
        else:
            assert not line.startswith("error"), process.stderr
    assert process.returncode == (0 if not failed else {"ruff": 2, "black": 123}[tool]), (
        process.stderr
    )
    return failed


def _fix(root: Path, *args: str) -> dict[str, str]:
    """`nbsetup fix ARGS .` in `root`: the status of each file."""
    process = subprocess.run(
        [sys.executable, "-m", "nbsetup", "fix", "--format", "json", *args, "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert process.returncode in (0, 1, 2), process.stderr
    report = json.loads(process.stdout)
    return {Path(item["path"]).as_posix(): item["status"] for item in report["files"]}


def _env_text(data: bytes) -> str | None:
    try:
        cells = json.loads(data)["cells"]
    except (ValueError, KeyError, TypeError):
        return None
    index = envcell.find(cells)
    return None if index is None else cell_text(cells[index])


@dataclass(frozen=True, repr=False)  # a failure shows the notebook, not every text
class Pipeline:
    """One tree through fix, a formatter and `fix --check`: what each notebook went through."""

    #: The status of each notebook in the first `nbsetup fix`, and in `nbsetup fix --check`.
    first: dict[str, str]
    second: dict[str, str]
    #: The environment cell after the first fix, and after the formatter (None: no such cell).
    fixed: dict[str, str | None]
    formatted: dict[str, str | None]
    #: The notebooks the formatter could not format, with its reason.
    failed: dict[str, str]
    #: Of those, the ones it could not format before nbsetup ran either.
    failed_before: frozenset[str]


@dataclass(frozen=True, repr=False)
class _Fixed:
    """A tree after the first `nbsetup fix`, beside a copy of its inputs."""

    inputs: Path
    tree: Path
    first: dict[str, str]
    fixed: dict[str, str | None]


def _fix_tree(source: Path, names: Sequence[str], flags: Sequence[str], work: Path) -> _Fixed:
    inputs, tree = work / "inputs", work / "fixed"
    shutil.copytree(source, inputs, ignore=shutil.ignore_patterns("expected.ipynb", "report.txt"))
    for path in inputs.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    if source == GOLDEN:  # the pin search stops at each case, as in test_golden
        for name in names:
            (inputs / name).parent.joinpath(".git").mkdir()
    shutil.copytree(inputs, tree)
    first = _fix(tree, *flags)
    fixed = {name: _env_text((tree / name).read_bytes()) for name in names}
    return _Fixed(inputs, tree, first, fixed)


def _format_tree(
    fixed: _Fixed, names: Sequence[str], flags: Sequence[str], tool: str, work: Path
) -> Pipeline:
    root = work / tool
    shutil.copytree(fixed.tree, root)
    failed = _format(tool, root, names)
    formatted = {name: _env_text((root / name).read_bytes()) for name in names}
    second = _fix(root, "--check", *flags)
    failed_before = _format(tool, fixed.inputs, sorted(failed)) if failed else {}
    return Pipeline(fixed.first, second, fixed.fixed, formatted, failed, frozenset(failed_before))


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory):
    """`pipelines(what, flags, tool)`: each runs once, when a test first needs it; the first
    fix of a tree with the same flags is shared by both formatters."""
    trees: dict[tuple[str, str], tuple[_Fixed, Path]] = {}
    done: dict[tuple[str, str, str], Pipeline] = {}
    sources = {
        "golden": (GOLDEN, GOLDEN_NAMES, GOLDEN_FLAGS),
        "corpus": (CORPUS, CORPUS_NAMES, CORPUS_FLAGS),
    }

    def get(what: str, flags: str, tool: str) -> Pipeline:
        source, names, options = sources[what]
        if (what, flags) not in trees:
            work = tmp_path_factory.mktemp(f"{what}-{flags}")
            trees[what, flags] = _fix_tree(source, names, options[flags], work), work
        if (what, flags, tool) not in done:
            fixed, work = trees[what, flags]
            done[what, flags, tool] = _format_tree(fixed, names, options[flags], tool, work)
        return done[what, flags, tool]

    return get


def _user_lines(text: str) -> set[str]:
    """The environment cell's lines that are the user's: moved comments, the user's own code.

    Install lines are nbsetup's (it renders every one of them); so are the header and blocks.
    """
    return {
        line.strip()
        for line in envcell.document(text)
        if line.strip() and not line.lstrip().startswith(("!", "%"))
    }


def generated_lines_changed(before: str, after: str) -> list[str]:
    """The lines of `before`/`after` that differ and are not the user's (`-`/`+` diff lines).

    A blank line a formatter adds or removes counts as the user's when it follows a user's
    line (black puts one after `import os` in the user's own code).
    """
    old, new = before.splitlines(), after.splitlines()
    mine = {"-": _user_lines(before), "+": _user_lines(after)}
    changed = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for sign, lines, start in (("-", old, i1), ("+", new, j1)):
            span = lines[start : i2 if sign == "-" else j2]
            for offset, line in enumerate(span):
                if line.strip():
                    theirs = line.strip() in mine[sign]
                else:
                    index = start + offset
                    theirs = index > 0 and lines[index - 1].strip() in mine[sign]
                if not theirs:
                    changed.append(f"{sign}{line}")
    return changed


def _check(pipeline: Pipeline, name: str, tool: str) -> None:
    if name in pipeline.failed:
        assert name in pipeline.failed_before, (
            f"{tool} cannot format {name} once nbsetup fixed it, but could before: "
            f"{pipeline.failed[name]}"
        )
        pytest.skip(f"{tool} cannot format {name} (nor its input): {pipeline.failed[name]}")
    first, second = pipeline.first[name], pipeline.second[name]
    assert second != "changed", f"nbsetup fix would change {name} again after {tool}"
    assert second == ("unchanged" if first == "changed" else first)
    before, after = pipeline.fixed[name], pipeline.formatted[name]
    assert (before is None) == (after is None)
    if before is not None and after is not None:
        assert generated_lines_changed(before, after) == [], (
            f"{tool} reformatted what nbsetup wrote in {name}"
        )


LONG = "a-really-long-distribution-name-for-the-tests"
GENERATED = {
    "guard": (("import numpy", "!pip install numpy pandas"), "numpy==1.26.4\n", GUARD),
    "guard-long-pin": (
        (f"!pip install {LONG}",),
        f"{LONG}>=1.0.0,<2.0.0,!=1.5.0,!=1.6.0\n",
        GUARD,
    ),
    "auto": (("# the installs\n!pip install -q numpy pandas",), "", AUTO),
    # black leaves a cell with a continued `!` line alone; ruff formats it.
    "auto-continued": (("!pip install -qU \\\n  numpy \\\n  pandas",), "", AUTO),
    "guard-auto": (
        ("!pip install numpy\n%pip install -q pandas", "import numpy"),
        "",
        GUARD + AUTO,
    ),
}


def _generated_cell(sources: Sequence[str], pins: str, flags: Sequence[str]) -> str:
    installer = "auto" if AUTO[1] in flags else "pip"
    config = transform.Config(choices=Choices(guard=GUARD[0] in flags, installer=installer))
    pinned = parse_requirements(pins, "requirements.txt", {}.__getitem__)
    result = transform.hoist(_nb(*sources), pinned, config)
    text = cell_text(result.notebook["cells"][0])
    assert ("nbsetup: begin guard" in text) == (GUARD[0] in flags)
    assert ("nbsetup: begin installer" in text) == (AUTO[1] in flags)
    return text


@pytest.mark.parametrize("case", GENERATED)
def test_black_leaves_generated_code_alone(case):
    text = _generated_cell(*GENERATED[case])
    with pytest.raises(black.NothingChanged):
        black.format_cell(text, fast=True, mode=black.Mode(is_ipynb=True))


def test_ruff_leaves_generated_code_alone():
    texts = [_generated_cell(*args) for args in GENERATED.values()]
    notebook = json.dumps(_nb(*texts))
    process = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--stdin-filename", "x.ipynb"],
        input=notebook,
        capture_output=True,
        text=True,
        check=True,
    )
    formatted = [cell_text(cell) for cell in json.loads(process.stdout)["cells"]]
    assert dict(zip(GENERATED, formatted, strict=True)) == dict(zip(GENERATED, texts, strict=True))
    # Nor does `ruff check --fix` find anything to fix (its default rules, and isort's order).
    lint_options = ["--isolated", "--extend-select", "I", "--stdin-filename", "x.ipynb"]
    for text in texts:  # one notebook each: a notebook's cells share their names
        lint = subprocess.run(
            [sys.executable, "-m", "ruff", "check", *lint_options],
            input=json.dumps(_nb(text)),
            capture_output=True,
            text=True,
            check=False,
        )
        assert lint.returncode == 0, lint.stdout


@pytest.mark.slow  # about 20 s: eight pipelines over the golden inputs
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("flags", GOLDEN_FLAGS)
@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_inputs_settle_under_formatters(pipelines, name: str, flags: str, tool: str):
    _check(pipelines("golden", flags, tool), name, tool)


@pytest.mark.slow  # about 90 s: black formats the corpus twice (25-50 s each), ruff twice (8 s)
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("flags", CORPUS_FLAGS)
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus_notebooks_settle_under_formatters(pipelines, name: str, flags: str, tool: str):
    if not CORPUS_NOTEBOOKS:
        pytest.skip("the shared corpus (../shared/corpus) is not present")
    _check(pipelines("corpus", flags, tool), name, tool)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(
            "# nbsetup: x\n#@title Setup\n%pip install a",
            "# nbsetup: x\n# @title Setup\n%pip install a",
            [],
            id="a-moved-comment-is-the-users",
        ),
        pytest.param(
            "%pip install a\nimport os\nos.getcwd()",
            "%pip install a\nimport os\n\nos.getcwd()",
            [],
            id="a-blank-line-after-the-users-code",
        ),
        pytest.param(
            "# nbsetup: begin guard-before: x\nx = 1\ndef f():\n    pass\n"
            "# nbsetup: end guard-before",
            "# nbsetup: begin guard-before: x\nx = 1\n\n\ndef f():\n    pass\n"
            "# nbsetup: end guard-before",
            ["+", "+"],
            id="blank-lines-in-a-generated-block",
        ),
        pytest.param(
            "%pip install a  # b",
            "%pip install a # b",
            ["-%pip install a  # b", "+%pip install a # b"],
            id="an-install-line",
        ),
    ],
)
def test_generated_lines_changed(before, after, expected):
    assert generated_lines_changed(before, after) == expected
