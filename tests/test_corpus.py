"""The shared corpus of real notebooks, fixed by `nbsetup fix` on a copy, checked one by one.

`nbsetup fix` runs once over a copy of the whole corpus, in-process, then once more; each
notebook is then a test: not failed (unless its input is bad), valid where its input was,
one environment cell where installs were hoisted and no movable install left outside it,
every other line of every cell kept in order, markdown cells and outputs unchanged, and the
second run byte-identical. A failure names the notebook and the first difference.
"""

from __future__ import annotations

import difflib
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nbsetup import comments, envcell, notebook_io, runtime, safety, verdicts
from nbsetup.cli import main
from nbsetup.errors import NotebookError
from nbsetup.installs import find_installs
from nbsetup.notebook_io import cell_text
from tests.conftest import CORPUS, CORPUS_NOTEBOOKS, validation_error

# What a removed cell may have held besides installs (the contract's "only comments, blank
# lines or a bare cell magic").
_INERT = ("#", "%%capture", "%%bash", "%%sh", "%%script bash")

RELATIVE = [path.relative_to(CORPUS).as_posix() for path in CORPUS_NOTEBOOKS]


@dataclass(frozen=True)
class Run:
    """The corpus before and after `nbsetup fix`, with the JSON reports of two runs."""

    root: Path
    before: dict[str, bytes]
    after: dict[str, bytes]
    again: dict[str, bytes]
    first: dict[str, dict[str, Any]]
    second: dict[str, dict[str, Any]]


def _fix(root: Path) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(main, ["fix", "--jobs", "1", "--format", "json", str(root)])
    assert result.exit_code in (0, 2), result.output
    report = json.loads(result.stdout)
    return {Path(item["path"]).relative_to(root).as_posix(): item for item in report["files"]}


def _read(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in RELATIVE}


