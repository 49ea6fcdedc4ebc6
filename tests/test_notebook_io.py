from __future__ import annotations

import difflib
import json
import os
import re
import stat
from pathlib import Path

import pytest

from nbsetup import notebook_io
from nbsetup.errors import (
    CannotWrite,
    EmptyFile,
    InvalidJson,
    NotANotebook,
    NotText,
    TooLarge,
    Unreadable,
    UnsupportedFormat,
)
from tests.conftest import CORPUS_NOTEBOOKS


def _notebook(cells=None, **metadata):
    return {
        "cells": cells if cells is not None else [_code("import os\n", "print(os.sep)")],
        "metadata": metadata,
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _code(*lines, **extra):
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "a1",
        "metadata": {},
        "outputs": [],
        "source": list(lines),
    }
    cell.update(extra)
    return cell


def _with_source(notebook, index, source):
    cells = list(notebook["cells"])
    cells[index] = {**cells[index], "source": source}
    return {**notebook, "cells": cells}


def _with_code_cell(data):
    """The document and the index of its first code cell (the test is skipped without one)."""
    document = notebook_io.loads(data)
    cells = document.notebook["cells"]
    index = next((i for i, cell in enumerate(cells) if cell["cell_type"] == "code"), None)
    if index is None:
        pytest.skip("no code cell")
    return document, index


# -- round trip over the real corpus ---------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS_NOTEBOOKS, ids=[p.name for p in CORPUS_NOTEBOOKS] or None)
def test_corpus_round_trip_is_byte_identical(path):
    data = path.read_bytes()
    document = notebook_io.loads(data)
    assert notebook_io.dumps(document, document.notebook) == data


@pytest.mark.parametrize("path", CORPUS_NOTEBOOKS, ids=[p.name for p in CORPUS_NOTEBOOKS] or None)
def test_corpus_one_changed_cell_changes_only_its_lines(path):
    data = path.read_bytes()
    document, index = _with_code_cell(data)
    cells = document.notebook["cells"]
    source = cells[index]["source"]
    new_source = [*source, "\nnew = 'línea'"] if isinstance(source, list) else source + "\nx = 1"
    new = _with_source(document.notebook, index, new_source)
    out = notebook_io.dumps(document, new, range(len(cells)))
    assert json.loads(out) == new
    # Every changed line of the file lies inside the changed cell's JSON.
    cell_start, cell_end = document._cells[index].span
    first_line = document.text.count("\n", 0, cell_start)
    last_line = document.text.count("\n", 0, cell_end)
    before = data.decode().splitlines(keepends=True)
    after = out.decode().splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, a0, a1, _, _ in matcher.get_opcodes():
        if tag != "equal":
            assert a0 >= first_line, (tag, a0, a1)
            assert a1 <= last_line + 1, (tag, a0, a1)


# -- style detection -------------------------------------------------------------------------


def _dumps(notebook, *, indent=1, ensure_ascii=False, separators=(",", ": "), sort_keys=True):
    return json.dumps(
        notebook,
        indent=indent,
        ensure_ascii=ensure_ascii,
        separators=separators,
        sort_keys=sort_keys,
    )


COLAB = {
    "nbformat": 4,
    "nbformat_minor": 0,
    "metadata": {
        "colab": {"provenance": []},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"},
    },
    "cells": [
        {
            "cell_type": "code",
            "source": ["!pip install transformers\n", "import transformers"],
            "metadata": {"id": "abc"},
            "execution_count": None,
            "outputs": [],
        }
    ],
}


