from __future__ import annotations

import json

import pytest

from nbsetup import distributions, envcell, lint, packages, pipeline, report, transform
from nbsetup.config import ProjectConfig
from nbsetup.diagnostics import Config, Diagnostic, split_codes, validate_codes
from nbsetup.imports import Import, find_imports, written_modules
from nbsetup.sources.requirements_txt import parse_requirements

NO_PINS = transform.NO_PINS


def _code(source, **metadata):
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source,
    }


def _env(source):
    return _code(source, **{envcell.MARKER: dict(envcell.MARKER_VALUE)})


def _markdown(source):
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def _nb(*cells, language="python"):
    return {
        "cells": [_code(cell) if isinstance(cell, str) else cell for cell in cells],
        "metadata": {"kernelspec": {"language": language, "name": "k", "display_name": "K"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _pins(text):
    files = {"constraints.txt": "numpy==1.26.4\n"}
    return parse_requirements(text, "requirements.txt", files.__getitem__)


def _found(notebook, code, pins=NO_PINS, packages=distributions.NO_PACKAGES, **config):
    """(cell, line, package) of each diagnostic with `code`."""
    select = frozenset({code})
    diagnostics = lint.diagnose(notebook, pins, Config(select=select, **config), packages)
    assert all(d.code == code for d in diagnostics)
    return [(d.cell, d.line, d.package) for d in diagnostics]


def _messages(notebook, code, pins=NO_PINS, packages=distributions.NO_PACKAGES):
    config = Config(select=frozenset({code}))
    return [d.message for d in lint.diagnose(notebook, pins, config, packages)]


# NBS001: installed after it is imported ---------------------------------------------------------

NBS001_FIRES = [
    pytest.param(_nb("import numpy", "!pip install numpy"), [(2, 1, "numpy")], id="later-cell"),
    pytest.param(
        _nb("import numpy as np\n%pip install -q numpy==1.26.4"), [(1, 2, "numpy")], id="same-cell"
    ),
    pytest.param(
        _nb("from sklearn.svm import SVC", "x = 1\n!pip install -U scikit-learn"),
        [(2, 2, "scikit-learn")],
        id="curated-sklearn",
    ),
    pytest.param(
        _nb("try:\n    import yaml\nexcept ImportError:\n    pass", "!pip install PyYAML"),
        [(2, 1, "pyyaml")],
        id="guarded-import-still-loads",
    ),
    pytest.param(
        _nb("if True:\n    import cv2", "!conda install -y opencv-python-headless"),
        [(2, 1, "opencv-python-headless")],
        id="conda-variant",
    ),
    pytest.param(
        _nb("import numpy", "if True:\n    !pip install numpy"),
        [(2, 2, "numpy")],
        id="unmovable-install",
    ),
    pytest.param(
        _nb("import numpy", "!pip install numpy", "!pip install numpy==2"),
        [(2, 1, "numpy"), (3, 1, "numpy")],
        id="each-late-install",
    ),
]
NBS001_SILENT = [
    pytest.param(_nb("!pip install numpy", "import numpy"), id="install-first"),
    pytest.param(_nb("!pip install numpy\nimport numpy"), id="install-first-same-cell"),
    pytest.param(_nb("def f():\n    import numpy", "!pip install numpy"), id="function-body"),
    pytest.param(_nb("import numpy", "!pip install pandas"), id="other-package"),
    pytest.param(_nb("import ffmpeg", "!apt-get install -y ffmpeg"), id="apt-not-python"),
    pytest.param(_nb("from . import numpy", "!pip install numpy"), id="relative-import"),
    pytest.param(_nb("import numpy", _markdown("!pip install numpy")), id="markdown"),
]


@pytest.mark.parametrize(("notebook", "expected"), NBS001_FIRES)
def test_nbs001_fires(notebook, expected):
    assert _found(notebook, "NBS001") == expected


@pytest.mark.parametrize("notebook", NBS001_SILENT)
def test_nbs001_silent(notebook):
    assert _found(notebook, "NBS001") == []


def test_nbs001_uses_installed_metadata_and_the_curated_table():
    notebook = _nb("import magic", "!pip install file-magic", "!pip install python-magic")
    assert _found(notebook, "NBS001") == [(3, 1, "python-magic")]
    packages = {"magic": ["file-magic"]}
    assert _found(notebook, "NBS001", packages=packages) == [
        (2, 1, "file-magic"),
        (3, 1, "python-magic"),
    ]
    notebook = _nb("import myorg_tools", "!pip install myorg-tools-dist")
    assert _found(notebook, "NBS001") == []
    packages = {"myorg_tools": ["MyOrg-Tools-Dist"]}
    assert _found(notebook, "NBS001", packages=packages) == [(2, 1, "myorg-tools-dist")]


def test_nbs001_message_names_import_and_says_guessed_only_when_names_differ():
    # Issue 27: the guess is the import name itself, so "(name guessed ...)" said nothing.
    same = _messages(_nb("import numpy", "!pip install numpy"), "NBS001")
    assert same == [
        "numpy is installed after it is imported as `numpy` (cell 1, line 1); the kernel "
        "keeps the version it loaded until restarted"
    ]
    underscored = _messages(_nb("import foo_bar", "!pip install foo-bar"), "NBS001")
    assert "guessed" not in underscored[0]
    curated = _messages(_nb("import sklearn\n!pip install scikit-learn"), "NBS001")
    assert curated == [
        "scikit-learn is installed after it is imported as `sklearn` (line 1); the kernel "
        "keeps the version it loaded until restarted"
    ]


# NBS002 / NBS003: pins ---------------------------------------------------------------------------

NBS002_FIRES = [
    pytest.param("!pip install numpy", "", [(1, 1, "numpy")], id="bare"),
    pytest.param("!pip install 'numpy>=1.20'", "", [(1, 1, "numpy")], id="range"),
    pytest.param("!pip install 'numpy==1.*'", "", [(1, 1, "numpy")], id="wildcard"),
    pytest.param("!uv pip install numpy", "", [(1, 1, "numpy")], id="uv"),
    pytest.param(
        "!pip install numpy\n!pip install pandas", "numpy==1", [(1, 2, "pandas")], id="one-of-two"
    ),
    # A VCS URL without a reference is NBS010's (tests/test_runtime_check.py).
    pytest.param(
        "if x:\n    !pip install numpy", "", [(1, 2, "numpy")], id="unmovable-still-unpinned"
    ),
]
NBS002_SILENT = [
    pytest.param("!pip install numpy==1.26.4", "", id="exact"),
    pytest.param("!pip install 'numpy===1.26.4'", "", id="arbitrary-equality"),
    pytest.param("!pip install numpy", "numpy==1.26.4", id="pinned-by-requirements"),
    pytest.param("!pip install 'Numpy>=1'", "numpy>=1,<2", id="listed-with-range"),
    pytest.param("!pip install numpy", "-c constraints.txt", id="pinned-by-constraint"),
    pytest.param("!pip install git+https://github.com/org/tool.git@v1.2", "", id="vcs-revision"),
    pytest.param("!pip install -r requirements.txt", "", id="requirements-file"),
    pytest.param("!pip install ./local_pkg", "", id="local-path"),
    pytest.param("!pip install -c my-constraints.txt numpy", "", id="own-constraints"),
    pytest.param("!conda install -y numpy", "", id="conda"),
    pytest.param("!apt-get install -y ffmpeg", "", id="apt"),
    pytest.param("!pip uninstall -y numpy", "", id="uninstall"),
    pytest.param("!pip install 'numpy<2'", "numpy==2.1", id="conflict-is-nbs003"),
]


@pytest.mark.parametrize(("source", "requirements", "expected"), NBS002_FIRES)
def test_nbs002_fires(source, requirements, expected):
    assert _found(_nb(source), "NBS002", _pins(requirements)) == expected


@pytest.mark.parametrize(("source", "requirements"), NBS002_SILENT)
def test_nbs002_silent(source, requirements):
    assert _found(_nb(source), "NBS002", _pins(requirements)) == []


def test_nbs002_messages():
    messages = _messages(_nb("!pip install numpy git+https://h/o/r.git"), "NBS002")
    assert messages == [
        "numpy is installed unpinned ('numpy'): pin it with == here or in the requirements",
    ]  # the VCS URL without a reference is NBS010's now


@pytest.mark.parametrize(
    ("source", "requirements", "expected"),
    [
        pytest.param("!pip install 'numpy<2'", "numpy==2.1", [(1, 1, "numpy")], id="exact-pin"),
        pytest.param("%pip install 'numpy==1.0'", "numpy>=2", [(1, 1, "numpy")], id="range-pin"),
        pytest.param(
            "!pip install 'numpy>=2'", "-c constraints.txt", [(1, 1, "numpy")], id="constraint"
        ),
        pytest.param("!pip install 'numpy>=2'", "numpy==2.1", [], id="satisfied"),
        pytest.param("!pip install numpy", "numpy==2.1", [], id="no-specifier"),
        pytest.param("!pip install 'numpy<2'", "", [], id="no-requirements"),
        pytest.param("!pip install 'numpy<2'\n!pip install 'numpy>3'", "", [], id="notebook-only"),
    ],
)
def test_nbs003(source, requirements, expected):
    assert _found(_nb(source), "NBS003", _pins(requirements)) == expected


def test_nbs003_message_names_both_sides():
    messages = _messages(_nb("!pip install 'numpy<2'"), "NBS003", _pins("pandas\nnumpy==2.1"))
    assert messages == [
        "numpy: the notebook asks for 'numpy<2', requirements.txt, line 2 pins 'numpy==2.1'"
    ]


# NBS004: not hoistable ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "try:\n    import x\nexcept Exception:\n    !pip install x",
            [
                "`nbsetup fix` cannot hoist x: inside a try block "
                "(it catches more than ImportError)"
            ],
            id="try",
        ),
        pytest.param(
            "!pip uninstall -y torch",
            ["`nbsetup fix` cannot hoist pip uninstall torch: uninstalls packages"],
            id="uninstall",
        ),
        pytest.param(
            "!pip install -e .",
            ["`nbsetup fix` cannot hoist -e .: editable install"],
            id="editable",
        ),
        pytest.param("!pip install numpy", [], id="movable"),
        pytest.param("import numpy", [], id="no-install"),
    ],
)
def test_nbs004(source, expected):
    assert _messages(_nb("x = 1", source), "NBS004") == expected
    assert all(cell == 2 for cell, _, _ in _found(_nb("x = 1", source), "NBS004"))


