"""The schema part of the safety net agrees with nbformat's own validator.

The rest of `safety` (lost lines, moved cells, missing installs) is tested with generated
notebooks in test_properties.py.
"""

from __future__ import annotations

import copy
import json

import pytest
from nbformat.validator import get_validator

from nbsetup import safety


def _notebook(minor):
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": "x = 1",
    }
    if minor >= 5:
        cell["id"] = "a"
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": minor}


def _broken(minor, how):
    notebook = _notebook(minor)
    cell = notebook["cells"][0]
    if how == "source-type":
        cell["source"] = 3
    elif how == "unknown-key":
        cell["colour"] = "red"
    elif how == "output":
        cell["outputs"] = [{"output_type": "stream", "name": "stdout"}]
    return notebook


def _nbformat_error(notebook):
    validator = get_validator(version=4, version_minor=notebook["nbformat_minor"])
    return next((str(error.message) for error in validator.iter_errors(notebook)), None)


@pytest.mark.parametrize("minor", range(6))
@pytest.mark.parametrize("how", [None, "source-type", "unknown-key", "output"])
def test_same_verdict_and_message_as_nbformat(minor, how):
    notebook = _notebook(minor) if how is None else _broken(minor, how)
    original = copy.deepcopy(notebook)
    expected = _nbformat_error(notebook)
    assert (expected is None) is (how is None)
    assert safety._schema_error(notebook) == expected
    assert notebook == original  # no silent repairs


def test_a_notebook_from_a_newer_nbformat_is_judged_by_nbformat():
    notebook = _notebook(5)
    notebook["nbformat_minor"] = 99
    notebook["cells"][0]["colour"] = "red"  # extra keys are allowed for future minors
    assert safety._bundled_schema(99) is None
    assert safety._schema_error(notebook) is None
    notebook["cells"][0]["source"] = 3
    assert safety._schema_error(notebook) == _nbformat_error(notebook)


@pytest.mark.parametrize("minor", range(6))
@pytest.mark.parametrize("how", [None, "source-type", "unknown-key", "output"])
def test_changed_code_cells_are_judged_as_the_whole_schema_judges_them(minor, how):
    notebook = _notebook(minor) if how is None else _broken(minor, how)
    notebook["cells"].insert(0, _notebook(minor)["cells"][0])
    expected = _nbformat_error(notebook)
    found = safety._cells_error(notebook, notebook["cells"][1:])
    assert (found is None) is (expected is None)
    if found is not None:
        assert found.startswith("cell 2: ")


def test_changed_cells_of_other_kinds_go_through_the_whole_schema():
    notebook = _notebook(5)
    notebook["cells"].append({"cell_type": "markdown", "id": "m", "metadata": {}, "source": 1})
    assert safety._cells_error(notebook, notebook["cells"]) == _nbformat_error(notebook)
    assert safety._cells_error(notebook, notebook["cells"]) is not None


def _whole_code_cell_check(minor):
    """The code cell definition compiled whole, outputs included (what the split must equal)."""
    import fastjsonschema

    schema = {**safety._bundled_schema(minor), "$ref": "#/definitions/code_cell"}
    for key in ("type", "required", "properties", "additionalProperties"):
        schema.pop(key, None)
    check = fastjsonschema.compile(schema)

    def valid(cell):
        try:
            check(cell)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return valid


def _corpus_code_cells(limit=3000):
    from tests.conftest import CORPUS_NOTEBOOKS

    for path in CORPUS_NOTEBOOKS:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell.get("cell_type") == "code":
                yield notebook.get("nbformat_minor"), cell
                limit -= 1
                if limit == 0:
                    return


def _broken_outputs(cell):
    """Variants of a cell with one output made invalid in each way nbformat has."""
    yield cell
    for output in cell.get("outputs", [])[:1]:
        yield {**cell, "outputs": [{**output, "output_type": "nonsense"}]}
        yield {**cell, "outputs": [{k: v for k, v in output.items() if k != "output_type"}]}
        yield {**cell, "outputs": [{**output, "metadata": 3}]}
        yield {**cell, "outputs": [*cell["outputs"], {"output_type": "stream", "name": "stdout"}]}


