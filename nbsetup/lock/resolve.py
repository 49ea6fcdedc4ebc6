"""Versions for the packages to lock: an interpreter's installed ones, or a real resolver's.

- `installed_versions(python)`: `importlib.metadata` of that interpreter, run as a subprocess
  (what the kernel would import, as `pip show` tells it).
- `resolve_with_pip(python, ...)`: the interpreter's own pip, `pip install --dry-run
  --ignore-installed --report -`, which evaluates markers for that interpreter and honours
  the index options given and the user's pip configuration.
- `resolve_with_uv(python, ...)`: `uv pip compile` for that interpreter.

`resolve_group` runs one of them on a group of requests that share index options and, when
the whole group does not resolve, finds which packages fail so that the others still get a
version: pip and uv name a package without any matching version; otherwise each package is
tried alone.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from nbsetup.errors import NbsetupError
from nbsetup.lock.gather import Request

Resolver = Literal["pip", "uv"]
#: A resolver run: requirement strings, resolve options, constraint lines → name → version.
Run = Callable[[Sequence[str], Sequence[str], Sequence[str]], Mapping[str, str]]

#: A resolve reads indexes; one that takes longer than this is stopped and reported.
TIMEOUT_SECONDS = 600
_METADATA_SCRIPT = (
    "import importlib.metadata as m, json, sys\n"
    "found = {}\n"
    "for d in m.distributions():\n"
    "    name = d.metadata['Name']\n"
    "    if name: found.setdefault(name, d.version)\n"
    "json.dump(found, sys.stdout)\n"
)
_NOT_FOUND = (
    re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)"),
    re.compile(r"Because ([A-Za-z0-9][A-Za-z0-9._-]*) was not found"),
)
#: The box-drawing marks uv puts before its error lines.
_UV_BOX = "\u00d7\u2570\u2500\u25b6\u2502 "
_UV_OPTIONS = {"--pre": ("--prerelease", "allow"), "--prefer-binary": ()}


class ResolveFailed(NbsetupError):
    """A resolve that found no versions; `reason` is one lower-case line from the resolver."""

    def __init__(self, reason: str, culprit: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: The canonical name of the package without any matching version, when named.
        self.culprit = culprit


class ResolverUnavailable(NbsetupError):
    """The resolver cannot run at all: no such interpreter, no pip in it, no uv."""


def installed_versions(python: str) -> dict[str, str]:
    """Canonical name → version of every distribution `python` can import, first on its path."""
    done = _run([python, "-c", _METADATA_SCRIPT])
    if done.returncode != 0:
        raise ResolverUnavailable(f"{python}: cannot list installed packages: {_last(done)}")
    found: dict[str, str] = json.loads(done.stdout)
    return {canonicalize_name(name): version for name, version in found.items()}


def resolve_with_pip(
    python: str, requirements: Sequence[str], options: Sequence[str], constraints: Sequence[str]
) -> dict[str, str]:
    """What `python`'s pip would install for `requirements`: canonical name → version."""
    with _constraints_file(constraints) as extra:
        command = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
        command += ["--report", "-", "--quiet", "--disable-pip-version-check", "--no-input"]
        done = _run([*command, *options, *extra, *requirements])
    if done.returncode != 0:
        if "No module named pip" in done.stderr:
            raise ResolverUnavailable(f"{python} has no pip (use --resolver uv or --from-env)")
        raise _failure(done.stderr)
    report = json.loads(done.stdout)
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report.get("install", [])
    }