# NBS005: missing dependency ----------------------------------------------------------------------

NBS005_FIRES = [
    pytest.param(_nb("import requests"), "", [(1, 1, "requests")], id="nothing-installs-it"),
    pytest.param(
        _nb("import numpy as np", "!pip install pandas"), "", [(1, 1, "numpy")], id="transitive"
    ),
    pytest.param(
        _nb("x = 1\nfrom sklearn import svm"), "", [(1, 2, "scikit-learn")], id="curated"
    ),
    pytest.param(_nb("from google import genai"), "", [(1, 1, "google-genai")], id="namespace"),
    pytest.param(_nb("def f():\n    import torch"), "", [(1, 2, "torch")], id="function-body"),
    pytest.param(
        _nb("import numpy"), "-c constraints.txt", [(1, 1, "numpy")], id="constraint-only"
    ),
    pytest.param(
        _nb("import numpy", "import numpy\nimport pandas"),
        "",
        [(1, 1, "numpy"), (2, 2, "pandas")],
        id="first-import-only",
    ),
    pytest.param(
        _nb("x = np.array?\nimport numpy"), "", [(1, 2, "numpy")], id="unparsable-cell-fallback"
    ),
]
NBS005_SILENT = [
    pytest.param(
        _nb("import os, sys, os.path\nfrom __future__ import annotations"), "", id="stdlib"
    ),
    pytest.param(_nb("from . import helpers\nfrom .x import y"), "", id="relative"),
    pytest.param(_nb("import numpy", "!pip install numpy"), "", id="installed-later"),
    pytest.param(_nb("import yaml"), "PyYAML==6.0", id="curated-in-requirements"),
    pytest.param(_nb("import cv2", "!pip install opencv-python-headless"), "", id="variant"),
    pytest.param(_nb("import pandas as pd"), "pandas>=2", id="in-requirements"),
    pytest.param(
        _nb("try:\n    import numba\nexcept ImportError:\n    numba = None"), "", id="guarded"
    ),
    pytest.param(
        _nb("from google.colab import drive\nfrom IPython.display import HTML"), "", id="runtime"
    ),
    pytest.param(_nb("%%writefile helpers.py\nx = 1", "import helpers"), "", id="written-module"),
    pytest.param(_nb("%%bash\nimport numpy"), "", id="shell-cell"),
    pytest.param(
        _nb("import foo", "!pip install -r extra.txt"), "", id="requirements-file-install"
    ),
    pytest.param(_nb("import foo", "!pip install -e ."), "", id="local-install"),
    pytest.param(_nb("import numpy", "!conda install -y numpy"), "", id="conda"),
]


