"""Laws of hoisting, checked on generated notebooks (see tests/strategies.py).

Each law runs through the byte-level pipeline nbsetup uses on files (notebook_io.loads →
transform.hoist → notebook_io.dumps), and the pure transform on notebook data. Run with
`--hypothesis-profile=thorough` for 10,000 examples per test (tests/README.md).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import shlex
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement

from nbsetup import (
    batch,
    comments,
    envcell,
    notebook_io,
    optouts,
    pipeline,
    safety,
    transform,
    verdicts,
)
from nbsetup.cli import main
from nbsetup.config import ProjectConfig
from nbsetup.errors import UnsafeChange
from nbsetup.installs import find_installs
from nbsetup.notebook_io import cell_text
from nbsetup.report import CHANGED, UNCHANGED
from nbsetup.sources.requirements_txt import Pins, parse_requirements
from tests.conftest import validation_error
from tests.strategies import (
    MARKER,
    GeneratedNotebook,
    Key,
    notebooks,
    package_key,
    shell_word,
)

CONFIG = transform.Config()
# What a removed cell may have held besides installs: the contract's "only comments, blank
# lines or a bare cell magic".
INERT = re.compile(r"\s*(#.*)?|%%(capture|bash)\b.*")
INSTALL_PREFIXES = ("%pip install", "%conda install", "!apt-get")
# Shell operators: a token made only of these is a redirect, pipe, chain or subshell.
OPERATOR_CHARACTERS = set("();<>|&")


def _no_include(path: str) -> str:
    raise OSError("the generated requirements include nothing")


def _pins(generated: GeneratedNotebook) -> Pins:
    return parse_requirements(generated.requirements, "requirements.txt", _no_include)


def _pipeline(data: bytes, pins: Pins) -> tuple[notebook_io.Document, transform.Result, bytes]:
    document = notebook_io.loads(data)
    result = transform.hoist(document.notebook, pins, CONFIG)
    return document, result, notebook_io.dumps(document, result.notebook, result.origins)


def _lines(text: str) -> list[str]:
    """A cell's lines; trailing blank lines do not count (a cell's end may lose them)."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _env_indexes(notebook: dict[str, Any]) -> list[int]:
    return [i for i, cell in enumerate(notebook["cells"]) if envcell.find([cell]) == 0]


def _installed(text: str) -> set[Key]:
    """What a cell's install commands install, keyed like the generator's expectations."""
    keys = set()
    for site in find_installs([text]):
        for command in site.commands:
            if command.action != "install":
                continue
            texts = [*command.requirements, *(f"-r {p}" for p in command.requirement_files)]
            keys |= {package_key(command.manager, text) for text in texts}
    return keys


