"""Opt-outs (`nbsetup/optouts.py`): what the user keeps in place, read alike by fix and check."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbsetup import comments, envcell, installs, lint, optouts, safety, transform
from nbsetup.cli import main
from nbsetup.errors import UnsafeChange
from tests.builders import code, markdown, notebook, to_bytes

# --- the directive grammar (`comments.directives`) -----------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("!pip install x  # nbsetup: skip", {"skip": None}, id="trailing"),
        pytest.param("# nbsetup: skip", {"skip": None}, id="comment-line"),
        pytest.param("!pip install x  #nbsetup:skip", {"skip": None}, id="no-spaces"),
        pytest.param("!pip install x  #   nbsetup:   skip", {"skip": None}, id="more-spaces"),
        pytest.param("!pip install x  # CUDA build  # nbsetup: skip", {"skip": None}, id="second"),
        pytest.param("# nbsetup: skip: pinned by the course", {"skip": None}, id="with-a-reason"),
        pytest.param(
            "!pip install x  # nbsetup: ignore[NBS002]", {"ignore": "NBS002"}, id="ignore-codes"
        ),
        pytest.param(
            "!pip install x  # nbsetup: ignore[NBS002] # nbsetup: skip",
            {"ignore": "NBS002", "skip": None},
            id="both",
        ),
    ],
)
def test_directives(line, expected):
    assert comments.directives(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        pytest.param('x = "# nbsetup: skip"', id="in-double-quotes"),
        pytest.param("os.system('pip install x  # nbsetup: skip')", id="in-single-quotes"),
        pytest.param("!pip install x  # nbsetup: skipped", id="another-word"),
        pytest.param("!pip install x  # NBSETUP: SKIP", id="upper-case"),
        pytest.param("!pip install x  # nbsetup skip", id="no-colon"),
        pytest.param("# nbsetup: environment cell, generated ...", id="the-header"),
        pytest.param("!pip install x", id="none"),
    ],
)
def test_not_a_directive(line):
    assert comments.directives(line) == {}


def test_a_directive_line_is_the_users_not_a_generated_header():
    text = "\n".join(
        [
            "# nbsetup: environment cell, generated from this notebook's installs.",
            "# nbsetup: skip",
            "  #nbsetup: ignore[NBS002]",
            "%pip install x",
        ]
    )
    assert envcell.header_of(text, envcell.DEFAULT_HEADER) == (
        "# nbsetup: environment cell, generated from this notebook's installs.",
    )
    assert envcell.document(text) == [
        "# nbsetup: skip",
        "  #nbsetup: ignore[NBS002]",
        "%pip install x",
    ]


# --- lines: `optouts.line_reason` ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "start", "end"),
    [
        pytest.param(["!pip install x  # nbsetup: skip"], 0, 1, id="trailing"),
        pytest.param(["# nbsetup: skip", "!pip install x"], 1, 2, id="above"),
        pytest.param(["# nbsetup: skip", "# CUDA wheels", "!pip install x"], 2, 3, id="in-block"),
        pytest.param(["!pip install \\", "  x  # nbsetup: skip"], 0, 2, id="continuation"),
    ],
)
def test_line_opts_out(lines, start, end):
    assert optouts.line_reason(lines, start, end) == optouts.LINE_REASON


@pytest.mark.parametrize(
    ("lines", "start", "end", "floor", "in_strings"),
    [
        pytest.param(["# nbsetup: skip", "", "!pip install x"], 2, 3, 0, (), id="blank-between"),
        pytest.param(["x = 1  # nbsetup: skip", "!pip install x"], 1, 2, 0, (), id="code-above"),
        pytest.param(["!pip install x", "# nbsetup: skip"], 0, 1, 0, (), id="below"),
        pytest.param(["# nbsetup: skip", "%%capture", "!pip install x"], 2, 3, 2, (), id="floor"),
        pytest.param(['s = """', "# nbsetup: skip", '"""', "!pip x"], 3, 4, 0, {1}, id="string"),
        pytest.param(['"""', '# nbsetup: skip"""', "!pip install x"], 2, 3, 0, {1}, id="ends"),
    ],
)
def test_line_does_not_opt_out(lines, start, end, floor, in_strings):
    assert optouts.line_reason(lines, start, end, floor, in_strings) is None


