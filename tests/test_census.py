"""Census of the shared corpus: each line that looks like an install is recognised or explained."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from nbsetup.installs import find_installs
from nbsetup.magics import PYTHON_CELL_MAGICS, SHELL_CELL_MAGICS, scan_cell

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

_INSTALL = re.compile(r"\binstall\b")
_TOOL = re.compile(r"pip|conda|mamba|\buv\b|apt")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")

# Reviewed rules: each says why a flagged line is not an install the recogniser should report.
_NOT_A_PACKAGE_INSTALL = re.compile(
    r"condacolab\.install\(|uv python install|uv tool install|setup\.py install|npm install"
)


def _allowed(line: str, index: int, string_lines: frozenset[int], magic: str | None) -> str | None:
    """The reviewed reason a flagged, unrecognised line is fine, or None."""
    stripped = line.strip()
    if magic is not None and magic not in PYTHON_CELL_MAGICS | SHELL_CELL_MAGICS | {"script"}:
        return "body of a cell magic that is not code (%%writefile, %%html, ...)"
    if stripped.startswith("#"):
        return "comment line"
    if index in string_lines:
        return "inside a multi-line Python string"
    if _NOT_A_PACKAGE_INSTALL.search(line):
        return "not a package install (condacolab, uv python, setup.py, npm)"
    if not stripped.startswith(("!", "%")) and not _INSTALL.search(_QUOTED.sub("", line)):
        return "only mentioned inside a quoted string"
    code = line.split(" #")[0]
    if not (_INSTALL.search(code) and _TOOL.search(code)):
        return "only mentioned in a trailing comment"
    return _REVIEWED.get(stripped)


#: Single lines reviewed by hand: shell text that is not a recognisable install.
_REVIEWED: dict[str, str] = {}


def _notebooks() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return sorted(CORPUS.rglob("*.ipynb"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def test_every_install_line_is_recognised_or_explained(capsys):
    flagged = recognised = 0
    allowed: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    missed: list[str] = []
    for path in _notebooks():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook.get("cells", [])
        sources = [_source(c) if c.get("cell_type") == "code" else None for c in cells]
        sites = find_installs(sources)
        covered = {(s.cell, line) for s in sites for line in range(s.start, s.end)}
        for site in sites:
            forms[site.form] += 1
            for command in site.commands:
                verdicts["moves" if command.movable else f"stays: {command.reason}"] += 1
        for cell, source in enumerate(sources):
            if source is None:
                continue
            scan = scan_cell(source)
            magic = scan.cell_magic[0] if scan.cell_magic else None
            for index, line in enumerate(source.splitlines()):
                if not (_INSTALL.search(line) and _TOOL.search(line)):
                    continue
                if index == scan.magic_line:
                    continue
                flagged += 1
                if (cell, index) in covered:
                    recognised += 1
                elif reason := _allowed(line, index, scan.string_lines, magic):
                    allowed[reason] += 1
                else:
                    missed.append(f"{path.relative_to(CORPUS)}: cell {cell}, line {index}: {line}")
    with capsys.disabled():
        print(f"\ncensus: {flagged} lines flagged, {recognised} recognised, "
              f"{sum(allowed.values())} allowed, {len(missed)} missed")  # fmt: skip
        for title, counter in (("allowed", allowed), ("forms", forms), ("verdicts", verdicts)):
            print(f"  {title}:")
            for key, count in counter.most_common():
                print(f"    {count:5d}  {key}")
    assert missed == []