@pytest.mark.parametrize(
    ("text", "indent", "item_separator", "key_separator", "newline", "ensure_ascii"),
    [
        pytest.param(_dumps(_notebook()) + "\n", " ", ",", ": ", "\n", False, id="nbformat-1"),
        pytest.param(_dumps(_notebook(), indent=2), "  ", ",", ": ", "\n", False, id="indent-2"),
        pytest.param(_dumps(_notebook(), indent=4), "    ", ",", ": ", "\n", False, id="indent-4"),
        pytest.param(_dumps(_notebook(), indent="\t"), "\t", ",", ": ", "\n", False, id="tabs"),
        pytest.param(
            _dumps(_notebook(), indent=None, separators=(",", ":")),
            None,
            ",",
            ":",
            "\n",
            False,
            id="single-line-compact",
        ),
        pytest.param(
            _dumps(_notebook(), indent=None, separators=(", ", ": ")),
            None,
            ", ",
            ": ",
            "\n",
            False,
            id="single-line-spaced",
        ),
        pytest.param(
            _dumps(_notebook(), separators=(", ", ": ")),
            " ",
            ", ",
            ": ",
            "\n",
            False,
            id="python2-trailing-space",
        ),
        pytest.param(
            _dumps(COLAB, indent=2, sort_keys=False), "  ", ",", ": ", "\n", False, id="colab"
        ),
        pytest.param(
            _dumps(_notebook([_code("print('héllo wörld')")]), ensure_ascii=True),
            " ",
            ",",
            ": ",
            "\n",
            True,
            id="ascii-escaped",
        ),
        pytest.param(
            _dumps(_notebook([_code("print('héllo wörld')")])).replace("\n", "\r\n") + "\r\n",
            " ",
            ",",
            ": ",
            "\r\n",
            False,
            id="crlf-non-ascii",
        ),
    ],
)
def test_style_detection(text, indent, item_separator, key_separator, newline, ensure_ascii):
    document = notebook_io.loads(text.encode())
    style = document.style
    assert style.indent == indent
    assert style.item_separator == item_separator
    assert style.key_separator == key_separator
    assert style.newline == newline
    assert style.ensure_ascii is ensure_ascii
    # Unchanged: byte-identical. Changed: only the changed cell's text, in the file's style.
    assert notebook_io.dumps(document, document.notebook) == text.encode()
    old_cell = document.notebook["cells"][0]
    new = _with_source(document.notebook, 0, ["print('ünïcode')"])
    out = notebook_io.dumps(document, new, [0]).decode()
    assert json.loads(out) == new
    assert out.startswith(text[: document._cells[0].span[0]])
    assert out.endswith(text[document._cells[0].span[1] :])
    if ensure_ascii:
        assert "\\u00fc" in out
    else:
        assert "ü" in out
    if newline == "\r\n":
        assert "\n" not in out.replace("\r\n", "")
    assert old_cell is document.notebook["cells"][0]


def test_new_cell_follows_the_layout_of_its_neighbours():
    text = _dumps(COLAB, indent=2, sort_keys=False)
    document = notebook_io.loads(text.encode())
    new_cell = {"cell_type": "code", "source": ["x = 1"], "metadata": {}}
    cells = [new_cell, *document.notebook["cells"]]
    out = notebook_io.dumps(document, {**document.notebook, "cells": cells}, [None, 0])
    expected = json.loads(text)
    expected["cells"].insert(0, new_cell)
    assert out.decode() == json.dumps(expected, indent=2)


def test_removed_cell_leaves_the_others_byte_identical():
    notebook = _notebook([_code("a = 1"), _code("b = 2"), _code("c = 3")])
    text = _dumps(notebook) + "\n"
    document = notebook_io.loads(text.encode())
    cells = document.notebook["cells"]
    out = notebook_io.dumps(document, {**document.notebook, "cells": [cells[0], cells[2]]})
    expected = {**notebook, "cells": [notebook["cells"][0], notebook["cells"][2]]}
    assert out.decode() == _dumps(expected) + "\n"


def test_no_trailing_newline_is_kept():
    text = _dumps(_notebook())
    document = notebook_io.loads(text.encode())
    out = notebook_io.dumps(document, _with_source(document.notebook, 0, "x = 2"))
    assert not out.endswith(b"\n")
    assert json.loads(out)["cells"][0]["source"] == "x = 2"


def test_string_source_stays_a_string():
    notebook = _notebook([_code()])
    notebook["cells"][0]["source"] = "import os\nprint(os.sep)"
    document = notebook_io.loads(_dumps(notebook).encode())
    out = notebook_io.dumps(document, _with_source(document.notebook, 0, "import os"))
    assert '"source": "import os"' in out.decode()


def test_bom_is_kept():
    text = "\ufeff" + _dumps(_notebook())
    document = notebook_io.loads(text.encode())
    assert document.bom
    assert notebook_io.dumps(document, document.notebook) == text.encode()


