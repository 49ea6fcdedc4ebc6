"""Walk a notebook's cells in order: escapes, cell magics, calls, and the state they leave."""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from nbsetup import comments, optouts, packages, quoting
from nbsetup.cell_lines import line_break, without_break
from nbsetup.installs import blocks
from nbsetup.installs.arguments import SYS_EXECUTABLE, parse_command
from nbsetup.installs.records import InstallCommand, InstallSite, LineKind, Statement, Written
from nbsetup.installs.shell import Part, ShellLine, ShellSyntaxError, parse_line
from nbsetup.magics import PYTHON_CELL_MAGICS, SHELL_CELL_MAGICS, CellScan, Escape, scan_cell

if TYPE_CHECKING:
    from nbsetup.installs.python_calls import PythonCall

_LINE_MAGIC_TOOLS = frozenset({"pip", "conda", "mamba", "micromamba", "uv"})
_MAGIC_NAME = re.compile(r"\W")
_CHDIR_MAGICS = frozenset({"cd", "pushd", "popd"})
_SHELL_CHDIR = frozenset({"cd", "pushd", "popd"})
_SCRIPT_SHELLS = re.compile(r"(\S*/)?(ba)?sh$")
_CHDIR_CALL = re.compile(r"\bchdir\s*\(")
_GIT_CLONE = re.compile(r"""git\s+clone|["']git["']\s*,\s*["']clone["']|\bclone_from\(""")
_OPEN_FOR_WRITE = re.compile(
    r"""\bopen\(\s*[rbuf]*["']([^"']+)["']\s*,\s*(?:mode\s*=\s*)?[rbuf]*["'][^"']*[wax]"""
)
_PATH_WRITE = re.compile(r"""Path\(\s*[rbuf]*["']([^"']+)["']\s*\)\.write_(?:text|bytes)\(""")
_BLOCK_REASONS = {
    "if": "an if block",
    "elif": "an if block",
    "else": "an if block",
    "try": "a try block",
    "except": "a try block",
    "finally": "a try block",
    "for": "a for loop",
    "async": "an async block",
    "while": "a while loop",
    "with": "a with block",
    "def": "a function",
    "class": "a class",
    "match": "a match block",
    "case": "a match block",
}
_SHELL_OPENERS = {
    "if": "a shell if block",
    "for": "a shell loop",
    "while": "a shell loop",
    "until": "a shell loop",
    "select": "a shell loop",
    "case": "a shell case block",
    "{": "a shell command group",
    "function": "a shell function",
}
_SHELL_CLOSERS = frozenset({"fi", "done", "esac", "}"})
# Cells with none of these can neither install nor change what later installs depend on.
# Substring tests first: one regex of alternatives costs more than the rest of the scan.
_RELEVANT_TEXT = (
    "!",
    "%",
    "pip",
    "conda",
    "mamba",
    "apt",
    "pushd",
    "popd",
    "chdir",
    "clone",
    "open(",
    "write_",
    "environ",
    "PIP_",
    "UV_",
    "PYTHONUSERBASE",
    "sys.path",
)
_RELEVANT_WORD = re.compile(r"\b(uv|cd)\b")
_SHELL_FUNCTION = re.compile(r"\s*(function\s+[\w-]+|[\w-]+\s*\(\s*\))")
# Cheap test before paying for libcst (an import, then a parse per cell): most cells call
# none of these. Keep in step with the calls `python_calls` matches.
_CALL_HINT = re.compile(
    r"(subprocess\.(run|call|check_call|check_output|Popen)|\.system|run_line_magic|pip\.main)\s*\("
)
_TOOL_HINT = re.compile(r"\bpip|conda|mamba|apt|\buv\b")


@dataclass
class _State:
    """What earlier code did to the kernel's disk and directory (mutated while scanning)."""

    #: `%cd`, `cd`, `os.chdir` ran: relative paths may now mean something else.
    directory_changed: bool = False
    #: `git clone` ran: relative paths may point into the clone.
    cloned: bool = False
    #: Base names of files the notebook wrote (`%%writefile`, `open(..., "w")`, `> file`).
    written: set[str] = field(default_factory=set)
    #: Canonical names of pip packages the notebook uninstalled.
    uninstalled: set[str] = field(default_factory=set)
    #: `wget`/`curl` ran: a local `--find-links` directory may hold what they fetched.
    downloaded: bool = False
    #: The first line that stops hoisting (`barrier_at`): an install that stays where it is,
    #: or a change of what later installs resolve against. Nothing after it moves above it.
    barrier: str | None = None
    #: Where `os.environ` (or `%env`) was first set, and `sys.path` first changed: after
    #: either, a test of the runtime no longer reads the environment the kernel started with.
    environ_change: str | None = None
    path_change: str | None = None
    #: Whether the notebook may hold a block of installs (`blocks.may_hold_install_block`).
    blocks: bool = False
    #: The definitions a block may read, by name: the last statement that bound it (`blocks`).
    definitions: dict[str, _Definition] = field(default_factory=dict)
    #: Definition sites already moved with an earlier block, as (cell, line).
    emitted: set[tuple[int, int]] = field(default_factory=set)
    #: The code cells scanned so far (for `"M" in sys.modules`: was M imported before?).
    seen: list[str] = field(default_factory=list)

    def barrier_at(self, what: str, cell: int, line: int) -> None:
        """Record a barrier, `what` at 0-based `cell` and `line`, unless an earlier one holds."""
        if self.barrier is None:
            self.barrier = f"{what} at cell {cell + 1}, line {line + 1}"


