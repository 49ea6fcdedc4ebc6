from __future__ import annotations

import copy
import json

import pytest

from nbsetup import envcell, install_lines, kernels, pipeline, transform
from nbsetup.choices import Choices
from nbsetup.config import ProjectConfig
from nbsetup.sources.requirements_txt import parse_requirements

HEADER = [envcell.DEFAULT_HEADER]


def _code(source, **extra):
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source,
        **extra,
    }


def _markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _nb(*cells, minor=4, language="python"):
    return {
        "cells": list(cells),
        "metadata": {"kernelspec": {"language": language, "name": "k", "display_name": "K"}},
        "nbformat": 4,
        "nbformat_minor": minor,
    }


def _pins(text):
    return parse_requirements(text, "requirements.txt", lambda path: "")


def _sources(notebook):
    return ["".join(cell["source"]) for cell in notebook["cells"]]


def _env(*lines, header=HEADER):
    return "\n".join([*header, *lines])


def _kinds(result):
    return [change.kind for change in result.changes]


NO_OP = [
    pytest.param(_nb(), id="empty-notebook"),
    pytest.param(_nb(_code("import os")), id="no-install"),
    pytest.param(_nb(_markdown("!pip install x")), id="markdown-only"),
    pytest.param(_nb(_code("# !pip install numpy\nimport numpy")), id="commented-install"),
    pytest.param(_nb(_code("!pip list\n!pip show numpy")), id="not-installs"),
    pytest.param(_nb(_code("if True:\n    !pip install numpy")), id="only-unmovable-install"),
]


@pytest.mark.parametrize("notebook", NO_OP)
def test_no_op_returns_the_same_notebook(notebook):
    before = copy.deepcopy(notebook)
    result = transform.hoist(notebook)
    assert result.notebook is notebook
    assert notebook == before
    assert result.origins == tuple(range(len(notebook["cells"])))


def test_install_after_import_is_hoisted_before_the_first_code_cell():
    notebook = _nb(
        _markdown("# Title"),
        _code(["import pandas as pd\n", "pd.DataFrame()"]),
        _code(["!pip install pandas\n", "import numpy"]),
    )
    before = copy.deepcopy(notebook)
    result = transform.hoist(notebook)
    assert notebook == before, "the input is not modified"
    assert _sources(result.notebook) == [
        "# Title",
        _env("!pip install pandas"),
        "import pandas as pd\npd.DataFrame()",
        "import numpy",
    ]
    env = result.notebook["cells"][1]
    assert env["metadata"] == {"nbsetup": {"role": "environment"}}
    assert env["outputs"] == []
    assert env["execution_count"] is None
    assert "id" not in env, "nbformat 4.4 has no cell ids"
    assert result.origins == (0, None, 1, 2)
    assert result.notebook["cells"][2] is notebook["cells"][1], "unchanged cells are shared"
    assert _kinds(result) == ["hoisted", "unpinned", "env-cell"]


def test_cell_left_with_only_comments_moves_whole_and_the_env_cell_takes_its_place():
    notebook = _nb(_code("# Install\n!pip install numpy\n\n"), _code("import numpy"))
    result = transform.hoist(notebook)
    assert _sources(result.notebook) == [_env("# Install", "!pip install numpy"), "import numpy"]
    assert "cell-removed" in _kinds(result)
    assert result.origins == (0, 1)


def test_pins_from_requirements_and_conflicts():
    notebook = _nb(
        _code('!pip install -q "numpy<2" Scikit_Learn\nimport numpy'),
    )
    pins = _pins("numpy==2.1.0\nscikit-learn==1.5.1\n")
    result = transform.hoist(notebook, pins)
    assert _sources(result.notebook) == [
        _env("!pip install -q numpy==2.1.0 scikit-learn==1.5.1"),
        "import numpy",
    ]
    assert "conflict" in _kinds(result)
    conflict = next(change for change in result.changes if change.kind == "conflict")
    assert "'numpy<2'" in conflict.message
    assert "numpy==2.1.0" in conflict.message


