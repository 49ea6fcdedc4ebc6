"""A small offline package world for running notebooks' installs with real pip.

Three pieces, used by `test_pip_equivalence.py`:

- `build_world(root)` writes tiny wheels with `zipfile` (METADATA with Requires-Dist, WHEEL,
  RECORD, one top-level module) into PEP 503 simple indexes served as `file://` URLs: the
  default index (`pypi`), an alternative index with local version labels (`cu128`, as
  download.pytorch.org serves torch) and a private index (`private`, whose package names the
  default index squats on with a higher version, for dependency confusion).
- `run_notebook(world, notebook, workdir)` executes a notebook's code cells with a real IPython
  `InteractiveShell` in a subprocess (so `!pip`, `%pip`, `%%bash`, `%env` and `os.environ` have
  their real effect), with every pip call sent to a fresh target venv and to the local indexes
  only, and returns what ended up installed.
- `Snapshot`: the target's distributions and the bytes of every module file, so that two
  installs which end with the same `pip freeze` but different files (a package's uninstall
  deleting a module another package overwrote) still differ.

Running this file as a script is the kernel side: `python pipworld.py NOTEBOOK SUMMARY`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# pip's own runner: `pip --python TARGET` (pip >= 22.3) re-executes pip as
# `TARGET __pip-runner__.py ARGS`, which imports this pip in the target interpreter. Calling the
# runner directly does the same with one interpreter start less (0.3 s a call).
PIP_RUNNER = Path(importlib.util.find_spec("pip").origin or "").parent / "__pip-runner__.py"


@dataclass(frozen=True)
class Dist:
    """One wheel: `Dist("capped", "2.0", ("base<3",))` is capped-2.0-py3-none-any.whl."""

    name: str
    version: str
    requires: tuple[str, ...] = ()
    module: str = ""

    @property
    def top_level(self) -> str:
        return self.module or self.name.replace("-", "_")

    @property
    def stem(self) -> str:
        return f"{self.name.replace('-', '_')}-{self.version}"


# The default index, as PyPI: `capped` caps `base`, `floored` floors it; `unsloth` needs any
# torch, the cu128 index has torch with a local label; `tf-nightly` owns the same module as
# `tensorflow`; `secretpkg` squats the private index's name with a higher version.
PYPI: tuple[Dist, ...] = (
    Dist("alpha", "1.0"),
    Dist("alpha", "2.0"),
    Dist("base", "1.0"),
    Dist("base", "2.0"),
    Dist("base", "2.1"),
    Dist("base", "3.0"),
    Dist("capped", "1.0", ("base",)),
    Dist("capped", "2.0", ("base<3",)),
    Dist("floored", "1.0", ("base>=2",)),
    Dist("gamma", "1.0"),
    Dist("gamma", "1.1"),
    Dist("torch", "2.1.0"),
    Dist("torch", "2.2.0"),
    Dist("torchvision", "0.17.0", ("torch==2.2.0",)),
    Dist("unsloth", "1.0", ("torch>=2.1", "base")),
    Dist("tensorflow", "2.15.0"),
    Dist("tf-nightly", "2.16.0.dev20240101", module="tensorflow"),
    Dist("secretpkg", "9.0"),
)
CU128: tuple[Dist, ...] = (
    Dist("torch", "2.1.0+cu128"),
    Dist("torchvision", "0.16.0+cu128", ("torch",)),
)
PRIVATE: tuple[Dist, ...] = (
    Dist("secretpkg", "1.0"),
    Dist("privonly", "1.0", ("base<2",)),
)
INDEXES: Mapping[str, tuple[Dist, ...]] = {"pypi": PYPI, "cu128": CU128, "private": PRIVATE}


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_wheel(directory: Path, dist: Dist) -> Path:
    """Write `dist` as a pure-Python wheel in `directory`, RECORD hashes included."""
    info = f"{dist.stem}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {dist.name}", f"Version: {dist.version}"]
    metadata += [f"Requires-Dist: {requirement}" for requirement in dist.requires]
    files = {
        f"{dist.top_level}/__init__.py": (
            f"__version__ = {dist.version!r}\n__dist__ = {dist.name!r}\n"
        ),
        f"{info}/METADATA": "\n".join(metadata) + "\n\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: pipworld\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{path},sha256={_digest(text.encode())},{len(text.encode())}"
        for path, text in files.items()
    ]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = directory / f"{dist.stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


def write_simple_index(root: Path, dists: Iterable[Dist]) -> None:
    """Write wheels and a PEP 503 index (`root/<project>/index.html`) pip reads over file://."""
    files = root / "files"
    files.mkdir(parents=True)
    projects: dict[str, list[Path]] = {}
    for dist in dists:
        projects.setdefault(dist.name, []).append(write_wheel(files, dist))
    for project, wheels in projects.items():
        (root / project).mkdir()
        links = "".join(
            f'<a href="../files/{wheel.name}#sha256={_sha256(wheel)}">{wheel.name}</a>\n'
            for wheel in wheels
        )
        (root / project / "index.html").write_text(
            f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n"
        )
    anchors = "".join(f'<a href="{project}/">{project}</a>\n' for project in projects)
    (root / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{anchors}</body></html>\n")


@dataclass(frozen=True)
class World:
    """Where the indexes live; `url("cu128")` is the `--index-url` a notebook names."""

    root: Path

    def url(self, index: str) -> str:
        return (self.root / index).as_uri()

    def expand(self, text: str) -> str:
        """Replace `@PYPI@`, `@CU128@` and `@PRIVATE@` with the indexes' URLs."""
        for index in INDEXES:
            text = text.replace(f"@{index.upper()}@", self.url(index))
        return text


def build_world(root: Path) -> World:
    """Write the indexes under `root`; pip must have the runner `--python` uses (>= 22.3)."""
    if not PIP_RUNNER.is_file():
        raise RuntimeError(f"pip >= 22.3 is needed to install into a target venv: {PIP_RUNNER}")
    for name, dists in INDEXES.items():
        write_simple_index(root / name, dists)
    return World(root)


def notebook(cells: Iterable[str]) -> bytes:
    """An nbformat 4.5 Python notebook holding `cells` as code cells."""
    code = [
        {
            "cell_type": "code",
            "id": f"cell-{index}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(cells)
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    metadata = {"kernelspec": kernel, "language_info": {"name": "python"}}
    document = {"nbformat": 4, "nbformat_minor": 5, "metadata": metadata, "cells": code}
    return json.dumps(document, indent=1).encode()


@dataclass(frozen=True)
class Snapshot:
    """What a target venv holds: canonical name → version, and module file → sha256."""

    dists: Mapping[str, str]
    files: Mapping[str, str]

    def freeze(self) -> list[str]:
        return [f"{name}=={version}" for name, version in sorted(self.dists.items())]


@dataclass(frozen=True)
class PipCall:
    """One pip invocation the notebook made, with its exit status."""

    argv: tuple[str, ...]
    returncode: int


@dataclass(frozen=True)
class Outcome:
    snapshot: Snapshot
    calls: tuple[PipCall, ...]
    error: str | None = None
    log: str = field(default="", repr=False)

    @property
    def failed(self) -> bool:
        """A pip call failed, or a cell raised (Run All stops there)."""
        return self.error is not None or any(call.returncode for call in self.calls)

    def describe(self) -> str:
        calls = "".join(
            f"\n  rc={call.returncode}: pip {' '.join(call.argv)}" for call in self.calls
        )
        return f"freeze {self.snapshot.freeze()}, error {self.error}{calls}"


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def snapshot(site_packages: Path) -> Snapshot:
    """Read the installed distributions' METADATA and hash every other file but bytecode."""
    dists: dict[str, str] = {}
    files: dict[str, str] = {}
    for path in sorted(site_packages.rglob("*")):
        relative = path.relative_to(site_packages)
        top = relative.parts[0]
        if top.endswith(".dist-info"):
            if path.name == "METADATA":
                fields = dict(
                    line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line
                )
                dists[_canonical(fields["Name"])] = fields["Version"]
        elif path.is_file() and "__pycache__" not in relative.parts:
            files[relative.as_posix()] = _sha256(path)
    return Snapshot(dists, files)


def _shim(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}")
    path.chmod(0o755)


def _make_target(world: World, workdir: Path) -> tuple[Path, Path, Path]:
    """A fresh venv without pip, its pip configuration, and a bin of shims that reach it."""
    target = workdir / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
    # The site file (TARGET/pip.conf) outranks the machine's global and user files, and
    # `pip config set` writes there when it exists, so a notebook's `pip config` or `%env
    # PIP_INDEX_URL` takes effect as it would on Colab, over the local default index.
    (target / "pip.conf").write_text(
        f"[global]\nindex-url = {world.url('pypi')}\nextra-index-url =\nfind-links =\n"
        "disable-pip-version-check = true\nno-input = true\n"
    )
    python = target / "bin" / "python"
    shims = workdir / "shims"
    shims.mkdir()
    log = workdir / "pip-calls.log"
    # One record per call: the exit status and each argument, NUL-terminated, then RS (\036).
    pip = (
        f'"{python}" "{PIP_RUNNER}" "$@"\nrc=$?\n'
        f'{{ printf \'%s\\0\' "$rc" "$@"; printf \'\\036\'; }} >> "{log}"\nexit $rc\n'
    )
    for name in ("pip", "pip3"):
        _shim(shims / name, pip)
    python_shim = (
        f'if [ "$1" = -m ] && [ "$2" = pip ]; then shift 2; exec "{shims / "pip"}" "$@"; fi\n'
    )
    python_shim += f'exec "{python}" "$@"\n'
    for name in ("python", "python3"):
        _shim(shims / name, python_shim)
    site = target / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    return shims, site, log


def _environment(shims: Path, home: Path) -> dict[str, str]:
    """The machine's environment without pip settings, the shims first on PATH, a fresh HOME."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join([str(shims), "/usr/local/bin", "/usr/bin", "/bin"])
    env["HOME"] = str(home)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run_notebook(
    world: World, notebook: bytes, workdir: Path, preinstalled: tuple[str, ...] = ()
) -> Outcome:
    """Run `notebook`'s code cells in `workdir` as IPython would; return what got installed.

    `workdir` holds the notebook's files (requirements, constraints) and becomes its cwd.
    `preinstalled` requirements are installed first, as a hosted image has them.
    """
    shims, site, log = _make_target(world, workdir)
    home = workdir / "home"
    home.mkdir()
    env = _environment(shims, home)
    if preinstalled:
        setup = subprocess.run(
            [str(shims / "pip"), "install", "-q", *preinstalled],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert setup.returncode == 0, setup.stderr
        log.unlink()
    (workdir / "notebook.ipynb").write_bytes(notebook)
    summary = workdir / "summary.json"
    kernel = subprocess.run(
        [
            sys.executable,
            __file__,
            str(workdir / "notebook.ipynb"),
            str(summary),
            str(shims / "python"),
        ],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    error = json.loads(summary.read_text())["error"] if summary.exists() else kernel.stderr
    return Outcome(snapshot(site), _calls(log), error, kernel.stdout + kernel.stderr)


def _calls(log: Path) -> tuple[PipCall, ...]:
    records = log.read_text().split("\036")[:-1] if log.exists() else []
    fields = [record.split("\0")[:-1] for record in records]
    return tuple(PipCall(tuple(argv), int(rc)) for rc, *argv in fields)


def _kernel_main(notebook: Path, summary: Path, python_shim: str) -> None:
    """Run every code cell in one InteractiveShell; stop at the first error, as Run All does."""
    from IPython.core.interactiveshell import InteractiveShell

    # `%pip`, `{sys.executable} -m pip` and subprocess calls all name the kernel's Python.
    sys.executable = python_shim
    shell = InteractiveShell.instance()
    error = None
    for index, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        result = shell.run_cell(source, store_history=False)
        if not result.success:
            error = f"cell {index}: {result.error_before_exec or result.error_in_exec!r}"
            break
    summary.write_text(json.dumps({"error": error}))


if __name__ == "__main__":
    _kernel_main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