@dataclass(frozen=True)
class _Definition:
    """A statement that binds a name a block may read: its site, if it may move, or why not."""

    found: blocks.Found
    site: InstallSite
    reason: str | None


def _names(requirements: Sequence[str]) -> set[str]:
    return {name for text in requirements if (name := packages.named(text)) is not None}


def _judge(command: InstallCommand, state: _State, directory_changed: bool) -> InstallCommand:
    """Apply what earlier cells did: files they wrote, directories they entered, uninstalls."""
    if command.movable and state.barrier is not None:
        command = replace(command, movable=False, reason=f"follows {state.barrier}")
    if command.movable:
        reason = None
        for path in (*command.requirement_files, *command.constraint_files):
            if "://" in path:
                continue
            if posixpath.basename(path) in state.written:
                reason = "requirements file written by the notebook"
            elif not path.startswith(("/", "~")) and directory_changed:
                reason = "relative path after a change of directory"
            elif not path.startswith(("/", "~")) and state.cloned:
                reason = "relative path after a git clone"
            if reason:
                break
        if reason is None and state.downloaded and _local_find_links(command):
            reason = "reads a --find-links directory after a download in the notebook"
        reinstall = command.manager in ("pip", "uv") and command.action == "install"
        if reason is None and reinstall and _names(command.requirements) & state.uninstalled:
            reason = "installed again after an uninstall"
        if reason is not None:
            command = replace(command, movable=False, reason=reason)
    if command.manager in ("pip", "uv") and command.action == "uninstall":
        state.uninstalled |= _names(command.requirements)
    return command


def _local_find_links(command: InstallCommand) -> bool:
    """Whether a pip command reads packages from a directory on this disk (`-f wheels`)."""
    return any(
        flag in ("-f", "--find-links") and value is not None and "://" not in value
        for flag, value in command.options
    )


def _shell_writes(part: Part) -> set[str]:
    """Files a non-install command writes: redirect targets, downloads, copies."""
    words = part.words
    written = {posixpath.basename(path) for path in part.writes}
    program = words[0] if words else ""
    if program in ("wget", "curl"):
        for index, word in enumerate(words[1:], start=1):
            if word in ("-O", "-o", "--output", "--output-document") and index + 1 < len(words):
                written.add(posixpath.basename(words[index + 1]))
            elif "://" in word:
                written.add(posixpath.basename(word.split("?")[0]))
    elif program in ("cp", "mv", "tee", "touch", "ln") and len(words) > 1:
        written.add(posixpath.basename(words[-1]))
    return written


def _apply_shell_state(part: Part, state: _State, cell: int, line: int) -> None:
    written = _shell_writes(part)
    state.written |= written
    if "git" in part.words[:2] and "clone" in part.words:
        state.cloned = True
    words = part.words
    if words[:1] in (("wget",), ("curl",)):
        state.downloaded = True
    if "config" in words[1:4] and _TOOL_HINT.match(words[0] if words else ""):
        state.barrier_at(f"`{' '.join(words[:3])}`", cell, line)
    elif words[:1] == ("export",) and any(_RESOLVER_VARIABLE.match(w) for w in words[1:]):
        state.barrier_at("an `export` of installer settings", cell, line)
    elif written & _RESOLVER_FILES:
        state.barrier_at(f"a write of {sorted(written & _RESOLVER_FILES)[0]}", cell, line)


#: Environment variables that change what pip, uv and conda resolve against or install into.
_RESOLVER_VARIABLE = re.compile(r"(PIP_|UV_|CONDA_|PYTHONUSERBASE\b|PYTHONPATH\b)")
#: Files that do: credentials and settings for indexes, and pip's configuration.
_RESOLVER_FILES = frozenset({".netrc", ".pypirc", "pip.conf", "pip.ini", ".condarc", "uv.toml"})
_ENVIRON_WRITE = re.compile(
    r"""os\.(?:environ\s*\[\s*[rbuf]*["']([A-Z_]+)["']\s*\]\s*=(?!=)"""
    r"""|environ\.(?:update|setdefault)\(|putenv\(\s*[rbuf]*["']([A-Z_]+)["'])"""
)


def _note_barrier(site: InstallSite, state: _State) -> None:
    """An install, uninstall or download that stays where it is: nothing after it moves up."""
    for command in site.commands:
        if command.movable or command.action == "update":
            continue
        what = None
        if command.action == "install":
            chosen = optouts.is_chosen(command.reason)
            what = "an opted-out install" if chosen else "an install that stays in place"
        tool = "pip" if command.manager == "uv" else command.manager
        state.barrier_at(what or f"{tool} {command.action}", site.cell, site.start)
        return