@pytest.mark.parametrize(("notebook", "requirements", "expected"), NBS005_FIRES)
def test_nbs005_fires(notebook, requirements, expected):
    assert _found(notebook, "NBS005", _pins(requirements)) == expected


@pytest.mark.parametrize(("notebook", "requirements"), NBS005_SILENT)
def test_nbs005_silent(notebook, requirements):
    assert _found(notebook, "NBS005", _pins(requirements)) == []


def test_nbs005_local_modules_and_messages():
    notebook = _nb("import helpers\nimport sklearn")
    config = {"local_modules": frozenset({"helpers"})}
    assert _found(notebook, "NBS005", **config) == [(1, 2, "scikit-learn")]
    assert _messages(_nb("import numpy"), "NBS005", _pins("pandas")) == [
        "`numpy` is imported, but numpy is neither installed by the notebook nor listed in the "
        "requirements"
    ]
    assert _messages(_nb("import sklearn"), "NBS005") == [
        "`sklearn` is imported, but scikit-learn is neither installed by the notebook nor "
        "listed in a requirements file"
    ]


# NBS006: installs fix would hoist ----------------------------------------------------------------

NBS006_FIRES = [
    pytest.param(
        _nb("import os", "x = 1\n!pip install numpy"),
        [(2, 2, "numpy")],
        "install of numpy after the first code cell (cell 1); `nbsetup fix` would hoist it",
        id="later-cell",
    ),
    pytest.param(
        _nb(_markdown("# T"), "!pip install numpy pandas"),
        [(2, 1, "numpy, pandas")],
        "install of numpy, pandas outside an environment cell; `nbsetup fix` would hoist it",
        id="first-code-cell",
    ),
    pytest.param(
        _nb(_env("%pip install numpy"), "import os", "!pip install pandas"),
        [(3, 1, "pandas")],
        "install of pandas outside the environment cell (cell 1); `nbsetup fix` would hoist it",
        id="beside-env-cell",
    ),
    pytest.param(
        _nb("import os", "!apt-get update\n!apt-get install -y ffmpeg"),
        [(2, 1, "apt update"), (2, 2, "ffmpeg")],
        "apt update after the first code cell (cell 1); `nbsetup fix` would hoist it",
        id="apt-update-with-install",
    ),
]
NBS006_SILENT = [
    pytest.param(_nb(_env("%pip install numpy"), "import numpy"), id="env-cell"),
    pytest.param(_nb("import os", "if x:\n    !pip install numpy"), id="unmovable"),
    pytest.param(_nb("import os", "!apt-get update"), id="apt-update-alone"),
    pytest.param(_nb("import os", "!pip list"), id="not-an-install"),
    pytest.param(_nb(_markdown("!pip install numpy")), id="markdown"),
]


