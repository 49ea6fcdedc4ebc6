"""Bad input through the command line: one clear error line, exit 2, the file untouched.

Every case runs `nbsetup fix PATH` in-process (click's CliRunner, one file: no worker process)
and checks the contract for bad input: no traceback, exactly one `PATH: error: REASON` line on
stderr (not an internal error), nothing on stdout, exit code 2, and the file byte-identical
with its mtime unchanged.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st

from nbsetup import notebook_io
from nbsetup.cli import main
from tests.strategies import GeneratedNotebook, notebooks

#: An mtime far in the past, set before each run: a write would change it.
STAMP = 1_000_000_000_000_000_000


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Module scope: hypothesis runs many examples per test, each rewrites the same file.
    return tmp_path_factory.mktemp("fuzz")


def run_fix(path: Path, *options: str):
    os.utime(path, ns=(STAMP, STAMP))
    return CliRunner().invoke(main, ["fix", *options, str(path)])


def assert_refused(path: Path, data: bytes, reason: str = "", *options: str) -> str:
    """Run `nbsetup fix` on `data`; check the bad-input contract; return the reason given."""
    path.write_bytes(data)
    result = run_fix(path, *options)
    assert isinstance(result.exception, SystemExit), result.exception  # nothing escaped
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.stderr
    match = re.fullmatch(re.escape(str(path)) + r": error: (\S.*)", errors[0])
    assert match is not None, errors[0]
    given_reason = match.group(1)
    assert not given_reason.startswith("internal error"), given_reason
    assert re.match(reason, given_reason), given_reason
    assert path.read_bytes() == data
    assert path.stat().st_mtime_ns == STAMP
    return given_reason


def assert_processed(path: Path, data: bytes) -> None:
    """Run `nbsetup fix` on `data` that is odd but a notebook: success, valid JSON back."""
    path.write_bytes(data)
    result = run_fix(path)
    assert result.exception is None, result.exception
    assert result.exit_code == 0, result.stderr
    assert ": error: " not in result.stderr
    json.loads(path.read_bytes())


# -- bytes that are not a notebook ---------------------------------------------------------


@given(generated=notebooks(max_cells=4), data=st.data())
def test_truncated_notebook(workdir, generated: GeneratedNotebook, data: st.DataObject):
    whole = generated.data
    # Cut anywhere before the last "}": the top-level object never closes.
    cut = data.draw(st.integers(1, whole.rindex(b"}")))
    assert_refused(workdir / "truncated.ipynb", whole[:cut], r"not valid JSON|not UTF-8 text")


@given(data=st.binary(max_size=2_000))
def test_random_bytes(workdir, data: bytes):
    assert_refused(workdir / "bytes.ipynb", data)


@given(text=st.text(max_size=300))
def test_random_text(workdir, text: str):
    assert_refused(workdir / "text.ipynb", text.encode("utf-8"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)


@given(value=json_values)
def test_json_that_is_not_a_notebook(workdir, value: Any):
    assume(not (isinstance(value, dict) and "nbformat" in value))
    assert_refused(workdir / "json.ipynb", json.dumps(value).encode())


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "empty file", id="empty"),
        pytest.param(b"\n \t\n", "empty file", id="blank"),
        pytest.param('{"nbformat": 4}'.encode("utf-16"), "binary file", id="utf-16"),
        pytest.param('{"x": "caf\xe9"}'.encode("latin-1"), "not UTF-8 text", id="latin-1"),
        pytest.param(b'{"nbformat": 3, "worksheets": []}', "nbformat 3 notebook", id="v3"),
        pytest.param(b'{"nbformat": 5, "cells": []}', "nbformat 5 is newer", id="v5"),
        pytest.param(b'{"nbformat": "4", "cells": []}', r"JSON is not a notebook", id="v-str"),
        pytest.param(b'{"nbformat": true, "cells": []}', r"JSON is not a notebook", id="v-bool"),
        pytest.param(b'{"nbformat": 4, "cells": []} {}', "not valid JSON", id="two-values"),
        pytest.param(b'{"nbformat": 4, "cells": [], }', "not valid JSON", id="trailing-comma"),
        pytest.param(b'{"nbformat": 4, "cells": [NaN]}', "cell 1 is not an object", id="nan"),
    ],
)
def test_bad_bytes(tmp_path, data, reason):
    assert_refused(tmp_path / "bad.ipynb", data, reason)


@pytest.mark.parametrize("options", [(), ("--check",), ("--diff",)], ids=["fix", "check", "diff"])
def test_bad_input_in_every_mode(tmp_path, options):
    assert_refused(tmp_path / "bad.ipynb", b'{"cells": [', "not valid JSON", *options)


# -- a notebook with a value of the wrong type -------------------------------------------------

# JSON types of the notebook schema's members (nbformat 4), by path; `*` is any index or name.
SCHEMA_TYPES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("cells",): ("array",),
    ("metadata",): ("object",),
    ("nbformat",): ("integer",),
    ("nbformat_minor",): ("integer",),
    ("metadata", "kernelspec"): ("object",),
    ("metadata", "kernelspec", "language"): ("string",),
    ("metadata", "language_info"): ("object",),
    ("metadata", "language_info", "name"): ("string",),
    ("cells", "*"): ("object",),
    ("cells", "*", "cell_type"): ("string",),
    ("cells", "*", "id"): ("string",),
    ("cells", "*", "metadata"): ("object",),
    ("cells", "*", "source"): ("string", "array"),
    ("cells", "*", "source", "*"): ("string",),
    ("cells", "*", "attachments"): ("object",),
    ("cells", "*", "attachments", "*"): ("object",),
    ("cells", "*", "outputs"): ("array",),
    ("cells", "*", "execution_count"): ("integer", "null"),
    ("cells", "*", "outputs", "*"): ("object",),
    ("cells", "*", "outputs", "*", "output_type"): ("string",),
    ("cells", "*", "outputs", "*", "name"): ("string",),
    ("cells", "*", "outputs", "*", "text"): ("string", "array"),
    ("cells", "*", "outputs", "*", "text", "*"): ("string",),
    ("cells", "*", "outputs", "*", "data"): ("object",),
    ("cells", "*", "outputs", "*", "metadata"): ("object",),
    ("cells", "*", "outputs", "*", "execution_count"): ("integer", "null"),
    ("cells", "*", "outputs", "*", "ename"): ("string",),
    ("cells", "*", "outputs", "*", "evalue"): ("string",),
    ("cells", "*", "outputs", "*", "traceback"): ("array",),
    ("cells", "*", "outputs", "*", "traceback", "*"): ("string",),
}
#: Members nbsetup cannot do without; other members the schema requires may be missing (Jupyter
#: opens such notebooks; nbsetup keeps them as they are).
NEEDED = (
    ("cells",),
    ("nbformat",),
    ("cells", "*", "cell_type"),
    ("cells", "*", "source"),
    ("cells", "*", "outputs", "*", "output_type"),
)
SAMPLES = {
    "null": None,
    "boolean": True,
    "integer": 3,
    "number": 2.5,
    "string": "text",
    "array": ["x"],
    "object": {"k": 1},
}


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _schema_key(path: tuple) -> tuple[str, ...] | None:
    """The SCHEMA_TYPES key of a concrete path (list indexes and attachment names are `*`)."""
    pattern = tuple("*" if isinstance(part, int) else part for part in path)
    if pattern[2:3] == ("attachments",) and len(pattern) == 4:
        pattern = (*pattern[:3], "*")
    return pattern if pattern in SCHEMA_TYPES else None


def _set(notebook: dict[str, Any], path: tuple, value: Any, delete: bool = False) -> None:
    target = notebook
    for part in path[:-1]:
        target = target[part]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value


@given(generated=notebooks(max_cells=4), data=st.data())
def test_wrong_type_anywhere(workdir, generated: GeneratedNotebook, data: st.DataObject):
    notebook = json.loads(generated.data)
    paths = [path for path in _paths(notebook) if _schema_key(path)]
    path = data.draw(st.sampled_from(paths))
    allowed = SCHEMA_TYPES[_schema_key(path)]
    kind = data.draw(st.sampled_from([kind for kind in SAMPLES if kind not in allowed]))
    broken = copy.deepcopy(notebook)
    _set(broken, path, SAMPLES[kind])
    reason = assert_refused(workdir / "typed.ipynb", generated.style.dumps(broken))
    assert "not" in reason or "no " in reason or "has no" in reason, reason


@given(generated=notebooks(max_cells=4), data=st.data())
def test_missing_member(workdir, generated: GeneratedNotebook, data: st.DataObject):
    notebook = json.loads(generated.data)
    paths = [path for path in _paths(notebook) if _schema_key(path) and isinstance(path[-1], str)]
    assume(paths)
    path = data.draw(st.sampled_from(paths))
    broken = copy.deepcopy(notebook)
    _set(broken, path, None, delete=True)
    if _schema_key(path) in NEEDED:
        assert_refused(workdir / "missing.ipynb", generated.style.dumps(broken))
    else:
        assert_processed(workdir / "missing.ipynb", generated.style.dumps(broken))


# -- deeply nested JSON ------------------------------------------------------------------------


def _notebook_with(metadata_value: str) -> bytes:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"deep": "DEEP"},
        "outputs": [],
        "source": "import os\n!pip install rich\n",
    }
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    return json.dumps(notebook, indent=1).replace('"DEEP"', metadata_value).encode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="lists"),
        pytest.param(b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, id="objects"),
        pytest.param(_notebook_with("[" * 100_000 + "]" * 100_000), id="in-cell-metadata"),
        pytest.param(b"[" * 100_000, id="unclosed"),
    ],
)
def test_deeply_nested_json(tmp_path, data):
    assert_refused(tmp_path / "deep.ipynb", data, r"not valid JSON")


@given(depth=st.integers(800, 1_200))
def test_nesting_near_the_recursion_limit(workdir, depth: int):
    """Around Python's recursion limit: processed, or refused cleanly; never a crash."""
    path = workdir / "near.ipynb"
    data = _notebook_with("[" * depth + "]" * depth)
    path.write_bytes(data)
    result = run_fix(path)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "internal error" not in result.stderr
    if result.exit_code == 2:
        assert_refused(path, data, r"not valid JSON \(nested too deeply\)")
    else:
        assert result.exit_code == 0, result.stderr
        assert (
            json.loads(path.read_bytes())["cells"][1]["metadata"]
            == json.loads(data)["cells"][0]["metadata"]
        )