def _block_reason(scan: CellScan, line: int, indent: int) -> str | None:
    """The kind of block an indented line sits in, from the nearest less-indented statement."""
    if indent == 0:
        return None
    for logical in reversed(scan.logical_lines):
        if logical.start < line and logical.escape is None and logical.indent < indent:
            return "inside " + _BLOCK_REASONS.get(logical.first_word, "an indented block")
    return "inside an indented block"


def _joined(line: ShellLine, kept: Sequence[Part]) -> str:
    """The kept parts of a chain, re-joined: `a && <hoisted> ; b` → `a ; b`."""
    out = ""
    previous = -1
    indexes = [line.parts.index(part) for part in kept]
    for position, index in enumerate(indexes):
        text = line.text[line.parts[index].start : line.parts[index].end]
        if position:
            separators = {line.parts[i].separator for i in range(previous + 1, index + 1)}
            # Only `a && b && c` keeps `&&`: a `;` on either side of a hoisted part (assumed to
            # succeed) means the next part ran whatever came before.
            out += " && " if separators == {"&&"} else "; "
        out += text
        previous = index
    if line.comment is not None:
        out += "  " + line.text[line.comment :].rstrip()
    return out


def _runs_only_if(parts: Sequence[Part], position: int) -> str | None:
    """Why part `position` of a chain may not run: `false && pip install x`, `a || b`.

    Hoisted, an install always runs; it may only move when it always ran where it was: after
    `;`, or after `&&` behind installs (which move too) and `cd` (judged as a directory change).
    """
    index = position
    while index > 0 and parts[index].separator not in (None, ";"):
        if parts[index].separator != "&&":
            return "runs only if an earlier command fails"
        before = parts[index - 1]
        first = before.words[0] if before.words else ""
        if before.command is None and first not in _SHELL_CHDIR:
            return f"runs only if `{first}` succeeds" if first else "may not run"
        index -= 1
    return None


@dataclass(frozen=True)
class _Line:
    """How the shell text being parsed was written: as an escape line of its own, or not.

    `prefix` + the parsed text is the line as written (`!`, `%`); None when the text is not
    a line of its own (a `%%bash` body line, a call's string), whose commands are rendered from
    their words as `kind` lines, for the reason `normalised`. `mapped`: the parsed text's
    offsets are the written text's (not so for a `%conda` line that `shlex` re-joined).
    """

    kind: LineKind
    prefix: str | None = None
    mapped: bool = True
    normalised: str | None = None
    #: A Python call: its pip commands are written as `%pip` lines, the others as `!` lines.
    python: bool = False


def _written(command: InstallCommand, how: _Line, text: str, part: Part, whole: bool) -> Written:
    """Where `command` (one part of the parsed `text`) sits in the line the notebook wrote."""
    kind: LineKind = how.kind
    if how.python:
        kind = "%pip" if command.manager in ("pip", "uv") else "!"
    if command.written is not None:  # set by the recogniser: the text must be rendered anew
        return replace(command.written, kind=kind)
    if how.prefix is None:
        return Written(None, kind, normalised=how.normalised)
    if whole:
        written, shift = how.prefix + text.rstrip(), len(how.prefix)
    elif how.kind == "!":
        written, shift = "!" + text[part.start : part.end].rstrip(), 1 - part.start
    else:
        return Written(None, how.kind, normalised="a part of a chain, written as its own line")
    spans = tuple((a + shift, b + shift) for a, b in command.word_spans) if how.mapped else ()
    normalised = how.normalised if whole else "a part of a chain, written as its own line"
    return Written(written, how.kind, spans, normalised)


def _line_site(
    cell: int,
    lines: Sequence[str],
    start: int,
    end: int,
    form_prefix: str,
    line: ShellLine,
    whole_reason: str | None,
    state: _State,
    directory_changed: bool,
    rebuild: str | None,
    how: _Line,
) -> InstallSite | None:
    """Judge each part of a shell line and build its site; `rebuild` prefixes kept parts.

    `rebuild` is None where kept parts cannot be rewritten (a call's string), so any part
    that is not an install keeps the whole line in place. `how` says how the line was
    written, for the environment cell's copy of each command (`Written`).
    """
    parts: list[Part] = []
    entered = None
    program = None
    for position, part in enumerate(line.parts):
        command = part.command
        if command is not None:
            program = program or part.program
            command = _judge(command, state, directory_changed or entered is not None)
            if entered and whole_reason is None:
                whole_reason = f"follows a {entered} in the same chain"
            condition = _runs_only_if(line.parts, position)
            if condition is not None and command.movable and whole_reason is None:
                command = replace(command, movable=False, reason=condition)
            written = _written(command, how, line.text, part, len(line.parts) == 1)
            part = replace(part, command=replace(command, written=written))
        else:
            _apply_shell_state(part, state, cell, start)
            if part.words[:1] and part.words[0] in _SHELL_CHDIR:
                entered = part.words[0]
        parts.append(part)
    commands = [part.command for part in parts if part.command is not None]
    if not commands or program is None:
        return None
    if whole_reason is None and rebuild is None and len(parts) > 1:
        whole_reason = "shell chain inside a Python call"
    if whole_reason is not None:
        commands = [
            replace(c, movable=False, reason=whole_reason) if c.movable else c for c in commands
        ]
    replacement: tuple[str, ...] | None = None
    if any(command.movable for command in commands):
        kept = [part for part in parts if part.command is None or not part.command.movable]
        replacement = ()
        if kept and rebuild is not None:
            last = lines[end - 1]
            newline = line_break(last)
            text = rebuild + _joined(replace(line, parts=tuple(parts)), kept) + newline
            replacement = tuple(text.splitlines(keepends=True))
    return InstallSite(cell, start, end, form_prefix + program, tuple(commands), replacement)


