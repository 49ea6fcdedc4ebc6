"""Install blocks that read only the starting environment move whole (`installs.blocks`).

Sites read as one line each: `"2:1-3 if block"` is a movable site of cell 2, lines 1-3 (1-based,
inclusive); a site that stays reads `"2:2 stays: REASON"`.
"""

from __future__ import annotations

import ast
import copy
import json

import pytest

from nbsetup import lint, safety, transform
from nbsetup.errors import UnsafeChange
from nbsetup.installs import blocks, find_installs
from nbsetup.magics import scan_cell
from nbsetup.notebook_io import cell_text
from tests import builders
from tests.conftest import CORPUS_NOTEBOOKS


def _sites(*cells: str) -> list[str]:
    out = []
    for site in find_installs(list(cells)):
        where = f"{site.cell + 1}:{site.start + 1}"
        if site.movable:
            span = f"-{site.end}" if site.end - site.start > 1 else ""
            out.append(f"{where}{span} {site.form}")
        else:
            out.append(f"{where} stays: {site.commands[0].reason}")
    return out


def _nb(*cells: str) -> dict:
    return builders.notebook(*cells)


MOVES = [
    pytest.param(
        (
            "import sys\nIN_COLAB = 'google.colab' in sys.modules",
            "if IN_COLAB:\n    !pip install x",
        ),
        ["1:1 definition", "1:2 definition", "2:1-2 if block"],
        id="colab variable, assignment first",
    ),
    pytest.param(
        ('import os\nif "COLAB_" not in "".join(os.environ.keys()):\n    !pip install x',),
        ["1:1 definition", "1:2-3 if block"],
        id="os.environ keys",
    ),
    pytest.param(
        ('import os\nif os.getenv("KAGGLE_URL_BASE") is None:\n    %pip install x',),
        ["1:1 definition", "1:2-3 if block"],
        id="os.getenv",
    ),
    pytest.param(
        (
            "from importlib.util import find_spec\n"
            'if find_spec("torch") is None:\n    !pip install torch',
        ),
        ["1:1 definition", "1:2-3 if block"],
        id="find_spec imported by name",
    ),
    pytest.param(
        ('import shutil\nif not shutil.which("ffmpeg"):\n    !apt-get install -y ffmpeg',),
        ["1:1 definition", "1:2-3 if block"],
        id="shutil.which",
    ),
    pytest.param(
        ("import sys\nif sys.version_info < (3, 11):\n    !pip install tomli\nelse:\n    pass",),
        ["1:1 definition", "1:2-5 if block"],
        id="sys.version_info with a pass branch",
    ),
    pytest.param(
        ("if 'google.colab' in str(get_ipython()):\n    !pip install x",),
        ["1:1-2 if block"],
        id="get_ipython needs no definition",
    ),
    pytest.param(
        ("try:\n    import x\nexcept (ImportError, ModuleNotFoundError):\n    !pip install x",),
        ["1:1-4 try block"],
        id="try import",
    ),
    pytest.param(
        (
            "try:\n    import google.colab\n    IN_COLAB = True\nexcept ImportError:\n"
            "    IN_COLAB = False",
            "x = 1",
            "if not IN_COLAB:\n    !pip install x",
        ),
        ["1:1-5 definition", "3:1-2 if block"],
        id="try idiom defines IN_COLAB",
    ),
    pytest.param(
        (
            "import sys",
            "if sys.platform == 'linux':\n    !pip install a",
            "if sys.platform == 'darwin':\n    !pip install b",
        ),
        ["1:1 definition", "2:1-2 if block", "3:1-2 if block"],
        id="a definition moves once for two blocks",
    ),
    pytest.param(
        ("import os", "import os, re", "if os.getenv('X'):\n    !pip install x"),
        ["1:1 definition", "3:1-2 if block"],
        id="a mixed import of the same module keeps the earlier definition",
    ),
    pytest.param(
        ("import sys\nif sys.platform == 'linux':\n    !pip install a \\\n        b",),
        ["1:1 definition", "1:2-4 if block"],
        id="continuation line in a branch",
    ),
]

