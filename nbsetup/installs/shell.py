"""Shell command lines → install commands: tokenising, chains, and pip/uv/conda/apt arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from packaging.requirements import InvalidRequirement, Requirement

from nbsetup import quoting
from nbsetup.installs.arguments import Word, parse_command
from nbsetup.installs.records import InstallCommand, Written

_OPERATORS = ("&&", "||", ";;", "|&", ";", "|", "&", "(", ")")
_REDIRECT = re.compile(r"(\d*)(&>>|&>|>>|>&|>\||<<<|<<-|<<|<&|<>|>|<)")
_META = frozenset(" \t\r\n;&|()<>")
# A run of characters that stand for themselves in a word: not `_META`, quotes, escapes or
# the start of an expansion. Taken in one step; the scan goes character by character only
# where the shell's rules need it.
_PLAIN_RUN = re.compile(r"[^ \t\r\n;&|()<>\\'\"$`]+")
_SHELL_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*|\d)")

_COMPOUND_WORDS = frozenset(
    {"if", "then", "elif", "else", "fi", "for", "while", "until", "do", "done", "case", "{"}
)
_RESERVED_PREFIXES = frozenset({"then", "do", "else", "{", "!", "time"})


class ShellSyntaxError(ValueError):
    """Quotes or substitutions that do not close."""


@dataclass(frozen=True)
class _Redirect:
    op: str
    target: str
    start: int
    end: int
    #: Written against the previous word, as in `pkg>=1.0`: a version spec the shell misread.
    glued: bool


@dataclass(frozen=True)
class _Operator:
    op: str
    start: int
    end: int


_Token = Word | _Redirect | _Operator


@dataclass(frozen=True)
class Part:
    """One `&&`/`;`-separated piece of a line (a pipeline), with its install command if any."""

    start: int
    end: int
    #: The operator before this part (`&&` or `;`), None for the first part.
    separator: str | None
    #: Unquoted words of the pipeline's first command, for state such as `cd` or `git clone`.
    words: tuple[str, ...]
    #: Files the part writes through `>`/`>>` redirections.
    writes: tuple[str, ...]
    command: InstallCommand | None = None
    #: How the install was spelled (`pip`, `python -m pip`, `sudo apt-get`), for the form.
    program: str | None = None


@dataclass(frozen=True)
class ShellLine:
    """A shell command line split into parts; `reason` is set when the whole line must stay."""

    text: str
    parts: tuple[Part, ...]
    reason: str | None
    #: Offset of a trailing `# comment`, or None.
    comment: int | None
    #: Here-document delimiters (`<<EOF`): the following lines are data, not commands.
    heredocs: tuple[str, ...] = ()


def _word_reason(raw: str, passes: int) -> str | None:
    if ("$(" in raw or "`" in raw) and _substitutes(raw):
        return "uses command substitution"
    variable = _SHELL_VARIABLE.search(raw)
    if variable:
        return f"uses the shell variable ${variable.group(1)}"
    field = quoting.python_field(raw, passes)
    if field is not None and field.strip() != "sys.executable":
        return f"uses the Python variable {{{field}}}"
    return None


def _substitutes(raw: str) -> bool:
    """Whether the shell runs a `$(...)` or a backquoted command in this word: outside single
    quotes, not escaped by a backslash (inside single quotes both are literal text)."""
    quote = None
    i = 0
    while i < len(raw):
        char = raw[i]
        if quote == "'":
            quote = None if char == "'" else quote
        elif char == "\\":
            i += 1  # the next character is literal (also inside double quotes, for these)
        elif char == "`" or raw.startswith("$(", i):
            return True
        elif char == '"':
            quote = None if quote == '"' else '"'
        elif char == "'" and quote is None:
            quote = "'"
        i += 1
    return False


def _skip_balanced(text: str, i: int, close: str) -> int:
    """Index after the `close` matching an opener just before `i`, skipping quoted text."""
    opener = {")": "(", "}": "{"}.get(close)
    depth = 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char in "'\"`" and close != char:
            end = text.find(char, i + 1)
            if end == -1:
                raise ShellSyntaxError(char)
            i = end + 1
            continue
        if char == close:
            depth -= 1
            if depth == 0:
                return i + 1
        elif char == opener:
            depth += 1
        i += 1
    raise ShellSyntaxError(close)


def _continuation(text: str, i: int) -> int:
    """Length of the line continuation (a backslash, then LF or CRLF) at `i`, else 0."""
    if text.startswith("\\\n", i):
        return 2
    if text.startswith("\\\r\n", i):
        return 3
    return 0


def _substitution_end(text: str, i: int, braces: bool) -> int | None:
    """End of the `$(...)`, backquoted or (with `braces`) `${...}` expansion at `i`, if any.

    The expansion is kept verbatim in the word; `_word_reason` then says why it cannot move.
    """
    if text.startswith("$(", i):
        return _skip_balanced(text, i + 2, ")")
    if braces and text.startswith("${", i):
        return _skip_balanced(text, i + 2, "}")
    if text.startswith("`", i):
        return _skip_balanced(text, i + 1, "`")
    return None


def _read_word(text: str, i: int, passes: int) -> tuple[Word, int]:
    start = i
    out: list[str] = []
    while i < len(text) and text[i] not in _META:
        char = text[i]
        if char == "\\":
            if (skip := _continuation(text, i)) > 0:
                i += skip
                continue
            out.append(text[i + 1 : i + 2])
            i += 2
        elif char == "'":
            end = text.find("'", i + 1)
            if end == -1:
                raise ShellSyntaxError("'")
            out.append(text[i + 1 : end])
            i = end + 1
        elif char == '"':
            i += 1
            while True:
                if i >= len(text):
                    raise ShellSyntaxError('"')
                char = text[i]
                if char == '"':
                    i += 1
                    break
                if (skip := _continuation(text, i)) > 0:
                    i += skip
                elif char == "\\" and text[i + 1 : i + 2] in ('"', "\\", "$", "`"):
                    out.append(text[i + 1])
                    i += 2
                elif (stop := _substitution_end(text, i, braces=False)) is not None:
                    out.append(text[i:stop])
                    i = stop
                else:
                    out.append(char)
                    i += 1
        elif (plain := _PLAIN_RUN.match(text, i)) is not None:
            out.append(plain.group())
            i = plain.end()
        elif (stop := _substitution_end(text, i, braces=True)) is not None:
            out.append(text[i:stop])
            i = stop
        else:
            out.append(char)
            i += 1
    raw = text[start:i]
    reason = _word_reason(raw, passes)
    word = "".join(out)
    # IPython's `{{`/`}}` escapes, undone once per pass (a word with a field is left as is).
    literal = quoting.expand_literal(word, passes) if reason is None else None
    return Word(word if literal is None else literal, start, i, reason), i


def tokenize(text: str, passes: int) -> tuple[list[_Token], int | None]:
    """Split a shell line into words, operators and redirections; also return a comment offset.

    `passes` is how often IPython expands `{expr}` before the shell sees the text: once for
    `!` lines, twice for `%pip`/`%uv` (`quoting`), never for `os.system`.
    Raises ShellSyntaxError on unclosed quotes or substitutions.
    """
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t\r\n":
            i += 1
        elif (skip := _continuation(text, i)) > 0:
            i += skip
        elif char == "#":
            return tokens, i
        elif (redirect := _REDIRECT.match(text, i)) is not None:
            target_start = redirect.end()
            while target_start < len(text) and text[target_start] in " \t":
                target_start += 1
            target = Word("", target_start, target_start)
            if target_start < len(text) and text[target_start] not in _META:
                target, _ = _read_word(text, target_start, passes)
            glued = (
                not redirect.group(1)
                and bool(tokens)
                and isinstance(tokens[-1], Word)
                and tokens[-1].end == i
            )
            tokens.append(_Redirect(redirect.group(2), target.text, i, target.end, glued))
            i = max(target.end, redirect.end())
        elif op := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            tokens.append(_Operator(op, i, i + len(op)))
            i += len(op)
        else:
            word, i = _read_word(text, i, passes)
            tokens.append(word)
    return tokens, None


def _split(tokens: list[_Token]) -> list[tuple[str | None, list[_Token]]]:
    pieces: list[tuple[str | None, list[_Token]]] = [(None, [])]
    for token in tokens:
        if isinstance(token, _Operator) and token.op in ("&&", ";"):
            pieces.append((token.op, []))
        else:
            pieces[-1][1].append(token)
    return [(separator, piece) for separator, piece in pieces if piece]


def _part(separator: str | None, tokens: list[_Token]) -> Part:
    """Build one `&&`/`;` piece: a pipeline whose first command may be an install."""
    commands: list[list[Word]] = [[]]
    # The operator before each command: a pipe feeds it, `||`/`(` make the line stay anyway.
    joins: list[str | None] = [None]
    redirects: list[_Redirect] = []
    for token in tokens:
        if isinstance(token, _Operator):
            commands.append([])
            joins.append(token.op)
        elif isinstance(token, _Redirect):
            redirects.append(token)
        else:
            commands[-1].append(token)
    writes = tuple(r.target for r in redirects if r.op in (">", ">>", "&>", "&>>", ">|"))
    start, end = tokens[0].start, tokens[-1].end
    words = tuple(word.text for word in commands[0])
    # `then pip install x` (in `if ...; then pip install x; fi`) runs `pip install x`.
    leading = 0
    while leading < len(words) and words[leading] in _RESERVED_PREFIXES:
        leading += 1
    found = parse_command(commands[0][leading:])
    reason = None
    if found is None:
        pairs = zip(commands[1:], joins[1:], strict=True)
        later = [(j, f) for c, j in pairs if (f := parse_command(c)) is not None]
        if not later:
            return Part(start, end, separator, words, writes)
        join, found = later[0]
        if join in ("|", "|&"):
            reason = "reads its input from a pipe"
    command, program = found
    glued = next((r for r in redirects if r.glued and r.op in (">", "<", ">>")), None)
    if reason is None and glued is not None and leading == 0:
        repaired = _repair_redirects(commands[0], redirects)
        if repaired is not None:
            return Part(start, end, separator, words, (), *repaired)
    if reason is None and glued is not None:
        # `pip install pkg>=1.0` runs `pip install pkg` with stdout sent to a file named
        # `=1.0`, and `pkg<2` reads stdin from a file `2` (usually missing, so it fails).
        # Neither hoisting `pkg` (drops the intended bound) nor hoisting `pkg>=1.0` (not
        # what the cell ran) keeps the meaning: the line stays and the user quotes it.
        reason = f"unquoted '{glued.op[0]}' is a shell redirect"
    if reason is not None:
        command = replace(command, movable=False, reason=reason)
    return Part(start, end, separator, words, writes, command, program)


def _repair_redirects(
    words: list[Word], redirects: list[_Redirect]
) -> tuple[InstallCommand, str] | None:
    """`pip install pkg>=1.2` read as the author meant it: `pkg>=1.2`, quoted on rewrite.

    As written, the shell installs `pkg` unpinned and sends pip's output to a file `=1.2`
    (`pkg<2` reads its input from a file `2`). Each redirect glued to a word is joined back to
    it; the repair applies only when every joined word is a pip requirement and the command is
    a pip install. Returns the command (with `repaired` saying what the original did) and its
    program's spelling, or None.
    """
    glued = {r.start: r for r in redirects}
    joined: list[Word] = []
    effects: list[str] = []
    for word in words:
        text, end = word.text, word.end
        while end in glued and glued[end].target:
            redirect = glued.pop(end)
            what = "wrote pip's output to" if redirect.op[0] == ">" else "read its input from"
            effects.append(f"{what} a file named {redirect.target!r}")
            text, end = text + redirect.op + redirect.target, redirect.end
        if end != word.end:
            try:
                Requirement(text)
            except InvalidRequirement:
                return None
        joined.append(Word(text, word.start, end, word.reason))
    if glued or not effects:
        return None
    found = parse_command(joined)
    if found is None or found[0].manager not in ("pip", "uv") or found[0].action != "install":
        return None
    command, program = found
    names = [text for text in command.requirements if any(c in text for c in "<>")]
    message = (
        f"unquoted {', '.join(names)}: as written, the shell installed "
        f"{' '.join(_bare(text) for text in names)} unpinned and {'; '.join(effects)}"
    )
    written = Written(None, "!", normalised="quoted the requirement the shell read as a redirect")
    return replace(command, repaired=message, written=written), program


def _bare(text: str) -> str:
    return Requirement(text).name


def parse_line(text: str, passes: int) -> ShellLine:
    """Split a shell line at `&&`/`;` and recognise each part; mark lines that must stay whole.

    `pip install x && python run.py` → two parts, the first with an InstallCommand.
    Raises ShellSyntaxError when quotes do not close.
    """
    tokens, comment = tokenize(text, passes)
    parts = tuple(_part(separator, piece) for separator, piece in _split(tokens))
    reason = None
    operators = {token.op for token in tokens if isinstance(token, _Operator)}
    if any(part.command for part in parts):
        if "(" in operators or ")" in operators:
            reason = "runs in a subshell"
        elif "||" in operators or ";;" in operators:
            reason = "conditional shell chain"
        elif "&" in operators:
            reason = "runs in the background"
        elif any(part.words[:1] and part.words[0] in _COMPOUND_WORDS for part in parts):
            reason = "inside a shell compound command"
    heredocs = tuple(
        t.target for t in tokens if isinstance(t, _Redirect) and t.op[:3] in ("<<", "<<-")
    )
    return ShellLine(text, parts, reason, comment, heredocs)