def _shell_view(command: str, magic: bool) -> tuple[str, int] | None:
    """The shell text an escape's command becomes and IPython's `{}` passes over it (`quoting`).

    `!cmd`: one pass. `%pip`/`%uv`: two. `%conda`/`%mamba`: one, then its words are split and
    joined unquoted, so the shell reads a second time: `conda install '"a>=1"'` is read as
    `conda install "a>=1"`. None when the magic would fail (quotes `shlex` cannot close).
    """
    if not magic:
        return command, 1
    name = _MAGIC_NAME.split(command, maxsplit=1)[0]
    if name in ("pip", "uv"):
        return command, 2
    arguments = command[len(name) :]
    if name not in quoting.CONDA_MAGICS or quoting.python_field(arguments, 1) is not None:
        return command, 1
    argv = quoting.conda_magic_argv(arguments)
    return None if argv is None else (" ".join([name, *argv]), 1)


def _escape_site(
    cell: int,
    lines: Sequence[str],
    scan: CellScan,
    escape: Escape,
    state: _State,
    in_block: bool = False,
) -> InstallSite | None:
    """A `!cmd` or `%magic` line: its install parts, or only its effect on the state."""
    command = escape.command
    marker = escape.marker
    repaired = None
    spaced = command.lstrip(" \t")
    if (
        marker == "%"
        and spaced != command
        and _MAGIC_NAME.split(spaced, 1)[0] in _LINE_MAGIC_TOOLS
    ):
        # `% pip install x`: IPython 9 raises "Line magic function `%` not found"; older
        # versions ran `%pip`. Read as `%pip install x`, and written so.
        command = spaced
        repaired = (
            "'% " + _MAGIC_NAME.split(spaced, 1)[0] + "': IPython 9 rejects a space after '%'"
        )
    if marker in ("%", ""):
        name = _MAGIC_NAME.split(command, maxsplit=1)[0]
        if name in _CHDIR_MAGICS:
            state.directory_changed = True
            return None
        if name in ("env", "set_env") and _RESOLVER_VARIABLE.match(command[len(name) :].strip()):
            variable = re.split(r"[\s=]", command[len(name) :].strip(), maxsplit=1)[0]
            state.barrier_at(f"%{name} {variable}", cell, escape.start)
            state.environ_change = state.environ_change or _at(f"%{name}", cell, escape.start)
            return None
        if name in ("env", "set_env") and command[len(name) :].strip():
            state.environ_change = state.environ_change or _at(f"%{name}", cell, escape.start)
        if name == "writefile":
            state.written.add(posixpath.basename(command.split()[-1]) if command.split() else "")
        if name not in _LINE_MAGIC_TOOLS:
            return None
    elif command.startswith("!"):
        # `!!cmd` returns the output as a list; whether it is used cannot be told.
        return None
    view = _shell_view(command, marker != "!")
    if view is None:
        return None
    try:
        line = parse_line(*view)
    except ShellSyntaxError:
        return None
    reason = line.reason
    if escape.target is not None:
        reason = "output is used"
    elif marker != "!" and len(line.parts) > 1:
        reason = "shell chain in a line magic"
    # A line of a block that may move is judged as a line of its own; `_close_block` decides.
    block = None if in_block else _block_reason(scan, escape.start, len(escape.indent))
    how = _Line("!", "!")
    if marker != "!":
        name = _MAGIC_NAME.split(command, maxsplit=1)[0]
        kind: LineKind = "%uv" if name == "uv" else "%pip" if name == "pip" else f"%{name}"  # type: ignore[assignment]
        normalised = None
        if repaired is not None:
            normalised = "space after '%' removed"
        elif marker == "":
            normalised = f"automagic {name} line written as %{name}"
        how = _Line(kind, "%", view[0] == command, normalised)
    site = _line_site(
        cell,
        lines,
        escape.start,
        escape.end,
        marker,
        line,
        block or reason,
        state,
        state.directory_changed,
        escape.indent + marker,
        how,
    )
    if site is not None and repaired is not None:
        commands = tuple(replace(c, repaired=repaired) for c in site.commands)
        site = replace(site, commands=commands)
    if site is None or block is None:
        return site
    # Where the line sits explains more than what it says: report the block for every command.
    commands = tuple(replace(c, movable=False, reason=block) for c in site.commands)
    return replace(site, commands=commands)