@pytest.mark.parametrize(("notebook", "expected", "message"), NBS006_FIRES)
def test_nbs006_fires_where_fix_hoists(notebook, expected, message):
    assert _found(notebook, "NBS006") == expected
    assert _messages(notebook, "NBS006")[0] == message
    assert transform.hoist(notebook).notebook != notebook


@pytest.mark.parametrize("notebook", NBS006_SILENT)
def test_nbs006_silent_where_fix_does_nothing(notebook):
    assert _found(notebook, "NBS006") == []
    assert transform.hoist(notebook).notebook == notebook


# NBS007: installs of what the runtime loads before the first cell --------------------------------

NBS007_FIRES = [
    pytest.param(_nb("!pip install tornado==6.4"), [(1, 1, "tornado")], id="kernel-stack"),
    pytest.param(
        _nb(_env("%pip install -q traitlets==5.14.3 numpy==2.0.1")),
        [(1, 1, "traitlets")],
        id="in-the-environment-cell",
    ),
    pytest.param(_nb("!pip install -U ipykernel"), [(1, 1, "ipykernel")], id="upgrade"),
    pytest.param(
        _nb("from google.colab import drive", "!pip install pandas==2.2.2"),
        [(2, 1, "pandas")],
        id="colab-preload-in-colab",
    ),
]
NBS007_SILENT = [
    pytest.param(_nb("!pip install tornado"), id="bare-name-keeps-the-installed-one"),
    pytest.param(_nb("!pip install pandas==2.2.2"), id="colab-preload-outside-colab"),
    pytest.param(_nb("!pip uninstall -y tornado"), id="uninstall"),
]


