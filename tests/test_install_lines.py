from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup.install_lines import (
    InstallLine,
    LineStyle,
    PinNote,
    Resolution,
    canonical_options,
    render_line,
    render_lines,
    resolve,
)
from nbsetup.installs.records import InstallCommand
from nbsetup.pins import RequirementEntry, merge_pins
from nbsetup.sources.requirements_txt import Pins, parse_requirements
from tests.ipython_harness import model_words

# packaging reads marker strings with backslashes through `ast`, which warns; not our concern.
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")

settings.register_profile("nbsetup", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("nbsetup")


def _pins(text: str) -> Pins:
    def read(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    return parse_requirements(text, "requirements.txt", read)


def pip(*requirements, options=(), manager="pip", files=()):
    return InstallCommand(
        manager, "install", tuple(requirements), tuple(options), requirement_files=tuple(files)
    )


def conda(*specs, options=()):
    return InstallCommand("conda", "install", tuple(specs), tuple(options))


def apt(*packages, options=(("-y", None),)):
    return InstallCommand("apt", "install", tuple(packages), tuple(options))


def _lines(commands, requirements=""):
    return list(render_lines(resolve(commands, _pins(requirements))))


# (commands, requirements.txt, rendered environment lines)
POLICY = [
    pytest.param([], "", [], id="nothing"),
    pytest.param(
        [pip("numpy")],
        "numpy==1.26.4\n",
        ["%pip install numpy==1.26.4"],
        id="pinned",
    ),
    pytest.param(
        [pip("NumPy")],
        "numpy==1.26.4\n",
        ["%pip install numpy==1.26.4"],
        id="pinned-name-case",
    ),
    pytest.param(
        [pip("scikit_learn")],
        "Scikit-Learn==1.3.2\n",
        ["%pip install Scikit-Learn==1.3.2"],
        id="pep-503-names",
    ),
    pytest.param(
        [pip("numpy<2")],
        "numpy==1.26.4\n",
        ["%pip install numpy==1.26.4"],
        id="notebook-spec-replaced",
    ),
    pytest.param(
        [pip("numpy>=2")],
        "numpy==1.26.4\n",
        ["%pip install numpy==1.26.4"],
        id="conflict-requirements-win",
    ),
    pytest.param(
        [pip("torch[cuda]")],
        'torch[audio]==2.1.0 ; sys_platform == "linux"\n',
        ["%pip install 'torch[audio,cuda]==2.1.0; sys_platform == \"linux\"'"],
        id="extras-merged-markers-from-pin",
    ),
    pytest.param(
        [pip('pywin32; sys_platform == "win32"')],
        "pywin32==306\n",
        ["%pip install 'pywin32==306; sys_platform == \"win32\"'"],
        id="notebook-marker-kept-when-pin-has-none",
    ),
    pytest.param(
        [pip("numpy==1.24")],
        "numpy\n",
        ["%pip install numpy==1.24"],
        id="pin-without-specifier-keeps-notebook-spec",
    ),
    pytest.param(
        [pip("numpy")],
        'numpy==1.24.4; python_version < "3.9"\nnumpy==1.26.4; python_version >= "3.9"\n',
        [
            "%pip install 'numpy==1.24.4; python_version < \"3.9\"' "
            "'numpy==1.26.4; python_version >= \"3.9\"'"
        ],
        id="marker-variants",
    ),
    pytest.param(
        [pip("mylib")],
        "git+https://github.com/org/mylib.git@v1#egg=mylib\n",
        ['%pip install "mylib @ git+https://github.com/org/mylib.git@v1#egg=mylib"'],
        id="pinned-to-vcs-url",
    ),
    pytest.param(
        [pip("pandas>=2")],
        "numpy==1.26.4\n",
        ['%pip install "pandas>=2"'],
        id="unpinned-keeps-spec",
    ),
    pytest.param(
        [pip("pandas<2"), pip("pandas>=2.1")],
        "",
        ['%pip install "pandas>=2.1"'],
        id="unpinned-later-spec-wins",
    ),
    pytest.param(
        [pip("pandas==2.0"), pip("pandas")],
        "",
        ["%pip install pandas==2.0"],
        id="later-bare-name-keeps-earlier-spec",
    ),
    pytest.param(
        [pip("numpy", "pandas"), pip("numpy", "scipy")],
        "",
        ["%pip install numpy pandas scipy"],
        id="duplicates-merged-first-appearance-order",
    ),
    pytest.param(
        [pip("requests[socks]"), pip("Requests[security]")],
        "",
        ['%pip install "Requests[security,socks]"'],
        id="duplicate-extras-merged",
    ),
    pytest.param(
        [pip("git+https://github.com/a/b.git#egg=b"), pip("git+https://github.com/a/b.git#egg=b")],
        "b==1.0\n",
        ['%pip install "git+https://github.com/a/b.git#egg=b"'],
        id="vcs-kept-as-written-once",
    ),
    pytest.param(
        [pip("pkg @ https://x.org/pkg-1.0.zip")],
        "pkg==2.0\n",
        ['%pip install "pkg @ https://x.org/pkg-1.0.zip"'],
        id="direct-url-kept-as-written",
    ),
    pytest.param(
        [pip(files=["requirements.txt"]), pip("numpy")],
        "numpy==1.26.4\n",
        ["%pip install -r requirements.txt numpy==1.26.4"],
        id="requirement-file-install-kept",
    ),
    pytest.param(
        [pip("numpy", options=[("-q", None)]), pip("pandas", options=[("--quiet", None)])],
        "",
        ["%pip install numpy pandas"],
        id="cosmetic-options-dropped",
    ),
    pytest.param(
        [
            pip(
                "numpy",
                options=[
                    ("--no-cache-dir", None),
                    ("--progress-bar", "off"),
                    ("--root-user-action", "ignore"),
                    ("--disable-pip-version-check", None),
                    ("--no-warn-script-location", None),
                    ("-v", None),
                ],
            ),
            pip("pandas", options=[("--system", None)], manager="uv"),
        ],
        "",
        ["%pip install numpy pandas"],
        id="more-cosmetic-options-and-uv",
    ),
    pytest.param(
        [pip("torch", options=[("-i", "https://download.pytorch.org/whl/cu121")]), pip("numpy")],
        "torch==2.1.0\n",
        [
            "%pip install --index-url https://download.pytorch.org/whl/cu121 torch==2.1.0",
            "%pip install numpy",
        ],
        id="option-group-bound",
    ),
    pytest.param(
        [
            pip("a", options=[("--pre", None), ("--no-deps", None)]),
            pip("b", options=[("--no-deps", None), ("--pre", None), ("-q", None)]),
        ],
        "",
        ["%pip install --pre --no-deps a b"],
        id="option-order-same-group",
    ),
    pytest.param(
        [
            pip("a", options=[("--index-url=https://x/simple", None)]),
            pip("b", options=[("--index-url", "https://x/simple")]),
        ],
        "",
        ["%pip install --index-url https://x/simple a b"],
        id="option-equals-split",
    ),
    pytest.param(
        [pip("transformers", options=[("-U", None)]), pip("numpy")],
        "",
        ["%pip install --upgrade transformers", "%pip install numpy"],
        id="upgrade-is-a-group",
    ),
    pytest.param(
        [pip("numpy", "scipy", options=[("-U", None)]), pip("numpy")],
        "",
        ["%pip install --upgrade scipy", "%pip install numpy"],
        id="same-package-two-groups-last-wins",
    ),
    pytest.param(
        [
            pip("numpy"),
            apt("ffmpeg"),
            conda("cudatoolkit=11.8", options=[("-c", "nvidia"), ("-y", None)]),
        ],
        "",
        [
            "!apt-get install -y ffmpeg",
            "%conda install -y --channel nvidia cudatoolkit=11.8",
            "%pip install numpy",
        ],
        id="managers-ordered-apt-conda-pip",
    ),
    pytest.param(
        [
            InstallCommand("apt", "update", options=(("-qq", None),)),
            apt("libsm6", "ffmpeg"),
            apt("ffmpeg", options=(("-qq", None),)),
        ],
        "",
        ["!apt-get update -qq", "!apt-get install -y libsm6 ffmpeg"],
        id="apt-update-and-dedupe",
    ),
    pytest.param(
        [conda("numpy>=1.2"), conda("conda-forge::numpy=1.26")],
        "numpy==1.20\n",
        ["%conda install -y conda-forge::numpy=1.26"],
        id="conda-not-pinned-later-wins",
    ),
    pytest.param(
        [
            InstallCommand("pip", "uninstall", ("numpy",)),
            InstallCommand("pip", "install", ("x",), movable=False, reason="inside an if block"),
        ],
        "",
        [],
        id="only-hoistable-installs-count",
    ),
]


@pytest.mark.parametrize(("commands", "requirements", "expected"), POLICY)
def test_policy(commands, requirements, expected):
    assert _lines(commands, requirements) == expected


def _kinds(commands, requirements=""):
    resolution = resolve(commands, _pins(requirements))
    return [(n.kind, n.package) for n in resolution.notes]


NOTES = [
    pytest.param([pip("numpy")], "numpy==1.26.4\n", [("pinned", "numpy")], id="pinned"),
    pytest.param(
        [pip("numpy<2")], "numpy==1.26.4\n", [("pinned", "numpy")], id="satisfied-no-conflict"
    ),
    pytest.param(
        [pip("numpy>=2")],
        "numpy==1.26.4\n",
        [("pinned", "numpy"), ("conflict", "numpy")],
        id="conflict-exact",
    ),
    pytest.param(
        [pip("numpy<2")],
        "numpy>=1.20\n",
        [("pinned", "numpy"), ("conflict", "numpy")],
        id="conflict-range-pin-allows-more",
    ),
    pytest.param(
        [pip("numpy<2")],
        "numpy>=1.20,<1.27\n",
        [("pinned", "numpy")],
        id="range-inside-range",
    ),
    pytest.param(
        [pip("numpy<1.4.9")],
        "numpy~=1.4.5\n",
        [("pinned", "numpy"), ("conflict", "numpy")],
        id="compatible-release",
    ),
    pytest.param(
        [pip("numpy==1.26.*")],
        "numpy==1.26.4\n",
        [("pinned", "numpy")],
        id="wildcard-satisfied",
    ),
    pytest.param([pip("pandas")], "", [("unpinned", "pandas")], id="unpinned"),
    pytest.param(
        [pip("pandas<2"), pip("pandas>=2")],
        "",
        [("unpinned", "pandas"), ("conflict", "pandas")],
        id="unpinned-conflict",
    ),
    pytest.param(
        [pip("pandas"), pip("pandas")],
        "",
        [("unpinned", "pandas"), ("duplicate", "pandas")],
        id="duplicate",
    ),
    pytest.param(
        [pip("numpy", options=[("-U", None)]), pip("numpy")],
        "numpy==1\n",
        [("pinned", "numpy"), ("duplicate", "numpy"), ("moved", "numpy")],
        id="moved",
    ),
    pytest.param(
        [pip("git+https://github.com/a/b.git")],
        "",
        [("kept", "git+https://github.com/a/b.git")],
        id="kept",
    ),
]


@pytest.mark.parametrize(("commands", "requirements", "expected"), NOTES)
def test_notes(commands, requirements, expected):
    assert _kinds(commands, requirements) == expected


def test_note_fields():
    resolution = resolve([pip("numpy>=2"), pip("numpy")], _pins("\n\nnumpy==1.26.4\n"))
    assert resolution.notes == (
        PinNote(
            "pinned", "numpy", ("numpy>=2", "numpy"), ("numpy==1.26.4",), "numpy==1.26.4",
            "requirements.txt", 3,
        ),
        PinNote(
            "conflict", "numpy", ("numpy>=2",), ("numpy==1.26.4",), "numpy==1.26.4",
            "requirements.txt", 3,
        ),
    )  # fmt: skip


def test_resolution_structure():
    resolution = resolve(
        [pip("numpy<2", options=[("-i", "https://x/simple"), ("-q", None)])],
        _pins("numpy==1.26.4\n"),
    )
    assert resolution.lines == (
        InstallLine("pip", ("--index-url", "https://x/simple"), ("numpy==1.26.4",)),
    )
    assert resolution.apt_update is False


@pytest.mark.parametrize(
    ("manager", "options", "expected"),
    [
        pytest.param("pip", [("-U", None)], ("--upgrade",), id="upgrade"),
        pytest.param("pip", [("-i", "u")], ("--index-url", "u"), id="index-url"),
        pytest.param("pip", [("-f", "u")], ("--find-links", "u"), id="find-links"),
        pytest.param("pip", [("--extra-index-url=u", None)], ("--extra-index-url", "u"), id="eq"),
        pytest.param("pip", [("-qq", None), ("--yes", None)], (), id="cosmetic"),
        pytest.param(
            "pip",
            [("--no-index", None), ("--pre", None), ("--no-deps", None), ("--user", None)],
            ("--no-index", "--pre", "--no-deps", "--user"),
            id="meaningful",
        ),
        pytest.param("pip", [("--force-reinstall", None)], ("--force-reinstall",), id="force"),
        pytest.param("conda", [("-c", "conda-forge"), ("-y", None)], ("--channel", "conda-forge")),
        pytest.param(
            "apt",
            [("-qq", None), ("--no-install-recommends", None)],
            ("--no-install-recommends",),
            id="apt",
        ),
    ],
)
def test_canonical_options(manager, options, expected):
    assert canonical_options(manager, options) == expected


# --- rendering ------------------------------------------------------------------------------


def test_render_line_forms():
    assert render_line(InstallLine("apt", (), ("ffmpeg",))) == "!apt-get install -y ffmpeg"
    # `%conda` splits its words and joins them unquoted: a spec the shell must see quoted is
    # quoted twice. `%pip` expands braces twice: they are doubled twice.
    assert render_line(InstallLine("conda", ("--channel", "x"), ("a>=1",))) == (
        """%conda install -y --channel x '"a>=1"'"""
    )
    assert render_line(
        InstallLine("pip", ("--find-links", "https://x/{v}.html"), (), ("r.txt",), ("c.txt",))
    ) == ('%pip install --find-links "https://x/{{{{v}}}}.html" -r r.txt -c c.txt')
    style = LineStyle(pip="!pip", installer="uv", quiet=False)
    assert render_line(InstallLine("pip", (), ("x{v}",)), style) == '!uv pip install "x{{v}}"'


def test_render_lines_apt_update_first():
    resolution = Resolution((InstallLine("apt", (), ("ffmpeg",)),), (), apt_update=True)
    assert render_lines(resolution) == ("!apt-get update -qq", "!apt-get install -y ffmpeg")


# --- conda pins ---------------------------------------------------------------------------


def _conda_name(spec: str) -> str:
    return canonicalize_name(re.split(r"[\s=<>!~\[]", spec.rpartition("::")[2])[0])


def _with_conda(requirements: str, *specs: str) -> Pins:
    """Pins of a requirements.txt and of an environment.yml listing `specs` from line 3."""
    conda_entries = tuple(
        RequirementEntry(spec, None, _conda_name(spec), "environment.yml", line, manager="conda")
        for line, spec in enumerate(specs, start=3)
    )
    return merge_pins(_pins(requirements), Pins(conda_entries, files=("environment.yml",)))


# (commands, requirements.txt, environment.yml conda specs, rendered environment lines)
CONDA_POLICY = [
    pytest.param(
        [conda("gdal")], "", ["gdal=3.8.4"], ["%conda install -y gdal=3.8.4"], id="pinned"
    ),
    pytest.param(
        [conda("GDAL>=3.6", options=[("-c", "conda-forge")])],
        "",
        ["gdal=3.8.4"],
        ["%conda install -y --channel conda-forge gdal=3.8.4"],
        id="spec-replaced-options-kept",
    ),
    pytest.param(
        [conda("conda-forge::gdal")],
        "",
        ["gdal=3.8.4"],
        ["%conda install -y conda-forge::gdal=3.8.4"],
        id="notebook-channel-kept",
    ),
    pytest.param(
        [conda("gdal")],
        "",
        ["conda-forge::gdal=3.8.4=py311h_0"],
        ["%conda install -y conda-forge::gdal=3.8.4=py311h_0"],
        id="pin-channel-and-build",
    ),
    pytest.param(
        [conda("gdal=3.8")],
        "",
        ["conda-forge::gdal"],
        ["%conda install -y conda-forge::gdal=3.8"],
        id="pin-without-version-keeps-notebook-version",
    ),
    pytest.param(
        [conda("numpy"), pip("numpy")],
        "numpy==1.26.4\n",
        ["numpy=1.26"],
        ["%conda install -y numpy=1.26", "%pip install numpy==1.26.4"],
        id="each-installer-its-own-pin",
    ),
    pytest.param(
        [pip("gdal")],
        "",
        ["gdal=3.8.4"],
        ["%pip install gdal"],
        id="conda-pin-not-for-pip",
    ),
    pytest.param(
        [conda("geopandas"), conda("gdal")],
        "",
        ["gdal=3.8.4"],
        ["%conda install -y geopandas gdal=3.8.4"],
        id="unpinned-kept",
    ),
    pytest.param(
        [InstallCommand("conda", "install", ("gdal>=3",), (("-y", None),))],
        "",
        ["gdal>=3.6,<3.9"],
        # Quoted twice: `%conda` joins its words unquoted before the shell reads them.
        ["""%conda install -y '"gdal>=3.6,<3.9"'"""],
        id="range-pin-quoted",
    ),
]


@pytest.mark.parametrize(("commands", "requirements", "specs", "expected"), CONDA_POLICY)
def test_conda_policy(commands, requirements, specs, expected):
    pins = _with_conda(requirements, *specs)
    first = resolve(commands, pins)
    assert list(render_lines(first)) == expected
    again = resolve([_reparse(line) for line in render_lines(first)], pins)
    assert again.lines == first.lines


# (commands, requirements.txt, environment.yml conda specs, [(kind, package)])
CONDA_NOTES = [
    pytest.param([conda("gdal")], "", ["gdal=3.8.4"], [("pinned", "gdal")], id="pinned"),
    pytest.param(
        [conda("gdal=3.8")], "", ["gdal=3.8.4"], [("pinned", "gdal")], id="fuzzy-satisfied"
    ),
    pytest.param(
        [conda("gdal>=3.6,<4")], "", ["gdal=3.8.4"], [("pinned", "gdal")], id="range-satisfied"
    ),
    pytest.param(
        [conda("gdal=3.6")],
        "",
        ["gdal=3.8.4"],
        [("pinned", "gdal"), ("conflict", "gdal")],
        id="conflict-version",
    ),
    pytest.param(
        [conda("gdal=3.8.4")],
        "",
        ["gdal=3.8"],
        [("pinned", "gdal"), ("conflict", "gdal")],
        id="conflict-pin-allows-more",
    ),
    pytest.param(
        [conda("bioconda::gdal")],
        "",
        ["conda-forge::gdal=3.8.4"],
        [("pinned", "gdal"), ("conflict", "gdal")],
        id="conflict-channel",
    ),
    pytest.param(
        [conda("gdal 3.8.*|3.9.*")],
        "",
        ["gdal=3.8.4"],
        [("pinned", "gdal"), ("conflict", "gdal")],
        id="unreadable-version-differs",
    ),
    pytest.param(
        [conda("gdal"), conda("gdal")],
        "",
        ["gdal=3.8.4"],
        [("pinned", "gdal"), ("duplicate", "gdal")],
        id="duplicate",
    ),
    pytest.param(
        [conda("geopandas")],
        "",
        ["gdal=3.8.4"],
        [("unpinned", "geopandas")],
        id="unpinned-when-conda-pins-are-in-use",
    ),
    pytest.param(
        [conda("geopandas=0.14"), conda("geopandas=1.0")],
        "",
        ["gdal=3.8.4"],
        [("unpinned", "geopandas"), ("conflict", "geopandas")],
        id="unpinned-conflict",
    ),
    pytest.param([conda("geopandas")], "geopandas==1.0\n", [], [], id="no-conda-pins-no-note"),
    pytest.param(
        [pip("numpy")],
        "numpy==2.0.0\n",
        ["numpy=1.26.4"],
        [("pinned", "numpy"), ("mismatch", "numpy")],
        id="mismatch-pip-install",
    ),
    pytest.param(
        [conda("numpy")],
        "numpy==2.0.0\n",
        ["numpy=1.26.4"],
        [("pinned", "numpy"), ("mismatch", "numpy")],
        id="mismatch-conda-install",
    ),
    pytest.param(
        [conda("numpy"), pip("NumPy")],
        "numpy==2.0.0\n",
        ["numpy=1.26.4"],
        [("pinned", "numpy"), ("mismatch", "numpy"), ("pinned", "numpy")],
        id="mismatch-reported-once",
    ),
    pytest.param(
        [pip("numpy")],
        "numpy==1.26.4\n",
        ["numpy=1.26"],
        [("pinned", "numpy")],
        id="same-version-no-mismatch",
    ),
    pytest.param(
        [pip("numpy")],
        "numpy>=1.20\n",
        ["numpy=1.26.4=py311h_0"],
        [("pinned", "numpy")],
        id="range-containing-conda-version",
    ),
    pytest.param(
        [pip("numpy")],
        "numpy==2.0.0\n",
        ["numpy"],
        [("pinned", "numpy")],
        id="conda-pin-without-version",
    ),
    pytest.param(
        [pip("numpy")],
        'numpy==2.1.3; python_version >= "3.13"\nnumpy==1.26.4; python_version < "3.13"\n',
        ["numpy=1.26.4"],
        [("pinned", "numpy"), ("mismatch", "numpy")],
        id="mismatch-in-one-marker-variant",
    ),
]


@pytest.mark.parametrize(("commands", "requirements", "specs", "expected"), CONDA_NOTES)
def test_conda_notes(commands, requirements, specs, expected):
    resolution = resolve(commands, _with_conda(requirements, *specs))
    assert [(n.kind, n.package) for n in resolution.notes] == expected


def test_conda_note_fields():
    pins = _with_conda("\nnumpy==2.0.0\n", "python=3.11", "numpy=1.26.4")
    resolution = resolve([conda("conda-forge::numpy<2"), conda("numpy=1.25")], pins)
    assert resolution.notes == (
        PinNote(
            "pinned", "numpy", ("conda-forge::numpy<2", "numpy=1.25"), ("numpy=1.26.4",),
            "numpy=1.26.4", "environment.yml", 4,
        ),
        PinNote(
            "conflict", "numpy", ("numpy=1.25",), ("numpy=1.26.4",), "numpy=1.26.4",
            "environment.yml", 4,
        ),
        PinNote(
            "mismatch", "numpy", ("conda-forge::numpy<2", "numpy=1.25"), ("numpy=1.26.4",),
            "numpy==2.0.0", "requirements.txt", 2, "numpy=1.26.4", "environment.yml", 4,
        ),
    )  # fmt: skip


# --- helpers modelling IPython and a re-parse of the environment cell ----------------------

_PREFIX = {"apt-get install": "apt", "conda install": "conda", "pip install": "pip"}
_VALUE_FLAGS = frozenset(
    {"--index-url", "--extra-index-url", "--find-links", "--channel", "--progress-bar"}
)


def _reparse(line: str) -> InstallCommand:
    """A simple recogniser for the lines `render_lines` writes."""
    words = model_words(line)
    if words[:2] == ["apt-get", "update"]:
        return InstallCommand("apt", "update", options=tuple((w, None) for w in words[2:]))
    manager = _PREFIX[f"{words[0]} {words[1]}"]
    options: list[tuple[str, str | None]] = []
    requirements: list[str] = []
    files: list[str] = []
    constraints: list[str] = []
    rest = iter(words[2:])
    for word in rest:
        if manager == "pip" and word in ("-r", "-c"):
            (files if word == "-r" else constraints).append(next(rest))
        elif word in _VALUE_FLAGS:
            options.append((word, next(rest)))
        elif word.startswith("-"):
            options.append((word, None))
        else:
            requirements.append(word)
    return InstallCommand(
        manager, "install", tuple(requirements), tuple(options), tuple(files), tuple(constraints)
    )


def test_idempotent_examples():
    for param in POLICY:
        commands, requirements, _ = param.values
        pins = _pins(requirements)
        first = resolve(commands, pins)
        again = resolve([_reparse(line) for line in render_lines(first)], pins)
        assert again.lines == first.lines
        assert again.apt_update == first.apt_update


# --- properties ---------------------------------------------------------------------------

NAMES = ["numpy", "NumPy", "scikit_learn", "Scikit-Learn", "pandas", "torch", "zope.interface"]
SPECIFIERS = ["", "==1.26.4", ">=1.0", "<2", ">=1,<2", "~=1.4.5", "!=1.5", "==2.*"]
EXTRAS = ["", "[cuda]", "[a,B]"]
HOSTILE = "$`;&|(){}'\\ <>*?!#~\"abc"
OPTION_GROUPS = [
    (),
    (("-q", None),),
    (("-U", None),),
    (("-i", "https://x/simple"),),
    (("--index-url", "https://x/simple"), ("--quiet", None)),
    (("--find-links", "https://x/{v}/$HOME"),),
]
URLS = [
    "git+https://github.com/a/b.git@v1#egg=b",
    "https://x.org/p/${TOKEN}/foo-1.0-py3-none-any.whl",
    "pkg @ https://x.org/$HOME/{a}.zip",
    "not valid; `rm -rf /` && $(id)",
]


@st.composite
def requirement_texts(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(URLS))
    text = draw(st.sampled_from(NAMES)) + draw(st.sampled_from(EXTRAS))
    text += draw(st.sampled_from(SPECIFIERS))
    if draw(st.booleans()):
        value = draw(st.text(alphabet=HOSTILE.replace("'", ""), max_size=8))
        text += f"; platform_release == '{value}'"
    return text


commands_strategy = st.lists(
    st.builds(
        lambda manager, requirements, options: InstallCommand(
            manager, "install", tuple(requirements), options
        ),
        st.sampled_from(["pip", "pip", "uv"]),
        st.lists(requirement_texts(), min_size=1, max_size=3),
        st.sampled_from(OPTION_GROUPS),
    ),
    max_size=5,
)
pins_strategy = st.dictionaries(
    st.sampled_from([*NAMES[::2], "requests"]),
    st.sampled_from(["==1.26.4", ">=1", "[extra]==2.0; python_version >= '3.8'", ""]),
    max_size=4,
).map(lambda pins: _pins("".join(f"{name}{spec}\n" for name, spec in pins.items())))


def _parses(text: str) -> bool:
    """Parses, and reads back what packaging prints (`'\\'` in a marker does not)."""
    try:
        Requirement(str(Requirement(text)))
    except InvalidRequirement:
        return False
    return True


def _package(text: str) -> str:
    if not _parses(text):
        return text
    requirement = Requirement(text)
    return text if requirement.url else canonicalize_name(requirement.name)


@given(commands_strategy, pins_strategy)
def test_every_package_appears_exactly_once(commands, pins):
    resolution = resolve(commands, pins)
    installed = {_package(t) for c in commands for t in c.requirements}
    written = Counter(_package(r) for line in resolution.lines for r in line.requirements)
    assert set(written) == installed
    assert set(written.values()) <= {1}


@given(commands_strategy, pins_strategy)
def test_output_parses_and_survives_quoting(commands, pins):
    resolution = resolve(commands, pins)
    # URLs and texts that do not parse (marker strings packaging rejects) are kept as written.
    kept = {t for c in commands for t in c.requirements if t in URLS or not _parses(t)}
    for line in resolution.lines:
        words = model_words(render_line(line))
        assert words[-len(line.requirements) :] == list(line.requirements)
        for text in line.requirements:
            if text not in kept:
                Requirement(text)


@given(commands_strategy, pins_strategy)
def test_resolve_is_idempotent(commands, pins):
    first = resolve(commands, pins)
    again = resolve([_reparse(line) for line in render_lines(first)], pins)
    assert again.lines == first.lines