def _call_site(
    cell: int, lines: Sequence[str], call: PythonCall, state: _State
) -> InstallSite | None:
    """A Python call running a command: a list of arguments or a shell string."""
    if call.argv is not None:
        words = call.argv
        if words and words[0].text == SYS_EXECUTABLE and call.form == "pip.main":
            return None
        found = parse_command(words)
        if found is None:
            return None
        command = _judge(found[0], state, state.directory_changed)
        if call.reason is not None:
            command = replace(command, movable=False, reason=call.reason)
        how = _Line("!", normalised=f"a {call.form} call, written as a line", python=True)
        command = replace(
            command, written=_written(command, how, "", Part(0, 0, None, (), ()), True)
        )
        replacement = () if command.movable else None
        return InstallSite(cell, call.start, call.end, call.form, (command,), replacement)
    view: tuple[str, int] | None = (call.shell or "", int(call.python_fields))
    if call.form == "run_line_magic":
        view = _shell_view(call.shell or "", magic=True)
    if view is None:
        return None
    try:
        line = parse_line(*view)
    except ShellSyntaxError:
        return None
    site = _line_site(
        cell,
        lines,
        call.start,
        call.end,
        "",
        line,
        call.reason or line.reason,
        state,
        state.directory_changed,
        None,
        _Line("!", normalised=f"a {call.form} call, written as a line", python=True),
    )
    return None if site is None else replace(site, form=call.form)


def _python_line_state(text: str, state: _State, cell: int, line: int) -> None:
    """Directory changes, clones, written files and installer settings from a statement."""
    if _CHDIR_CALL.search(text):
        state.directory_changed = True
    if _GIT_CLONE.search(text):
        state.cloned = True
    written = set()
    for pattern in (_OPEN_FOR_WRITE, _PATH_WRITE):
        written |= {posixpath.basename(path) for path in pattern.findall(text)}
    state.written |= written
    if _PATH_CHANGE.search(text):
        state.path_change = state.path_change or _at("a change of sys.path", cell, line)
    for match in _ENVIRON_WRITE.finditer(text):
        state.environ_change = state.environ_change or _at("a change of os.environ", cell, line)
        name = match.group(1) or match.group(2)
        if name is None or _RESOLVER_VARIABLE.match(name):
            state.barrier_at(f"a change of {name or 'os.environ'}", cell, line)
    if written & _RESOLVER_FILES:
        state.barrier_at(f"a write of {sorted(written & _RESOLVER_FILES)[0]}", cell, line)


_PATH_CHANGE = re.compile(r"\bsys\.path\s*(?:\.\s*(?:append|insert|extend|remove|pop)\b|\[|\+?=)")


def _at(what: str, cell: int, line: int) -> str:
    return f"{what} at cell {cell + 1}, line {line + 1}"


def _relevant(source: str) -> bool:
    """False when a cell can neither install nor change what later installs depend on."""
    return any(text in source for text in _RELEVANT_TEXT) or (
        ("uv" in source or "cd" in source) and _RELEVANT_WORD.search(source) is not None
    )


def _may_contain_calls(source: str) -> bool:
    """True when a cell might hold a Python-level install call (worth a libcst parse)."""
    return bool(_CALL_HINT.search(source) and _TOOL_HINT.search(source))


def find_calls(source: str) -> tuple[PythonCall, ...]:
    """The calls in a cell that run a command: `python_calls.find_calls`, imported on first use.

    `python_calls` imports libcst, which takes longer to import than nbsetup takes on a typical
    notebook; a run that meets no such call (a pre-commit hook on a notebook of `!pip` lines)
    never imports it.
    """
    from nbsetup.installs import python_calls

    return python_calls.find_calls(source)


def _python_cell(
    cell: int,
    lines: Sequence[str],
    source: str,
    scan: CellScan,
    state: _State,
    choice: str | None,
) -> list[InstallSite]:
    """A Python cell (or `%%capture` body): escapes and calls, in line order.

    `choice`: why every install of the cell stays by the user's choice (its cell opts out),
    or None.
    """
    floor = 0 if scan.magic_line is None else scan.magic_line + 1
    calls: dict[int, list[PythonCall]] = {}
    if _may_contain_calls(source):
        starts = [logical.start for logical in scan.logical_lines if logical.escape is None]
        for call in find_calls(source):
            # File the call under the statement it starts in, even mid-statement.
            owner = max((start for start in starts if start <= call.start), default=call.start)
            calls.setdefault(owner, []).append(call)
    look = state.blocks and blocks.may_hold_block(source)
    statements = blocks.find_statements(source, scan) if look else ()
    at = {found.start: found for found in statements}
    known = _named(state, source)
    stores = blocks.assignments(source) if statements or known else {}
    sites: list[InstallSite] = []
    block: blocks.Found | None = None
    inner: list[InstallSite] = []
    opt_out = (floor, scan.string_lines, choice)
    for logical in scan.logical_lines:
        if block is not None and logical.start >= block.end:
            sites += _close_block(cell, lines, block, inner, state, stores, opt_out)
            block, inner = None, []
        found = at.get(logical.start)
        if found is not None and found.kind == "block":
            block = found
        elif found is not None:
            _define(cell, lines, found, state)
        if logical.escape is not None:
            site = _escape_site(cell, lines, scan, logical.escape, state, block is not None)
            if block is not None:
                if site is not None:
                    inner.append(site)
                continue
        else:
            found_calls = calls.get(logical.start, [])
            found_sites = [_call_site(cell, lines, call, state) for call in found_calls]
            site = _one_site([site for site in found_sites if site is not None])
            text = "".join(lines[logical.start : logical.end])
            _python_line_state(text, state, cell, logical.start)
        if site is not None:
            site = _opted_out(site, lines, floor, scan.string_lines, choice)
            sites.append(site)
            _note_barrier(site, state)
    if block is not None:
        sites += _close_block(cell, lines, block, inner, state, stores, opt_out)
    _forget_reassigned(cell, statements, stores, state)
    return sites