STAYS = [
    pytest.param(
        ("USE_GPU = True", "if USE_GPU:\n    !pip install cupy"),
        "inside an if block (its condition reads `USE_GPU`, not a test of the runtime)",
        id="constant is the user's choice",
    ),
    pytest.param(
        ("if use:\n    !pip install x",),
        "inside an if block (its condition reads `use`, not a test of the runtime)",
        id="user variable",
    ),
    pytest.param(
        ("import os\nif os.path.exists('gpu.txt'):\n    !pip install x",),
        "inside an if block (it calls os.path.exists(), which may do more than read)",
        id="file test",
    ),
    pytest.param(
        ("import sys\nif sys.platform == 'linux':\n    !pip install x\n    import x",),
        "inside an if block (line 4 of a branch is not an install)",
        id="non-install line",
    ),
    pytest.param(
        ("import sys\nif sys.platform == 'linux':\n    !echo hi",),
        None,
        id="escape that installs nothing",
    ),
    pytest.param(
        ("import sys\nif sys.platform == 'linux':\n    !pip install x && echo done",),
        "inside an if block (line 3 of a branch does more than install)",
        id="chain in a branch",
    ),
    pytest.param(
        ("import sys\nv = '1'\nif sys.platform == 'linux':\n    !pip install x=={v}",),
        "inside an if block (uses the Python variable {v})",
        id="interpolation",
    ),
    pytest.param(
        ("try:\n    import x\n    import y\nexcept ImportError:\n    !pip install x",),
        "inside a try block (its try body is not a single import)",
        id="try body does more",
    ),
    pytest.param(
        (
            'import os\nos.environ["HF_HOME"] = "/tmp"',
            'if os.getenv("HF_HOME"):\n    !pip install x',
        ),
        "inside an if block (follows a change of os.environ at cell 1, line 2)",
        id="os.environ written earlier",
    ),
    pytest.param(
        ("import sys\nsys.path.append('lib')", "if sys.platform == 'linux':\n    !pip install x"),
        "inside an if block (follows a change of sys.path at cell 1, line 2)",
        id="sys.path changed earlier",
    ),
    pytest.param(
        ("import sys", "%cd sub", "if sys.platform == 'linux':\n    !pip install x"),
        "inside an if block (follows a change of directory)",
        id="directory changed earlier",
    ),
    pytest.param(
        ("import sys\nimport torch", "if 'torch' in sys.modules:\n    !pip install x"),
        "inside an if block (reads sys.modules for torch, which the notebook imports before)",
        id="sys.modules after an import",
    ),
    pytest.param(
        (
            "import sys\nIN_COLAB = 'google.colab' in sys.modules",
            "IN_COLAB = False",
            "if IN_COLAB:\n    !pip install x",
        ),
        "inside an if block (its condition reads `IN_COLAB`, from cell 1, line 2: `IN_COLAB` "
        "is set again at cell 2, line 1)",
        id="reassigned by a constant",
    ),
    pytest.param(
        (
            "import sys\nIN_COLAB = 'google.colab' in sys.modules",
            "for IN_COLAB in (1, 2):\n    pass",
            "if IN_COLAB:\n    !pip install x",
        ),
        "inside an if block (its condition reads `IN_COLAB`, from cell 1, line 2: `IN_COLAB` "
        "is set again at cell 2, line 1)",
        id="reassigned by a loop",
    ),
    pytest.param(
        ("import sys, numpy", "if sys.platform == 'linux':\n    !pip install x"),
        "inside an if block (its condition reads `sys`, from cell 1, line 1: imported together "
        "with other modules)",
        id="imported with other modules",
    ),
    pytest.param(
        ("import os\nX = os.environ.get('X')  #@param", "if X:\n    !pip install x"),
        "inside an if block (its condition reads `X`, from cell 1, line 2: a Colab form field: "
        "the user's choice)",
        id="Colab form field",
    ),
]


@pytest.mark.parametrize(("cells", "expected"), MOVES)
def test_blocks_that_move(cells, expected):
    assert _sites(*cells) == expected


@pytest.mark.parametrize(("cells", "reason"), STAYS)
def test_blocks_that_stay(cells, reason):
    found = _sites(*cells)
    assert not any(line.endswith(("if block", "try block", "definition")) for line in found)
    if reason is not None:
        assert found[0].startswith(f"{len(cells)}:")
        assert found[0].endswith(f"stays: {reason}")