def test_a_code_cell_and_its_outputs_checked_apart_agree_with_the_whole_definition():
    cells = list(_corpus_code_cells())
    if not cells:
        pytest.skip("the shared corpus (../shared/corpus) is not present")
    checks = {m: _whole_code_cell_check(m) for m in range(6) if safety._bundled_schema(m)}
    seen = 0
    for minor, cell in cells:
        valid = checks.get(minor)
        if valid is None:
            continue
        for variant in _broken_outputs(cell):
            notebook = {"cells": [variant], "nbformat_minor": minor}
            assert (safety._cells_error(notebook, [variant]) is None) is valid(variant)
            seen += 1
    assert seen > 1000


def _outputs(*outputs):
    cell = _notebook(5)["cells"][0]
    return {**cell, "outputs": list(outputs)}


_BAD_OUTPUT = {"output_type": "stream", "name": "stdout"}  # no "text"


def test_a_changed_cell_is_refused_for_an_invalid_output_it_did_not_have():
    old = {**_notebook(5), "cells": [_outputs()]}
    new = {**old, "cells": [{**_outputs(_BAD_OUTPUT), "source": "y = 2"}]}
    problem = safety._schema_problem(old, new, [0], set())
    assert problem is not None
    assert problem.startswith("the result is not a valid notebook (cell 1: output 1: ")


def test_outputs_a_changed_cell_keeps_are_judged_with_the_original():
    # The original's invalid output stays invalid, but the original was invalid too.
    old = {**_notebook(5), "cells": [_outputs(_BAD_OUTPUT)]}
    new = {**old, "cells": [{**_outputs(_BAD_OUTPUT), "source": "y = 2"}]}
    assert safety._schema_error(old) is not None
    assert safety._schema_problem(old, new, [0], set()) is None
    # Moved to a new cell, the same output is checked: nothing vouches for it there.
    assert safety._cells_error(new, new["cells"], new_outputs=[]) is None
    assert safety._cells_error(new, new["cells"]).startswith("cell 1: output 1: ")


# --- comments --------------------------------------------------------------------------------


def _code(source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def _hoisted(*sources: str):
    from nbsetup import transform

    notebook = {
        "cells": [_code(s) for s in sources],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    result = transform.hoist(notebook)
    safety.verify(notebook, result.notebook, result.origins)  # the real rewrite is accepted
    return notebook, result


def _edit_env(result, edit):
    new = copy.deepcopy(result.notebook)
    env = next(c for c in new["cells"] if "nbsetup" in c["metadata"])
    env["source"] = edit(env["source"])
    return new


@pytest.mark.parametrize(
    ("sources", "lost"),
    [
        pytest.param(("import os\n# for plots\n!pip install seaborn",), "# for plots", id="above"),
        pytest.param(
            ("import os\n!pip install seaborn  # nicer plots",), "# nicer plots", id="trailing"
        ),
        pytest.param(
            ("# Install\n!pip install numpy", "import numpy"), "# Install", id="whole-cell"
        ),
    ],
)
def test_a_rewrite_that_loses_a_comment_is_refused(sources, lost):
    old, result = _hoisted(*sources)
    new = _edit_env(result, lambda source: source.replace(lost, ""))
    with pytest.raises(safety.UnsafeChange, match="comment"):
        safety.verify(old, new, result.origins)


def test_comment_lines_leave_a_kept_cell_only_for_the_environment_cell_in_order():
    old, result = _hoisted("import os\n# first\n!pip install a\n# second\n!pip install b")
    swapped = _edit_env(
        result,
        lambda s: (
            s.replace("# first", "@@").replace("# second", "# first").replace("@@", "# second")
        ),
    )
    with pytest.raises(safety.UnsafeChange, match="not in the environment cell"):
        safety.verify(old, swapped, result.origins)


def test_the_comment_count_reads_only_changed_cells_and_still_counts_duplicates(monkeypatch):
    old = {
        "cells": [_code("# x\nimport a"), _code("# x\n!pip install b"), _code("# y")],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    new = copy.deepcopy(old)
    new["cells"][1]["source"] = "!pip install b"  # its `# x` is gone; cell 1 still has one
    origins = (0, 1, 2)
    read: list[str] = []
    real = safety.comments.cells_comments

    def recording(cells):
        cells = list(cells)
        read.extend(cell["source"] for cell in cells)
        return real(cells)

    monkeypatch.setattr(safety.comments, "cells_comments", recording)
    kept = safety._kept(old, new, origins)
    assert kept == {0, 2}
    assert safety._comments_problem(old, new, origins, kept) == "the comment '# x' was lost"
    assert read == ["# x\n!pip install b", "!pip install b"]
    same = copy.deepcopy(old)
    assert safety._comments_problem(old, same, origins, safety._kept(old, same, origins)) is None