def _define(cell: int, lines: Sequence[str], found: blocks.Found, state: _State) -> None:
    """Record a definition a later block may read (or why it cannot move with one)."""
    text = tuple(without_break(line) for line in lines[found.start : found.end])
    reason = found.reason
    if reason is None and any(comments.is_form_line(line) for line in text):
        reason = "a Colab form field: the user's choice"
    if reason is None:
        reason = _environment_problem(state) or _modules_problem(found, state, lines)
    statement = Statement("definition", text, found.names, what="a definition")
    site = InstallSite(cell, found.start, found.end, "definition", (), (), statement)
    for name in found.names:
        earlier = state.definitions.get(name)
        if (
            reason is not None
            and found.what == "an import"
            and name in blocks.RUNTIME_MODULES
            and earlier is not None
            and earlier.reason is None
        ):
            continue  # `import os, re` binds the same `os` again: the earlier import still does
        state.definitions[name] = _Definition(found, site, reason)


def _named(state: _State, source: str) -> list[str]:
    """The definitions whose names the cell holds as words (so may bind again): `os` in
    `position` is not `os`, and parsing a cell for its bindings costs more than this test."""
    return [name for name in state.definitions if name in source and _word(name).search(source)]


@functools.lru_cache(maxsize=256)
def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}\b")


def _forget_reassigned(
    cell: int,
    statements: Sequence[blocks.Found],
    stores: dict[str, list[int]],
    state: _State,
) -> None:
    """A name bound again in a cell, other than by a definition, may no longer be trusted."""
    defined = {(name, f.start) for f in statements if f.kind == "definition" for name in f.names}
    for name, found_lines in stores.items():
        definition = state.definitions.get(name)
        other = [line for line in found_lines if (name, line) not in defined]
        if definition is not None and other:
            reason = f"`{name}` is set again at cell {cell + 1}, line {other[0] + 1}"
            state.definitions[name] = replace(definition, reason=reason)


def _environment_problem(state: _State) -> str | None:
    """Why a test of the runtime here may not read the environment the kernel starts with."""
    if state.environ_change is not None:
        return f"follows {state.environ_change}"
    if state.path_change is not None:
        return f"follows {state.path_change}"
    if state.directory_changed:
        return "follows a change of directory"
    return None


def _modules_problem(found: blocks.Found, state: _State, lines: Sequence[str]) -> str | None:
    """`"M" in sys.modules` after code that imports M reads the notebook, not the runtime."""
    earlier = "".join([*state.seen, *lines[: found.start]])
    for module in found.modules:
        top = re.escape(module.split(".")[0])
        if re.search(rf"\b(?:import|from)\s+{top}\b", earlier):
            return f"reads sys.modules for {module}, which the notebook imports before"
    return None


def _close_block(
    cell: int,
    lines: Sequence[str],
    block: blocks.Found,
    inner: Sequence[InstallSite],
    state: _State,
    stores: dict[str, list[int]],
    opt_out: tuple[int, frozenset[int], str | None],
) -> list[InstallSite]:
    """The sites of a candidate block: one that moves whole, with its definitions, or its
    install lines left in place (each a barrier), with why.

    The user keeps a block where it is (`opt_out`: the cell's floor, its string lines, and
    why the cell opts out) when the cell opts out or a `# nbsetup: skip` is on one of its
    lines or in the comment block above it: each install stays with that reason."""
    floor, in_strings, choice = opt_out
    chosen = choice or optouts.line_reason(lines, block.start, block.end, floor, in_strings)
    if chosen is not None:
        return _keep_all([optouts.keep(site, chosen) for site in inner], state)
    needed: list[InstallSite] = []
    reason = block.reason or _inner_problem(block, inner)
    if reason is None:
        reason = _environment_problem(state) or _modules_problem(block, state, lines)
    if reason is None:
        reason = _resolve(cell, block, state, stores, needed)
    if reason is None:
        text = tuple(without_break(line) for line in lines[block.start : block.end])
        slots = tuple((site.start - block.start, site.end - block.start) for site in inner)
        statement = Statement("block", text, block.reads, slots, block.imports, block.what)
        commands = tuple(command for site in inner for command in site.commands)
        form = "if block" if block.what == "an if block" else "try block"
        site = InstallSite(cell, block.start, block.end, form, commands, (), statement)
        fresh = [d for d in needed if (d.cell, d.start) not in state.emitted]
        state.emitted |= {(d.cell, d.start) for d in fresh}
        return [*fresh, site]
    where = f"inside {block.what} ({reason})"
    # Where the line sits explains more than what it says, as for any indented install.
    kept = [
        replace(
            site,
            commands=tuple(replace(c, movable=False, reason=where) for c in site.commands),
            replacement=None,
        )
        for site in inner
    ]
    return _keep_all(kept, state)