def check_cells(
    generated: GeneratedNotebook, old: dict[str, Any], new: dict[str, Any], origins: tuple
) -> None:
    """Nothing lost, nothing movable left, one environment cell before all other code."""
    old_cells = old["cells"]
    new_cells = new["cells"]
    envs = _env_indexes(new)
    assert len(envs) == (1 if any(generated.moved) else 0), f"environment cells at {envs}"
    where = {origin: index for index, origin in enumerate(origins) if origin is not None}
    others = [origin for index, origin in enumerate(origins) if index not in envs]
    assert None not in others, "only the environment cell is new"
    assert others == sorted(others), "cells keep their order"
    lost = comments.notebook_comments(old) - comments.notebook_comments(new)
    assert not lost, f"comments lost: {sorted(lost)}"
    if envs:
        runs = [
            i
            for i, cell in enumerate(new_cells[: envs[0]])
            if cell["cell_type"] == "code" and verdicts.runs_code(cell_text(cell))
        ]
        assert not runs, "no code runs before the environment cell"
        env_text = cell_text(new_cells[envs[0]])
        missing = set().union(*generated.moved) - _installed(env_text)
        assert not missing, f"not installed by the environment cell: {sorted(missing)}"
        env_lines = iter(env_text.splitlines())
        for line in generated.env_kept:
            assert line in env_lines, f"environment cell lost its line {line!r}"
    for index, old_cell in enumerate(old_cells):
        kept = generated.kept[index]
        if old_cell["cell_type"] != "code":
            assert new_cells[where[index]] == old_cell, f"cell {index + 1} changed"
            continue
        if kept is None:
            continue  # the environment cell, checked above
        if index not in where or where[index] in envs:
            assert generated.moved[index], f"cell {index + 1} removed without installs"
            assert all(INERT.fullmatch(line) for line in kept), f"cell {index + 1} removed"
            if index in where:  # the environment cell took its place, id and outputs
                env = new_cells[where[index]]
                assert {k: v for k, v in env.items() if k not in ("source", "metadata")} == {
                    k: v for k, v in old_cell.items() if k not in ("source", "metadata")
                }
            continue
        cell = new_cells[where[index]]
        assert {k: v for k, v in cell.items() if k != "source"} == {
            k: v for k, v in old_cell.items() if k != "source"
        }, f"cell {index + 1}: outputs, metadata, id or execution count changed"
        assert list(cell) == list(old_cell), f"cell {index + 1}: key order changed"
        assert isinstance(cell["source"], str) == isinstance(old_cell["source"], str)
        # Comment lines may leave with the install below them (all comments: checked above).
        assert _code_lines(cell_text(cell)) == _code_lines("\n".join(kept)), f"cell {index + 1}"
        assert not (generated.moved[index] and all(INERT.fullmatch(line) for line in kept)), (
            f"cell {index + 1} holds nothing but comments, blank lines or a cell magic"
        )


def _code_lines(text: str) -> list[str]:
    return [line for line in _lines(text) if not line.lstrip().startswith("#")]


