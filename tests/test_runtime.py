"""Runtime facts: preloaded distributions and restart idioms (`nbsetup.runtime`)."""

from __future__ import annotations

import pickle

import pytest

from nbsetup import runtime
from nbsetup.install_lines import InstallLine

RESTARTS = [
    pytest.param(
        "import IPython\nIPython.Application.instance().kernel.do_shutdown(True)",
        [(0, 1, 2, "kernel.do_shutdown", True)],
        id="ipython-application",
    ),
    pytest.param(
        "get_ipython().kernel.do_shutdown(restart=True)",
        [(0, 0, 1, "kernel.do_shutdown", True)],
        id="get-ipython",
    ),
    pytest.param(
        "app = IPython.Application.instance()\napp.kernel.do_shutdown(True)",
        [(0, 1, 2, "kernel.do_shutdown", True)],
        id="app-variable",
    ),
    pytest.param("import os\nos.kill(os.getpid(), 9)", [(0, 1, 2, "os.kill", True)], id="os-kill"),
    pytest.param("import os\nos._exit(00)", [(0, 1, 2, "os._exit", True)], id="os-exit"),
    pytest.param(
        'print("Restarting...")\nexit()', [(0, 1, 2, "exit()", True)], id="exit-after-print"
    ),
    pytest.param(
        "!pip install x\nimport os\nos.kill(os.getpid(), 9)",
        [(0, 2, 3, "os.kill", False)],
        id="in-install-cell",
    ),
    pytest.param(
        "x = compute()\nos.kill(os.getpid(), 9)",
        [(0, 1, 2, "os.kill", False)],
        id="with-other-code",
    ),
]
NOT_RESTARTS = [
    pytest.param("os.kill(pid, 9)", id="other-process"),
    pytest.param("sys.exit(1)", id="sys-exit-raises"),
    pytest.param("exit(1)", id="exit-with-status"),
    pytest.param("def stop():\n    os._exit(0)", id="in-function"),
    pytest.param("# os.kill(os.getpid(), 9)", id="comment"),
    pytest.param("%%bash\nkill -9 $$", id="bash-cell"),
]


@pytest.mark.parametrize(("source", "expected"), RESTARTS)
def test_restart_idioms(source, expected):
    found = runtime.find_restarts([source])
    assert [(r.cell, r.start, r.end, r.idiom, r.alone) for r in found] == expected


@pytest.mark.parametrize("source", NOT_RESTARTS)
def test_not_restarts(source):
    assert runtime.find_restarts([source]) == ()


def test_restarts_are_found_in_code_cells_only():
    restart = "os.kill(os.getpid(), 9)"
    assert [r.cell for r in runtime.find_restarts([None, restart, None, restart])] == [1, 3]


def test_preloaded_defaults_and_configuration():
    default = runtime.preloaded()
    assert default["tornado"] == runtime.KERNEL
    assert default["pandas"] == runtime.COLAB
    replaced = runtime.preloaded(["Tornado", "My_Lib"])
    assert replaced == {"tornado": runtime.KERNEL, "my-lib": runtime.CONFIGURED}
    extended = runtime.preloaded(None, ["polars"])
    assert extended["polars"] == runtime.CONFIGURED
    assert set(extended) == set(default) | {"polars"}
    assert runtime.preloaded([]) == {}
    # Settings holding the table are sent to worker processes.
    assert pickle.loads(pickle.dumps(default)) == default


@pytest.mark.parametrize(
    ("notebook", "sources", "colab"),
    [
        pytest.param({"metadata": {"colab": {"provenance": []}}}, [], True, id="colab-metadata"),
        pytest.param({"metadata": {}}, ["from google.colab import drive"], True, id="import"),
        pytest.param({"metadata": {}}, ["import google.colab"], True, id="import-module"),
        pytest.param({"metadata": {}}, ["import pandas", None], False, id="jupyter"),
        pytest.param({"metadata": {}}, ["# from google.colab import x"], False, id="comment"),
    ],
)
def test_colab_preloads_apply_to_colab_notebooks_only(notebook, sources, colab):
    names = runtime.for_notebook(runtime.preloaded(), notebook, sources)
    assert ("pandas" in names) is colab
    assert "tornado" in names


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(InstallLine("pip", (), ("tornado==6.4",)), ["tornado"], id="pinned"),
        pytest.param(InstallLine("pip", (), ("tornado",)), [], id="bare-leaves-it-alone"),
        pytest.param(InstallLine("pip", ("-U",), ("tornado",)), [], id="short-flag-canonical"),
        pytest.param(InstallLine("pip", ("--upgrade",), ("Tornado",)), ["tornado"], id="upgrade"),
        pytest.param(
            InstallLine("pip", (), ("ipykernel @ git+https://x/ipykernel",)),
            ["ipykernel"],
            id="url",
        ),
        pytest.param(InstallLine("conda", (), ("traitlets=5.14",)), ["traitlets"], id="conda"),
        pytest.param(InstallLine("conda", (), ("traitlets",)), [], id="conda-bare"),
        pytest.param(InstallLine("apt", (), ("tornado",)), [], id="apt-is-not-python"),
        pytest.param(InstallLine("pip", (), ("numpy==2",)), [], id="not-preloaded"),
    ],
)
def test_preloaded_pins(line, expected):
    names = {"tornado": runtime.KERNEL, "ipykernel": runtime.KERNEL, "traitlets": runtime.KERNEL}
    assert [p.package for p in runtime.preloaded_pins([line], names)] == expected