@pytest.mark.parametrize(("notebook", "expected"), NBS007_FIRES)
def test_nbs007_fires(notebook, expected):
    assert _found(notebook, "NBS007") == expected


@pytest.mark.parametrize("notebook", NBS007_SILENT)
def test_nbs007_silent(notebook):
    assert _found(notebook, "NBS007") == []


def test_nbs007_message_and_configured_names():
    assert _messages(_nb("!pip install tornado==6.4"), "NBS007") == [
        "tornado==6.4 replaces tornado: the kernel itself imports it before the first cell runs; "
        "restart the runtime after this install"
    ]
    preloaded = {"polars": "configured"}
    notebook = _nb("!pip install polars==1.6 tornado==6.4")
    assert _found(notebook, "NBS007", preloaded=preloaded) == [(1, 1, "polars")]


# NBS008: restart cells with nothing to restart for -----------------------------------------------

RESTART = "import IPython\nIPython.Application.instance().kernel.do_shutdown(True)"
NBS008_FIRES = [
    pytest.param(_nb("import numpy", RESTART), [(2, 2, None)], id="no-install-before"),
    pytest.param(_nb(RESTART, "!pip install numpy"), [(1, 2, None)], id="install-only-after"),
]
NBS008_SILENT = [
    pytest.param(_nb("!pip install numpy", RESTART), id="after-an-install"),
    pytest.param(_nb(_env("%pip install -q numpy"), RESTART), id="after-the-environment-cell"),
    pytest.param(_nb("!pip install numpy\nimport os\nos.kill(os.getpid(), 9)"), id="same-cell"),
    pytest.param(_nb("x = 1\nos.kill(os.getpid(), 9)"), id="not-a-restart-cell"),
]


@pytest.mark.parametrize(("notebook", "expected"), NBS008_FIRES)
def test_nbs008_fires(notebook, expected):
    assert _found(notebook, "NBS008") == expected


