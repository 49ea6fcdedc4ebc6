from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nbsetup import batch, report
from nbsetup.pins import Pins, RequirementsError
from nbsetup.sources import find_pin_sources, kind, load_pin_files, load_pins, ordered

# Files written by hand in each format's documented shape: PEP 751 for pylock.toml
# (https://packaging.python.org/en/latest/specifications/pylock-toml/), uv's lock layout for
# uv.lock, PEP 621/735 for pyproject.toml and conda's environment file for environment.yml.

PYLOCK = """\
lock-version = "1.0"
environments = ["sys_platform == 'linux'", "sys_platform == 'win32'"]
requires-python = ">=3.10"
extras = []
dependency-groups = []
default-groups = []
created-by = "hand"

[[packages]]
name = "numpy"
version = "2.1.3"
marker = "python_full_version >= '3.13'"
requires-python = ">=3.10"
index = "https://pypi.org/simple"

[[packages.wheels]]
name = "numpy-2.1.3-cp313-cp313-manylinux_2_17_x86_64.whl"
url = "https://files.example/numpy-2.1.3-cp313-cp313-manylinux_2_17_x86_64.whl"
hashes = { sha256 = "aaaa" }

[[packages]]
name = "numpy"
version = "1.26.4"
marker = "python_full_version < '3.13'"
index = "https://pypi.org/simple"

[[packages.wheels]]
name = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"
url = "https://files.example/numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"
hashes = { sha256 = "bbbb" }

[[packages]]
name = "colorama"
version = "0.4.6"
marker = "sys_platform == 'win32'"
index = "https://pypi.org/simple"

[packages.sdist]
name = "colorama-0.4.6.tar.gz"
url = "https://files.example/colorama-0.4.6.tar.gz"
hashes = { sha256 = "cccc" }

[[packages]]
name = "Requests"
version = "2.32.3"
index = "https://pypi.org/simple"
sdist = { url = "https://files.example/requests-2.32.3.tar.gz", hashes = { sha256 = "dddd" } }

[[packages]]
name = "httpx"
version = "0.28.1"

[packages.vcs]
type = "git"
url = "https://github.com/encode/httpx"
requested-revision = "0.28.1"
commit-id = "0123456789abcdef0123456789abcdef01234567"

[[packages]]
name = "demo"
directory = { path = ".", editable = true }
"""

UV_LOCK = """\
version = 1
revision = 1
requires-python = ">=3.11"
resolution-markers = [
    "python_full_version >= '3.13'",
    "python_full_version < '3.13'",
]

[manifest]
members = [
    "demo",
    "demo-utils",
]

[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "demo-utils" },
    { name = "numpy" },
    { name = "rich" },
]

[package.metadata]
requires-dist = [
    { name = "demo-utils", editable = "packages/utils" },
    { name = "numpy", specifier = ">=1.26" },
    { name = "rich" },
]

[[package]]
name = "demo-utils"
version = "0.2.0"
source = { editable = "packages/utils" }

[[package]]
name = "markdown-it-py"
version = "3.0.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://files.example/markdown-it-py-3.0.0.tar.gz", hash = "sha256:eeee", size = 74596 }

[[package]]
name = "numpy"
version = "2.1.3"
source = { registry = "https://pypi.org/simple" }
resolution-markers = [
    "python_full_version >= '3.13'",
]
wheels = [
    { url = "https://files.example/numpy-2.1.3-cp313-cp313-manylinux_2_17_x86_64.whl", hash = "sha256:ffff", size = 16000000 },
]

[[package]]
name = "numpy"
version = "1.26.4"
source = { registry = "https://pypi.org/simple" }
resolution-markers = [
    "python_full_version < '3.13'",
]
wheels = [
    { url = "https://files.example/numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", hash = "sha256:abab", size = 18000000 },
]

[[package]]
name = "rich"
version = "13.9.4"
source = { git = "https://github.com/Textualize/rich?rev=v13.9.4#0123456789abcdef0123456789abcdef01234567" }
dependencies = [
    { name = "markdown-it-py" },
]
"""  # noqa: E501 (uv writes each wheel on one line)

