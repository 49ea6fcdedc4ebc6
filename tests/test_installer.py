"""The installer choice (`--installer pip|uv|auto`) and the `auto` block of the env cell."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from nbsetup import envcell, transform
from nbsetup.choices import Choices
from nbsetup.notebook_io import cell_text
from nbsetup.sources.requirements_txt import parse_requirements


def _nb(*sources):
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s}
        for s in sources
    ]
    metadata = {"kernelspec": {"language": "python", "name": "k", "display_name": "K"}}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 4}


PINS = parse_requirements("numpy==1.26.4\n", "requirements.txt", {}.__getitem__)
NOTEBOOK = _nb("import numpy", "%pip install --index-url https://example.org/simple numpy")


def _config(installer, pip="%pip"):
    return transform.Config(choices=Choices(installer=installer, env_cell_style=pip))


def _env_lines(notebook, installer, pip="%pip"):
    result = transform.hoist(notebook, PINS, _config(installer, pip))
    return cell_text(result.notebook["cells"][0]).splitlines()[1:], result


@pytest.mark.parametrize(
    ("installer", "pip", "expected"),
    [
        pytest.param(
            "pip",
            "%pip",
            ["%pip install --index-url https://example.org/simple numpy==1.26.4"],
            id="pip",
        ),
        pytest.param(
            "uv",
            "%pip",
            ["%uv pip install --index-url https://example.org/simple numpy==1.26.4"],
            id="uv",
        ),
        pytest.param(
            "uv",
            "!pip",
            ["!uv pip install --index-url https://example.org/simple numpy==1.26.4"],
            id="uv-shell",
        ),
        pytest.param(
            "auto",
            "%pip",
            [
                "# nbsetup: begin installer: pip if the kernel has it, else uv pip "
                "(uv venvs lack pip)",
                "import importlib.util",
                "",
                'if importlib.util.find_spec("pip"):',
                "    %pip install --index-url https://example.org/simple numpy==1.26.4",
                "else:",
                "    %uv pip install --index-url https://example.org/simple numpy==1.26.4",
                "# nbsetup: end installer",
            ],
            id="auto",
        ),
    ],
)
def test_installer_lines(installer, pip, expected):
    lines, _ = _env_lines(NOTEBOOK, installer, pip)
    assert lines == expected


@pytest.mark.parametrize("installer", ["pip", "uv", "auto"])
def test_each_installer_is_idempotent(installer):
    _, first = _env_lines(NOTEBOOK, installer)
    again = transform.hoist(first.notebook, PINS, _config(installer))
    assert again.notebook is first.notebook
    assert [c.kind for c in again.changes] == []


# `uv` → anything is not here: the lines `installer = "uv"` wrote are `uv pip` lines, which
# later runs keep as written (they cannot tell them from the user's own `uv pip` lines).
@pytest.mark.parametrize(("before", "after"), [("pip", "uv"), ("pip", "auto"), ("auto", "pip")])
def test_switching_the_installer_rewrites_the_environment_cell(before, after):
    _, first = _env_lines(NOTEBOOK, before)
    switched = transform.hoist(first.notebook, PINS, _config(after))
    assert [c.kind for c in switched.changes] == ["pinned", "env-cell", "env-cell"]
    recorded = "records installer" if after != "pip" else "no longer records installer"
    assert recorded in switched.changes[-1].message
    expected, _ = _env_lines(NOTEBOOK, after)
    assert cell_text(switched.notebook["cells"][0]).splitlines()[1:] == expected


def test_auto_keeps_apt_and_conda_lines_as_written_in_both_branches():
    notebook = _nb("!apt-get install -y ffmpeg\n!conda install -y gdal\n!pip install numpy")
    lines, _ = _env_lines(notebook, "auto")
    assert lines[4:] == [
        "    !apt-get install -y ffmpeg",
        "    !conda install -y gdal",
        "    !pip install numpy==1.26.4",
        "else:",
        "    !apt-get install -y ffmpeg",
        "    !conda install -y gdal",
        "    %uv pip install numpy==1.26.4",
        "# nbsetup: end installer",
    ]


def test_auto_without_pip_lines_writes_no_block():
    lines, _ = _env_lines(_nb("!apt-get install -y ffmpeg"), "auto")
    assert lines == ["!apt-get install -y ffmpeg"]


def test_user_view_reads_the_auto_block_as_its_pip_lines():
    lines, _ = _env_lines(NOTEBOOK, "auto")
    view = envcell.user_view("\n".join(lines)).split("\n")
    assert [line for line in view if line] == [
        "%pip install --index-url https://example.org/simple numpy==1.26.4"
    ]
    assert len(view) == len(lines)  # line numbers are kept


def _run_auto_cell(tmp_path, with_pip):
    """Run the `auto` block as IPython would, in a fresh interpreter; return the magics run.

    IPython turns the cell into Python (`get_ipython().run_line_magic(...)`); the interpreter
    gets a stand-in `get_ipython` that records the calls. `-I -S` keeps site-packages, and so
    the real pip, out of its path; a fake `pip` package on the path stands for a kernel that
    has pip.
    """
    lines, _ = _env_lines(NOTEBOOK, "auto")
    python = TransformerManager().transform_cell("\n".join(lines) + "\n")
    compile(python, "<environment cell>", "exec")
    if with_pip:
        (tmp_path / "pip").mkdir()
        (tmp_path / "pip" / "__init__.py").write_text("")
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        calls = []
        class Shell:
            def run_line_magic(self, name, line):
                calls.append([name, line])
        get_ipython = Shell
        exec(compile({python!r}, "<cell>", "exec"))
        print(json.dumps(calls))
        """
    )
    process = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(process.stdout)