def resolve_with_uv(
    python: str, requirements: Sequence[str], options: Sequence[str], constraints: Sequence[str]
) -> dict[str, str]:
    """What `uv pip compile` chooses for `python`: canonical name → version."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        raise ResolverUnavailable("uv is not installed (pip install uv, or use --resolver pip)")
    translated = [word for token in options for word in _UV_OPTIONS.get(token, (token,))]
    with _constraints_file(constraints) as extra:
        command = [uv, "pip", "compile", "-", "--python", python, "--no-header"]
        command += ["--no-annotate", "--quiet", *translated, *extra]
        done = _run(command, stdin="\n".join(requirements) + "\n")
    if done.returncode != 0:
        raise _failure(done.stderr)
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        name, separator, version = line.split(";")[0].strip().partition("==")
        if separator:
            found[canonicalize_name(name.split("[")[0])] = version.strip()
    return found


def runner(resolver: Resolver, python: str) -> Run:
    """The run function of a resolver for an interpreter."""
    chosen = resolve_with_uv if resolver == "uv" else resolve_with_pip
    return lambda requirements, options, constraints: chosen(
        python, requirements, options, constraints
    )


@dataclass(frozen=True)
class GroupResult:
    """Versions found for the requested packages, and each failing package's reason."""

    versions: Mapping[str, str]
    failures: Mapping[str, str]


def resolve_group(
    run: Run, requests: Sequence[Request], options: Sequence[str], constraints: Sequence[str]
) -> GroupResult:
    """Resolve requests that share `options` together; isolate the packages that fail."""
    pending = list(dict.fromkeys(request.name for request in requests))
    failures: dict[str, str] = {}

    def texts(names: Sequence[str]) -> list[str]:
        return [r.text for r in requests if r.name in names]

    while pending:
        try:
            found = run(texts(pending), options, constraints)
        except ResolveFailed as error:
            if error.culprit in pending:
                failures[error.culprit] = error.reason
                pending.remove(error.culprit)
                continue
            if len(pending) == 1:
                failures[pending[0]] = error.reason
                break
            alone = _failing_alone(run, pending, texts, options, constraints)
            if not alone:
                together = f"does not resolve with the other packages: {error.reason}"
                failures.update(dict.fromkeys(pending, together))
                break
            failures.update(alone)
            pending = [name for name in pending if name not in alone]
            continue
        return GroupResult({n: found[n] for n in pending if n in found}, failures)
    return GroupResult({}, failures)


def _failing_alone(
    run: Run,
    names: Sequence[str],
    texts: Callable[[Sequence[str]], list[str]],
    options: Sequence[str],
    constraints: Sequence[str],
) -> dict[str, str]:
    failing = {}
    for name in names:
        try:
            run(texts([name]), options, constraints)
        except ResolveFailed as error:
            failing[name] = error.reason
    return failing


def _failure(stderr: str) -> ResolveFailed:
    """The resolver's first error line, lower case, as one reason."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR: ")]
    if not errors:  # uv: a "No solution found" line, then boxed lines saying why
        errors = [" ".join(line.lstrip(_UV_BOX).strip() for line in lines)]
    reason = errors[0] if errors and errors[0] else "the resolver failed"
    culprit = None
    for pattern in _NOT_FOUND:
        match = pattern.search(stderr)
        if match:
            culprit = canonicalize_name(match.group(1).rstrip("."))
            break
    return ResolveFailed(reason[:1].lower() + reason[1:].rstrip("."), culprit)


def _run(command: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise ResolverUnavailable(f"{command[0]}: no such interpreter or program") from None
    except PermissionError:
        raise ResolverUnavailable(f"{command[0]}: not executable") from None
    except subprocess.TimeoutExpired:
        raise ResolveFailed(f"the resolver took longer than {TIMEOUT_SECONDS} s") from None


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    return lines[-1].lower() if lines else f"exit status {done.returncode}"


@contextlib.contextmanager
def _constraints_file(lines: Sequence[str]) -> Iterator[list[str]]:
    """A temporary constraints file of `lines`, as `-c PATH` arguments (none when empty)."""
    if not lines:
        yield []
        return
    with tempfile.TemporaryDirectory(prefix="nbsetup-lock-") as directory:
        path = Path(directory) / "constraints.txt"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        yield ["-c", str(path)]