UV_LOCK_VIRTUAL = """\
version = 1
requires-python = ">=3.12"

[[package]]
name = "notebooks"
version = "0.0.0"
source = { virtual = "." }
dependencies = [
    { name = "pandas" },
]

[[package]]
name = "pandas"
version = "2.2.3"
source = { registry = "https://pypi.org/simple" }
"""

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "demo"
version = "0.1.0"
dependencies = [
    "numpy>=1.26,<2.2",
    'pandas[parquet]>=2.1; python_version >= "3.10"',
]

[project.optional-dependencies]
plot = [
    "matplotlib>=3.8",
    "numpy>=2",
]
all = ["demo[plot]"]

[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff==0.6.9"]
dev = [{include-group = "test"}, "ipykernel"]

[tool.ruff]
line-length = 100
"""

ENVIRONMENT = """\
name: geo
channels:
  - conda-forge
  - nodefaults
dependencies:
  - python=3.11
  - conda-forge::gdal=3.8.4
  - geopandas >=0.14
  - numpy=1.26.4=py311h64a7726_0
  - pip
  - pip:
    - requests==2.31.0
    - rich>=13  # the terminal output
"""


_NOTEBOOK = """\
{
 "cells": [
  {
   "cell_type": "code",
   "execution_count": null,
   "metadata": {},
   "outputs": [],
   "source": ["%pip install numpy requests\\n", "import numpy"]
  }
 ],
 "metadata": {"language_info": {"name": "python"}},
 "nbformat": 4,
 "nbformat_minor": 4
}
"""


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _entries(pins: Pins) -> list[tuple[str, str | None, int | None, str]]:
    return [(e.text, e.name, e.line, e.manager) for e in pins.entries]


# --- reading each format ------------------------------------------------------------------


def test_pylock(tmp_path):
    path = _write(tmp_path, "pylock.toml", PYLOCK)
    pins = load_pins(path)
    assert _entries(pins) == [
        ('numpy==2.1.3; python_full_version >= "3.13"', "numpy", 9, "pip"),
        ('numpy==1.26.4; python_full_version < "3.13"', "numpy", 21, "pip"),
        # Locked once: the marker only says when the locker installs it; the notebook keeps its.
        ("colorama==0.4.6", "colorama", 32, "pip"),
        ("Requests==2.32.3", "requests", 43, "pip"),
        (
            "httpx @ git+https://github.com/encode/httpx@0123456789abcdef0123456789abcdef01234567",
            "httpx",
            49,
            "pip",
        ),
        # `demo`, a local directory (the project itself), pins nothing.
    ]
    assert pins.files == (str(path),)
    assert [e.text for e in pins.lookup_all("NumPy")] == [
        'numpy==2.1.3; python_full_version >= "3.13"',
        'numpy==1.26.4; python_full_version < "3.13"',
    ]


def test_pylock_named_file_is_a_pylock(tmp_path):
    path = _write(tmp_path, "pylock.dev.toml", PYLOCK)
    assert kind(path) == "pylock"
    assert [e.name for e in load_pins(path).entries][-1] == "httpx"


def test_uv_lock(tmp_path):
    path = _write(tmp_path, "uv.lock", UV_LOCK)
    pins = load_pins(path)
    # `demo` (the project, editable ".") and `demo-utils` (a workspace member) are skipped.
    assert _entries(pins) == [
        ("markdown-it-py==3.0.0", "markdown-it-py", 37, "pip"),
        ('numpy==2.1.3; python_full_version >= "3.13"', "numpy", 43, "pip"),
        ('numpy==1.26.4; python_full_version < "3.13"', "numpy", 54, "pip"),
        (
            "rich @ git+https://github.com/Textualize/rich@0123456789abcdef0123456789abcdef01234567",
            "rich",
            65,
            "pip",
        ),
    ]
    assert pins.lookup("demo") is None
    assert pins.lookup("demo_utils") is None


def test_uv_lock_virtual_project_is_skipped(tmp_path):
    pins = load_pins(_write(tmp_path, "uv.lock", UV_LOCK_VIRTUAL))
    assert _entries(pins) == [("pandas==2.2.3", "pandas", 12, "pip")]


def test_uv_lock_workspace_member_with_registry_shape_is_skipped(tmp_path):
    # A member is the user's own code, whatever its source says: never a pin.
    text = (
        'version = 1\n[manifest]\nmembers = ["Demo_Utils"]\n\n[[package]]\nname = "demo-utils"\n'
    )
    text += 'version = "0.2.0"\nsource = { registry = "https://pypi.org/simple" }\n'
    assert load_pins(_write(tmp_path, "uv.lock", text)).entries == ()


def test_pyproject(tmp_path):
    path = _write(tmp_path, "pyproject.toml", PYPROJECT)
    pins = load_pins(path)
    assert _entries(pins) == [
        ("numpy>=1.26,<2.2", "numpy", 9, "pip"),
        ('pandas[parquet]>=2.1; python_version >= "3.10"', "pandas", 10, "pip"),
        # `numpy>=2` of the `plot` extra: [project] dependencies named numpy first.
        ("matplotlib>=3.8", "matplotlib", 15, "pip"),
        # `all = ["demo[plot]"]` names the project itself: no pin.
        ("pytest>=8", "pytest", 21, "pip"),
        ("ruff==0.6.9", "ruff", 22, "pip"),  # from `test`'s include of `lint`
        ("ipykernel", "ipykernel", 23, "pip"),
    ]


def test_pyproject_include_group_expands_in_place(tmp_path):
    text = '[dependency-groups]\ndev = [{include-group = "docs"}, "black"]\ndocs = ["sphinx>=7"]\n'
    pins = load_pins(_write(tmp_path, "pyproject.toml", text))
    assert [e.text for e in pins.entries] == ["sphinx>=7", "black"]


def test_pyproject_with_only_tool_settings_pins_nothing(tmp_path):
    text = "[tool.nbsetup]\npin-missing = true\n\n[tool.ruff]\nline-length = 100\n"
    path = _write(tmp_path, "pyproject.toml", text)
    assert load_pins(path) == Pins(files=(str(path),))


def test_environment_yml(tmp_path):
    path = _write(tmp_path, "environment.yml", ENVIRONMENT)
    pins = load_pins(path)
    assert _entries(pins) == [
        ("python=3.11", "python", 6, "conda"),
        ("conda-forge::gdal=3.8.4", "gdal", 7, "conda"),
        ("geopandas >=0.14", "geopandas", 8, "conda"),
        ("numpy=1.26.4=py311h64a7726_0", "numpy", 9, "conda"),
        ("pip", "pip", 10, "conda"),
        ("requests==2.31.0", "requests", 12, "pip"),
        ("rich>=13", "rich", 13, "pip"),
    ]
    # conda pins and pip pins are looked up separately.
    assert pins.lookup("gdal") is None
    gdal = pins.lookup("GDAL", manager="conda")
    assert gdal is not None
    assert gdal.text == "conda-forge::gdal=3.8.4"
    assert pins.lookup("requests", manager="conda") is None
    assert pins.pins_for("conda")
    assert pins.pins_for("pip")


def test_environment_pip_list_includes_relative_to_the_environment_file(tmp_path):
    _write(tmp_path, "env/extra.txt", "scipy==1.13.1\n")
    text = "dependencies:\n  - pip:\n    - -r extra.txt\n"
    pins = load_pins(_write(tmp_path, "env/environment.yml", text))
    assert [(e.text, e.origin, e.line) for e in pins.entries] == [
        ("scipy==1.13.1", str(tmp_path / "env" / "extra.txt"), 1)
    ]
    assert not pins.pins_for("conda")


def test_environment_without_dependencies_pins_nothing(tmp_path):
    path = _write(tmp_path, "environment.yaml", "name: empty\nchannels: [conda-forge]\n")
    assert load_pins(path) == Pins(files=(str(path),))


KINDS = [
    pytest.param("requirements.txt", "requirements", id="requirements-txt"),
    pytest.param("requirements-dev.in", "requirements", id="any-other-name"),
    pytest.param("constraints.txt", "requirements", id="constraints"),
    pytest.param("pylock.toml", "pylock", id="pylock"),
    pytest.param("pylock.cpu.toml", "pylock", id="pylock-named"),
    pytest.param("pylock.a.b.toml", "requirements", id="pylock-two-dots-not-pep-751"),
    pytest.param("uv.lock", "uv.lock", id="uv-lock"),
    pytest.param("pyproject.toml", "pyproject", id="pyproject"),
    pytest.param("environment.yml", "conda", id="environment-yml"),
    pytest.param("environment.yaml", "conda", id="environment-yaml"),
    pytest.param("binder/env-gpu.YML", "conda", id="any-yml"),
]


@pytest.mark.parametrize(("name", "expected"), KINDS)
def test_kind(name, expected):
    assert kind(Path(name)) == expected


# --- errors: one line naming the file, and the line or key --------------------------------

ERRORS = [
    pytest.param(
        "pylock.toml",
        'lock-version = "1.0"\n[[packages]\nname = "x"\n',
        "pylock.toml: invalid TOML: expected ']]' at the end of an array declaration "
        "(at line 2, column 11)",
        id="pylock-invalid-toml",
    ),
    pytest.param(
        "pylock.toml",
        "lock-version = 1.0\n",
        "pylock.toml: 'lock-version' must be a string such as \"1.0\"",
        id="pylock-lock-version-type",
    ),
    pytest.param(
        "pylock.toml",
        'lock-version = "2.0"\n',
        "pylock.toml: unsupported lock-version '2.0' (nbsetup reads lock-version 1.x)",
        id="pylock-future-version",
    ),
    pytest.param(
        "pylock.toml",
        'lock-version = "1.0"\n\n[[packages]]\nname = "numpy"\nversion = 1.26\n',
        "pylock.toml, line 3: [[packages]] entry 1 (numpy): 'version' must be a string",
        id="pylock-version-type",
    ),
    pytest.param(
        "pylock.toml",
        'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n'
        '[[packages]]\nversion = "2"\n',
        "pylock.toml, line 5: [[packages]] entry 2: 'name' must be a non-empty string",
        id="pylock-missing-name",
    ),
    pytest.param(
        "pylock.toml",
        'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\nmarker = "os_name"\n'
        '[[packages]]\nname = "a"\nversion = "2"\nmarker = "os_name == \'nt\'"\n',
        "pylock.toml, line 2: invalid marker 'os_name': expected marker operator, "
        "one of <=, <, !=, ==, >=, >, ~=, ===, in, not in",
        id="pylock-invalid-marker",
    ),
    pytest.param(
        "pylock.toml",
        'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n'
        '[[packages]]\nname = "a"\nversion = "2"\nmarker = "os_name == \'nt\'"\n',
        "pylock.toml, line 2: 'a' is locked 2 times, not every time with a marker",
        id="pylock-two-versions-without-marker",
    ),
    pytest.param(
        "pylock.toml",
        'lock-version = "1.0"\n[[packages]]\nname = "a b"\nversion = "1"\n',
        "pylock.toml, line 2: invalid requirement 'a b==1': expected semicolon "
        "(after name with no version specifier) or end",
        id="pylock-invalid-requirement",
    ),
    pytest.param(
        "uv.lock",
        "version = 1\n[[package]]\nname = 'x'\nsource = 'pypi'\n",
        "uv.lock, line 2: [[package]] entry 1 (x): 'source' must be a table",
        id="uv-source-type",
    ),
    pytest.param(
        "uv.lock",
        "version = 2\n",
        "uv.lock: unsupported uv.lock version 2 (nbsetup reads version 1)",
        id="uv-version",
    ),
    pytest.param(
        "uv.lock",
        "version = 1\n[manifest]\nmembers = 'demo'\n",
        "uv.lock: [manifest] members must be an array of names",
        id="uv-members-type",
    ),
    pytest.param(
        "uv.lock",
        "version = 1\npackage = 3\n",
        "uv.lock: 'package' must be an array of tables",
        id="uv-package-type",
    ),
    pytest.param(
        "uv.lock",
        "version = 1\n\n[[package]]\nname = 'x'\nsource = { registry = 'r' }\n"
        "resolution-markers = 'linux'\n",
        "uv.lock, line 3: [[package]] entry 1 (x): 'resolution-markers' must be strings",
        id="uv-markers-type",
    ),
    pytest.param(
        "pyproject.toml",
        '[project]\nname = "demo"\ndependencies = "numpy"\n',
        "pyproject.toml: [project] dependencies: expected an array of strings",
        id="pyproject-dependencies-type",
    ),
    pytest.param(
        "pyproject.toml",
        '[project]\nname = "demo"\ndependencies = [\n  "numpy>=1.26",\n  "pandas=2.1",\n]\n',
        "pyproject.toml, line 5: [project] dependencies: invalid requirement 'pandas=2.1': "
        "expected semicolon (after name with no version specifier) or end",
        id="pyproject-invalid-requirement",
    ),
    pytest.param(
        "pyproject.toml",
        "[project.optional-dependencies]\nplot = [1]\n",
        "pyproject.toml: [project.optional-dependencies] plot: expected an array of strings",
        id="pyproject-extra-type",
    ),
    pytest.param(
        "pyproject.toml",
        "project = 1\n",
        "pyproject.toml: [project] must be a table",
        id="pyproject-project-type",
    ),
    pytest.param(
        "pyproject.toml",
        '[dependency-groups]\na = [{include-group = "b"}]\nb = ["x", {include-group = "a"}]\n',
        "pyproject.toml: [dependency-groups]: include cycle: a -> b -> a",
        id="pyproject-include-cycle",
    ),
    pytest.param(
        "pyproject.toml",
        '[dependency-groups]\na = [{include-group = "a"}]\n',
        "pyproject.toml: [dependency-groups]: include cycle: a -> a",
        id="pyproject-include-self",
    ),
    pytest.param(
        "pyproject.toml",
        '[dependency-groups]\ndev = [{include-group = "docs"}]\n',
        "pyproject.toml: [dependency-groups] dev: no group 'docs' to include",
        id="pyproject-include-missing",
    ),
    pytest.param(
        "pyproject.toml",
        '[dependency-groups]\ndev = [{include = "docs"}]\n',
        "pyproject.toml: [dependency-groups] dev: expected a requirement string or "
        '{include-group = "..."}',
        id="pyproject-group-item-type",
    ),
    pytest.param(
        "pyproject.toml",
        '[dependency-groups]\nDev = ["a"]\ndev = ["b"]\n',
        "pyproject.toml: [dependency-groups]: 'Dev' and 'dev' are one group name",
        id="pyproject-group-names-collide",
    ),
    pytest.param(
        "environment.yml",
        "dependencies:\n  - numpy\n  - [pandas\n",
        "environment.yml, line 4: invalid YAML: expected ',' or ']', but got '<stream end>'",
        id="conda-invalid-yaml",
    ),
    pytest.param(
        "environment.yml",
        "dependencies: numpy\n",
        "environment.yml, line 1: 'dependencies' must be a list",
        id="conda-dependencies-type",
    ),
    pytest.param(
        "environment.yml",
        "- numpy\n",
        "environment.yml, line 1: expected a mapping with 'dependencies'",
        id="conda-document-type",
    ),
    pytest.param(
        "environment.yml",
        "dependencies:\n  - numpy\n  - npm: [left-pad]\n",
        "environment.yml, line 3: expected a conda package or a 'pip:' list",
        id="conda-unknown-mapping",
    ),
    pytest.param(
        "environment.yml",
        "dependencies:\n  - '::'\n",
        "environment.yml, line 2: invalid conda package '::'",
        id="conda-invalid-spec",
    ),
    pytest.param(
        "environment.yml",
        "dependencies:\n  - pip:\n    - requests\n    - requests=2.31\n",
        "environment.yml, line 4: invalid requirement 'requests=2.31': expected semicolon "
        "(after name with no version specifier) or end",
        id="conda-pip-invalid-requirement",
    ),
    pytest.param(
        "environment.yml",
        "dependencies:\n  - pip:\n    - {requests: 2}\n",
        "environment.yml, line 3: expected a pip requirement",
        id="conda-pip-item-type",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), ERRORS)
def test_errors(tmp_path, monkeypatch, name, text, message):
    _write(tmp_path, name, text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RequirementsError) as raised:
        load_pins(Path(name))
    assert str(raised.value) == message
    assert "\n" not in message


def test_unreadable_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("pylock.toml", "uv.lock", "pyproject.toml", "environment.yml"):
        _write(tmp_path, name, "")
        Path(name).write_bytes(b"\xff\xfe\x00")
        with pytest.raises(RequirementsError) as raised:
            load_pins(Path(name))
        assert str(raised.value) == f"{name}: not valid UTF-8 text"


def test_missing_pyyaml(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` now raises ImportError
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "environment.yml", ENVIRONMENT)
    with pytest.raises(RequirementsError) as raised:
        load_pins(Path("environment.yml"))
    assert str(raised.value) == (
        "environment.yml: reading a conda environment file needs PyYAML: "
        "pip install 'nbsetup[conda]'"
    )


def test_missing_pyyaml_fails_the_notebook_in_a_run(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    _write(tmp_path, "environment.yml", ENVIRONMENT)
    notebook = _write(tmp_path, "demo.ipynb", _NOTEBOOK)
    before = notebook.read_bytes()
    result = batch.process(Path("demo.ipynb"), batch.Settings())
    assert (result.status, result.error) == (
        report.FAILED,
        "environment.yml: reading a conda environment file needs PyYAML: "
        "pip install 'nbsetup[conda]'",
    )
    assert notebook.read_bytes() == before


# --- precedence ---------------------------------------------------------------------------

ORDERED = [
    pytest.param(["uv.lock"], ["uv.lock"], id="one"),
    pytest.param(["pyproject.toml", "uv.lock"], ["uv.lock", "pyproject.toml"], id="ranges-last"),
    pytest.param(
        ["pyproject.toml", "b.txt", "environment.yml", "a.txt"],
        ["b.txt", "environment.yml", "a.txt", "pyproject.toml"],
        id="others-as-given",
    ),
    pytest.param(
        ["sub/pyproject.toml", "pyproject.toml", "pylock.toml"],
        ["pylock.toml", "sub/pyproject.toml", "pyproject.toml"],
        id="several-pyprojects-keep-their-order",
    ),
]


@pytest.mark.parametrize(("given", "expected"), ORDERED)
def test_ordered(given, expected):
    assert ordered(Path(p) for p in given) == tuple(Path(p) for p in expected)


def _pin_of(pins: Pins, name: str, manager: str = "pip") -> tuple[str, str] | None:
    entry = pins.lookup(name, manager)
    return None if entry is None else (entry.text, Path(entry.origin).name)


def test_lock_pins_win_over_pyproject_ranges_in_any_order(tmp_path):
    pyproject = _write(tmp_path, "pyproject.toml", PYPROJECT)
    lock = _write(tmp_path, "uv.lock", UV_LOCK)
    pins = load_pin_files([pyproject, lock])
    assert _pin_of(pins, "numpy") == ('numpy==2.1.3; python_full_version >= "3.13"', "uv.lock")
    assert len(pins.lookup_all("numpy")) == 2  # both lock variants, none of pyproject's
    assert _pin_of(pins, "pandas") == (
        'pandas[parquet]>=2.1; python_version >= "3.10"',
        "pyproject.toml",
    )
    assert pins.files == (str(lock), str(pyproject))


def test_requirements_pins_win_over_pyproject_ranges(tmp_path):
    pyproject = _write(tmp_path, "pyproject.toml", PYPROJECT)
    requirements = _write(tmp_path, "requirements.txt", "numpy==1.26.4\n")
    pins = load_pin_files([pyproject, requirements])
    assert _pin_of(pins, "numpy") == ("numpy==1.26.4", "requirements.txt")
    assert _pin_of(pins, "matplotlib") == ("matplotlib>=3.8", "pyproject.toml")


def test_earlier_pin_file_wins(tmp_path):
    first = _write(tmp_path, "pylock.toml", PYLOCK)
    second = _write(tmp_path, "requirements.txt", "requests==2.0.0\nnumpy==1.0\ntqdm==4.66.5\n")
    pins = load_pin_files([first, second])
    assert _pin_of(pins, "requests") == ("Requests==2.32.3", "pylock.toml")
    assert [e.text for e in pins.lookup_all("numpy")] == [
        'numpy==2.1.3; python_full_version >= "3.13"',
        'numpy==1.26.4; python_full_version < "3.13"',
    ]
    assert _pin_of(pins, "tqdm") == ("tqdm==4.66.5", "requirements.txt")
    reverse = load_pin_files([second, first])
    assert _pin_of(reverse, "requests") == ("requests==2.0.0", "requirements.txt")
    assert [e.text for e in reverse.lookup_all("numpy")] == ["numpy==1.0"]


def test_conda_pins_and_pip_pins_do_not_hide_each_other(tmp_path):
    environment = _write(tmp_path, "environment.yml", ENVIRONMENT)
    requirements = _write(tmp_path, "requirements.txt", "numpy==2.0.0\nrequests==2.32.3\n")
    pins = load_pin_files([requirements, environment])
    assert _pin_of(pins, "numpy") == ("numpy==2.0.0", "requirements.txt")
    assert _pin_of(pins, "numpy", "conda") == ("numpy=1.26.4=py311h64a7726_0", "environment.yml")
    assert _pin_of(pins, "requests") == ("requests==2.32.3", "requirements.txt")


# --- discovery ----------------------------------------------------------------------------


def _found(tmp_path: Path, notebook: str = "demo.ipynb") -> list[str]:
    return [str(p.relative_to(tmp_path)) for p in find_pin_sources(tmp_path / notebook)]


# (files in the directory, the pin sources found, in precedence order)
DISCOVERY = [
    pytest.param({}, [], id="nothing"),
    pytest.param(
        {"requirements.txt": "", "pylock.toml": PYLOCK, "uv.lock": UV_LOCK},
        ["requirements.txt"],
        id="requirements-before-pylock-before-uv-lock",
    ),
    pytest.param(
        {"pylock.toml": PYLOCK, "uv.lock": UV_LOCK}, ["pylock.toml"], id="pylock-before-uv-lock"
    ),
    pytest.param({"uv.lock": UV_LOCK}, ["uv.lock"], id="uv-lock"),
    pytest.param({"pylock.dev.toml": PYLOCK}, [], id="named-pylock-only-when-given"),
    pytest.param(
        {"uv.lock": UV_LOCK, "pyproject.toml": PYPROJECT},
        ["uv.lock", "pyproject.toml"],
        id="lock-then-pyproject-ranges",
    ),
    pytest.param({"pyproject.toml": PYPROJECT}, ["pyproject.toml"], id="pyproject-alone"),
    pytest.param({"environment.yml": ENVIRONMENT}, ["environment.yml"], id="environment-yml"),
    pytest.param({"environment.yaml": ENVIRONMENT}, ["environment.yaml"], id="environment-yaml"),
    pytest.param(
        {"environment.yml": ENVIRONMENT, "environment.yaml": ENVIRONMENT},
        ["environment.yml"],
        id="environment-yml-before-yaml",
    ),
    pytest.param(
        {
            "pyproject.toml": PYPROJECT,
            "environment.yml": ENVIRONMENT,
            "requirements.txt": "",
            "uv.lock": UV_LOCK,
        },
        ["requirements.txt", "environment.yml", "pyproject.toml"],
        id="lock-environment-pyproject",
    ),
    pytest.param({"env.yml": ENVIRONMENT}, [], id="other-yml-only-when-given"),
]


@pytest.mark.parametrize(("files", "expected"), DISCOVERY)
def test_discovery_in_one_directory(tmp_path, files, expected):
    (tmp_path / ".git").mkdir()
    for name, text in files.items():
        _write(tmp_path, name, text)
    assert _found(tmp_path) == expected


def test_discovery_walks_up_to_the_repository_root(tmp_path):
    _write(tmp_path, "uv.lock", UV_LOCK)  # above the repository: never read
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    _write(repo, "pylock.toml", PYLOCK)
    (repo / "notebooks" / "deep").mkdir(parents=True)
    assert _found(repo, "notebooks/deep/demo.ipynb") == ["pylock.toml"]
    _write(repo, "notebooks/requirements.txt", "")
    assert _found(repo, "notebooks/deep/demo.ipynb") == ["notebooks/requirements.txt"]
    (repo / "pylock.toml").unlink()
    (repo / "notebooks" / "requirements.txt").unlink()
    assert _found(repo, "notebooks/deep/demo.ipynb") == []


def test_discovery_passes_over_a_pyproject_with_only_tool_settings(tmp_path):
    (tmp_path / ".git").mkdir()
    _write(tmp_path, "uv.lock", UV_LOCK)
    _write(tmp_path, "notebooks/pyproject.toml", "[tool.nbsetup]\npin-missing = true\n")
    assert _found(tmp_path, "notebooks/demo.ipynb") == ["uv.lock"]


def test_discovery_stops_at_the_first_directory_with_a_source(tmp_path):
    (tmp_path / ".git").mkdir()
    _write(tmp_path, "requirements.txt", "")
    _write(tmp_path, "notebooks/pyproject.toml", PYPROJECT)
    assert _found(tmp_path, "notebooks/demo.ipynb") == ["notebooks/pyproject.toml"]


def test_discovery_reports_a_broken_pyproject(tmp_path):
    (tmp_path / ".git").mkdir()
    _write(tmp_path, "pyproject.toml", "[project\n")
    with pytest.raises(RequirementsError, match=r"pyproject.toml: invalid TOML: "):
        find_pin_sources(tmp_path / "demo.ipynb")


# --- the pins in a run --------------------------------------------------------------------


def _pinned(result: report.FileResult) -> list[str]:
    return [c.message for c in result.changes if c.kind in ("pinned", "conflict")]


def test_a_run_pins_from_the_earlier_pins_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    _write(tmp_path, "pylock.toml", PYLOCK)
    _write(tmp_path, "requirements.txt", "numpy==1.0\nrequests==2.0.0\n")
    _write(tmp_path, "demo.ipynb", _NOTEBOOK)
    settings = batch.Settings(pins=(Path("pylock.toml"), Path("requirements.txt")), check=True)
    result = batch.process(Path("demo.ipynb"), settings)
    assert result.pin_sources == "pylock.toml, requirements.txt"
    assert _pinned(result) == [
        "numpy: pinned to 'numpy==2.1.3; python_full_version >= \"3.13\"', "
        "'numpy==1.26.4; python_full_version < \"3.13\"' by pylock.toml, line 9",
        "requests: pinned to 'Requests==2.32.3' by pylock.toml, line 43",
    ]


def test_a_batch_lists_each_directory_once_and_a_later_lookup_lists_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import os

    from nbsetup import sources
    from tests import builders

    (tmp_path / ".git").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for index in range(3):
            notebook = builders.notebook("!pip install rich\n", "import rich")
            (tmp_path / folder / f"n{index}.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "b" / "requirements.txt").write_text("rich==13.7.1\n")
    listed: list[str] = []
    real = os.listdir

    def counting(path: object) -> list[str]:
        listed.append(os.path.relpath(str(path), tmp_path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(sources.os, "listdir", counting)
    files = sorted(tmp_path.rglob("*.ipynb"))
    outcome = batch.run(files, batch.Settings(jobs=1))
    assert sorted(listed) == [".", "a", "b"]  # a's search goes on to the root, b's stops
    assert [r.status for r in outcome.results] == ["changed"] * 6
    assert "rich==13.7.1" in (tmp_path / "b" / "n0.ipynb").read_text()
    # Outside a batch, a pin file created since is found.
    (tmp_path / "a" / "requirements.txt").write_text("rich==13.7.1\n")
    assert find_pin_sources(tmp_path / "a" / "n0.ipynb") == (tmp_path / "a" / "requirements.txt",)
    with sources.listings_kept():
        listed.clear()
        find_pin_sources(tmp_path / "a" / "n0.ipynb")
        find_pin_sources(tmp_path / "a" / "n1.ipynb")
        with sources.listings_kept():  # nested: the same listings
            find_pin_sources(tmp_path / "a" / "n2.ipynb")
        assert listed == ["a"]
    assert sources._LISTINGS is None