def _keep_all(kept: list[InstallSite], state: _State) -> list[InstallSite]:
    """A block's install sites left in place: each is a barrier for what follows."""
    for site in kept:
        _note_barrier(site, state)
    return kept


def _inner_problem(block: blocks.Found, inner: Sequence[InstallSite]) -> str | None:
    """Why a block's install lines cannot move as they are: one whole install per line."""
    by_start = {site.start: site for site in inner}
    for line in block.installs:
        site = by_start.get(line)
        if site is None:
            return f"line {line + 1} of a branch is not an install"
        unmovable = next((c for c in site.commands if not c.movable), None)
        if unmovable is not None:
            return unmovable.reason
        if len(site.commands) != 1 or site.replacement != ():
            return f"line {line + 1} of a branch does more than install"
        command = site.commands[0]
        if command.written is None or command.written.text is None or command.repaired:
            return f"line {line + 1} would be rewritten, so the block cannot move as written"
    if not any(c.action == "install" for site in inner for c in site.commands):
        return "its branches install nothing"
    return None


def _resolve(
    cell: int,
    block: blocks.Found,
    state: _State,
    stores: dict[str, list[int]],
    needed: list[InstallSite],
) -> str | None:
    """Why a name the block reads does not come from a definition that may move, or None.

    The definitions it needs (and theirs, in turn) are added to `needed`, in notebook order.
    """
    todo = list(block.reads)
    done: set[str] = set()
    while todo:
        name = todo.pop(0)
        if name in done or blocks.builtin(name):
            continue
        done.add(name)
        definition = state.definitions.get(name)
        own = {definition.site.start} if definition and definition.site.cell == cell else set()
        again = [line for line in stores.get(name, ()) if line < block.start and line not in own]
        if again:
            return f"its condition reads `{name}`, set again at line {again[0] + 1}"
        if definition is None:
            return f"its condition reads `{name}`, not a test of the runtime"
        if definition.reason is not None:
            where = f"cell {definition.site.cell + 1}, line {definition.site.start + 1}"
            return f"its condition reads `{name}`, from {where}: {definition.reason}"
        if definition.site not in needed:
            needed.append(definition.site)
        todo += definition.found.reads
    needed.sort(key=lambda site: (site.cell, site.start))
    return None


def _one_site(sites: Sequence[InstallSite]) -> InstallSite | None:
    """One site per statement: several install calls in one statement stay together."""
    if len(sites) < 2:
        return sites[0] if sites else None
    commands = tuple(
        replace(command, movable=False, reason="several install calls in one statement")
        if command.movable
        else command
        for site in sites
        for command in site.commands
    )
    start, end = min(s.start for s in sites), max(s.end for s in sites)
    return replace(sites[0], start=start, end=end, commands=commands, replacement=None)


def _track_shell_block(words: tuple[str, ...], stack: list[str]) -> None:
    """Track `if`/`for`/`case`/`{` ... `fi`/`done`/`esac`/`}` in a shell script."""
    first = words[0] if words else ""
    if first in _SHELL_OPENERS:
        stack.append(_SHELL_OPENERS[first])
    elif first in _SHELL_CLOSERS and stack:
        stack.pop()


def _opted_out(
    site: InstallSite,
    lines: Sequence[str],
    floor: int,
    in_strings: frozenset[int],
    choice: str | None,
) -> InstallSite:
    """The site, kept in place when its cell or a `# nbsetup: skip` comment opts it out."""
    reason = choice or optouts.line_reason(lines, site.start, site.end, floor, in_strings)
    return site if reason is None else optouts.keep(site, reason)


def _shell_cell(
    cell: int,
    lines: Sequence[str],
    first: int,
    options: str,
    form: str,
    state: _State,
    choice: str | None,
) -> list[InstallSite]:
    """A `%%bash`/`%%sh` cell: each body line is a shell command line (no `!`).

    `choice`: why every install of the cell stays by the user's choice (its cell opts out),
    or None.
    """
    sites: list[InstallSite] = []
    stack: list[str] = []
    directory_changed = state.directory_changed
    exported = False
    # Why the lines from here on may not run, or not in the kernel's environment.
    may_not_run: str | None = None
    errexit = False
    cell_reason = "runs in the background" if "--bg" in options.split() else None
    index = first
    while index < len(lines):
        start = index
        while index + 1 < len(lines) and _continued(lines[index]):
            index += 1
        index += 1
        text = "".join(lines[start:index]).rstrip("\r\n")
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        try:
            line = parse_line(text, passes=0)
        except ShellSyntaxError:
            # A quoted string that goes on over the next lines is one command: its lines
            # are data (`echo "...pip install x..."`), never commands of their own.
            index = _end_of_quoted(lines, start, index)
            continue
        if _SHELL_FUNCTION.match(text):
            stack.append("a shell function")
        depth_before = bool(stack)
        for part in line.parts:
            _track_shell_block(part.words, stack)
        reason = cell_reason or line.reason
        if depth_before or stack:
            reason = reason or "inside " + (stack[-1] if stack else "a shell block")
        if exported:
            reason = reason or "follows an export in the same cell"
        reason = reason or may_not_run
        indent = text[: len(text) - len(text.lstrip())]
        how = _Line("!", normalised=f"a line of a {form} cell, written as a ! line")
        site = _line_site(
            cell, lines, start, index, "", line, reason, state, directory_changed, indent, how
        )
        if site is not None:
            site = _opted_out(replace(site, form=form), lines, first, frozenset(), choice)
            sites.append(site)
            _note_barrier(site, state)
        first_words = line.parts[0].words if line.parts else ()
        if first_words[:1] == ("exit",):
            may_not_run = may_not_run or "after an exit in the same cell"
        elif first_words[:1] in (("source",), (".",)) or first_words[1:2] == ("activate",):
            may_not_run = may_not_run or "after an environment is activated in the same cell"
        elif first_words[:1] == ("set",) and any(_ERREXIT.fullmatch(w) for w in first_words[1:]):
            errexit = True
        elif errexit and site is None:
            may_not_run = may_not_run or "may not run: set -e, and an earlier command may fail"
        for part in line.parts:
            if part.words[:1] and part.words[0] in _SHELL_CHDIR:
                directory_changed = True
            if part.words[:1] == ("export",):
                exported = True
        for delimiter in line.heredocs:
            # Skip the here-document body: data, not commands.
            while index < len(lines) and lines[index].strip() != delimiter.strip("'\""):
                index += 1
            index += 1
    return sites


