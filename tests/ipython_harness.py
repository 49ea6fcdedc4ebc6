"""Run generated lines in a real IPython `InteractiveShell`, with installers that only log argv.

`Shell(python, root)` starts `python` (an interpreter with IPython) as a child process running
`_DRIVER`, which keeps one `InteractiveShell` and runs each cell sent to it. Every installer
the lines can reach is an argv logger in `root/bin`, first on `PATH`: `pip`, `pip3`, `uv`,
`conda`, `mamba`, `micromamba`, `apt-get`, `apt`, `sudo`, and `python`, which the driver makes
`sys.executable` (`%pip` runs `sys.executable -m pip`, `%uv` `sys.executable -m uv`). `%conda`
and `%mamba` find their executable next to `sys.executable` (IPython 7, 8) or through
`CONDA_EXE`/`MAMBA_EXE` (9), and need `sys.prefix/conda-meta/history`: the driver points
`sys.prefix` at a fake conda prefix. `$SHELL` is `/bin/sh`.

`Shell.run(cell, workdir)` returns the argv of each logged call, the error IPython reported, if
any, and what the lines printed. The namespace holds `x` and `a.b` (and the environment
`HOME`), so `$x`, `{x}` or `$a.b` that IPython expands change a word visibly.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import string
import subprocess
import venv
from dataclasses import dataclass
from pathlib import Path

#: Programs replaced by argv loggers.
LOGGED = ("pip", "pip3", "uv", "conda", "mamba", "micromamba", "apt-get", "apt", "sudo", "python")
#: What the namespace gives for `{x}`/`$x`, so that an expansion shows in the argv.
EXPANDED = "EXPANDED"
#: The versions the slow tests build throwaway environments for (the fast ones use this venv's).
OTHER_VERSIONS = ("7.34.0", "8.18.1")

# A shell script, so that a logged call costs a millisecond: NUL after each word, a newline
# after each call (words never hold either: `quoting` refuses them).
_LOGGER = """\
#!/bin/sh
{ printf '%s\\0' "${0##*/}" "$@"; printf '\\n'; } >> "$NBSETUP_ARGV_LOG"
"""

_DRIVER = r"""
import contextlib, io, json, os, sys, types
protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)  # whatever else writes to fd 1 must not corrupt the protocol
bin_dir, prefix, log = sys.argv[1:4]
import IPython
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
sys.executable = os.path.join(bin_dir, "python")
sys.prefix = prefix
magics = sorted(name for name in ("pip", "uv", "conda", "mamba") if shell.find_line_magic(name))
protocol.write(json.dumps({"version": IPython.__version__, "magics": magics}) + "\n")
protocol.flush()
for request in sys.stdin:
    request = json.loads(request)
    os.chdir(request["workdir"])
    # ipykernel's `system` is `system_piped` (pexpect), the terminal's `system_raw`
    # (subprocess): both expand once, then run `$SHELL -c`; the tests run both.
    shell.system = shell.system_piped if request["piped"] else shell.system_raw
    open(log, "w").close()
    shell.user_ns.update(x="EXPANDED", a=types.SimpleNamespace(b="EXPANDED"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        result = shell.run_cell(request["cell"], store_history=False)
    error = result.error_before_exec or result.error_in_exec
    with open(log, encoding="utf-8", errors="surrogateescape") as lines:
        calls = [call.split("\0") for call in lines.read().split("\0\n")[:-1]]
    answer = {"calls": calls, "error": None if error is None else repr(error),
              "printed": printed.getvalue()}
    protocol.write(json.dumps(answer) + "\n")
    protocol.flush()
"""


@dataclass(frozen=True)
class Outcome:
    """What one cell did: the installers' argv (program name first), an error, the output."""

    calls: list[list[str]]
    error: str | None
    printed: str


class Shell:
    """One IPython in a child process, running cells with logging stand-ins for installers."""

    def __init__(self, python: Path, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.prefix = root / "conda-prefix"
        log = root / "argv.log"
        self.bin.mkdir(parents=True, exist_ok=True)
        (self.prefix / "conda-meta").mkdir(parents=True, exist_ok=True)
        (self.prefix / "conda-meta" / "history").write_text("", encoding="utf-8")
        for name in LOGGED:
            script = self.bin / name
            script.write_text(_LOGGER, encoding="utf-8")
            script.chmod(0o755)
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(root),
            "SHELL": "/bin/sh",
            "CONDA_EXE": str(self.bin / "conda"),
            "MAMBA_EXE": str(self.bin / "mamba"),
            "NBSETUP_ARGV_LOG": str(log),
            "NBSETUP_TOKEN": "secret",
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            # IPython writes its profile and history under IPYTHONDIR; keep it out of HOME's view.
            "IPYTHONDIR": str(root / "ipython"),
        }
        self._process = subprocess.Popen(
            [str(python.absolute()), "-c", _DRIVER, str(self.bin), str(self.prefix), str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(root / "driver.err").open("w"),
            text=True,
            encoding="utf-8",
            env=env,
            cwd=root,
        )
        hello = self._read()
        self.version: str = hello["version"]
        self.magics: frozenset[str] = frozenset(hello["magics"])

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def run(self, cell: str, workdir: Path, piped: bool = False) -> Outcome:
        """Run `cell`; `piped` runs `!` lines as a kernel does (pexpect, 0.1 s more per
        call), else as the terminal does (subprocess)."""
        assert self._process.stdin is not None
        request = {"cell": cell, "workdir": str(workdir), "piped": piped}
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        answer = self._read()
        return Outcome(answer["calls"], answer["error"], answer["printed"])

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=30)

    def _read(self) -> dict:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            error = (self.root / "driver.err").read_text(encoding="utf-8")
            raise RuntimeError(f"the IPython driver exited ({self._process.wait()}): {error}")
        return json.loads(line)


def installer_words(shell: Shell, outcome: Outcome) -> list[list[str]]:
    """Each call's argv as the installer got it, less what IPython itself adds.

    `%pip` calls `python -m pip ...` and `%uv` `python -m uv ...`: the words after `-m pip`
    become `["pip", ...]`, `["uv", ...]`. `%conda` inserts `--prefix sys.prefix` after the
    subcommand; it is removed.
    """
    words = []
    for call in outcome.calls:
        if call[:1] == ["python"] and call[1:2] == ["-m"]:
            call = call[2:]
        if call[:1] in (["conda"], ["mamba"]) and call[2:4] == ["--prefix", str(shell.prefix)]:
            call = call[:2] + call[4:]
        words.append(call)
    return words


def build_ipython(version: str, target: Path) -> Path:
    """A throwaway virtual environment with IPython `version`; its interpreter.

    Raises `subprocess.CalledProcessError` when the version cannot be installed (no network, or
    no wheel for this Python).
    """
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"ipython=={version}"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python


# --- a model of the same, for fast tests (checked against the real shell in test_quoting) ---

# IPython's `DollarFormatter` patterns: before ipython/ipython#10545 and since (which skips
# `$name` inside what it counts as single quotes).
_DOLLAR_OLD = re.compile(r"(.*?)\$(\$?[\w\.]+)")
_DOLLAR_NEW = re.compile(r"(.*?)\$(\$?[\w\.]+)(?=([^']*'[^']*')*[^']*$)")


def model_expand(text: str) -> str:
    """One `var_expand` pass over a line with nothing to evaluate (asserted)."""
    literal = []
    for chunk, field, _, _ in string.Formatter().parse(text):
        assert field is None, f"IPython would evaluate {{{field}}} in {text!r}"
        assert not _DOLLAR_OLD.search(chunk), f"IPython 7 would expand $ in {text!r}"
        assert not _DOLLAR_NEW.search(chunk), f"IPython 8 would expand $ in {text!r}"
        literal.append(chunk)
    return "".join(literal)


def model_words(line: str) -> list[str]:
    """The argv a rendered line gives its program, modelled: `%pip x` → `["pip", "x"]`."""
    if line.startswith("!"):
        return shlex.split(model_expand(line[1:]))
    magic, _, arguments = line[1:].partition(" ")
    if magic in ("conda", "mamba", "micromamba"):
        joined = " ".join(shlex.split(model_expand(arguments)))
        return [magic, *shlex.split(model_expand(joined))]
    return [magic, *shlex.split(model_expand(model_expand(arguments)))]