def test_chain_keeps_its_other_part():
    notebook = _nb(_code("import os\n!pip install rich && echo done\nprint(1)"))
    result = transform.hoist(notebook)
    assert _sources(result.notebook) == [
        _env("!pip install rich"),
        "import os\n!echo done\nprint(1)",
    ]


def test_unmovable_install_stays_and_is_reported():
    guarded = "try:\n    import x\nexcept ImportError:\n    !pip install x"
    notebook = _nb(_code("!pip install numpy"), _code(guarded))
    result = transform.hoist(notebook)
    assert _sources(result.notebook)[1] == guarded
    left = [change for change in result.changes if change.kind == "left"]
    assert len(left) == 1
    assert left[0].cell == 2
    assert left[0].line == 4
    assert left[0].message.startswith("install not moved: ")


def test_second_run_is_a_no_op():
    notebook = _nb(
        _markdown("# T"),
        _code("import a"),
        _code("!pip install b\n%pip install c==1.0\nimport b"),
        minor=5,
    )
    first = transform.hoist(notebook)
    second = transform.hoist(first.notebook)
    assert second.notebook is first.notebook
    assert first.notebook["cells"][1]["id"] == envcell.CELL_ID


def test_merge_into_existing_environment_cell():
    notebook = _nb(_code("import a"), _code("!pip install b"))
    first = transform.hoist(notebook).notebook
    first["cells"].append(_code("!pip install c\nimport c"))
    result = transform.hoist(first)
    assert _sources(result.notebook) == [
        _env("!pip install b", "!pip install c"),
        "import a",
        "import c",
    ]
    assert [c["metadata"].get("nbsetup") for c in result.notebook["cells"]].count(None) == 2
    assert "env-cell" in _kinds(result)


def test_environment_cell_with_other_layout_but_same_meaning_is_left_alone():
    env = _code(
        "%pip install numpy==1.26.4   pandas\n",
        metadata={"nbsetup": {"role": "environment"}},
    )
    notebook = _nb(env, _code("import numpy"))
    result = transform.hoist(notebook, _pins("numpy==1.26.4\n"))
    assert result.notebook is notebook


def test_environment_cell_is_updated_when_pins_change():
    notebook = transform.hoist(_nb(_code("!pip install numpy\nimport numpy"))).notebook
    result = transform.hoist(notebook, _pins("numpy==1.26.4\n"))
    assert _sources(result.notebook)[0] == _env("!pip install numpy==1.26.4")
    assert result.origins == (0, 1)


def test_users_lines_in_environment_cell_are_kept():
    notebook = transform.hoist(_nb(_code("!pip install numpy\nimport numpy"))).notebook
    notebook["cells"][0]["source"] += "\nimport os\n"
    notebook["cells"].append(_code("!pip install rich"))
    result = transform.hoist(notebook)
    assert _sources(result.notebook)[0] == _env(
        "!pip install numpy", "import os", "!pip install rich"
    )
    assert transform.hoist(result.notebook).notebook is result.notebook


def test_environment_cell_moves_before_the_first_code_cell():
    notebook = transform.hoist(_nb(_code("!pip install numpy\nimport numpy"))).notebook
    notebook["cells"].insert(0, _code("x = 1"))
    notebook["cells"].append(_code("!pip install rich"))
    result = transform.hoist(notebook)
    assert _sources(result.notebook) == [
        _env("!pip install numpy", "!pip install rich"),
        "x = 1",
        "import numpy",
    ]


def test_new_cell_follows_source_shape_and_key_order():
    code = {"cell_type": "code", "source": "!pip install x\nimport x", "metadata": {}}
    code.update(execution_count=None, outputs=[])
    result = transform.hoist(_nb(code, minor=5))
    env = result.notebook["cells"][0]
    assert isinstance(env["source"], str)
    assert list(env)[:3] == ["cell_type", "source", "metadata"]
    assert env["id"] == envcell.CELL_ID


def test_list_source_keeps_lines():
    result = transform.hoist(_nb(_code(["!pip install x\n", "import x\n", "x.run()"])))
    env, cell = result.notebook["cells"]
    assert cell["source"] == ["import x\n", "x.run()"]
    assert env["source"] == [line + "\n" for line in HEADER] + ["!pip install x"]


