"""Unit tests for nbsetup.installs: which lines are installs, their commands and verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbsetup.installs import find_installs
from nbsetup.installs.records import InstallCommand, InstallSite


def cmd(
    *requirements: str,
    manager: str = "pip",
    action: str = "install",
    options: tuple[tuple[str, str | None], ...] = (),
    files: tuple[str, ...] = (),
    constraints: tuple[str, ...] = (),
    sudo: bool = False,
    reason: str | None = None,
) -> InstallCommand:
    return InstallCommand(
        manager=manager,
        action=action,
        requirements=requirements,
        options=options,
        requirement_files=files,
        constraint_files=constraints,
        sudo=sudo,
        movable=reason is None,
        reason=reason,
    )


def site(
    start: int,
    end: int,
    form: str,
    *commands: InstallCommand,
    cell: int = 0,
    replacement: tuple[str, ...] | None = (),
) -> InstallSite:
    if not any(command.movable for command in commands):
        replacement = None
    return InstallSite(cell, start, end, form, commands, replacement)


Q = ("-q", None)
U = ("-U", None)
Y = ("-y", None)


NOT_INSTALLS = [
    pytest.param("import numpy as np\n", id="plain python"),
    pytest.param("", id="empty cell"),
    pytest.param("!pip list\n", id="pip list"),
    pytest.param("!pip show numpy\n", id="pip show"),
    pytest.param("!pip freeze > requirements.txt\n", id="pip freeze"),
    pytest.param("!pip --version\n", id="pip --version"),
    pytest.param("!pip wheel numpy\n", id="pip wheel"),
    pytest.param("!conda list\n", id="conda list"),
    pytest.param("!apt-get upgrade -y\n", id="apt-get upgrade"),
    pytest.param('print("pip install numpy")\n', id="text in a string"),
    pytest.param("# !pip install numpy\n", id="commented out"),
    pytest.param("x = 1  # then !pip install numpy\n", id="trailing comment"),
    pytest.param('doc = """\n', "!pip install numpy\n", '"""\n', id="inside a multi-line string"),
    pytest.param("import condacolab\n", "condacolab.install()\n", id="condacolab"),
    pytest.param("!python setup.py install\n", id="setup.py install"),
    pytest.param("!uv python install 3.12\n", id="uv python install"),
    pytest.param("!uv tool install ruff\n", id="uv tool install"),
    pytest.param("!npm install left-pad\n", id="npm install"),
    pytest.param("!echo pip install numpy\n", id="echo of an install"),
    pytest.param("%%writefile setup.sh\n", "pip install numpy\n", id="writefile body"),
    pytest.param("%%html\n", "<p>pip install numpy</p>\n", id="html cell"),
    pytest.param("%%script echo skipping\n", "pip install numpy\n", id="script echo body"),
    pytest.param("%%bash\n", "npm install left-pad\n", id="bash npm"),
    pytest.param("subprocess.run(cmd)\n", id="unknown subprocess argv"),
    pytest.param('subprocess.run("pip install x")\n', id="string argv without shell"),
    pytest.param("%env PIP_QUIET=1\n", id="env magic"),
    pytest.param("!pip install 'unclosed\n", id="unclosed quote"),
    pytest.param("pip = 3\n", "cd = pip + 1\n", id="python names like magics"),
    pytest.param("%%bash\n", "cat <<EOF\n", "pip install x\n", "EOF\n", id="here-document"),
]


@pytest.mark.parametrize("lines", [pytest.param(p.values, id=p.id) for p in NOT_INSTALLS])
def test_not_an_install(lines):
    assert find_installs(["".join(lines)]) == ()


def test_non_code_cells_are_skipped():
    assert find_installs([None, "!pip install x\n", None]) == (
        site(0, 1, "!pip", cmd("x"), cell=1),
    )


FIXES = [
    # --- forms --------------------------------------------------------------------------
    pytest.param("!pip install numpy\n", (site(0, 1, "!pip", cmd("numpy")),), id="!pip"),
    pytest.param("! pip install numpy\n", (site(0, 1, "!pip", cmd("numpy")),), id="! pip"),
    pytest.param("!pip3 install numpy\n", (site(0, 1, "!pip3", cmd("numpy")),), id="!pip3"),
    pytest.param("%pip install numpy\n", (site(0, 1, "%pip", cmd("numpy")),), id="%pip"),
    pytest.param("pip install numpy\n", (site(0, 1, "pip", cmd("numpy")),), id="automagic pip"),
    pytest.param(
        "!python -m pip install numpy\n",
        (site(0, 1, "!python -m pip", cmd("numpy")),),
        id="!python -m pip",
    ),
    pytest.param(
        "!python3 -m pip install numpy\n",
        (site(0, 1, "!python3 -m pip", cmd("numpy")),),
        id="!python3 -m pip",
    ),
    pytest.param(
        "!{sys.executable} -m pip install numpy\n",
        (site(0, 1, "!{sys.executable} -m pip", cmd("numpy")),),
        id="!{sys.executable} -m pip",
    ),
    pytest.param(
        "%conda install -c conda-forge numpy -y\n",
        (site(0, 1, "%conda", cmd("numpy", manager="conda", options=(("-c", "conda-forge"), Y))),),
        id="%conda",
    ),
    pytest.param(
        "!conda install pytorch cudatoolkit=11.1 -c pytorch\n",
        (
            site(
                0,
                1,
                "!conda",
                cmd("pytorch", "cudatoolkit=11.1", manager="conda", options=(("-c", "pytorch"),)),
            ),
        ),
        id="!conda match specs",
    ),
    pytest.param(
        "!mamba install -y numpy\n",
        (site(0, 1, "!mamba", cmd("numpy", manager="conda", options=(Y,))),),
        id="!mamba",
    ),
    pytest.param(
        "!micromamba install -y numpy\n",
        (site(0, 1, "!micromamba", cmd("numpy", manager="conda", options=(Y,))),),
        id="!micromamba",
    ),
    pytest.param(
        "!uv pip install --system numpy\n",
        (site(0, 1, "!uv pip", cmd("numpy", manager="uv", options=(("--system", None),))),),
        id="!uv pip",
    ),
    pytest.param(
        "%uv pip install numpy\n",
        (site(0, 1, "%uv pip", cmd("numpy", manager="uv")),),
        id="%uv pip",
    ),
    pytest.param(
        "!apt-get install -y ffmpeg\n",
        (site(0, 1, "!apt-get", cmd("ffmpeg", manager="apt", options=(Y,))),),
        id="!apt-get install",
    ),
    pytest.param(
        "!apt install -qq sox\n",
        (site(0, 1, "!apt", cmd("sox", manager="apt", options=(Q, Q))),),
        id="!apt -qq",
    ),
    pytest.param(
        "!apt-get update\n",
        (site(0, 1, "!apt-get", cmd(manager="apt", action="update")),),
        id="apt-get update",
    ),
    pytest.param(
        "!sudo apt-get install -y ffmpeg\n",
        (site(0, 1, "!sudo apt-get", cmd("ffmpeg", manager="apt", options=(Y,), sudo=True)),),
        id="sudo apt-get",
    ),
    pytest.param(
        "!sudo apt -qq install git-lfs\n",
        (site(0, 1, "!sudo apt", cmd("git-lfs", manager="apt", options=(Q, Q), sudo=True)),),
        id="sudo apt options first",
    ),
    # --- arguments ----------------------------------------------------------------------
    pytest.param(
        "!pip -q install imageio\n",
        (site(0, 1, "!pip", cmd("imageio", options=(Q,))),),
        id="option before subcommand",
    ),
    pytest.param(
        "!pip install -qU x\n", (site(0, 1, "!pip", cmd("x", options=(Q, U))),), id="-qU split"
    ),
    pytest.param('!pip install "numpy<2"\n', (site(0, 1, "!pip", cmd("numpy<2")),), id="quoted <"),
    pytest.param(
        "!pip install 'pkg[extra]>=1'\n",
        (site(0, 1, "!pip", cmd("pkg[extra]>=1")),),
        id="quoted extras",
    ),
    pytest.param("!pip install pkg==1.*\n", (site(0, 1, "!pip", cmd("pkg==1.*")),), id="glob"),
    pytest.param(
        "!pip install \"foo; python_version<'3.11'\"\n",
        (site(0, 1, "!pip", cmd("foo; python_version<'3.11'")),),
        id="environment marker",
    ),
    pytest.param(
        "!pip install --index-url=https://x/simple torch\n",
        (site(0, 1, "!pip", cmd("torch", options=(("--index-url", "https://x/simple"),))),),
        id="--flag=value",
    ),
    pytest.param(
        "!pip install torch -f https://download.pytorch.org/whl/torch_stable.html\n",
        (
            site(
                0,
                1,
                "!pip",
                cmd(
                    "torch",
                    options=(("-f", "https://download.pytorch.org/whl/torch_stable.html"),),
                ),
            ),
        ),
        id="-f value",
    ),
    pytest.param(
        "!pip install -r requirements.txt\n",
        (site(0, 1, "!pip", cmd(files=("requirements.txt",))),),
        id="-r file",
    ),
    pytest.param(
        "!pip install -c constraints.txt x\n",
        (site(0, 1, "!pip", cmd("x", constraints=("constraints.txt",))),),
        id="-c file",
    ),
    pytest.param(
        "!pip install -qUr MetaGPT/requirements.txt\n",
        (site(0, 1, "!pip", cmd(options=(Q, U), files=("MetaGPT/requirements.txt",))),),
        id="-qUr cluster",
    ),
    pytest.param(
        '!pip install "unsloth[colab-new] @ git+https://github.com/unslothai/unsloth.git@main"\n',
        (
            site(
                0,
                1,
                "!pip",
                cmd("unsloth[colab-new] @ git+https://github.com/unslothai/unsloth.git@main"),
            ),
        ),
        id="direct reference",
    ),
    pytest.param(
        "!pip install https://github.com/kpu/kenlm/archive/master.zip\n",
        (site(0, 1, "!pip", cmd("https://github.com/kpu/kenlm/archive/master.zip")),),
        id="URL",
    ),
    pytest.param(
        "!pip install x  # the x library\n",
        (site(0, 1, "!pip", cmd("x")),),
        id="trailing shell comment",
    ),
    # --- continuation lines and chains --------------------------------------------------
    pytest.param(
        "!pip install -q \\\n    numpy \\\n    pandas\nimport numpy\n",
        (site(0, 3, "!pip", cmd("numpy", "pandas", options=(Q,))),),
        id="continuation lines",
    ),
    pytest.param(
        "!apt-get install -y \\\n    sox ffmpeg\n",
        (site(0, 2, "!apt-get", cmd("sox", "ffmpeg", manager="apt", options=(Y,))),),
        id="apt continuation",
    ),
    pytest.param(
        "!pip install x && python run.py\n",
        (site(0, 1, "!pip", cmd("x"), replacement=("!python run.py\n",)),),
        id="&& chain keeps the rest",
    ),
    pytest.param(
        "!echo start; pip install x\n",
        (site(0, 1, "!pip", cmd("x"), replacement=("!echo start\n",)),),
        id="; chain keeps the rest",
    ),
    pytest.param(
        "!make a; pip install x; make b\n",
        (site(0, 1, "!pip", cmd("x"), replacement=("!make a; make b\n",)),),
        id="; chain keeps its other parts",
    ),
    pytest.param(
        "!pip install x && python run.py  # go\r\n",
        (site(0, 1, "!pip", cmd("x"), replacement=("!python run.py  # go\r\n",)),),
        id="kept comment and CRLF",
    ),
    pytest.param(
        "!pip install a && pip install b\n",
        (site(0, 1, "!pip", cmd("a"), cmd("b")),),
        id="two installs in a chain",
    ),
    pytest.param(
        "!apt-get update && apt-get install -y graphviz\n",
        (
            site(
                0,
                1,
                "!apt-get",
                cmd(manager="apt", action="update"),
                cmd("graphviz", manager="apt", options=(Y,)),
            ),
        ),
        id="apt update chain",
    ),
    pytest.param(
        "!pip install x > /dev/null 2>&1\n",
        (site(0, 1, "!pip", cmd("x")),),
        id="redirect dropped with the install",
    ),
    pytest.param(
        "!pip install x | tail -n 1\n",
        (site(0, 1, "!pip", cmd("x")),),
        id="pipe dropped with the install",
    ),
    pytest.param(
        "!pip install x || echo failed\n",
        (site(0, 1, "!pip", cmd("x", reason="conditional shell chain")),),
        id="|| stays",
    ),
    pytest.param(
        "!(cd a && pip install b)\n",
        (site(0, 1, "!pip", cmd("b", reason="runs in a subshell")),),
        id="subshell stays",
    ),
    pytest.param(
        "!cd repo && pip install numpy\n",
        (site(0, 1, "!pip", cmd("numpy", reason="follows a cd in the same chain")),),
        id="cd chain stays",
    ),
    pytest.param(
        "!cd repo && pip install -e .\n",
        (site(0, 1, "!pip", cmd(options=(("-e", "."),), reason="editable install")),),
        id="cd and editable",
    ),
    pytest.param(
        "!git clone https://x/repo && cd repo && pip install .\n",
        (site(0, 1, "!pip", cmd(".", reason="installs a local path")),),
        id="clone cd install",
    ),
    pytest.param(
        "!pip install a && cd b && pip install c\n",
        (
            site(
                0,
                1,
                "!pip",
                cmd("a", reason="follows a cd in the same chain"),
                cmd("c", reason="follows a cd in the same chain"),
            ),
        ),
        id="cd in the middle keeps the chain whole",
    ),
    pytest.param(
        "!pip install matplotlib>=3.3.2\n",
        (site(0, 1, "!pip", cmd("matplotlib>=3.3.2")),),
        id="unquoted >= is read as the spec meant",
    ),
    pytest.param(
        "!pip install numpy<2\n",
        (site(0, 1, "!pip", cmd("numpy<2")),),
        id="unquoted < is read as the spec meant",
    ),
    pytest.param(
        "%pip install x && echo hi\n",
        (site(0, 1, "%pip", cmd("x", reason="shell chain in a line magic")),),
        id="chain in %pip",
    ),
    # --- cell magics --------------------------------------------------------------------
    pytest.param("%%capture\n!pip install x\n", (site(1, 2, "!pip", cmd("x")),), id="%%capture"),
    pytest.param(
        "%%capture --no-stderr out\n%pip install x\n",
        (site(1, 2, "%pip", cmd("x")),),
        id="%%capture with options",
    ),
    pytest.param(
        "#@title Setup\n%%capture\n!pip install x\n",
        (site(2, 3, "!pip", cmd("x")),),
        id="%%capture after a Colab form comment",
    ),
    pytest.param(
        "%%bash\npip install a\npip install -U b\n",
        (site(1, 2, "%%bash", cmd("a")), site(2, 3, "%%bash", cmd("b", options=(U,)))),
        id="%%bash",
    ),
    pytest.param(
        "%%sh\napt-get install -y x\n",
        (site(1, 2, "%%sh", cmd("x", manager="apt", options=(Y,))),),
        id="%%sh",
    ),
    pytest.param(
        "%%script bash\npip install a\n", (site(1, 2, "%%script", cmd("a")),), id="%%script bash"
    ),
    pytest.param(
        "%%bash\npip install a > /dev/null 2>&1\n",
        (site(1, 2, "%%bash", cmd("a")),),
        id="%%bash redirect",
    ),
    pytest.param(
        "%%bash\ncd models\npython -m pip install .\n",
        (site(2, 3, "%%bash", cmd(".", reason="installs a local path")),),
        id="%%bash cd then local path",
    ),
    pytest.param(
        "%%bash\ncd models\npip install -r requirements.txt\n",
        (
            site(
                2,
                3,
                "%%bash",
                cmd(
                    files=("requirements.txt",), reason="relative path after a change of directory"
                ),
            ),
        ),
        id="%%bash cd then -r",
    ),
    pytest.param(
        "%%bash\nif true; then\n  pip install a\nfi\npip install b\n",
        (
            site(2, 3, "%%bash", cmd("a", reason="inside a shell if block")),
            site(
                4,
                5,
                "%%bash",
                cmd("b", reason="follows an install that stays in place at cell 1, line 3"),
            ),
        ),
        id="%%bash if block: the install left in place stops the next",
    ),
    pytest.param(
        "%%bash\nexport PIP_INDEX_URL=https://x\npip install a\n",
        (
            site(
                2,
                3,
                "%%bash",
                cmd("a", reason="follows an `export` of installer settings at cell 1, line 2"),
            ),
        ),
        id="%%bash export of PIP_INDEX_URL",
    ),
    pytest.param(
        '%%bash\npip install "tensorflow-compression<$MAJOR.$(($MINOR+1))"\n',
        (
            site(
                1,
                2,
                "%%bash",
                cmd(
                    "tensorflow-compression<$MAJOR.$(($MINOR+1))",
                    reason="uses command substitution",
                ),
            ),
        ),
        id="%%bash command substitution",
    ),
    # --- Python calls -------------------------------------------------------------------
    pytest.param(
        "import subprocess, sys\n"
        'subprocess.check_call([sys.executable, "-m", "pip", "install", "x"])\n',
        (site(1, 2, "subprocess", cmd("x")),),
        id="subprocess sys.executable",
    ),
    pytest.param(
        'subprocess.run(\n    ["pip", "install", "-q", "x"],\n    check=True,\n)\n',
        (site(0, 4, "subprocess", cmd("x", options=(Q,))),),
        id="subprocess multi-line",
    ),
    pytest.param(
        'subprocess.run("pip install x", shell=True)\n',
        (site(0, 1, "subprocess", cmd("x")),),
        id="subprocess shell=True",
    ),
    pytest.param(
        'os.system("pip install x")\n', (site(0, 1, "os.system", cmd("x")),), id="os.system"
    ),
    pytest.param(
        'get_ipython().system("pip install x")\n',
        (site(0, 1, "get_ipython().system", cmd("x")),),
        id="get_ipython().system",
    ),
    pytest.param(
        'get_ipython().run_line_magic("pip", "install x")\n',
        (site(0, 1, "run_line_magic", cmd("x")),),
        id="run_line_magic",
    ),
    pytest.param(
        'import pip\npip.main(["install", "x"])\n',
        (site(1, 2, "pip.main", cmd("x")),),
        id="pip.main",
    ),
    pytest.param(
        'out = subprocess.run(["pip", "install", "x"])\n',
        (site(0, 1, "subprocess", cmd("x", reason="result of the call is used")),),
        id="call result used",
    ),
    pytest.param(
        'subprocess.run([sys.executable, "-m", "pip", "install", pkg])\n',
        (site(0, 1, "subprocess", cmd("pkg", reason="uses the Python variable pkg")),),
        id="call with a variable",
    ),
    pytest.param(
        'subprocess.run(["pip", "install", "x"], cwd="repo")\n',
        (site(0, 1, "subprocess", cmd("x", reason="runs in another directory")),),
        id="call with cwd",
    ),
    pytest.param(
        'if x:\n    os.system("pip install y")\n',
        (site(1, 2, "os.system", cmd("y", reason="inside an if block")),),
        id="call in an if block",
    ),
    pytest.param(
        'os.system("pip install a && echo hi")\n',
        (site(0, 1, "os.system", cmd("a", reason="shell chain inside a Python call")),),
        id="chain in a call",
    ),
    pytest.param(
        '!cd x && ls\nos.system(f"pip install {pkg}")\n',
        (site(1, 2, "os.system", cmd("{pkg}", reason="uses the Python variable {pkg}")),),
        id="f-string call in a cell with magics",
    ),
    # --- blocks and interpolation -------------------------------------------------------
    pytest.param(
        "if x:\n    !pip install y\n",
        (
            site(
                1,
                2,
                "!pip",
                cmd(
                    "y",
                    reason=(
                        "inside an if block (its condition reads `x`, not a test of the runtime)"
                    ),
                ),
            ),
        ),
        id="inside if",
    ),
    pytest.param(
        "try:\n    import y\nexcept Exception:\n    !pip install y\n",
        (
            site(
                3,
                4,
                "!pip",
                cmd("y", reason="inside a try block (it catches more than ImportError)"),
            ),
        ),
        id="inside try",
    ),
    pytest.param(
        "for p in ps:\n    !pip install {p}\n",
        (site(1, 2, "!pip", cmd("{p}", reason="inside a for loop")),),
        id="inside for",
    ),
    pytest.param(
        "def setup():\n    !pip install y\n",
        (site(1, 2, "!pip", cmd("y", reason="inside a function")),),
        id="inside def",
    ),
    pytest.param(
        "with x:\n    %pip install y\n",
        (site(1, 2, "%pip", cmd("y", reason="inside a with block")),),
        id="inside with",
    ),
    pytest.param(
        "!pip install {pkg}\n",
        (site(0, 1, "!pip", cmd("{pkg}", reason="uses the Python variable {pkg}")),),
        id="{var}",
    ),
    pytest.param(
        "!python -m pip install git+https://github.com/NVIDIA/NeMo.git@$BRANCH#egg=nemo_toolkit[all]\n",
        (
            site(
                0,
                1,
                "!python -m pip",
                cmd(
                    "git+https://github.com/NVIDIA/NeMo.git@$BRANCH#egg=nemo_toolkit[all]",
                    reason="uses the shell variable $BRANCH",
                ),
            ),
        ),
        id="$var",
    ),
    pytest.param(
        "x = !pip install y\n",
        (site(0, 1, "!pip", cmd("y", reason="output is used")),),
        id="assigned output",
    ),
    # --- places other than the kernel's environment -------------------------------------
    pytest.param(
        "!pip install .\n", (site(0, 1, "!pip", cmd(".", reason="installs a local path")),), id="."
    ),
    pytest.param(
        "!pip install -q /content/diffusers\n",
        (
            site(
                0,
                1,
                "!pip",
                cmd("/content/diffusers", options=(Q,), reason="installs a local path"),
            ),
        ),
        id="absolute local path",
    ),
    pytest.param(
        "!pip install -e .\n",
        (site(0, 1, "!pip", cmd(options=(("-e", "."),), reason="editable install")),),
        id="-e",
    ),
    pytest.param(
        "!pip install -t /tmp/x y\n",
        (
            site(
                0,
                1,
                "!pip",
                cmd("y", options=(("-t", "/tmp/x"),), reason="installs into a target directory"),
            ),
        ),
        id="--target",
    ),
    pytest.param(
        "!uv pip install --python .venv/bin/python x\n",
        (
            site(
                0,
                1,
                "!uv pip",
                cmd(
                    "x",
                    manager="uv",
                    options=(("--python", ".venv/bin/python"),),
                    reason="installs into another python",
                ),
            ),
        ),
        id="uv --python",
    ),
    pytest.param(
        "!pip uninstall -y x\n",
        (
            site(
                0,
                1,
                "!pip",
                cmd("x", action="uninstall", options=(Y,), reason="uninstalls packages"),
            ),
        ),
        id="uninstall",
    ),
    pytest.param(
        "!pip download x\n",
        (site(0, 1, "!pip", cmd("x", action="download", reason="downloads packages")),),
        id="download",
    ),
    pytest.param(
        "!FOO=1 pip install x\n",
        (site(0, 1, "!pip", cmd("x", reason="sets environment variables")),),
        id="environment assignment",
    ),
    pytest.param(
        "!pip install --frobnicate x\n",
        (
            site(
                0,
                1,
                "!pip",
                cmd(
                    "x",
                    options=(("--frobnicate", None),),
                    reason="unrecognised option --frobnicate",
                ),
            ),
        ),
        id="unknown option",
    ),
    # --- cells that are not valid Python ------------------------------------------------
    pytest.param(
        "!pip install -q x\nimport x\n!pip install y\n",
        (site(0, 1, "!pip", cmd("x", options=(Q,))), site(2, 3, "!pip", cmd("y"))),
        id="two lines",
    ),
    pytest.param(
        "!pip install x\nprint(\n", (site(0, 1, "!pip", cmd("x")),), id="syntax error elsewhere"
    ),
]


@pytest.mark.parametrize(("source", "expected"), FIXES)
def test_recognised(source, expected):
    assert find_installs([source]) == expected


def test_line_spans_index_the_cell_lines():
    source = "import os\n%%capture\n"  # a late %% line is not a cell magic
    assert find_installs([source]) == ()


CROSS_CELL = [
    pytest.param(
        ["%cd repo\n", "!pip install -r requirements.txt\n"],
        cmd(files=("requirements.txt",), reason="relative path after a change of directory"),
        id="%cd then -r",
    ),
    pytest.param(
        ["cd repo\n", "!pip install -r requirements.txt\n"],
        cmd(files=("requirements.txt",), reason="relative path after a change of directory"),
        id="automagic cd then -r",
    ),
    pytest.param(
        ["import os\nos.chdir('/tmp')\n", "!pip install -r req.txt\n"],
        cmd(files=("req.txt",), reason="relative path after a change of directory"),
        id="os.chdir then -r",
    ),
    pytest.param(
        ["!git clone https://x/y\n", "!pip install -r y/requirements.txt\n"],
        cmd(files=("y/requirements.txt",), reason="relative path after a git clone"),
        id="git clone then -r",
    ),
    pytest.param(
        ["%%writefile requirements.txt\nnumpy\n", "!pip install -r requirements.txt\n"],
        cmd(files=("requirements.txt",), reason="requirements file written by the notebook"),
        id="%%writefile then -r",
    ),
    pytest.param(
        ["with open('reqs.txt', 'w') as f:\n    f.write('x')\n", "!pip install -r reqs.txt\n"],
        cmd(files=("reqs.txt",), reason="requirements file written by the notebook"),
        id="open for writing then -r",
    ),
    pytest.param(
        ["!echo numpy > reqs.txt\n", "!pip install -r reqs.txt\n"],
        cmd(files=("reqs.txt",), reason="requirements file written by the notebook"),
        id="echo redirect then -r",
    ),
    pytest.param(
        ["!wget https://x/y/requirements.txt\n", "!pip install -r requirements.txt\n"],
        cmd(files=("requirements.txt",), reason="requirements file written by the notebook"),
        id="wget then -r",
    ),
    pytest.param(
        ["!pip uninstall -y x\n", "!pip install x==2\n"],
        cmd("x==2", reason="follows pip uninstall at cell 1, line 1"),
        id="reinstall after uninstall",
    ),
    pytest.param(
        ["%cd repo\n", "!pip install -r /abs/requirements.txt\n"],
        cmd(files=("/abs/requirements.txt",)),
        id="absolute -r after %cd moves",
    ),
    pytest.param(
        ["!cd repo && ls\n", "!pip install -r requirements.txt\n"],
        cmd(files=("requirements.txt",)),
        id="!cd does not persist",
    ),
]


@pytest.mark.parametrize(("sources", "expected"), CROSS_CELL)
def test_earlier_cells_decide(sources, expected):
    assert find_installs(sources)[-1].commands == (expected,)


# R2 (CONTRACT "What moves, what stays"): nothing moves above an install or uninstall that
# stays in place, nor above a line that changes what later installs resolve against.
BARRIERS = [
    pytest.param(
        ["!pip uninstall -y tensorflow\n", "!pip install tf-nightly\n"],
        "follows pip uninstall at cell 1, line 1",
        id="uninstall",
    ),
    pytest.param(
        ["import os\nif os.path.exists('X'):\n    !pip install a\n", "!pip install b\n"],
        "follows an install that stays in place at cell 1, line 3",
        id="install left in an if block",
    ),
    pytest.param(
        ["!pip install {pkg}\n", "!pip install --no-deps transformers==5.15.0\n"],
        "follows an install that stays in place at cell 1, line 1",
        id="install of a variable",
    ),
    pytest.param(
        ["%env PIP_INDEX_URL=https://private/simple\n", "!pip install secretpkg\n"],
        "follows %env PIP_INDEX_URL at cell 1, line 1",
        id="%env PIP_INDEX_URL",
    ),
    pytest.param(
        ['import os\nos.environ["PIP_EXTRA_INDEX_URL"] = "https://x"\n', "%pip install a\n"],
        "follows a change of PIP_EXTRA_INDEX_URL at cell 1, line 2",
        id="os.environ PIP_EXTRA_INDEX_URL",
    ),
    pytest.param(
        ["!pip config set global.index-url https://x/simple\n", "!pip install a\n"],
        "follows `pip config set` at cell 1, line 1",
        id="pip config",
    ),
    pytest.param(
        ['with open("/root/.netrc", "w") as f:\n    f.write(token)\n', "!pip install a\n"],
        "follows a write of .netrc at cell 1, line 1",
        id=".netrc",
    ),
    pytest.param(
        ["!pip download -d wheels secretpkg\n", "!pip install --find-links wheels secretpkg\n"],
        "follows pip download at cell 1, line 1",
        id="pip download",
    ),
    pytest.param(
        [
            "!wget -P wheels https://x/secretpkg-1.0-py3-none-any.whl\n",
            "!pip install -f wheels s\n",
        ],
        "reads a --find-links directory after a download in the notebook",
        id="wget into a --find-links directory",
    ),
    pytest.param(
        ["!false && pip install x\n"],
        "runs only if `false` succeeds",
        id="false &&",
    ),
    pytest.param(
        ["%%bash\nexit 0\npip install x\n"],
        "after an exit in the same cell",
        id="%%bash exit",
    ),
    pytest.param(
        ["%%bash\nset -e\nfalse\npip install x\n"],
        "may not run: set -e, and an earlier command may fail",
        id="%%bash set -e",
    ),
    pytest.param(
        ["%%bash\nsource activate other\npip install x\n"],
        "after an environment is activated in the same cell",
        id="%%bash source activate",
    ),
]


@pytest.mark.parametrize(("sources", "reason"), BARRIERS)
def test_barriers_stop_hoisting(sources, reason):
    last = find_installs(sources)[-1]
    assert not last.movable
    assert [command.reason for command in last.commands] == [reason]


@pytest.mark.parametrize(
    "sources",
    [
        pytest.param(['import os\nos.environ["HOME"] = "/tmp"\n', "!pip install a\n"], id="HOME"),
        pytest.param(["%env CUDA_VISIBLE_DEVICES=0\n", "!pip install a\n"], id="%env CUDA"),
        pytest.param(["!pip install a\n", "!pip install b\n"], id="installs that move"),
        pytest.param(["!apt-get update\n", "!pip install a\n"], id="apt-get update stays"),
        pytest.param(["!make a; pip install x\n"], id="after ;"),
        pytest.param(["!pip install a && pip install b\n"], id="installs chained by &&"),
    ],
)
def test_what_is_no_barrier(sources):
    assert all(
        site.movable for site in find_installs(sources) if site.commands[-1].action == "install"
    )


def test_an_install_in_a_multi_line_string_of_a_bash_cell_is_data():
    sources = ['%%bash\necho "run this later:\npip install x\n" > notes.txt\n']
    assert find_installs(sources) == ()


# Fragments of install syntax, glued at random to look for crashes.
_PIECES = [
    "!",
    "%",
    "%%bash\n",
    "%%capture\n",
    "pip",
    " install",
    " -r",
    " x",
    "'",
    '"',
    "\\\n",
    " &&",
    " ||",
    ";",
    "(",
    ")",
    "{",
    "}",
    "$",
    " >",
    "<",
    "\n",
    "    ",
    "if x:\n",
    "subprocess.run([",
    "])",
    "os.system(",
    "#",
    '"""',
    " -e",
    " .",
    "cd ",
    "`",
]


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    st.lists(
        st.one_of(st.text(), st.lists(st.sampled_from(_PIECES)).map("".join), st.none()),
        max_size=4,
    )
)
def test_never_raises(sources):
    sites = find_installs(sources)
    for found in sites:
        lines = (sources[found.cell] or "").splitlines(keepends=True)
        assert 0 <= found.start < found.end <= len(lines)
        assert found.commands
        assert all(c.movable == (c.reason is None) for c in found.commands)


def test_install_fed_by_a_pipe_stays():
    (found,) = find_installs(["!yes | pip uninstall x\n", "!yes | pip install y\n"])[1:]
    assert found.commands == (cmd("y", reason="reads its input from a pipe"),)


def test_unquoted_redirect_and_spaced_percent_are_repaired_and_say_what_the_original_did():
    (redirect,) = find_installs(["!pip install pkg>=1.2\n"])
    assert redirect.commands[0].repaired == (
        "unquoted pkg>=1.2: as written, the shell installed pkg unpinned and wrote pip's "
        "output to a file named '=1.2'"
    )
    (spaced,) = find_installs(["% pip install x\n"])
    assert spaced.movable
    assert spaced.form == "%pip"
    assert spaced.commands[0].repaired is not None
    assert spaced.commands[0].written is not None
    assert spaced.commands[0].written.text == "%pip install x"