@pytest.mark.parametrize("notebook", NBS008_SILENT)
def test_nbs008_silent(notebook):
    assert _found(notebook, "NBS008") == []


# Suppression, select/ignore, kernels -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("!pip install numpy  # nbsetup: ignore[NBS002]", ["NBS006"], id="one-code"),
        pytest.param("!pip install numpy  # nbsetup: ignore", [], id="bare"),
        pytest.param(
            "!pip install numpy  #nbsetup:ignore[ nbs006 , NBS002]", [], id="list-spacing-case"
        ),
        pytest.param(
            "!pip install numpy \\\n  pandas  # nbsetup: ignore[NBS002]",
            ["NBS006"],
            id="continuation",
        ),
        pytest.param(
            "# nbsetup: ignore\n!pip install numpy", ["NBS002", "NBS006"], id="other-line"
        ),
        pytest.param(
            "!pip install numpy  # nbsetup: ignore[NBS001]", ["NBS002", "NBS006"], id="other-code"
        ),
    ],
)
def test_suppression(source, expected):
    diagnostics = lint.diagnose(_nb("x = 1", source))
    assert sorted({d.code for d in diagnostics}) == expected


def test_suppression_on_any_line_of_an_import():
    notebook = _nb("from sklearn import (\n    svm,  # nbsetup: ignore[NBS005]\n)\nimport numpy")
    assert _found(notebook, "NBS005") == [(1, 4, "numpy")]


def test_select_and_ignore():
    notebook = _nb("import numpy", "!pip install numpy")
    everything = {d.code for d in lint.diagnose(notebook)}
    assert everything == {"NBS001", "NBS002", "NBS006"}
    selected = Config(select=frozenset({"NBS002", "NBS006"}), ignore=frozenset({"NBS006"}))
    assert [d.code for d in lint.diagnose(notebook, config=selected)] == ["NBS002"]
    ignored = Config(ignore=frozenset({"NBS001"}))
    assert [d.code for d in lint.diagnose(notebook, config=ignored)] == ["NBS002", "NBS006"]


@pytest.mark.parametrize("field", ["select", "ignore"])
def test_unknown_code_is_a_value_error(field):
    with pytest.raises(ValueError, match="unknown diagnostic code: NBS999"):
        Config(**{field: frozenset({"NBS001", "NBS999"})})


def test_codes_are_split_from_a_comma_separated_list_and_validated():
    assert split_codes(" nbs001,NBS005 ,") == frozenset({"NBS001", "NBS005"})
    with pytest.raises(ValueError, match="unknown diagnostic code: E501"):
        validate_codes({"NBS001", "E501"})


def test_non_python_kernel_is_not_checked(tmp_path):
    path = tmp_path / "r.ipynb"
    path.write_text(json.dumps(_nb("!pip install numpy", language="R")))
    assert pipeline.check_file(path).skipped == "not a Python notebook (kernel language: r)"
    checked = pipeline.check_file(path, project=ProjectConfig(kernels=("R",)))
    assert {d.code for d in checked.diagnostics} == {"NBS002", "NBS006"}


def test_diagnostics_sorted_and_deduplicated():
    notebook = _nb("import numpy\n!pip install numpy numpy", "import sklearn")
    diagnostics = lint.diagnose(notebook)
    assert [(d.cell, d.line, d.code) for d in diagnostics] == [
        (1, 2, "NBS001"),
        (1, 2, "NBS002"),
        (1, 2, "NBS006"),
        (2, 1, "NBS005"),
    ]


# Imports and distributions -----------------------------------------------------------------------


