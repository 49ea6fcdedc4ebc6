"""On a real Jupyter kernel: a `%pip install` below an import is stale until nbsetup hoists it.

Everything is offline and stays in `tmp_path`: two wheels of a throwaway package are written
with `zipfile`, a virtual environment gets version 1.0, and a kernel spec in a temporary
directory (never the user's Jupyter or IPython directories) starts ipykernel in it.
Deselect with `-m "not kernel"`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shlex
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

DIST = "nbsetup-demo-pkg"
KERNEL = "nbsetup-demo"


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _build_wheel(directory: Path, version: str) -> Path:
    """A py3-none-any wheel of `nbsetup-demo-pkg` whose `demo_pkg.__version__` is `version`."""
    dist_info = f"nbsetup_demo_pkg-{version}.dist-info"
    files = {
        "demo_pkg/__init__.py": f'__version__ = "{version}"\n',
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: nbsetup-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    contents = {name: text.encode() for name, text in files.items()}
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in contents.items()]
    contents[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,", ""]).encode()
    path = directory / f"nbsetup_demo_pkg-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in contents.items():
            wheel.writestr(name, data)
    return path


def _make_venv(path: Path) -> Path:
    """A virtual environment that sees the test interpreter's packages; returns its python.

    `--system-site-packages` would expose the base interpreter's packages, not those of the
    venv the tests usually run in, so ipykernel and pip are borrowed through a `.pth` file;
    anything installed into the new environment shadows them.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    borrowed = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    (Path(purelib) / "nbsetup-test-host.pth").write_text("\n".join(dict.fromkeys(borrowed)))
    return python


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of pip and the kernel: no pip configuration, no user directories."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PYTHONNOUSERSITE="1",
        IPYTHONDIR=str(tmp_path / "ipython"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
    )
    return env


def _pip_install(python: Path, wheels: Path, requirement: str, env: dict[str, str]) -> None:
    options = ["-q", "--force-reinstall", "--no-index", "--find-links", wheels]
    subprocess.run(
        [python, "-m", "pip", "install", *options, requirement],
        env=env,
        check=True,
        capture_output=True,
    )


def _installed_version(python: Path, env: dict[str, str]) -> str:
    """What a fresh interpreter of the environment imports."""
    process = subprocess.run(
        [python, "-c", "import demo_pkg; print(demo_pkg.__version__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return process.stdout.strip()


def _write_kernelspec(kernels: Path, python: Path) -> None:
    spec = kernels / KERNEL
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    # In-memory history: nothing is written to an IPython profile.
    argv.append("--HistoryManager.hist_file=:memory:")
    kernel = {"argv": argv, "display_name": "nbsetup demo", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))


def _execute(
    notebook_path: Path,
    kernels: Path,
    env: dict[str, str],
    prefixes: tuple[str, ...] = ("imported", "installed"),
) -> list[str]:
    """Run the notebook in a fresh kernel (shut down afterwards); return its stdout lines.

    Only lines starting with one of `prefixes` are returned (pip's own output is not).
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    runtime = Path(env["JUPYTER_RUNTIME_DIR"])
    runtime.mkdir(exist_ok=True)
    manager = AsyncKernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
        connection_file=str(runtime / "kernel.json"),
    )
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=60,
        startup_timeout=60,
        resources={"metadata": {"path": str(notebook_path.parent)}},
    )
    client.execute(cleanup_kc=True, env=env)  # raises CellExecutionError if a cell fails
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(
        output.text
        for output in outputs
        if output.output_type == "stream" and output.name == "stdout"
    )
    return [line for line in text.splitlines() if line.startswith(prefixes)]


def _notebook(wheels: Path) -> dict[str, object]:
    """Import, print, upgrade with `%pip` halfway down, print again."""
    install = f"%pip install --no-index --find-links {shlex.quote(str(wheels))} {DIST}==2.0"
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Upgrade demo_pkg halfway down"),
            new_code_cell('import demo_pkg\n\nprint("imported", demo_pkg.__version__)'),
            new_code_cell(install),
            new_code_cell('print("imported", demo_pkg.__version__)'),
            new_code_cell(
                "import demo_pkg\n"
                "from importlib.metadata import version\n"
                "\n"
                'print("imported", demo_pkg.__version__)\n'
                f'print("installed", version("{DIST}"))'
            ),
        ]
    )
    notebook.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "nbsetup demo",
        "language": "python",
    }
    return notebook


def _demo_environment(tmp_path: Path) -> tuple[Path, dict[str, str], Path, Path]:
    """Wheels of 1.0 and 2.0, a venv with 1.0, a kernel spec: (wheels, env, python, kernels)."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in the test environment; the kernel's %pip needs it")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "2.0"):
        _build_wheel(wheels, version)
    env = _clean_env(tmp_path)
    python = _make_venv(tmp_path / "venv")
    _pip_install(python, wheels, f"{DIST}==1.0", env)
    assert _installed_version(python, env) == "1.0"
    kernels = tmp_path / "kernels"
    _write_kernelspec(kernels, python)
    return wheels, env, python, kernels