# --- cells and notebooks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param({"nbsetup": {"skip": True}}, optouts.CELL_METADATA_REASON, id="metadata"),
        pytest.param({"tags": ["nbsetup-skip"]}, optouts.CELL_TAG_REASON, id="tag"),
        pytest.param({"tags": ["setup", "nbsetup-skip"]}, optouts.CELL_TAG_REASON, id="tags"),
        pytest.param({"nbsetup": {"skip": False}}, None, id="false"),
        pytest.param({"nbsetup": {"skip": "yes"}}, None, id="not-a-boolean"),
        pytest.param({"nbsetup": True}, None, id="not-a-table"),
        pytest.param({"tags": "nbsetup-skip"}, None, id="tags-not-a-list"),
        pytest.param({"tags": ["skip"]}, None, id="another-tag"),
        pytest.param({}, None, id="none"),
    ],
)
def test_cell_reason(metadata, expected):
    assert optouts.cell_reason(code("!pip install x", metadata=metadata)) == expected


def test_cell_reasons_only_for_code_cells():
    cells = [
        markdown("x", metadata={"tags": ["nbsetup-skip"]}),
        code("!pip install x", metadata={"tags": ["nbsetup-skip"]}),
        code("!pip install y"),
    ]
    assert optouts.cell_reasons(cells) == {1: optouts.CELL_TAG_REASON}


def test_notebook_reason():
    assert optouts.notebook_reason(notebook(metadata={"nbsetup": {"skip": True}})) == (
        optouts.NOTEBOOK_REASON
    )
    assert optouts.notebook_reason(notebook(metadata={"nbsetup": {"skip": 1}})) is None
    assert optouts.notebook_reason(notebook()) is None


def test_an_opted_out_cell_is_never_the_environment_cell():
    cells = [
        code("!pip install x", metadata={"nbsetup": {"skip": True}}),
        code("%pip install y", metadata={"nbsetup": {"role": "environment"}}),
    ]
    assert envcell.find(cells) == 1
    assert envcell.find(cells[:1]) is None


# --- the recogniser: opted-out installs stay and are barriers --------------------------------


def _verdicts(*sources, opted_out=None):
    sites = installs.find_installs(list(sources), opted_out)
    return [(s.cell, s.start, [(c.movable, c.reason) for c in s.commands]) for s in sites]


def test_an_opted_out_install_stays_and_holds_back_the_later_ones():
    assert _verdicts(
        "!pip install a", "!pip install b  # nbsetup: skip", "!pip install c\n!pip install d"
    ) == [
        (0, 0, [(True, None)]),
        (1, 0, [(False, optouts.LINE_REASON)]),
        (2, 0, [(False, "follows an opted-out install at cell 2, line 1")]),
        (2, 1, [(False, "follows an opted-out install at cell 2, line 1")]),
    ]


def test_an_opted_out_cell_keeps_every_install():
    assert _verdicts(
        "!pip install a",
        "!pip install b\n!pip uninstall -y c",
        "!pip install d",
        opted_out={1: optouts.CELL_TAG_REASON},
    ) == [
        (0, 0, [(True, None)]),
        (1, 0, [(False, optouts.CELL_TAG_REASON)]),
        (1, 1, [(False, optouts.CELL_TAG_REASON)]),
        (2, 0, [(False, "follows an opted-out install at cell 2, line 1")]),
    ]


def test_an_opted_out_bash_cell_keeps_every_install():
    assert _verdicts("%%bash\npip install a", opted_out={0: optouts.CELL_METADATA_REASON}) == [
        (0, 1, [(False, optouts.CELL_METADATA_REASON)])
    ]


def test_the_opt_out_wins_over_another_reason_to_stay():
    assert _verdicts("if x:\n    !pip install a  # nbsetup: skip") == [
        (0, 1, [(False, optouts.LINE_REASON)])
    ]


def test_skip_in_a_bash_cell():
    assert _verdicts("%%bash\n# nbsetup: skip\npip install a\npip install b") == [
        (0, 2, [(False, optouts.LINE_REASON)]),
        (0, 3, [(False, "follows an opted-out install at cell 1, line 3")]),
    ]