def test_find_imports_contexts():
    sources = [
        "import a.b as c, d\nfrom e.f import g, *\nfrom . import h",
        None,
        "%%capture\n!pip install x\ntry:\n    import i\n"
        "except (ValueError, ModuleNotFoundError):\n    import j\n"
        "def k():\n    import l\nclass M:\n    import n\nawait o()",
        "%%bash\nimport p",
        "x?\nimport q, r.s\nfrom t import (u,\n    v)\n    import w",
    ]
    found = [(i.module, i.cell, i.line, i.end, i.runs, i.guarded) for i in find_imports(sources)]
    assert found == [
        ("a.b", 0, 0, 1, True, False),
        ("d", 0, 0, 1, True, False),
        ("e.f.g", 0, 1, 2, True, False),
        ("e.f", 0, 1, 2, True, False),
        ("i", 2, 3, 4, True, True),
        ("j", 2, 5, 6, True, False),
        ("l", 2, 7, 8, False, False),
        ("n", 2, 9, 10, True, False),
        ("q", 4, 1, 2, True, False),
        ("r.s", 4, 1, 2, True, False),
        ("t.u", 4, 2, 4, True, False),
        ("t.v", 4, 2, 4, True, False),
    ]
    assert Import("os.path", 0, 0, 1).top == "os"


def test_written_modules():
    sources = ["%%writefile utils.py\nx = 1", "%%writefile -a pkg/mod.py\n", "%%writefile a.txt\n"]
    assert written_modules([*sources, None, "import utils"]) == frozenset({"utils", "pkg"})


@pytest.mark.parametrize(
    ("module", "packages", "expected"),
    [
        pytest.param("PIL.Image", {}, ("PIL", ("pillow", "pillow-simd"), "curated"), id="curated"),
        pytest.param(
            "PIL",
            {"PIL": ["Pillow-SIMD"]},
            ("PIL", ("pillow-simd", "pillow"), "installed"),
            id="installed-then-curated",
        ),
        pytest.param(
            "google.protobuf",
            {"google": ["protobuf", "google-auth"]},
            ("google.protobuf", ("protobuf",), "curated"),
            id="namespace-not-all-installed",
        ),
        pytest.param(
            "google.protobuf.text_format",
            {},
            ("google.protobuf", ("protobuf",), "curated"),
            id="dotted",
        ),
        pytest.param(
            "google.cloud.storage.blob",
            {"google": ["protobuf", "google-cloud-storage"]},
            ("google.cloud.storage", ("google-cloud-storage",), "installed"),
            id="namespace-confirmed",
        ),
        pytest.param(
            "llama_index.llms.openai",
            {},
            (
                "llama_index.llms.openai",
                ("llama-index-llms-openai", "llama-index-llms", "llama-index"),
                "guessed",
            ),
            id="namespace-guess",
        ),
        pytest.param(
            "llama_index.core.schema",
            {},
            ("llama_index.core", ("llama-index-core",), "curated"),
            id="namespace-core-curated",
        ),
        pytest.param(
            "azure.identity.DefaultAzureCredential",
            {},
            ("azure.identity", ("azure-identity",), "guessed"),
            id="namespace-class-name-is-not-a-module",
        ),
        pytest.param(
            "markdown_it",
            {"markdown_it": ["markdown-it-py"]},
            ("markdown_it", ("markdown-it-py",), "installed"),
            id="installed",
        ),
        pytest.param("Foo_Bar.baz", {}, ("Foo_Bar", ("foo-bar",), "guessed"), id="pep503-guess"),
    ],
)
def test_provider(module, packages, expected):
    found = distributions.provider(module, packages)
    assert (found.module, found.distributions, found.source) == expected
    assert found.guessed == (expected[2] == "guessed")


def test_installed_packages_reads_this_environment_once():
    packages = distributions.installed_packages()
    assert "packaging" in packages["packaging"]
    assert distributions.installed_packages() is packages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Numpy[extra]>=1; python_version>'3'", "numpy"),
        ("tool @ git+https://h/o/repo.git", "tool"),
        ("git+https://h/o/repo.git@v1#egg=Real_Name", "real-name"),
        ("git+https://github.com/o/Repo.git@main", "repo"),
        ("https://files/x/foo_bar-1.0-py3-none-any.whl", "foo-bar"),
        ("https://github.com/o/r/archive/main.zip", None),
        ("./pkg", None),
        ("numpy=1.2", None),
    ],
)
def test_requirement_name(text, expected):
    assert packages.pip_name(text) == expected