def test_an_install_after_a_block_that_stays_follows_it():
    assert _sites("if use:\n    !pip install x", "!pip install y")[1] == (
        "2:1 stays: follows an install that stays in place at cell 1, line 2"
    )


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("x = 1\nprint(x)", id="no statement"),
        pytest.param("    if x:\n        pass", id="indented only"),
        pytest.param("df.head()", id="expression"),
    ],
)
def test_cheap_text_test_skips_ordinary_cells(source):
    assert not blocks.may_hold_block(source)


def test_recogniser_finds_blocks_and_definitions():
    source = (
        "import sys\nIN_COLAB = 'google.colab' in sys.modules\nif IN_COLAB:\n    !pip install x\n"
    )
    found = blocks.find_statements(source, scan_cell(source))
    assert [(f.kind, f.start, f.end, f.names, f.reads) for f in found] == [
        ("definition", 0, 1, ("sys",), ()),
        ("definition", 1, 2, ("IN_COLAB",), ("sys",)),
        ("block", 2, 4, (), ("IN_COLAB",)),
    ]
    assert found[1].modules == ("google.colab",)
    assert found[2].installs == (3,)


COLAB = (
    "import sys\nIN_COLAB = 'google.colab' in sys.modules\nprint('start')",
    "# Colab has it\nif IN_COLAB:\n    !pip install -q x  # quiet\nelse:\n    # elsewhere\n"
    "    %pip install x y\nprint('installed')",
    "!pip install z",
)


def test_a_block_moves_verbatim_after_its_definitions_and_in_notebook_order():
    result = transform.hoist(_nb(*COLAB))
    cells = [cell_text(cell) for cell in result.notebook["cells"]]
    assert cells[0].splitlines()[1:] == [
        "import sys",
        "IN_COLAB = 'google.colab' in sys.modules",
        "# Colab has it",
        "if IN_COLAB:",
        "    !pip install -q x  # quiet",
        "else:",
        "    # elsewhere",
        "    %pip install x y",
        "!pip install z",
    ]
    assert cells[1:] == ["print('start')", "print('installed')"]
    messages = [c.message for c in result.changes if c.kind == "hoisted"]
    assert messages[2] == (
        "moved if block (lines 2-6, installs x; x y; it reads IN_COLAB) to the environment "
        "cell, whole and as written"
    )
    safety.verify(_nb(*COLAB), result.notebook, result.origins)


def test_a_second_run_changes_nothing():
    once = transform.hoist(_nb(*COLAB)).notebook
    twice = transform.hoist(once)
    assert twice.notebook is once


def test_pins_apply_to_the_lines_of_a_block():
    from nbsetup.sources.requirements_txt import parse_requirements

    pins = parse_requirements("x==1.0\n", "requirements.txt", lambda path: "")
    result = transform.hoist(_nb(*COLAB), pins)
    env = cell_text(result.notebook["cells"][0])
    assert "    !pip install -q x==1.0  # quiet" in env.splitlines()
    assert "    %pip install x==1.0 y" in env.splitlines()
    assert transform.hoist(result.notebook, pins).notebook is result.notebook


def test_the_safety_net_notices_a_lost_line_of_a_block():
    old = _nb(*COLAB)
    result = transform.hoist(old)
    broken = copy.deepcopy(result.notebook)
    env = broken["cells"][0]
    env["source"] = env["source"].replace("else:\n", "")
    with pytest.raises(UnsafeChange, match="'else:' of a moved block"):
        safety.verify(old, broken, result.origins)


def test_check_flags_the_block_not_its_definitions():
    found = [d for d in lint.diagnose(_nb(*COLAB)) if d.code == "NBS006"]
    assert [(d.cell, d.line) for d in found] == [(2, 2), (3, 1)]
    fixed = transform.hoist(_nb(*COLAB)).notebook
    assert [d for d in lint.diagnose(fixed) if d.code == "NBS006"] == []


def test_a_block_with_a_line_nbsetup_would_repair_stays():
    found = _sites("import sys\nif sys.platform == 'linux':\n    !pip install matplotlib>=3.3.2")
    assert found[-1] == (
        "1:3 stays: inside an if block (line 3 would be rewritten, so the block cannot move as "
        "written)"
    )