@pytest.mark.parametrize(
    ("with_pip", "expected"),
    [
        pytest.param(True, ["pip", "install --index-url"], id="pip-present"),
        pytest.param(False, ["uv", "pip install --index-url"], id="pip-missing"),
    ],
)
def test_auto_cell_picks_the_branch_the_kernel_can_run(tmp_path, with_pip, expected):
    calls = _run_auto_cell(tmp_path, with_pip)
    assert len(calls) == 1
    name, line = calls[0]
    assert [name, line[: len(expected[1])]] == expected
    assert line.endswith("numpy==1.26.4")


@pytest.mark.parametrize("installer", ["uv", "auto"])
def test_a_line_written_anew_for_the_installer_keeps_its_comment(installer):
    """`--installer uv` renders pip lines from their words: the trailing comment stays (it was
    dropped, and the safety net refused the rewrite)."""
    from nbsetup import safety

    notebook = _nb("import os", "!pip install numpy requests  # for the API\nimport requests")
    lines, result = _env_lines(notebook, installer)
    uv_lines = [line for line in lines if "%uv pip install" in line]
    assert uv_lines
    assert all(line.endswith("  # for the API") for line in uv_lines)
    safety.verify(notebook, result.notebook, result.origins)
    again = transform.hoist(result.notebook, PINS, _config(installer))
    assert again.notebook == result.notebook


def test_auto_indents_every_line_of_a_continued_install():
    notebook = _nb("!pip install -qU \\\n  numpy \\\n  pandas")
    lines, first = _env_lines(notebook, "auto")
    assert lines[3:8] == [
        'if importlib.util.find_spec("pip"):',
        "    !pip install -qU \\",
        "      numpy==1.26.4 \\",
        "      pandas",
        "else:",
    ]
    assert envcell.document("\n".join(lines)) == [
        "!pip install -qU \\",
        "  numpy==1.26.4 \\",
        "  pandas",
    ]
    assert transform.hoist(first.notebook, PINS, _config("auto")).notebook is first.notebook


def test_auto_keeps_the_blank_lines_of_the_document():
    """A blank line in the branches is the document's: black and ruff put one after an import."""
    _, first = _env_lines(NOTEBOOK, "auto")
    cells = first.notebook["cells"]
    own = "    import os\n\n    os.getcwd()\n"  # the user's lines, as the formatters write them
    text = cell_text(cells[0]).replace("else:", f"{own}else:")
    text = text.replace("# nbsetup: end installer", f"{own}# nbsetup: end installer")
    cells[0] = {**cells[0], "source": text}
    assert envcell.document(text)[-3:] == ["import os", "", "os.getcwd()"]
    assert transform.hoist(first.notebook, PINS, _config("auto")).notebook is first.notebook