def test_changed_cell_with_duplicate_keys_is_refused():
    text = _dumps(_notebook()).replace('"id": "a1"', '"id": "a1",\n   "id": "a2"')
    document = notebook_io.loads(text.encode())
    with pytest.raises(NotANotebook, match="duplicate JSON keys"):
        notebook_io.dumps(document, _with_source(document.notebook, 0, "x"), [0])


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        pytest.param(b"", EmptyFile, "empty file", id="empty"),
        pytest.param(b"  \n", EmptyFile, "empty file", id="whitespace"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", NotText, "binary file", id="binary"),
        pytest.param(b'{"cells": "\xff"}', NotText, "not UTF-8 text", id="latin-1"),
        pytest.param(b'{"cells": [', InvalidJson, r"not valid JSON \(line 1", id="truncated"),
        pytest.param(b"[1, 2]", NotANotebook, "top level is an array", id="array"),
        pytest.param(b'{"a": 1}', NotANotebook, "no integer 'nbformat'", id="other-json"),
        pytest.param(
            b'{"nbformat": 3, "worksheets": [], "metadata": {}}',
            UnsupportedFormat,
            "nbformat 3 notebook is not supported; upgrade it with `jupyter nbconvert",
            id="nbformat-3",
        ),
        pytest.param(
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
            NotANotebook,
            "no 'cells' list",
            id="no-cells",
        ),
        pytest.param(
            b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}',
            NotANotebook,
            "cell 1 'source' is not a string",
            id="bad-source",
        ),
        pytest.param(
            b'{"nbformat": 4, "cells": [7]}', NotANotebook, "cell 1 is not an object", id="cell"
        ),
        pytest.param(
            b'{"nbformat": 4, "cells": [], "nbformat": 4}',
            NotANotebook,
            "duplicate key 'nbformat' at the top level of the notebook",
            id="duplicate-top-level-key",
        ),
        pytest.param(
            b'{"nbformat": 4, "cells": [], "metadata": {"x": '
            + b"[" * 50_000
            + b"]" * 50_000
            + b"}}",
            InvalidJson,
            r"not valid JSON \(nested too deeply\)",
            id="nested-too-deeply",
        ),
    ],
)
def test_bad_input(data, error, message):
    with pytest.raises(error, match=message):
        notebook_io.loads(data)


def _cell_with(**members):
    return {"cell_type": "code", "metadata": {}, "outputs": [], "source": "", **members}


STREAM = {"output_type": "stream", "name": "stdout", "text": "x"}


@pytest.mark.parametrize(
    ("notebook", "message"),
    [
        pytest.param(
            {"nbformat_minor": "5"}, "notebook 'nbformat_minor' is not a non-", id="minor"
        ),
        pytest.param(
            {"nbformat_minor": -1}, "notebook 'nbformat_minor' is not a non-", id="minus"
        ),
        pytest.param({"metadata": []}, "notebook 'metadata' is not an object", id="metadata"),
        pytest.param(
            {"metadata": {"kernelspec": "python3"}},
            "notebook metadata 'kernelspec' is not an object",
            id="kernelspec",
        ),
        pytest.param(
            {"metadata": {"language_info": {"name": 3}}},
            "notebook metadata language_info 'name' is not a string",
            id="language",
        ),
        pytest.param(
            {"cells": [{"cell_type": "code"}]}, "cell 1 has no 'source'", id="missing-source"
        ),
        pytest.param({"cells": [_cell_with(id=5)]}, "cell 1 'id' is not a string", id="id"),
        pytest.param(
            {"cells": [_cell_with(outputs={})]}, "cell 1 'outputs' is not an array", id="outputs"
        ),
        pytest.param(
            {"cells": [_cell_with(execution_count="1")]},
            "cell 1 'execution_count' is not an integer or null",
            id="execution-count",
        ),
        pytest.param(
            {"cells": [_cell_with(execution_count=True)]},
            "cell 1 'execution_count' is not an integer or null",
            id="execution-count-boolean",
        ),
        pytest.param(
            {"cells": [_cell_with(attachments=[])]},
            "cell 1 'attachments' is not an object",
            id="attachments",
        ),
        pytest.param(
            {"cells": [_cell_with(attachments={"a.png": "data"})]},
            "cell 1 attachment 'a.png' is not an object",
            id="attachment",
        ),
        pytest.param(
            {"cells": [_cell_with(outputs=[1])]}, "cell 1 output 1 is not an object", id="output"
        ),
        pytest.param(
            {"cells": [_cell_with(outputs=[STREAM, {"name": "stdout"}])]},
            "cell 1 output 2 has no 'output_type'",
            id="output-type",
        ),
        pytest.param(
            {"cells": [_cell_with(outputs=[{**STREAM, "text": 3}])]},
            "cell 1 output 1 'text' is not a string or a list of strings",
            id="stream-text",
        ),
        pytest.param(
            {"cells": [_cell_with(outputs=[{"output_type": "error", "traceback": [1]}])]},
            "cell 1 output 1 'traceback' is not a list of strings",
            id="traceback",
        ),
        pytest.param(
            {"cells": [_cell_with(outputs=[{"output_type": "display_data", "data": []}])]},
            "cell 1 output 1 'data' is not an object",
            id="data",
        ),
    ],
)
def test_wrong_types_are_refused(notebook, message):
    data = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, **notebook}).encode()
    with pytest.raises(NotANotebook, match=re.escape(message)):
        notebook_io.loads(data)