# Rendering and exit codes ------------------------------------------------------------------------

FLAGGED = report.FileCheck(
    "dir/a,b.ipynb",
    (
        Diagnostic("NBS002", "numpy is installed unpinned: 100%", 2, 1, "numpy"),
        Diagnostic("NBS006", "install of numpy ...", 2, 1, "numpy"),
    ),
    pin_sources="requirements.txt",
)
CLEAN = report.FileCheck("clean.ipynb")
SKIPPED = report.FileCheck("r.ipynb", skipped="not a Python notebook (kernel language: r)")
FAILED = report.FileCheck("bad.ipynb", error="not valid JSON (line 1, column 1: expecting value)")


def test_render_text():
    assert report.check_lines([FLAGGED, CLEAN, FAILED]) == [
        "dir/a,b.ipynb:cell 2:1:1: NBS002 numpy is installed unpinned: 100%",
        "dir/a,b.ipynb:cell 2:1:1: NBS006 install of numpy ...",
    ]


def test_render_json():
    document = json.loads(report.check_json([FLAGGED, CLEAN, SKIPPED, FAILED]))
    assert document["schema"] == 1
    assert document["exit_code"] == 2
    assert document["interrupted"] is False
    assert document["summary"] == {
        "flagged": 1,
        "clean": 1,
        "skipped": 1,
        "failed": 1,
        "diagnostics": {"NBS002": 1, "NBS006": 1},
    }
    assert document["files"][0] == {
        "path": "dir/a,b.ipynb",
        "status": "flagged",
        "error": None,
        "skipped": None,
        "requirements": "requirements.txt",
        "diagnostics": [d.to_dict() for d in FLAGGED.diagnostics],
    }
    assert FLAGGED.diagnostics[0].to_dict() == {
        "code": "NBS002",
        "cell": 2,
        "line": 1,
        "package": "numpy",
        "message": "numpy is installed unpinned: 100%",
    }
    assert [f["status"] for f in document["files"][1:]] == ["clean", "skipped", "failed"]


def test_render_github():
    assert report.check_annotations([FLAGGED, CLEAN, FAILED]) == [
        "::warning file=dir/a%2Cb.ipynb,title=NBS002::cell 2, line 1: numpy is installed "
        "unpinned: 100%25",
        "::warning file=dir/a%2Cb.ipynb,title=NBS006::cell 2, line 1: install of numpy ...",
        "::error file=bad.ipynb::not valid JSON (line 1, column 1: expecting value)",
    ]


def test_summary_line():
    assert report.check_summary([FLAGGED, CLEAN, SKIPPED, FAILED]) == (
        "4 files scanned: 1 flagged, 1 clean, 1 skipped, 1 failed; 2 diagnostics"
    )
    assert report.check_summary([CLEAN]) == "1 file scanned: 0 flagged, 1 clean; 0 diagnostics"
    assert report.check_summary([FLAGGED], interrupted=True, total=9) == (
        "interrupted after 1 of 9 files: 1 flagged, 0 clean; 2 diagnostics"
    )


@pytest.mark.parametrize(
    ("results", "code"),
    [
        pytest.param([], 0, id="nothing"),
        pytest.param([CLEAN, SKIPPED], 0, id="clean-and-skipped"),
        pytest.param([CLEAN, FLAGGED], 1, id="diagnostics"),
        pytest.param([FLAGGED, FAILED], 2, id="failure-wins"),
    ],
)
def test_exit_code(results, code):
    assert report.check_exit_code(results) == code
    assert report.check_exit_code(results, interrupted=True) == 130