# -- size ------------------------------------------------------------------------------------


def test_huge_notebook_is_refused_from_its_size(tmp_path):
    path = tmp_path / "huge.ipynb"
    head = _notebook_with('"x"')
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MiB on paper, no disk used
    os.utime(path, ns=(STAMP, STAMP))
    tracemalloc.start()
    try:
        result = CliRunner().invoke(main, ["fix", str(path)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{path}: error: file too large (200.0 MiB; nbsetup reads notebooks up to 100 MiB)"
    )
    assert peak < 20 * 1024 * 1024, f"{peak} bytes allocated to refuse the file"
    assert path.stat().st_size == 200 * 1024 * 1024
    assert path.stat().st_mtime_ns == STAMP
    with path.open("rb") as handle:
        assert handle.read(len(head)) == head


def test_size_limit_is_inclusive(tmp_path, monkeypatch):
    data = _notebook_with('"x"')
    fixed = tmp_path / "fixed.ipynb"
    assert_processed(fixed, data)
    size = len(fixed.read_bytes())  # the rewrite adds an environment cell: bigger than `data`
    monkeypatch.setattr(notebook_io, "MAX_BYTES", size)
    assert_processed(tmp_path / "at-limit.ipynb", data)
    # A rewrite that would pass the limit is not written: nbsetup could not read it back.
    monkeypatch.setattr(notebook_io, "MAX_BYTES", size - 1)
    assert_refused(tmp_path / "grows-over.ipynb", data, r"the fixed notebook would be 0\.0 MiB")
    monkeypatch.setattr(notebook_io, "MAX_BYTES", len(data) - 1)
    assert_refused(tmp_path / "over-limit.ipynb", data, r"file too large \(0\.0 MiB")


# -- duplicate keys ----------------------------------------------------------------------------


def _cell(source: str, metadata: str = "{}") -> str:
    return (
        f'{{"cell_type": "code", "execution_count": null, "metadata": {metadata}, '
        f'"outputs": [], "source": {source}}}'
    )


INSTALL = _cell('"import os\\n!pip install rich\\n"')
TAIL = '"nbformat": 4, "nbformat_minor": 4'
SOURCE_TWICE = INSTALL.replace('"source":', '"source": "x", "source":')
PLAIN = _cell('"y = 2"')
METADATA_TWICE = _cell('"x = 1"', '{"a": 1, "a": 2}')


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            f'{{"cells": [], "metadata": {{}}, {TAIL}, "cells": [{INSTALL}]}}',
            "duplicate key 'cells' at the top level",
            id="cells-twice",
        ),
        pytest.param(
            f'{{"nbformat": 3, "cells": [{INSTALL}], "metadata": {{}}, {TAIL}}}',
            "duplicate key 'nbformat' at the top level",
            id="nbformat-twice",
        ),
        pytest.param(
            f'{{"cells": [{PLAIN}], "metadata": {{"a": 1}}, "metadata": {{}}, {TAIL}}}',
            "duplicate key 'metadata' at the top level",
            id="metadata-twice-nothing-to-change",
        ),
        pytest.param(
            f'{{"cells": [{SOURCE_TWICE}], "metadata": {{}}, {TAIL}}}',
            "a cell nbsetup must change has duplicate JSON keys",
            id="source-twice-in-a-changed-cell",
        ),
    ],
)
def test_duplicate_keys(tmp_path, text, reason):
    assert_refused(tmp_path / "duplicate.ipynb", text.encode(), reason)


def test_duplicate_keys_in_a_cell_nbsetup_leaves_alone(tmp_path):
    # Jupyter reads the last value, as nbsetup does; nothing is written, so nothing is guessed.
    text = f'{{"cells": [{METADATA_TWICE}, {PLAIN}], "metadata": {{}}, {TAIL}}}'
    path = tmp_path / "duplicate.ipynb"
    path.write_bytes(text.encode())
    result = run_fix(path)
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes() == text.encode()
    assert path.stat().st_mtime_ns == STAMP