@pytest.mark.parametrize(
    "notebook",
    [
        pytest.param({"cells": [{"cell_type": "code", "source": "x"}]}, id="code-cell-bare"),
        pytest.param({"cells": [{"cell_type": "future", "source": ""}]}, id="unknown-type"),
        pytest.param({"cells": [_cell_with(outputs=[{"output_type": "x"}])]}, id="output"),
        pytest.param({"metadata": {"kernelspec": {"name": "python3"}}}, id="no-language"),
    ],
)
def test_missing_members_nbsetup_does_not_need_are_accepted(notebook):
    data = json.dumps({"cells": [], "nbformat": 4, **notebook}).encode()
    assert notebook_io.dumps(notebook_io.loads(data), json.loads(data)) == data


def test_size_limit(tmp_path, monkeypatch):
    data = json.dumps(_notebook()).encode()
    path = tmp_path / "nb.ipynb"
    path.write_bytes(data)
    monkeypatch.setattr(notebook_io, "MAX_BYTES", len(data))
    assert notebook_io.read_bytes(path) == data
    assert notebook_io.loads(data).notebook == _notebook()
    monkeypatch.setattr(notebook_io, "MAX_BYTES", len(data) - 1)
    with pytest.raises(TooLarge, match=r"^file too large \(0\.0 MiB; nbsetup reads notebooks up"):
        notebook_io.read_bytes(path)
    with pytest.raises(TooLarge):
        notebook_io.loads(data)


def test_size_limit_is_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.ipynb"
    with path.open("wb") as handle:
        handle.truncate(notebook_io.MAX_BYTES + 1)

    def unread(*args):
        raise AssertionError("the file was read")

    # Only its size may be looked at.
    monkeypatch.setattr(os, "read", unread)
    with pytest.raises(TooLarge, match=r"file too large \(100\.0 MiB; .* up to 100 MiB\)"):
        notebook_io.read_bytes(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_file_is_refused_before_reading():
    with pytest.raises(Unreadable, match=r"^is a character device, not a regular file$"):
        notebook_io.read_bytes(Path("/dev/zero"))


def test_read_bytes_reports_missing_and_unreadable(tmp_path):
    with pytest.raises(Unreadable, match="no such file"):
        notebook_io.read_bytes(tmp_path / "missing.ipynb")
    with pytest.raises(Unreadable, match="is a directory"):
        notebook_io.read_bytes(tmp_path)


# -- atomic writes ---------------------------------------------------------------------------


def test_write_atomic_keeps_mode_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(b"old")
    path.chmod(0o640)
    notebook_io.write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]


def test_write_atomic_writes_through_a_symlink(tmp_path):
    target = tmp_path / "real.ipynb"
    target.write_bytes(b"old")
    link = tmp_path / "link.ipynb"
    link.symlink_to(target)
    notebook_io.write_atomic(link, b"new")
    assert link.is_symlink()
    assert target.read_bytes() == b"new"


def test_write_atomic_failure_keeps_the_original(tmp_path, monkeypatch):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(b"old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(CannotWrite, match=r"^cannot write: disk full$"):
        notebook_io.write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]


# -- big files: bytes kept once, unchanged cells reused when parsing the output back ----------


def test_ascii_file_keeps_its_bytes_not_a_second_text():
    data = (json.dumps(_notebook(), indent=1) + "\n").encode()
    document = notebook_io.loads(data)
    assert document._source is data
    assert document.text == data.decode()
    non_ascii = (json.dumps(_notebook([_code("x = 'é'")]), ensure_ascii=False)).encode()
    assert isinstance(notebook_io.loads(non_ascii)._source, str)
    assert isinstance(notebook_io.loads(b"\xef\xbb\xbf" + data)._source, str)