@pytest.fixture(scope="module")
def run(corpus_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    # A copy of the shared copy: other tests may want the corpus_copy files as they came.
    root = tmp_path_factory.mktemp("corpus-run") / "corpus"
    shutil.copytree(corpus_copy, root)
    for repository in root.iterdir():
        if repository.is_dir():
            # As in the real repositories, the requirements search stops at their root.
            (repository / ".git").mkdir()
    before = _read(root)
    first = _fix(root)
    after = _read(root)
    second = _fix(root)
    return Run(root, before, after, _read(root), first, second)


def _first_difference(expected: Sequence[str], actual: Sequence[str]) -> str:
    diff = difflib.unified_diff(list(expected), list(actual), "expected", "actual", n=1)
    return "\n".join(line.rstrip("\n") for line in list(diff)[:12])


def _env_cells(notebook: dict[str, Any]) -> list[int]:
    return [i for i, cell in enumerate(notebook["cells"]) if envcell.find([cell]) == 0]


def _code_sources(notebook: dict[str, Any]) -> list[str | None]:
    env = envcell.find(notebook["cells"])
    return [
        cell_text(cell) if cell["cell_type"] == "code" and index != env else None
        for index, cell in enumerate(notebook["cells"])
    ]


def _without_installs(source: str, cell: int, sites: Sequence[Any]) -> list[str]:
    """The cell's lines with its movable install lines removed (trailing blank lines too)."""
    lines = source.splitlines()
    for site in sorted((s for s in sites if s.cell == cell), key=lambda s: -s.start):
        del lines[site.start : site.end]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _reused(old: dict[str, Any], env: dict[str, Any]) -> int | None:
    """The old cell whose place the environment cell took (its id, outputs, metadata), if any."""
    own = {k: v for k, v in env.items() if k not in ("source", "metadata")}
    metadata = {k: v for k, v in env.get("metadata", {}).items() if k != envcell.MARKER}
    for index, cell in enumerate(old["cells"]):
        if cell["cell_type"] != "code" or ("id" in own and own.get("id") != cell.get("id")):
            continue
        if (
            {k: v for k, v in cell.items() if k not in ("source", "metadata")} == own
            and (cell.get("metadata", {}) == metadata)
            and "id" in own
        ):
            return index
    return None


def _in_order(expected: Sequence[str], actual: Sequence[str]) -> str | None:
    """None when `expected` is a subsequence of `actual`, else the first line missing."""
    remaining = iter(actual)
    for line in expected:
        if not any(candidate == line for candidate in remaining):
            return line
    return None


def _hoisted_here(site: Any, apt_installs: bool) -> bool:
    """Whether the transform must move a movable site (a lone `apt-get update` only with apt)."""
    updates_only = all(c.manager == "apt" and c.action == "update" for c in site.commands)
    return site.movable and (apt_installs or not updates_only)


@pytest.mark.parametrize("name", RELATIVE)
def test_corpus_notebook(run: Run, name: str) -> None:
    before, after, report = run.before[name], run.after[name], run.first[name]
    try:
        document = notebook_io.loads(before)
    except NotebookError:
        document = None
    if document is None:
        assert report["status"] == "failed", f"{name}: bad input was not refused"
        assert after == before
        return
    assert report["status"] != "failed", f"{name}: {report['error']}"
    assert run.again[name] == after, f"{name}: the second run changed the file"
    assert run.second[name]["status"] in ("unchanged", "skipped"), name
    if report["status"] == "skipped" or after == before:
        assert after == before, name
        return
    old, new = document.notebook, json.loads(after)
    if validation_error(before) is None:
        assert validation_error(after) is None, f"{name}: {validation_error(after)}"

    envs = _env_cells(new)
    hoisted = any(change["kind"] == "hoisted" for change in report["changes"])
    assert len(envs) == (1 if hoisted or _env_cells(old) else 0), f"{name}: env cells {envs}"
    if envs:
        runs = [
            i
            for i, cell in enumerate(new["cells"][: envs[0]])
            if cell["cell_type"] == "code" and verdicts.runs_code(cell_text(cell))
        ]
        assert not runs, f"{name}: code cell {runs[0] + 1} runs before the environment cell"
    # Nothing the author wrote is lost: every comment of the input is in the output.
    lost = comments.notebook_comments(old) - comments.notebook_comments(new)
    assert not lost, f"{name}: comments lost: {sorted(lost)[:3]}"
    old_sites = find_installs(_code_sources(old))
    apt = any(
        c.manager == "apt" and c.action == "install" and c.movable
        for site in old_sites
        for c in site.commands
    )
    moved = [site for site in old_sites if _hoisted_here(site, apt)]
    left = [
        f"cell {site.cell + 1}, line {site.start + 1}: {site.form}"
        for site in find_installs(_code_sources(new))
        if _hoisted_here(site, apt)
    ]
    assert not left, f"{name}: movable installs left outside the environment cell: {left}"

    # Walk the cells in order: each old cell is the next new one (the environment cell
    # aside), except a code cell left with nothing but comments, blank lines and a cell
    # magic once its installs move, which must be gone.
    old_env = envcell.find(old["cells"])
    others = iter(i for i in range(len(new["cells"])) if i not in envs)
    origins: list[int | None] = [old_env if i in envs else None for i in range(len(new["cells"]))]
    if envs and old_env is None:
        origins[envs[0]] = _reused(old, new["cells"][envs[0]])
    for index, cell in enumerate(old["cells"]):
        label = f"{name}: cell {index + 1}"
        if index == old_env:
            continue
        expected = (
            _without_installs(cell_text(cell), index, moved) if cell["cell_type"] == "code" else []
        )
        if index == origins[envs[0]] if envs else False:
            continue
        # Comment lines may leave with the install below them (checked above, by text).
        expected = [line for line in expected if not line.lstrip().startswith("#")]
        while expected and not expected[-1].strip():
            expected.pop()
        if (
            cell["cell_type"] == "code"
            and any(s.cell == index for s in moved)
            and all(not line.strip() or line.strip().startswith(_INERT) for line in expected)
        ):
            continue
        position = next(others, None)
        assert position is not None, f"{label} is missing"
        origins[position] = index
        new_cell = new["cells"][position]
        if cell["cell_type"] != "code":
            assert new_cell == cell, f"{label} ({cell['cell_type']}) changed"
            continue
        for key in cell:
            if key != "source":
                assert new_cell.get(key) == cell[key], f"{label}: {key!r} changed"
        actual = cell_text(new_cell).splitlines()
        missing = _in_order(expected, actual)
        assert missing is None, (
            f"{label}: line {missing!r} is missing\n{_first_difference(expected, actual)}"
        )
    extra = next(others, None)
    assert extra is None, f"{name}: cell {extra + 1} of the output comes from nowhere"
    # The safety net agrees, on real notebooks (no false alarm).
    safety.verify(old, new, origins)


def test_restarts_and_preloaded_pins_census(run: Run, capsys: pytest.CaptureFixture[str]):
    """Restart cells recognised and preloaded packages pinned over the corpus, printed.

    Every `restart` report entry names a cell `runtime.find_restarts` recognises in the input,
    and every `preloaded` entry a distribution of `runtime.PRELOADED`.
    """
    restart_cells = alone = reported = 0
    pinned: Counter[str] = Counter()
    for name in RELATIVE:
        try:
            notebook = notebook_io.loads(run.before[name]).notebook
        except NotebookError:
            continue
        restarts = runtime.find_restarts(_code_sources(notebook))
        restart_cells += len({r.cell for r in restarts})
        alone += len({r.cell for r in restarts if r.alone})
        at = {(r.cell + 1, r.start + 1) for r in restarts}
        for change in run.first[name].get("changes", []):
            if change["kind"] == "restart":
                reported += 1
                assert (change["cell"], change["line"]) in at, (name, change)
            elif change["kind"] == "preloaded":
                assert change["package"] in runtime.PRELOADED, (name, change)
                pinned[change["package"]] += 1
    with capsys.disabled():
        print(
            f"\nruntime census: {restart_cells} cells with a restart ({alone} restart-only), "
            f"{reported} restarts reported by fix; preloaded packages pinned: "
            + (", ".join(f"{name} {count}" for name, count in pinned.most_common()) or "none")
        )
    assert restart_cells >= reported
