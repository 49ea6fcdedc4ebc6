"""Words → the source of one IPython line, quoted for whoever reads it last: one renderer per kind.

Each kind of line reaches the installer through its own chain of expansions (IPython 7.34, 8.x
and 9.x alike; read in `IPython/core/interactiveshell.py` and `IPython/core/magics/packaging.py`):

- `!cmd` (`!pip`, `!uv pip`, `!conda`, `!mamba`, `!apt-get`, `!sudo apt-get`, ...):
  `shell.system` runs `var_expand` once, then `$SHELL -c`.
- `%pip`, `%uv pip`: `run_line_magic` runs `var_expand` on the arguments, the magic prepends
  `python -m pip` (`-m uv`) and calls `shell.system`, which runs `var_expand` again: two passes.
- `%conda`, `%mamba`, `%micromamba`: `var_expand`, then `shlex.split`, then the words are joined
  with spaces *without quoting* and passed to `shell.system`: a second `var_expand`, then the
  shell. A word the shell must see quoted is therefore quoted twice: `numpy>=1.26` is written
  `'"numpy>=1.26"'` (`shlex.split` removes the outer quotes, the shell the inner ones). Written
  bare, the shell would read `>=1.26` as a redirection and install numpy unpinned.

`var_expand` (`IPython.utils.text.DollarFormatter`) evaluates `{expr}`, turns `{{`/`}}` into
braces, and replaces `$name`/`$name.attr` (`$$name` gives `$name`), except, since IPython 7.34
and 8.0, inside what its quote count takes for single quotes. That count restarts at every
brace, so it is no guide: a rendered line never has a `$` followed by a word character, a dot
or another `$`. Inside single quotes a `$` is written `$''` (the shell drops the empty quotes),
and braces are doubled once per pass, so no field is left: a failed expansion would leave the
whole line unexpanded, doubled braces and all.

Shell quoting assumes a POSIX shell as `$SHELL` (sh, dash, bash, zsh), as IPython's own quoting
of `sys.executable` does. `${NAME}` (capitals, digits, `_`) is pip's environment-variable syntax
in requirements files; such references stay live for the shell to expand, since pip expands
them only in files, not on its command line. A word with a line break (anything
`str.splitlines` splits on, which is what IPython splits cells with) or a NUL cannot be written
on one line at all: `UnsafeWord`.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Sequence

from nbsetup.errors import NbsetupError

#: The conda-like line magics (`%mamba`/`%micromamba` exist from IPython 8.x on).
CONDA_MAGICS = frozenset({"conda", "mamba", "micromamba"})

# shlex.quote's characters that never need quoting, less a leading `=` (zsh's `=cmd`).
_SAFE = re.compile(r"(?!=)[\w@%+=:,./-]+", re.ASCII)
_ENV_REFERENCE = re.compile(r"\$\{[A-Z0-9_]+\}")
# `"..."` keeps its text except `$`, backquote, backslash and `"` itself.
_DOUBLE_QUOTED_SPECIAL = re.compile(r'["`\\$]')
_LINE_BREAKS = frozenset(
    "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
)  # `str.splitlines`'s line boundaries


class UnsafeWord(NbsetupError):
    """A word that no line of the requested kind can pass to the installer unchanged."""


def shell_line(words: Sequence[str]) -> str:
    """A `!` line running `words` (the program first): one `var_expand`, then the shell.

    `["pip", "install", "numpy<2", "x{y}"]` → `!pip install "numpy<2" "x{{y}}"`.
    """
    return "!" + " ".join(_braces(shell_word(word), 1) for word in _checked(words, "!"))


def pip_magic_line(words: Sequence[str]) -> str:
    """A `%pip` line passing `words` to pip: two `var_expand` passes, then the shell.

    `["install", "x{y}"]` → `%pip install "x{{{{y}}}}"`.
    """
    return _magic_line("pip", words)


def uv_magic_line(words: Sequence[str]) -> str:
    """A `%uv` line passing `words` to uv (`["pip", "install", ...]`); quoted as `%pip`."""
    return _magic_line("uv", words)


def conda_magic_line(words: Sequence[str], magic: str = "conda") -> str:
    """A `%conda`/`%mamba`/`%micromamba` line: `var_expand`, `shlex.split`, join, again.

    `["install", "-y", "numpy>=1.26"]` → `%conda install -y '"numpy>=1.26"'`.
    """
    if magic not in CONDA_MAGICS:
        raise ValueError(f"not a conda-like magic: {magic!r}")
    rendered = (
        _braces(shlex.quote(_braces(shell_word(word), 1)), 1)
        for word in _checked(words, f"%{magic}")
    )
    return f"%{magic} " + " ".join(rendered)


def shell_word(word: str) -> str:
    """`word` as POSIX shell text, with no `$` that `var_expand` could take for a name.

    Bare when every character is one the shell leaves alone; in double quotes when only `${NAME}`
    references need the shell (pip's syntax, kept live); otherwise in single quotes, each `$`
    closed off as `$''`, with `${NAME}` references spliced in double quotes.
    """
    if _SAFE.fullmatch(word):
        return word
    if not _DOUBLE_QUOTED_SPECIAL.search(_ENV_REFERENCE.sub("", word)):
        return f'"{word}"'
    pieces: list[str] = []
    position = 0
    for match in _ENV_REFERENCE.finditer(word):
        pieces += [_single_quoted(word[position : match.start()]), f'"{match.group()}"']
        position = match.end()
    pieces.append(_single_quoted(word[position:]))
    return "".join(piece for piece in pieces if piece) or "''"


def expand_literal(text: str, passes: int) -> str | None:
    """`text` after `passes` of `var_expand` on braces; None if a field would be evaluated.

    `expand_literal("x{{{{y}}}}", 2)` is `"x{y}"`; `expand_literal("{{y}}", 2)` is None (the
    second pass evaluates `y`). A malformed format (a lone `{`) is None too: IPython then leaves
    the text as it is. `$name` is not handled here: rendered lines never have one.
    """
    for _ in range(passes):
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            return None
        if any(field is not None for _, field, _, _ in parsed):
            return None
        text = "".join(literal for literal, _, _, _ in parsed)
    return text


def python_field(text: str, passes: int) -> str | None:
    """The first `{field}` that `passes` of `var_expand` would evaluate in `text`, or None."""
    for _ in range(passes):
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            return None
        field = next((field for _, field, _, _ in parsed if field is not None), None)
        if field is not None:
            return field
        text = "".join(literal for literal, _, _, _ in parsed)
    return None


def conda_magic_argv(arguments: str) -> list[str] | None:
    """The words `%conda ARGUMENTS` joins for the shell: one pass, then `shlex.split`.

    None when the arguments hold a field (run-time text) or quotes `shlex` cannot close (the
    magic would fail). `install -y '"numpy>=1.26"'` → `["install", "-y", '"numpy>=1.26"']`.
    """
    expanded = expand_literal(arguments, 1)
    if expanded is None:
        return None
    try:
        return shlex.split(expanded)
    except ValueError:
        return None


def _single_quoted(text: str) -> str:
    if not text:
        return ""
    return shlex.quote(text).replace("$", "$''") if not _SAFE.fullmatch(text) else text


def _braces(text: str, passes: int) -> str:
    """Double every brace once per `var_expand` pass that will read `text`."""
    for _ in range(passes):
        text = text.replace("{", "{{").replace("}", "}}")
    return text


def _magic_line(magic: str, words: Sequence[str]) -> str:
    return f"%{magic} " + " ".join(
        _braces(shell_word(word), 2) for word in _checked(words, f"%{magic}")
    )


def _checked(words: Sequence[str], kind: str) -> Sequence[str]:
    for word in words:
        bad = next((c for c in word if c in _LINE_BREAKS or c == "\0"), None)
        if bad is not None:
            what = "a NUL character" if bad == "\0" else f"a line break ({bad!r})"
            raise UnsafeWord(f"cannot write {word!r} into a {kind} line: it contains {what}")
    return words