@pytest.mark.parametrize("path", CORPUS_NOTEBOOKS, ids=[p.name for p in CORPUS_NOTEBOOKS] or None)
def test_corpus_reread_is_json_loads(path, monkeypatch):
    """Reusing unchanged cells when parsing the output back gives what `json.loads` gives."""
    monkeypatch.setattr(notebook_io, "REREAD_WHOLE_BELOW", 0)
    document, index = _with_code_cell(path.read_bytes())
    cells = document.notebook["cells"]
    new = _with_source(document.notebook, index, "x = 1")
    new["cells"].insert(0, _code("!pip install numpy"))
    del new["cells"][-1]
    origins = [None, *range(len(cells) - 1)]
    out = notebook_io.dumps(document, new, origins)
    assert notebook_io.reread(document, out, new) == json.loads(out) == new


def _big_document(monkeypatch):
    monkeypatch.setattr(notebook_io, "REREAD_WHOLE_BELOW", 0)
    cells = [_code(f"print({n})", id=f"c{n}") for n in range(4)]
    data = (json.dumps(_notebook(cells), indent=1) + "\n").encode()
    return notebook_io.loads(data)


def test_reread_reuses_the_original_cell_objects(monkeypatch):
    document = _big_document(monkeypatch)
    new = _with_source(document.notebook, 1, "print('changed')")
    out = notebook_io.dumps(document, new, range(4))
    value = notebook_io.reread(document, out, new)
    assert value == json.loads(out)
    old = document.notebook["cells"]
    assert [value["cells"][i] is old[i] for i in range(4)] == [True, False, True, True]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda out: out.replace(b'"c2"', b'"c9"'), id="copied-cell-altered"),
        pytest.param(lambda out: out.replace(b"},\n  {", b"}\n  {", 1), id="separator-lost"),
        pytest.param(lambda out: out.replace(b'"nbformat": 4', b'"nbformat": "4"'), id="top"),
        pytest.param(lambda out: out.replace(b'"print(0)"', b'"print(0)", 7'), id="extra-item"),
    ],
)
def test_reread_of_damaged_output_is_what_json_loads_says(monkeypatch, damage):
    """Whatever is wrong with the bytes, the safety net sees what the file would hold."""
    document = _big_document(monkeypatch)
    new = _with_source(document.notebook, 1, "print('changed')")
    out = damage(notebook_io.dumps(document, new, range(4)))
    try:
        expected = json.loads(out)
    except json.JSONDecodeError as error:
        with pytest.raises(json.JSONDecodeError, match=re.escape(error.msg)):
            notebook_io.reread(document, out, new)
    else:
        assert notebook_io.reread(document, out, new) == expected


def test_reread_with_an_int_cell_is_not_fooled(monkeypatch):
    """A number where a cell should be is not mistaken for a reused cell."""
    document = _big_document(monkeypatch)
    new = {**document.notebook, "cells": [*document.notebook["cells"], 3]}
    out = (json.dumps(new, indent=1) + "\n").encode()
    value = notebook_io.reread(document, out, new)
    assert value == json.loads(out)
    assert value["cells"][-1] == 3


def test_write_atomic_compares_the_expected_bytes_in_pieces(tmp_path, monkeypatch):
    from nbsetup import files
    from nbsetup.errors import ChangedMeanwhile

    monkeypatch.setattr(files, "_CHUNK", 4)
    path = tmp_path / "a.ipynb"
    path.write_bytes(b"0123456789abcdef")
    with pytest.raises(ChangedMeanwhile):
        notebook_io.write_atomic(path, b"new", expected=b"0123456789abcdeX")
    with pytest.raises(ChangedMeanwhile):
        notebook_io.write_atomic(path, b"new", expected=b"0123456789abcde")
    assert path.read_bytes() == b"0123456789abcdef"
    notebook_io.write_atomic(path, b"new", expected=b"0123456789abcdef")
    assert path.read_bytes() == b"new"


def test_read_bytes_of_a_file_bigger_than_a_chunk(tmp_path, monkeypatch):
    from nbsetup import files

    monkeypatch.setattr(files, "_CHUNK", 4)
    path = tmp_path / "a.ipynb"
    path.write_bytes(b"x" * 1000)
    assert notebook_io.read_bytes(path) == b"x" * 1000