@pytest.mark.parametrize(
    ("cells", "opted_out"),
    [
        pytest.param(
            ("import sys\nif sys.platform == 'darwin':  # nbsetup: skip\n    !pip install x",),
            None,
            id="skip on the if line",
        ),
        pytest.param(
            ("import sys\nif sys.platform == 'darwin':\n    !pip install x  # nbsetup: skip",),
            None,
            id="skip on a branch line",
        ),
        pytest.param(
            ("import sys\n# nbsetup: skip\nif sys.platform == 'darwin':\n    !pip install x",),
            None,
            id="skip above the block",
        ),
        pytest.param(
            ("import sys\nif sys.platform == 'darwin':\n    !pip install x",),
            {0: "opted out by its cell's `nbsetup-skip` tag"},
            id="cell opts out",
        ),
    ],
)
def test_an_opted_out_block_stays_with_the_users_reason(cells, opted_out):
    """The opt-outs of issue 25 hold for a whole block too: it stays, each install a barrier."""
    sites = find_installs(list(cells), opted_out)
    assert [site.form for site in sites] != ["if block"]
    (site,) = [site for site in sites if site.commands]
    assert not site.movable
    assert site.commands[0].reason.startswith("opted out")


NESTED = """\
import sys
!pip install top
if sys.platform == "linux":
    !pip install a
    for x in range(2):
        while False:
            %pip install b
    else:
        !pip install c
try:
    import d
except ImportError:
    with open("f") as handle:
        !pip install d
    class K:
        def f(self):
            !pip install e
            g = lambda: 1
else:
    pass
finally:
    !pip install f
match sys.platform:
    case "linux":
        !pip install g
    case _:
        pass
"""


# IPython ends a cell line at `\f`, U+2028 and a few more; Python does not (`cell_lines`).
ODD_BREAKS = [pytest.param("\u2028", id="U+2028"), pytest.param("\x0c", id="form feed")]


@pytest.mark.parametrize("odd", ODD_BREAKS)
def test_a_block_after_a_line_break_python_does_not_count_moves_from_its_cell_lines(odd):
    before = f'import sys\ns = "a{odd}b"\n'
    block = 'if "google.colab" in sys.modules:\n    !pip install x\n'
    assert _sites(before + block) == ["1:1 definition", "1:4-5 if block"]
    result = transform.hoist(_nb(before + block, "import x"))
    cells = [cell_text(cell) for cell in result.notebook["cells"]]
    assert cells[0].splitlines()[1:] == [
        "import sys",
        'if "google.colab" in sys.modules:',
        "    !pip install x",
    ]
    assert cells[1:] == [f's = "a{odd}b"\n', "import x"]
    safety.verify(_nb(before + block, "import x"), result.notebook, result.origins)


@pytest.mark.parametrize("odd", ODD_BREAKS)
def test_a_definition_with_a_line_break_python_does_not_count_stays(odd):
    # Written with `\n` breaks in the environment cell, ` x` would start an indented line.
    cell = f'import sys\nIN_COLAB = "google.colab" in sys.modules  # a{odd} x\n'
    reason = f"one of its lines ends in U+{ord(odd):04X}, a line break for IPython but not for"
    (site,) = [s for s in _sites(cell, "if IN_COLAB:\n    !pip install x") if "stays" in s]
    assert site.startswith("2:2 stays: inside an if block (its condition reads `IN_COLAB`")
    assert reason in site


def test_the_statement_walk_meets_every_masked_escape_that_ast_walk_does() -> None:
    """`_statements` skips expressions: it must still meet every bare-name statement (here,
    and in every code cell of the corpus)."""
    corpus_cells = [
        cell_text(cell)
        for path in CORPUS_NOTEBOOKS
        for cell in json.loads(path.read_bytes()).get("cells", [])
        if cell.get("cell_type") == "code"
    ]
    for source in [NESTED, *corpus_cells]:
        parsed = blocks._parse(source)
        if parsed is None:
            continue
        every = {blocks._token_line(node) for node in ast.walk(parsed[0])}
        assert {blocks._token_line(node) for node in blocks._statements(parsed[0])} == every
    nested = blocks._parse(NESTED)
    assert nested is not None
    assert len({blocks._token_line(n) for n in blocks._statements(nested[0])}) == 9