_ERREXIT = re.compile(r"-[a-z]*e[a-z]*|errexit")


def _end_of_quoted(lines: Sequence[str], start: int, end: int) -> int:
    """Where a command whose quotes do not close on its line ends: the first line after which
    they do, or the cell's end."""
    for stop in range(end + 1, len(lines) + 1):
        try:
            parse_line("".join(lines[start:stop]).rstrip("\r\n"), passes=0)
        except ShellSyntaxError:
            continue
        return stop
    return len(lines)


def _continued(line: str) -> bool:
    body = line.rstrip("\r\n")
    return (len(body) - len(body.rstrip("\\"))) % 2 == 1


def find_installs(
    sources: Sequence[str | None], opted_out: Mapping[int, str] | None = None
) -> tuple[InstallSite, ...]:
    """Scan a notebook's cells in order; sources[i] is cell i's source, None if not code.

    Returns sites in notebook order. Earlier cells matter: a `%cd`, `os.chdir` or `git clone`
    makes later relative `-r` files stay, and so does a file the notebook writes.
    `opted_out` maps the cells that opt out (`optouts.cell_reasons`) to the reason: all their
    installs stay, as do those a `# nbsetup: skip` comment marks in any cell.
    """
    return _find_installs(tuple(sources), tuple(sorted((opted_out or {}).items())))


# The result depends on the sources and the cells that opt out alone and is immutable, so it
# is kept for a few calls: the safety check asks again about the cells the transform has just
# scanned, and gets the same answer without scanning them a second time.
@functools.lru_cache(maxsize=8)
def _find_installs(
    sources: tuple[str | None, ...], opted_out: tuple[tuple[int, str], ...]
) -> tuple[InstallSite, ...]:
    # Blocks, and the definitions they read, are looked for only in a notebook that may hold
    # one: elsewhere parsing every cell for its assignments would find nothing to move.
    state = _State(blocks=any(s and blocks.may_hold_install_block(s) for s in sources))
    sites: list[InstallSite] = []
    reasons = dict(opted_out)
    for cell, source in enumerate(sources):
        if not source:
            continue
        if not _relevant(source) and not (state.blocks and blocks.may_hold_block(source)):
            if _named(state, source):
                _forget_reassigned(cell, (), blocks.assignments(source), state)
            state.seen.append(source)
            continue
        _scan_cell(cell, source, state, sites, reasons.get(cell))
        state.seen.append(source)
    # Definitions join the notebook order of the block that needs them.
    return tuple(sorted(sites, key=lambda site: (site.cell, site.start)))


def _scan_cell(
    cell: int, source: str, state: _State, sites: list[InstallSite], why: str | None
) -> None:
    """One code cell: a Python cell, or a shell, Python or `%%writefile` cell magic; `why`:
    the reason the cell opts out, if it does."""
    lines = source.splitlines(keepends=True)
    scan = scan_cell(source)
    if scan.cell_magic is None or scan.magic_line is None:
        sites.extend(_python_cell(cell, lines, source, scan, state, why))
        return
    name, options = scan.cell_magic
    first = scan.magic_line + 1
    script = options.split()[:1]
    if name in SHELL_CELL_MAGICS:
        sites.extend(_shell_cell(cell, lines, first, options, f"%%{name}", state, why))
    elif name == "script" and script and _SCRIPT_SHELLS.match(script[0]):
        rest = " ".join(options.split()[1:])
        sites.extend(_shell_cell(cell, lines, first, rest, "%%script", state, why))
    elif name in PYTHON_CELL_MAGICS:
        sites.extend(_python_cell(cell, lines, source, scan, state, why))
    elif name == "writefile" and options.split():
        state.written.add(posixpath.basename(options.split()[-1]))