def check_shell_safe(line: str) -> None:
    """A generated install line means, to IPython and then the shell, what nbsetup intends."""
    prefix = next(p for p in INSTALL_PREFIXES if line.startswith(p))
    tail = line[len(prefix) :]
    # IPython expands `{expr}` and `$name` first: only doubled braces, no variable, may remain.
    assert not re.search(r"[{}]", tail.replace("{{", "").replace("}}", "")), line
    assert not re.search(r"\$[\w{(]", tail), line
    unescaped = tail.replace("{{", "{").replace("}}", "}")
    lexer = shlex.shlex(unescaped, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    assert not any(set(token) <= OPERATOR_CHARACTERS for token in tokens), (line, tokens)
    assert shlex.split(shlex.join(tokens)) == tokens == shlex.split(unescaped)
    if prefix != "%pip install":
        return
    # Two tokenisers, shlex here and nbsetup's own in the recogniser, agree on every word.
    (command,) = [c for site in find_installs([line]) for c in site.commands]
    words = [word for option in command.options for word in option if word is not None]
    words += [word for path in command.requirement_files for word in ("-r", path)]
    words += [word for path in command.constraint_files for word in ("-c", path)]
    assert sorted(tokens) == sorted([*words, *command.requirements]), (line, tokens)
    assert [token for token in tokens if token in command.requirements] == list(
        command.requirements
    )
    for requirement in command.requirements:
        if "://" not in requirement:
            Requirement(requirement)


def check_pins(env_text: str, pins: Pins) -> None:
    """Every pinned package in the environment cell has exactly the pin's specifier."""
    for site in find_installs([env_text]):
        for command in site.commands:
            if command.manager not in ("pip", "uv"):
                continue
            for text in command.requirements:
                try:
                    requirement = Requirement(text)
                except InvalidRequirement:
                    continue
                entry = pins.lookup(requirement.name)
                if requirement.url or entry is None or entry.requirement is None:
                    continue
                assert requirement.specifier == entry.requirement.specifier, (text, entry.text)


@given(generated=notebooks())
def test_hoisting_laws(generated: GeneratedNotebook) -> None:
    data = generated.data
    assert validation_error(data) is None, "the generator writes valid notebooks"
    pins = _pins(generated)
    if not generated.python:
        skipped = pipeline.fix_data(data, ProjectConfig(), pipeline.PinChoice(pins))
        assert (skipped.status, skipped.data) == ("skipped", data), "a non-Python notebook"
        return
    document, result, out = _pipeline(data, pins)
    # The bytes are the new data in the file's own JSON style, whatever changed.
    new = json.loads(out)
    assert new == result.notebook
    assert out == generated.style.dumps(result.notebook)
    if not generated.movable and not _env_indexes(generated.notebook):
        assert out == data, "nothing to move: the same bytes"
        assert result.notebook is document.notebook
    assert validation_error(out) is None
    check_cells(generated, json.loads(data), new, result.origins)
    for index in _env_indexes(new):
        env_text = cell_text(new["cells"][index])
        # Lines as the notebook wrote them may continue over several lines: read them whole.
        for line in env_text.replace("\\\n", " ").splitlines():
            if line.startswith(INSTALL_PREFIXES):
                check_shell_safe(line)
        check_pins(env_text, pins)
    safety.verify(json.loads(data), new, result.origins)
    # Idempotent: a second run changes nothing, byte for byte.
    again_document, again, again_out = _pipeline(out, pins)
    assert again_out == out
    assert again.notebook is again_document.notebook


@given(generated=notebooks())
def test_pure_transform_is_idempotent_and_leaves_its_input_alone(generated):
    notebook = copy.deepcopy(generated.notebook)
    first = transform.hoist(notebook, _pins(generated), CONFIG)
    assert notebook == generated.notebook, "the input is not modified"
    second = transform.hoist(first.notebook, _pins(generated), CONFIG)
    assert second.notebook is first.notebook
    assert second.origins == tuple(range(len(first.notebook["cells"])))
    # Unchanged cells are the input's own objects (what notebook_io copies byte for byte).
    for cell, origin in zip(first.notebook["cells"], first.origins, strict=True):
        if origin is not None and cell == notebook["cells"][origin]:
            assert cell is notebook["cells"][origin]


def _tag_every_code_cell(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook with the `nbsetup-skip` tag on every code cell (other tags kept)."""
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            metadata = cell.get("metadata", {})
            tags = [*metadata.get("tags", []), optouts.CELL_TAG]
            cell = {**cell, "metadata": {**metadata, "tags": tags}}
        cells.append(cell)
    return {**notebook, "cells": cells}


def _skip_every_install(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook with a `# nbsetup: skip` line above every install outside the environment
    cell, indented as the install is."""
    cells = list(notebook["cells"])
    by_cell: dict[int, list[int]] = {}
    for site in verdicts.notebook_sites(notebook).others:
        by_cell.setdefault(site.cell, []).append(site.start)
    for index, starts in by_cell.items():
        cell = cells[index]
        lines = cell_text(cell).splitlines(keepends=True)
        for start in sorted(set(starts), reverse=True):
            line = lines[start]
            indent = line[: len(line) - len(line.lstrip())]
            ending = line[len(line.rstrip("\r\n")) :] or "\n"
            lines.insert(start, f"{indent}# nbsetup: skip{ending}")
        cells[index] = {**cell, "source": envcell.as_source("".join(lines), cell["source"])}
    return {**notebook, "cells": cells}


@given(generated=notebooks())
def test_opting_out_every_cell_makes_fix_a_no_op(generated):
    """The `nbsetup-skip` tag on every code cell: nothing moves, nothing is written."""
    tagged = _tag_every_code_cell(generated.notebook)
    result = transform.hoist(tagged, _pins(generated), CONFIG)
    assert result.notebook is tagged
    assert not [change for change in result.changes if change.kind == "hoisted"]


@given(generated=notebooks())
def test_skip_above_every_install_moves_nothing(generated):
    """`# nbsetup: skip` above every install: no install leaves its cell, no cell changes but
    an environment cell the notebook had, and the directives are all still there."""
    skipped = _skip_every_install(generated.notebook)
    result = transform.hoist(skipped, _pins(generated), CONFIG)
    assert not [change for change in result.changes if change.kind == "hoisted"]
    env = envcell.find(skipped["cells"])
    kept = [cell for index, cell in enumerate(skipped["cells"]) if index != env]
    new_env = envcell.find(result.notebook["cells"])
    new = [cell for index, cell in enumerate(result.notebook["cells"]) if index != new_env]
    assert len(new) == len(kept)
    assert all(a is b for a, b in zip(new, kept, strict=True))
    assert (
        comments.notebook_comments(result.notebook)["# nbsetup: skip"]
        == (comments.notebook_comments(skipped)["# nbsetup: skip"])
    )


@given(generated=notebooks(max_cells=4))
def test_files_are_written_only_when_they_change(generated):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "notebook.ipynb"
        path.write_bytes(generated.data)
        requirements = Path(directory) / "requirements.txt"
        requirements.write_text(generated.requirements)
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
        settings = batch.Settings(requirements=requirements)
        first = batch.process(path, settings)
        assert first.error is None
        if not generated.movable and not _env_indexes(generated.notebook):
            assert first.status != CHANGED
        if first.status != CHANGED:
            assert path.read_bytes() == generated.data
            assert path.stat().st_mtime_ns == 1_000_000_000
        written = path.read_bytes()
        os.utime(path, ns=(2_000_000_000, 2_000_000_000))
        second = batch.process(path, settings)
        assert second.status in (UNCHANGED, "skipped")
        assert path.read_bytes() == written
        assert path.stat().st_mtime_ns == 2_000_000_000


# -- the safety net ----------------------------------------------------------------------------


def _corrupt(kind: str, new: dict[str, Any], data: st.DataObject) -> bool:
    """Break one invariant of a correct rewrite in place; False when `new` offers no chance."""
    cells = new["cells"]
    envs = _env_indexes(new)
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and i not in envs]
    if kind == "drop-line":
        candidates = [
            (i, n)
            for i in code
            for n, line in enumerate(cell_text(cells[i]).splitlines())
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not candidates:
            return False
        index, number = data.draw(st.sampled_from(candidates))
        lines = cell_text(cells[index]).splitlines(keepends=True)
        del lines[number]
        source = "".join(lines)
        cells[index]["source"] = source if isinstance(cells[index]["source"], str) else lines
    elif kind == "add-line":
        if not code:
            return False
        index = data.draw(st.sampled_from(code))
        cells[index]["source"] = envcell.as_source(
            "stray = 1\n" + cell_text(cells[index]), cells[index]["source"]
        )
    elif kind == "change-output":
        candidates = [i for i in code if cells[i]["outputs"]]
        if not candidates:
            return False
        tampered = {"name": "stdout", "output_type": "stream", "text": "tampered\n"}
        cells[data.draw(st.sampled_from(candidates))]["outputs"][0] = tampered
    elif kind == "change-metadata":
        new["metadata"] = {**new["metadata"], "edited": True}
    elif kind == "empty-env":
        if not envs:
            return False
        cells[envs[0]]["source"] = envcell.as_source(
            envcell.DEFAULT_HEADER, cells[envs[0]]["source"]
        )
    elif kind == "second-env":
        if not code:
            return False
        cells[code[-1]]["metadata"] = {**cells[code[-1]]["metadata"], **MARKER}
    return True


CORRUPTIONS = (
    "drop-line",
    "add-line",
    "drop-cell",
    "change-output",
    "change-metadata",
    "empty-env",
    "second-env",
)


@given(generated=notebooks(), kind=st.sampled_from(CORRUPTIONS), data=st.data())
def test_safety_net_catches_a_broken_rewrite(generated, kind, data):
    assume(generated.movable)
    old = json.loads(generated.data)
    _, result, out = _pipeline(generated.data, _pins(generated))
    new = json.loads(out)
    safety.verify(old, new, result.origins)
    before = copy.deepcopy(new)
    origins = list(result.origins)
    if kind == "drop-cell":
        candidates = [i for i, o in enumerate(origins) if i not in _env_indexes(new)]
        assume(candidates)
        index = data.draw(st.sampled_from(candidates))
        origin = origins.pop(index)
        removed = new["cells"].pop(index)
        # Dropping a cell that was an install-only code cell would be a legal rewrite.
        assume(
            removed["cell_type"] != "code"
            or generated.kept[origin] is None
            or any(line.strip() and not INERT.fullmatch(line) for line in generated.kept[origin])
        )
    else:
        assume(_corrupt(kind, new, data))
        assume(new != before)
    with pytest.raises(UnsafeChange, match="safety check failed: "):
        safety.verify(old, new, origins)


def _notebook(*cells: dict[str, Any], minor: int = 4) -> dict[str, Any]:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": minor}


def _verify_problem(old: dict[str, Any], new: dict[str, Any], origins) -> str:
    with pytest.raises(UnsafeChange) as caught:
        safety.verify(old, new, origins)
    message = str(caught.value)
    assert message.startswith("safety check failed: ")
    assert message.endswith(safety.BUG_NOTE)
    return message


def test_safety_net_names_what_was_lost():
    old = _notebook(_code("import os\n!pip install rich && echo done\nprint(1)"))
    result = transform.hoist(old)
    safety.verify(old, result.notebook, result.origins)
    env, cell = copy.deepcopy(result.notebook["cells"])
    assert cell_text(cell) == "import os\n!echo done\nprint(1)"
    lost = {**cell, "source": "import os\n!echo done"}
    message = _verify_problem(old, _notebook(env, lost), result.origins)
    assert "code cell 1: line 3 'print(1)' is missing (found the end of the cell)" in message
    no_rest = {**cell, "source": "import os\nprint(1)"}
    message = _verify_problem(old, _notebook(env, no_rest), result.origins)
    assert "what is left of '!pip install rich && echo done'" in message
    no_env = {**env, "source": "# nothing"}
    message = _verify_problem(old, _notebook(no_env, cell), result.origins)
    assert "the environment cell does not install 'rich' (pip)" in message


def test_safety_net_leaves_its_arguments_alone_and_tolerates_invalid_input():
    # nbformat 4.5 without cell ids: invalid, and nbformat.validate would add the ids.
    old = _notebook(_code("import os"), _code("!pip install rich"), minor=5)
    result = transform.hoist(old)
    before = copy.deepcopy((old, result.notebook))
    safety.verify(old, result.notebook, result.origins)
    assert (old, result.notebook) == before


def test_safety_net_refuses_an_invalid_rewrite_of_a_valid_notebook():
    old = _notebook(_code("import os"), _code("!pip install rich"))
    result = transform.hoist(old)
    env = {k: v for k, v in result.notebook["cells"][0].items() if k != "outputs"}
    new = _notebook(env, *result.notebook["cells"][1:])
    message = _verify_problem(old, new, result.origins)
    assert "the result is not a valid notebook (" in message


def test_fix_refuses_to_write_an_unsafe_rewrite(tmp_path, monkeypatch):
    path = tmp_path / "notebook.ipynb"
    data = json.dumps(_notebook(_code("import os\n!pip install rich\nprint(1)")), indent=1)
    path.write_text(data)
    hoist = transform.hoist

    def lossy(notebook, *args, **kwargs):
        result = hoist(notebook, *args, **kwargs)
        cells = [
            {**c, "source": cell_text(c).replace("print(1)", "")} for c in result.notebook["cells"]
        ]
        return dataclasses.replace(result, notebook={**result.notebook, "cells": cells})

    monkeypatch.setattr(transform, "hoist", lossy)
    result = CliRunner().invoke(main, ["fix", str(path)])
    assert path.read_text() == data
    assert result.exit_code == 2
    assert "safety check failed: code cell 1: line 3 'print(1)' is missing" in result.stderr


# -- known bugs --------------------------------------------------------------------------------


def _code(source: str, **extra: Any) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        **extra,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


@pytest.mark.parametrize("magic", ["%%time", "%%prun"])
def test_cell_left_with_a_bare_python_cell_magic_is_removed(magic):
    notebook = {
        "cells": [_code("import os"), _code(f"{magic}\n!pip install rich\n")],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    result = transform.hoist(notebook)
    assert [cell_text(cell) for cell in result.notebook["cells"]][1:] == ["import os"]


def test_new_environment_cell_id_is_unique():
    notebook = {
        "cells": [_code("import os", id=envcell.CELL_ID), _code("!pip install rich", id="b")],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    result = transform.hoist(notebook)
    ids = [cell["id"] for cell in result.notebook["cells"]]
    assert len(set(ids)) == len(ids), ids


@pytest.mark.parametrize(
    "word",
    ["numpy", "numpy<2", "numpy[extra]>=1.0; python_version >= '3.8'", "git+https://x/y.git"],
)
def test_shell_word_round_trips(word):
    assert shlex.split(shell_word(word)) == [word]


def test_continuation_before_crlf_is_a_continuation():
    notebook = {
        "cells": [_code("!pip install numpy \\\r\n    rich\r\nimport numpy\r\n")],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    env = transform.hoist(notebook).notebook["cells"][0]
    assert cell_text(env).splitlines()[-2:] == ["!pip install numpy \\", "    rich"]


# str.splitlines() (IPython's cell lines) also breaks lines at \f, \x1c-\x1e, \x85 and
# U+2028/U+2029, but libcst positions (subprocess/os.system sites) count only \n, \r\n and \r:
# `cell_lines.PythonLines` maps one onto the other.


@pytest.mark.parametrize("separator", ["\x0c", "\x85", "\u2028"], ids=["ff", "nel", "ls"])
def test_python_call_after_a_unicode_line_separator(separator):
    source = f's = "a{separator}b"\nimport os\nos.system("pip install rich")\nprint(s)'
    result = transform.hoist(_notebook(_code(source)))
    assert cell_text(result.notebook["cells"][1]) == f's = "a{separator}b"\nimport os\nprint(s)'


@pytest.mark.parametrize("end", ["\x0c", "\x85", "\u2028", "\xa0\n", " \t\n"])
def test_escape_ending_in_a_unicode_break_or_space_moves(end):
    # IPython runs `pip install rich` for `!pip install rich<U+2028>`: the safety net once
    # refused the rewrite, reading the install as one of 'rich\u2028'.
    old = _notebook(_code("import numpy"), _code(f"!pip install rich{end}x = 1\n"))
    result = transform.hoist(old)
    safety.verify(old, result.notebook, result.origins)
    assert cell_text(result.notebook["cells"][0]).splitlines()[-1] == "!pip install rich"
    assert cell_text(result.notebook["cells"][2]) == "x = 1\n"


@pytest.mark.parametrize("separator", ["\x0c", "\x85", "\u2028"], ids=["ff", "nel", "ls"])
def test_safety_net_catches_the_line_separator_bug(separator):
    old = _notebook(_code(f's = "a{separator}b"\nimport os\nos.system("pip install rich")'))
    result = transform.hoist(old)
    if cell_text(result.notebook["cells"][1]).endswith("import os"):
        safety.verify(old, result.notebook, result.origins)  # the bug is fixed
    else:
        message = _verify_problem(old, result.notebook, result.origins)
        assert "'import os' was taken for an install but names no package tool" in message