@pytest.mark.kernel
def test_hoisted_install_takes_effect_on_a_real_kernel(tmp_path):
    wheels, env, python, kernels = _demo_environment(tmp_path)

    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)  # the requirements search stops here
    (project / "requirements.txt").write_text(f"{DIST}==2.0\n")
    notebook_path = project / "demo.ipynb"
    nbformat.write(_notebook(wheels), notebook_path)

    # Before: pip installs 2.0 into the environment, but the kernel keeps running 1.0.
    before = _execute(notebook_path, kernels, env)
    assert before == ["imported 1.0", "imported 1.0", "imported 1.0", "installed 2.0"]
    assert _installed_version(python, env) == "2.0"

    _pip_install(python, wheels, f"{DIST}==1.0", env)
    assert _installed_version(python, env) == "1.0"
    process = subprocess.run(
        [sys.executable, "-m", "nbsetup", "fix", notebook_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    cells = nbformat.read(notebook_path, as_version=4).cells
    env_cell = cells[1]
    assert "nbsetup" in env_cell.metadata
    install_lines = [line for line in env_cell.source.splitlines() if "pip install" in line]
    assert len(install_lines) == 1
    words = shlex.split(install_lines[0])
    assert words[:2] == ["%pip", "install"]
    assert "--no-index" in words
    assert words[words.index("--find-links") + 1] == str(wheels)
    assert words[-1] == f"{DIST}==2.0"
    assert not any("pip install" in cell.source for cell in cells[2:])

    # After: the environment cell runs first, so every cell sees 2.0.
    after = _execute(notebook_path, kernels, env)
    assert after == ["imported 2.0", "imported 2.0", "imported 2.0", "installed 2.0"]
    assert _installed_version(python, env) == "2.0"


RESTART_LINE = (
    f"{DIST} 1.0 was already imported; restart the runtime (Runtime → Restart session in "
    "Colab, Kernel → Restart in Jupyter) to use 2.0"
)


@pytest.mark.kernel
def test_guard_tells_a_kernel_that_imported_the_old_version_to_restart(tmp_path):
    wheels, env, python, kernels = _demo_environment(tmp_path)
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "requirements.txt").write_text(f"{DIST}==2.0\n")
    notebook_path = project / "demo.ipynb"
    nbformat.write(_notebook(wheels), notebook_path)
    process = subprocess.run(
        [sys.executable, "-m", "nbsetup", "fix", "--guard", notebook_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    fixed = nbformat.read(notebook_path, as_version=4)
    env_cell = fixed.cells[1]
    assert "# nbsetup: begin guard-before" in env_cell.source

    # A kernel that imported 1.0 (someone re-runs the environment cell): told to restart.
    stale = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import demo_pkg"), env_cell],
        metadata=fixed.metadata,
    )
    stale_path = project / "stale.ipynb"
    nbformat.write(stale, stale_path)
    assert _execute(stale_path, kernels, env, prefixes=(DIST,)) == [RESTART_LINE]
    assert _installed_version(python, env) == "2.0"

    # A fresh kernel on 1.0 running the fixed notebook: the guard says nothing, 2.0 is used.
    _pip_install(python, wheels, f"{DIST}==1.0", env)
    lines = _execute(notebook_path, kernels, env, prefixes=("imported", "installed", DIST))
    assert lines == ["imported 2.0", "imported 2.0", "imported 2.0", "installed 2.0"]
