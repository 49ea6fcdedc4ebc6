"""One environment-cell line per hoisted install command: the notebook's text, pins spliced in.

R1 (DESIGN "Hoisting rules"): each install command keeps its own line, tool, prefix, options
and requirement strings as the notebook wrote them. A pin changes only the requirement it
pins: the pinned requirement, quoted for the line's kind (`quoting`), replaces that word's
span in the written text::

    !pip install -v "huggingface_hub>=1.5.0,<2.0" torch  # for the demo
    → !pip install -v "huggingface_hub==1.6.0" torch  # for the demo   (with that pin)

A command that was not a line of its own (a `%%bash` body line, an `os.system` call) is
rendered from its words in the closest line form, and that normalisation is reported
(`CommandLine.normalised`), as are `-q` from `quiet-install` and `installer = "uv"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from packaging.requirements import InvalidRequirement, Requirement

from nbsetup import comments, install_lines, quoting
from nbsetup.install_lines import InstallLine, LineStyle, PinNote
from nbsetup.installs.arguments import SYS_EXECUTABLE
from nbsetup.installs.records import InstallCommand, LineKind, Written
from nbsetup.sources.requirements_txt import Pins

_QUIET = frozenset({"-q", "-qq", "-qqq", "--quiet"})


@dataclass(frozen=True)
class CommandLine:
    """The environment cell's line for one command, and what the pin policy said about it."""

    text: str
    command: InstallCommand
    #: What the line installs, for the guard and the preloaded-package check (None: an
    #: `apt-get update`, which installs nothing).
    line: InstallLine | None
    #: Why the text is not the notebook's own (empty: exactly as written).
    normalised: tuple[str, ...] = ()
    notes: tuple[PinNote, ...] = ()


def render(command: InstallCommand, pins: Pins, style: LineStyle) -> CommandLine:
    """The line of one hoisted command, pinned requirement by requirement."""
    original = command
    written = command.written
    if command.words[:1] == (SYS_EXECUTABLE,):
        # `!{sys.executable} -m pip` needs `sys` imported, which the environment cell, running
        # first, cannot promise: `%pip` installs into the same interpreter.
        why = "{sys.executable} -m pip written as %pip (sys may not be imported yet)"
        written = Written(None, "%pip", normalised=why)
        command = replace(command, written=written)
    normalised = [written.normalised] if written and written.normalised else []
    if command.action != "install":
        return CommandLine(_text(command, command.words, style), original, None, tuple(normalised))
    results: list[tuple[str, ...]] = []
    notes: list[PinNote] = []
    for text in command.requirements:
        result, found = _pin(command, text, pins)
        results.append(result)
        notes += found
    manager = "pip" if command.manager == "uv" else command.manager
    line = InstallLine(
        manager,
        install_lines.canonical_options(manager, command.options),
        tuple(r for result in results for r in result),
        command.requirement_files,
        command.constraint_files,
    )
    if command.manager == "pip" and style.installer == "uv":
        normalised.append("written as a uv pip line (installer = uv)")
        text = _with_comment(install_lines.render_line(line, style), command)
        return CommandLine(text, original, line, tuple(normalised), tuple(notes))
    quiet = (
        style.quiet
        and command.manager in ("pip", "uv")
        and not any(flag in _QUIET for flag, _ in command.options)
    )
    if quiet:
        normalised.append("-q added (quiet-install)")
    changed = {
        command.requirement_words[i]: result
        for i, (text, result) in enumerate(zip(command.requirements, results, strict=True))
        if result != (text,)
    }
    if written is not None and written.text is not None and (written.spans or not changed):
        text = _splice(written.text, written.kind, command, changed, quiet)
    else:
        words: list[str] = []
        for index, word in enumerate(command.words):
            words += changed.get(index, (word,))
            if quiet and index == command.action_word:
                words.append("-q")
        text = _text(command, words, style)
        if text != (written.text if written is not None else None):
            text = _with_comment(text, command)
    return CommandLine(text, original, line, tuple(normalised), tuple(notes))


def _with_comment(text: str, command: InstallCommand) -> str:
    """A line rendered anew from a command's words, with the trailing comment the notebook's
    line had (comments are never deleted: `!pip install x  # why` keeps `# why`)."""
    written = command.written
    if written is None or written.text is None:
        return text
    if written.spans:
        rest = written.text[written.spans[-1][1] :].lstrip()
        comment = rest if rest.startswith("#") else None
    else:
        found = comments.comments(written.text)
        comment = found[-1] if found else None
    return f"{text}  {comment}" if comment else text


def _pin(command: InstallCommand, text: str, pins: Pins) -> tuple[tuple[str, ...], list[PinNote]]:
    """The requirement strings that replace `text`, and the pin policy's notes on it.

    The policy (`install_lines.resolve`) runs on the one requirement. Unless a pin applies,
    the notebook's text stays as written (the policy would print it canonically).
    """
    single = replace(command, requirements=(text,), requirement_files=(), constraint_files=())
    resolution = install_lines.resolve([single], pins)
    notes = list(resolution.notes)
    result = resolution.lines[0].requirements if resolution.lines else (text,)
    # A requirement that is already what the pin gives (one of its marker variants, written
    # by an earlier run) stays as written.
    if not any(note.kind == "pinned" for note in notes) or _canonical(text) in result:
        result = (text,)
    return result, notes


def _canonical(text: str) -> str:
    try:
        return str(Requirement(text))
    except InvalidRequirement:
        return text


def _splice(
    text: str,
    kind: LineKind,
    command: InstallCommand,
    changed: dict[int, tuple[str, ...]],
    quiet: bool,
) -> str:
    """`text` with each changed word replaced by its quoted requirements, `-q` after `install`."""
    assert command.written is not None
    spans = command.written.spans
    edits = [
        (spans[i][0], spans[i][1], " ".join(_quoted(kind, r) for r in new))
        for i, new in changed.items()
    ]
    if quiet:
        end = spans[command.action_word][1]
        edits.append((end, end, " -q"))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _quoted(kind: LineKind, word: str) -> str:
    """One word as a line of `kind` must carry it."""
    if kind == "!":
        return quoting.shell_line([word])[1:]
    if kind in ("%pip", "%uv"):
        return quoting.pip_magic_line([word])[len("%pip ") :]
    magic = kind[1:]
    return quoting.conda_magic_line([word], magic)[len(magic) + 2 :]


def _text(command: InstallCommand, words: Sequence[str], style: LineStyle) -> str:
    """A command's line rendered from its words (or its written text, when unchanged)."""
    written = command.written
    if written is not None and written.text is not None and list(words) == list(command.words):
        return written.text
    kind: LineKind = written.kind if written is not None else "!"
    rest = list(words[command.action_word :])
    if kind == "%pip" and command.manager == "uv":
        return quoting.uv_magic_line(["pip", *rest])
    if kind == "%pip":
        if style.pip == "!pip":
            return quoting.shell_line(["pip", *rest])
        return quoting.pip_magic_line(rest)
    if kind == "%uv":
        return quoting.uv_magic_line(["pip", *rest])
    if kind == "!":
        return quoting.shell_line(words)
    return quoting.conda_magic_line(rest, kind[1:])