def test_skip_on_a_python_call():
    source = 'import os\nos.system("pip install a")  # nbsetup: skip\n!pip install b'
    assert _verdicts(source) == [
        (0, 1, [(False, optouts.LINE_REASON)]),
        (0, 2, [(False, "follows an opted-out install at cell 1, line 2")]),
    ]


def test_skip_on_one_part_of_a_chain_keeps_the_whole_line():
    assert _verdicts("!pip install a && pip install b  # nbsetup: skip") == [
        (0, 0, [(False, optouts.LINE_REASON), (False, optouts.LINE_REASON)])
    ]


# --- fix, check and the safety net read them alike ------------------------------------------


def _hoisted(nb):
    result = transform.hoist(nb)
    return result, [(c.kind, c.cell, c.line, c.message) for c in result.changes]


def test_fix_reports_the_choice_for_information_and_keeps_the_comment():
    nb = notebook("!pip install a", "# nbsetup: skip\n!pip install b", "import a")
    result, changes = _hoisted(nb)
    assert ("opted-out", 2, 2, "install not moved: opted out with `# nbsetup: skip`") in changes
    assert result.notebook["cells"][1] is nb["cells"][1]


def test_fix_leaves_an_opted_out_cell_as_it_is():
    tagged = code("!pip install b\n", metadata={"tags": ["nbsetup-skip"]})
    nb = notebook("!pip install a", tagged, "import a")
    result, changes = _hoisted(nb)
    assert result.notebook["cells"][1] is tagged
    assert ("opted-out", 2, 1, f"install not moved: {optouts.CELL_TAG_REASON}") in changes


def test_nothing_else_to_do_reports_only_the_choice():
    nb = notebook("!pip install b  # nbsetup: skip", "import b")
    result, changes = _hoisted(nb)
    assert result.notebook is nb
    assert [kind for kind, *_ in changes] == ["opted-out"]


def _codes(nb):
    return [(d.code, d.cell, d.line) for d in lint.diagnose(nb) if d.code in ("NBS004", "NBS006")]


def test_check_neither_asks_to_hoist_nor_says_fix_cannot():
    nb = notebook(
        "!pip install a",
        "!pip install -e .  # nbsetup: skip",
        code("!pip install b", metadata={"nbsetup": {"skip": True}}),
        "!pip install c",
    )
    assert _codes(nb) == [("NBS006", 1, 1), ("NBS004", 4, 1)]


def test_check_still_reports_the_hazards_of_an_opted_out_install():
    nb = notebook("import numpy", "!pip install numpy  # nbsetup: skip")
    assert {d.code for d in lint.diagnose(nb)} == {"NBS001", "NBS002"}


def test_ignore_directives_keep_working_beside_skip():
    nb = notebook("!pip install numpy  # nbsetup: skip  # nbsetup: ignore[NBS002]")
    assert lint.diagnose(nb) == ()


def test_safety_net_refuses_a_change_to_an_opted_out_cell():
    kept = code("!pip install b\n", metadata={"tags": ["nbsetup-skip"]})
    old = notebook(kept, "import b")
    new = {**old, "cells": [{**kept, "source": ""}, old["cells"][1]]}
    with pytest.raises(UnsafeChange, match="code cell 1 opts out, but changed"):
        safety.verify(old, new, [0, 1])


def test_safety_net_refuses_moving_a_skipped_line():
    old = notebook("!pip install b  # nbsetup: skip\nimport b")
    # What a rewrite that ignored the directive would give, comment and all.
    env = code("!pip install b  # nbsetup: skip", metadata={"nbsetup": {"role": "environment"}})
    new = {**old, "cells": [env, {**old["cells"][0], "source": "import b"}]}
    with pytest.raises(UnsafeChange, match="line 1 '!pip install b  # nbsetup: skip' is missing"):
        safety.verify(old, new, [None, 0])


# --- whole notebooks, through the command line -----------------------------------------------


def _write(tmp_path: Path, nb, name="notebook.ipynb") -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(nb))
    return path