def test_apt_update_moves_with_its_install():
    notebook = _nb(
        _code("!apt-get update\n!apt-get install -y ffmpeg\n!pip install pydub\nimport pydub")
    )
    result = transform.hoist(notebook)
    assert _sources(result.notebook)[0] == _env(
        "!apt-get update", "!apt-get install -y ffmpeg", "!pip install pydub"
    )


def test_apt_update_alone_is_not_moved():
    notebook = _nb(_code("import os\n!apt-get update\n!pip install x"))
    result = transform.hoist(notebook)
    assert _sources(result.notebook)[1] == "import os\n!apt-get update"


def test_the_pip_style_leaves_written_lines_as_written_and_spells_rendered_ones():
    config = transform.Config(choices=Choices(env_cell_style="!pip"))
    result = transform.hoist(_nb(_code("%pip install -q numpy\nimport numpy")), config=config)
    assert _sources(result.notebook)[0] == _env("%pip install -q numpy")
    call = _code(
        'import subprocess, sys\nsubprocess.run([sys.executable, "-m", "pip", "install", "x"])'
    )
    result = transform.hoist(_nb(call), config=config)
    assert _sources(result.notebook)[0] == _env("!pip install x")
    assert "normalised" in _kinds(result)


def test_switching_the_pip_style_leaves_the_lines_alone_and_records_the_style():
    notebook = transform.hoist(_nb(_code("!pip install numpy\nimport numpy"))).notebook
    shell = transform.Config(choices=Choices(env_cell_style="!pip"))
    switched = transform.hoist(notebook, config=shell).notebook
    assert _sources(switched) == _sources(notebook)
    assert switched["cells"][0]["metadata"]["nbsetup"]["env-cell-style"] == "!pip"
    assert transform.hoist(switched, config=shell).notebook is switched


def test_quiet_install_adds_q_reported_and_only_once():
    quiet = transform.Config(choices=Choices(quiet_install=True))
    result = transform.hoist(_nb(_code("!pip install numpy\nimport numpy")), config=quiet)
    assert _sources(result.notebook)[0] == _env("!pip install -q numpy")
    normalised = next(c for c in result.changes if c.kind == "normalised")
    assert "-q added (quiet-install)" in normalised.message
    assert transform.hoist(result.notebook, config=quiet).notebook is result.notebook


def test_unknown_pip_style_is_refused():
    with pytest.raises(ValueError, match="pip style"):
        install_lines.LineStyle(pip="%uv")


@pytest.mark.parametrize(
    ("accepted", "language", "skipped"),
    [
        (("python",), "python", False),
        (("python",), "R", True),
        (("python", "r"), "R", False),
        (("r",), "python", True),
    ],
)
def test_kernels_decide_which_notebooks_are_rewritten(accepted, language, skipped):
    notebook = _nb(_code("!pip install numpy"), language=language)
    data = (json.dumps(notebook, indent=1) + "\n").encode()
    fixed = pipeline.fix_data(data, ProjectConfig(kernels=accepted), pipeline.PinChoice())
    assert (kernels.skip_reason(notebook, accepted) is not None) is skipped
    assert (fixed.status == "skipped") is skipped
    assert (fixed.data == data) is skipped


def test_a_pinned_package_an_install_left_in_place_installs_is_not_guaranteed():
    pins = parse_requirements("numpy==1.26.4\n", "requirements.txt", lambda path: "")
    cell = "import os\nif os.environ.get('OLD'):\n    !pip install numpy==1.24 rich\n"
    result = transform.hoist(_nb(_code(cell)), pins)
    warnings = [c for c in result.changes if c.kind == "unguaranteed"]
    assert [(c.cell, c.line, c.package) for c in warnings] == [(1, 3, "numpy")]
    assert warnings[0].message == (
        "numpy: pinned to 'numpy==1.26.4' by requirements.txt, line 1, but this install stays "
        "in place and installs 'numpy==1.24': the pin is not guaranteed"
    )
