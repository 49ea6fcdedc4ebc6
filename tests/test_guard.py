"""The runtime guard (`--guard`): generated code, its place in the environment cell, its runs.

The real-kernel test (a kernel that imported 1.0 is told to restart) is in test_kernel.py.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import io
import sys

import click
import pytest

from nbsetup import envcell, guard, transform
from nbsetup.choices import Choices
from nbsetup.install_lines import InstallLine
from nbsetup.notebook_io import cell_text
from nbsetup.sources.requirements_txt import parse_requirements
from tests.test_check import _nb


def _pins(text):
    return parse_requirements(text, "requirements.txt", {}.__getitem__)


GUARDED = transform.Config(choices=Choices(guard=True))
NO_GUARD = transform.Config(choices=Choices(guard=False))


def _env_text(result):
    index = envcell.find(result.notebook["cells"])
    assert index is not None
    return cell_text(result.notebook["cells"][index])


def _guard_code(pins):
    return "\n".join([*guard.before_block(pins), *guard.after_block()])


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            [InstallLine("pip", (), ("numpy==1.26.4", "Pandas>=2"))],
            (("numpy", "==1.26.4"), ("pandas", ">=2")),
            id="named-sorted-canonical",
        ),
        pytest.param([InstallLine("pip", (), ("requests",))], (("requests", ""),), id="bare"),
        pytest.param(
            [
                InstallLine(
                    "pip", (), ("tool @ git+https://x/tool.git", "pkg; sys_platform == 'x'")
                )
            ],
            (),
            id="url-and-marker-left-out",
        ),
        pytest.param(
            [InstallLine("conda", (), ("gdal=3.8",)), InstallLine("apt", (), ("ffmpeg",))],
            (),
            id="not-pip",
        ),
        pytest.param(
            [InstallLine("pip", (), ("numpy==1",)), InstallLine("pip", ("--pre",), ("numpy==2",))],
            (("numpy", "==2"),),
            id="last-wins",
        ),
    ],
)
def test_guarded_pins(lines, expected):
    assert guard.guarded(lines) == expected


def test_generated_code_compiles_as_python_3_8_and_is_stable():
    pins = (("numpy", "==1.26.4"), ("pandas", ">=2"))
    code = _guard_code(pins)
    ast.parse(code, feature_version=(3, 8))
    assert code == _guard_code(tuple(pins))
    assert '    "numpy": "==1.26.4",' in code.splitlines()
    assert guard.before_block(pins)[0].startswith("# nbsetup: begin guard-before: ")
    assert guard.after_block()[-1] == "# nbsetup: end guard-after"


def _run_guard(pins, imported=None):
    """Run the guard's code in a fresh namespace; returns what it prints."""
    before, after = guard.before_block(pins), guard.after_block()
    namespace = {}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec("\n".join(before), namespace)
        if imported is not None:
            namespace["_nbsetup_before"].update(imported)
        exec("\n".join(after), namespace)
    return output.getvalue().splitlines()


def test_guard_prints_nothing_when_pins_hold():
    version = importlib.metadata.version("click")
    assert _run_guard((("click", f"=={version}"), ("packaging", ""))) == []


def test_guard_names_an_unsatisfied_pin_and_a_missing_package():
    version = importlib.metadata.version("click")
    lines = _run_guard((("click", "==0.0.1"), ("nbsetup-not-a-real-dist", "==1")))
    assert lines == [
        f"click: installed {version} does not satisfy ==0.0.1",
        "nbsetup-not-a-real-dist: not installed",
    ]


def test_guard_asks_for_a_restart_when_another_version_was_imported():
    version = importlib.metadata.version("click")
    assert _run_guard((("click", ""),), imported={"click": "0.1"}) == [
        f"click 0.1 was already imported; restart the runtime (Runtime → Restart session in "
        f"Colab, Kernel → Restart in Jupyter) to use {version}"
    ]


def test_guard_finds_what_this_process_imported():
    assert click.__name__ in sys.modules
    namespace = {}
    exec("\n".join(guard.before_block((("click", ""), ("hypothesis", "")))), namespace)
    assert namespace["_nbsetup_before"]["click"] == importlib.metadata.version("click")


def test_guarded_environment_cell_runs_guard_around_the_installs():
    result = transform.hoist(
        _nb("import numpy", "!pip install numpy pandas"), _pins("numpy==1.26.4\n"), GUARDED
    )
    lines = _env_text(result).splitlines()
    install = lines.index("!pip install numpy==1.26.4 pandas")
    assert lines.index("# nbsetup: end guard-before") < install
    assert lines.index("# nbsetup: begin guard-after: " + lines[install + 1].split(": ", 2)[2])
    assert set(envcell.read_blocks("\n".join(lines))) == {guard.BEFORE, guard.AFTER}


def test_guard_is_idempotent_and_updated_with_the_pins():
    notebook = _nb("import numpy", "!pip install numpy")
    first = transform.hoist(notebook, _pins("numpy==1.26.4\n"), GUARDED)
    again = transform.hoist(first.notebook, _pins("numpy==1.26.4\n"), GUARDED)
    assert again.notebook is first.notebook
    updated = transform.hoist(first.notebook, _pins("numpy==2.0.1\n"), GUARDED)
    text = _env_text(updated)
    assert '    "numpy": "==2.0.1",' in text.splitlines()
    assert text.count("# nbsetup: begin guard-before") == 1
    assert text.count("# nbsetup: begin guard-after") == 1
    assert "==1.26.4" not in text


def test_turning_the_guard_off_removes_it_and_user_lines_stay():
    notebook = _nb("import numpy", "!pip install numpy")
    first = transform.hoist(notebook, _pins("numpy==1.26.4\n"), GUARDED)
    cells = first.notebook["cells"]
    cells[0] = {**cells[0], "source": cell_text(cells[0]) + "\nimport os  # my own line"}
    off = transform.hoist(first.notebook, _pins("numpy==1.26.4\n"), NO_GUARD)
    text = _env_text(off)
    assert "guard" not in text
    assert text.splitlines()[-2:] == ["!pip install numpy==1.26.4", "import os  # my own line"]


def test_an_edited_guard_is_regenerated():
    notebook = _nb("import numpy", "!pip install numpy")
    first = transform.hoist(notebook, _pins("numpy==1.26.4\n"), GUARDED)
    generated = _env_text(first)
    cells = first.notebook["cells"]
    cells[0] = {**cells[0], "source": generated.replace('"==1.26.4"', '"==9"')}
    fixed = transform.hoist(first.notebook, _pins("numpy==1.26.4\n"), GUARDED)
    assert _env_text(fixed) == generated


def test_a_block_whose_end_was_deleted_leaves_no_stray_delimiter():
    notebook = _nb("import numpy", "!pip install numpy")
    first = transform.hoist(notebook, _pins("numpy==1.26.4\n"), GUARDED)
    cells = first.notebook["cells"]
    cut = _env_text(first).replace("\n# nbsetup: end guard-after", "")
    cells[0] = {**cells[0], "source": cut}
    fixed = transform.hoist(first.notebook, _pins("numpy==1.26.4\n"))
    text = _env_text(fixed)
    assert text.count("# nbsetup: begin guard-after") == 1
    assert text.endswith("# nbsetup: end guard-after")
    assert transform.hoist(fixed.notebook, _pins("numpy==1.26.4\n")).notebook is fixed.notebook


def test_no_guard_without_named_pip_requirements():
    result = transform.hoist(_nb("!apt-get install -y ffmpeg"), transform.NO_PINS, GUARDED)
    assert "guard" not in _env_text(result)