def test_an_opted_out_notebook_is_skipped_byte_identical(tmp_path: Path):
    path = _write(tmp_path, notebook("!pip install a", metadata={"nbsetup": {"skip": True}}))
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["fix", str(path)])
    assert result.exit_code == 0
    assert path.read_bytes() == before
    assert result.stdout == f"{path}: info: {optouts.NOTEBOOK_REASON}\n"
    assert result.stderr == "1 file scanned: 0 fixed, 0 unchanged, 1 skipped\n"


def test_check_says_nothing_of_an_opted_out_notebook(tmp_path: Path):
    path = _write(tmp_path, notebook("!pip install a", metadata={"nbsetup": {"skip": True}}))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "1 file scanned: 0 flagged, 0 clean, 1 skipped; 0 diagnostics\n"
    verbose = CliRunner().invoke(main, ["check", "-v", str(path)])
    assert f"{path}: info: skipped: {optouts.NOTEBOOK_REASON}" in verbose.stderr
    as_json = CliRunner().invoke(main, ["check", "--format", "json", str(path)])
    (entry,) = json.loads(as_json.stdout)["files"]
    assert (entry["status"], entry["skipped"]) == ("skipped", optouts.NOTEBOOK_REASON)


def test_per_file_skip_applies_to_files_named_explicitly(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nbsetup.per-file-settings]\n"legacy/*" = { skip = true }\n'
    )
    legacy = _write(tmp_path, notebook("import a", "!pip install a"), "legacy/old.ipynb")
    other = _write(tmp_path, notebook("import a", "!pip install a"), "new.ipynb")
    before = legacy.read_bytes()
    checked = CliRunner().invoke(main, ["check", "--select", "NBS006", str(legacy), str(other)])
    assert checked.exit_code == 1
    assert str(legacy) not in checked.stdout + checked.stderr
    assert str(other) in checked.stdout
    result = CliRunner().invoke(main, ["fix", str(legacy), str(other)])
    assert result.exit_code == 0, result.stderr
    assert legacy.read_bytes() == before
    assert other.read_bytes() != to_bytes(notebook("import a", "!pip install a"))
    assert (
        f'{legacy}: info: opted out by [tool.nbsetup.per-file-settings] "legacy/*" (skip = true)'
        in result.stdout
    )


def test_per_file_settings_yield_to_the_command_line(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nbsetup.per-file-settings]\n"*.ipynb" = { env-cell-style = "!pip" }\n'
    )
    path = _write(tmp_path, notebook("import a", "!pip install a"))
    CliRunner().invoke(main, ["fix", str(path)])
    assert "!pip install a" in json.loads(path.read_bytes())["cells"][0]["source"]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nbsetup.per-file-settings]\n"*.ipynb" = { guard = true }\n'
    )
    path = _write(tmp_path, notebook("import a", "!pip install a"), "b.ipynb")
    CliRunner().invoke(main, ["fix", "--no-guard", str(path)])
    assert "guard" not in "".join(json.loads(path.read_bytes())["cells"][0]["source"])


def test_a_directive_that_moved_into_the_environment_cell_stays_there():
    first = transform.hoist(notebook("!pip install a\n# nbsetup: ignore", "import a")).notebook
    later = {**first, "cells": [*first["cells"], code("!pip install b")]}
    again = transform.hoist(later).notebook
    env = again["cells"][envcell.find(again["cells"])]
    assert "# nbsetup: ignore" in env["source"]
    assert "!pip install b" in env["source"]


def test_ignore_inside_a_string_does_not_silence_check():
    nb = notebook('import os\nos.system("pip install numpy  # nbsetup: ignore")')
    assert "NBS006" in {d.code for d in lint.diagnose(nb)}


def test_lock_reads_nothing_from_an_opted_out_notebook(tmp_path: Path, monkeypatch):
    # An index that answers nothing: had lock read the install, resolving it would fail.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    path = _write(tmp_path, notebook("!pip install a", metadata={"nbsetup": {"skip": True}}))
    (tmp_path / "requirements.txt").write_text("")
    result = CliRunner().invoke(main, ["lock", "--check", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "no pin file changed" in result.stderr
    assert (tmp_path / "requirements.txt").read_text() == ""
