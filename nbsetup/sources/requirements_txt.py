"""Read pip requirements files into pins, and find the requirements file of a notebook.

The format is pip's (https://pip.pypa.io/en/stable/reference/requirements-file-format/):
lines ending in an unescaped backslash continue on the next line, unless the next line is a
comment; a `#` at the start of a line or after whitespace starts a comment, stripped after the
lines are joined; `-r`/`-c` include other files relative to the including file; `--hash` and
`--config-settings` apply to the requirement on their line; other options apply to the whole
install. `${VAR}` references are kept as written (pip expands them at install time).

The records (`Pins`, `RequirementEntry`, `RequirementsError`, `merge_pins`) live in
`nbsetup.pins` and are re-exported here; the other pin sources are read by `nbsetup.sources`.
"""

from __future__ import annotations

import codecs
import contextlib
import os.path
import re
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from nbsetup import files
from nbsetup.pins import (
    Pins,
    RequirementEntry,
    RequirementsError,
    invalid_reason,
    merge_pins,
)

#: Options that take a value and apply to the whole install (pip's `SUPPORTED_OPTIONS`).
GLOBAL_VALUE_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--no-binary": "--no-binary",
    "--only-binary": "--only-binary",
    "--trusted-host": "--trusted-host",
    "--use-feature": "--use-feature",
}
#: Flags that apply to the whole install.
GLOBAL_FLAGS = frozenset({"--no-index", "--pre", "--prefer-binary", "--require-hashes"})
#: Options scoped to the requirement on their line.
REQUIREMENT_OPTIONS = frozenset({"--hash", "--config-settings", "--global-option"})
_INCLUDE_OPTIONS = {
    "-r": "--requirement",
    "--requirement": "--requirement",
    "-c": "--constraint",
    "--constraint": "--constraint",
}
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
_VALUE_OPTIONS = (
    frozenset(GLOBAL_VALUE_OPTIONS) | REQUIREMENT_OPTIONS | frozenset(_INCLUDE_OPTIONS)
) | _EDITABLE_OPTIONS

# pip's comment rule: `#` at the start of the line or after whitespace.
_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_URL_RE = re.compile(r"^(?:[a-z][a-z0-9]*\+)?[a-z][a-z0-9.+-]*://", re.IGNORECASE)
_EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9_.+-]+)")
_WHEEL_RE = re.compile(r"([A-Za-z0-9_.]+?)-[^-/\\]+(?:-[^-/\\]+){2,3}\.whl$", re.IGNORECASE)
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")

#: How deep `-r`/`-c` includes may nest; pip has no limit, but each level costs three stack
#: frames here, and no real project nests more than a handful.
MAX_INCLUDE_DEPTH = 64
#: Words in the name of a file meant as a pin file (`requirements-dev.txt`, `constraints.in`,
#: `environment.yml`), besides the suffixes below: a malformed line of such a file is quoted in
#: its error, while one of any other file (`.env`, `/etc/shadow`) is not, as it may be a secret.
_PIN_FILE_WORDS = ("requirements", "constraints", "environment")
_PIN_FILE_SUFFIXES = (".txt", ".in", ".pip")
_TEXT_NOT_SHOWN = (
    "not a valid requirements line (its text is not shown: the file is not named like a "
    "requirements file)"
)

Reader = Callable[[str], str]


def parse_requirements(text: str, origin: str, read: Reader) -> Pins:
    """Parse requirements text; `read(path)` returns the text of an included file.

    `read` raises `OSError` (or `RequirementsError`) when a file cannot be read. Include paths
    are joined to the directory of the including file's origin, as pip does.
    """
    parser = _Parser(read)
    parser.parse(text, origin, constraint=False, stack=(_normalise(origin),))
    return Pins(tuple(parser.entries), tuple(parser.options), tuple(parser.files))


def load_requirements(path: Path) -> Pins:
    """Read a requirements file and the files it includes."""
    try:
        text = read_file(str(path))
    except OSError as error:
        raise RequirementsError(str(path), f"cannot read file: {os_error_reason(error)}") from None
    return parse_requirements(text, str(path), read_file)


def read_file(path: str) -> str:
    """Decode a requirements file as pip does: BOM, then a PEP 263 comment, then UTF-8.

    The reader for `parse_requirements`: raises `OSError` for a file that cannot be read.
    """
    if _URL_RE.match(path):
        raise OSError("remote requirements files are not supported")
    return _decode(read_pin_bytes(Path(path)), path)


def read_pin_bytes(path: Path) -> bytes:
    """The bytes of a pin file: a regular file of at most 32 MiB (`files.MAX_PIN_FILE_BYTES`).

    A FIFO or a device (`-r /dev/zero`) is refused from its type, before any read: `OSError`.
    """
    return files.read_regular(path, files.MAX_PIN_FILE_BYTES)


def os_error_reason(error: OSError) -> str:
    """`No such file or directory`, without the errno and path `str(OSError)` adds."""
    return files.reason(error)


def named_like_pin_file(origin: str) -> bool:
    """Whether a file's name says it holds pins, so its lines may be quoted in errors."""
    name = os.path.basename(origin).lower()
    return name.endswith(_PIN_FILE_SUFFIXES) or any(word in name for word in _PIN_FILE_WORDS)


# Longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_CODING_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def _decode(data: bytes, origin: str) -> str:
    """Text of a requirements file's bytes."""
    encoding = "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            data, encoding = data[len(bom) :], name
            break
    else:
        for raw_line in data.splitlines()[:2]:
            match = _CODING_RE.match(raw_line)
            if match:
                encoding = match.group(1).decode("ascii")
                break
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise RequirementsError(origin, f"cannot decode file as {encoding}") from None


def _normalise(path: str) -> str:
    return os.path.normpath(path)


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, joined line) pairs with comments and blank lines removed."""
    pending: list[str] = []
    start = 0
    lines = text.removeprefix("\ufeff").splitlines()
    for number, line in enumerate(lines, start=1):
        is_comment = _COMMENT_RE.match(line) is not None
        if line.endswith("\\") and not is_comment:
            if not pending:
                start = number
            pending.append(line[:-1])
            continue
        if pending:
            # A comment line ends the continuation, as in pip-compile's `# via` lines; the
            # leading space makes the comment rule match after joining.
            pending.append(" " + line if is_comment else line)
            yield start, "".join(pending)
            pending = []
        else:
            yield number, line
    if pending:
        yield start, "".join(pending)


def _clean(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    for number, line in lines:
        stripped = _COMMENT_RE.sub("", line).strip()
        if stripped:
            yield number, stripped


def _split_line(line: str) -> tuple[str, str]:
    """Split a line into its requirement text and its options, at the first `-` token.

    Only the options go through shlex: markers hold quotes that shlex would eat.
    """
    tokens = line.split()
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), " ".join(tokens[index:])
    return " ".join(tokens), ""


def _parse_options(text: str) -> list[tuple[str, str | None]]:
    """(flag, value) pairs of an option string; raises ValueError with a user-ready reason."""
    try:
        tokens = shlex.split(text)
    except ValueError as error:
        raise ValueError(f"cannot split options: {str(error).lower()}") from None
    pairs: list[tuple[str, str | None]] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        flag, equals, value = token.partition("=")
        if flag.startswith("--") and flag in _VALUE_OPTIONS | GLOBAL_FLAGS:
            if flag in GLOBAL_FLAGS:
                if equals:
                    raise ValueError(f"option '{flag}' takes no value")
                pairs.append((flag, None))
                continue
            if not equals:
                if position == len(tokens):
                    raise ValueError(f"option '{flag}' requires a value")
                value = tokens[position]
                position += 1
            pairs.append((flag, value))
        elif not token.startswith("--") and token[:2] in _VALUE_OPTIONS:
            # Short options take their value attached (`-rfile`) or as the next token.
            value = token[2:]
            if not value:
                if position == len(tokens):
                    raise ValueError(f"option '{token}' requires a value")
                value = tokens[position]
                position += 1
            pairs.append((token[:2], value))
        else:
            raise ValueError(f"unknown option '{flag}'")
    return pairs


class _Parser:
    """Accumulates entries, global options and files over a tree of includes."""

    def __init__(self, read: Reader) -> None:
        self.read = read
        self.entries: list[RequirementEntry] = []
        self.options: list[str] = []
        self.files: list[str] = []
        # Each file is parsed once as requirements and once as constraints at most: included
        # again (a diamond, `a` and `b` both including `c`), it adds nothing its first
        # inclusion did not, and re-parsing makes 30 levels of diamonds 2**30 parses.
        self.parsed: set[tuple[str, bool]] = set()

    def parse(self, text: str, origin: str, constraint: bool, stack: tuple[str, ...]) -> None:
        self.parsed.add((_normalise(origin), constraint))
        self.files.append(origin)
        for number, line in _clean(_logical_lines(text)):
            self._parse_line(line, origin, number, constraint, stack)

    def _parse_line(
        self, line: str, origin: str, number: int, constraint: bool, stack: tuple[str, ...]
    ) -> None:
        text, option_text = _split_line(line)
        try:
            pairs = _parse_options(option_text)
        except ValueError as error:
            raise RequirementsError(origin, _shown(str(error), origin), number) from None
        editable = [value for flag, value in pairs if flag in _EDITABLE_OPTIONS]
        if text or editable:
            is_editable = not text
            text = text or str(editable[0])
            per_line = tuple(
                token
                for flag, value in pairs
                if flag in REQUIREMENT_OPTIONS
                for token in (flag, str(value))
            )
            try:
                entry = _entry(text, origin, number, per_line, is_editable, constraint)
            except RequirementsError as error:
                raise RequirementsError(origin, _shown(error.reason, origin), number) from None
            self.entries.append(entry)
            return
        for flag, value in pairs:
            assert value is not None or flag in GLOBAL_FLAGS
            if flag in _INCLUDE_OPTIONS:
                self._include(str(value), flag, origin, number, constraint, stack)
            elif flag in GLOBAL_FLAGS:
                self.options.append(flag)
            elif flag in GLOBAL_VALUE_OPTIONS:
                self.options.extend((GLOBAL_VALUE_OPTIONS[flag], str(value)))
            # `--hash` without a requirement: pip warns and ignores it.

    def _include(
        self,
        target: str,
        flag: str,
        origin: str,
        number: int,
        constraint: bool,
        stack: tuple[str, ...],
    ) -> None:
        path = target
        if not _URL_RE.match(target) and not _URL_RE.match(origin):
            # Lexically normalised, as pip's abspath is, so `./b.txt` is reported as `b.txt`.
            path = _normalise(os.path.join(os.path.dirname(origin), target))
        key = _normalise(path)
        if key in stack:
            chain = " -> ".join((*stack[stack.index(key) :], key))
            raise RequirementsError(origin, f"include cycle: {chain}", number)
        # As in pip, `-r` inside a constraints file reads requirements, `-c` constraints.
        nested_constraint = _INCLUDE_OPTIONS[flag] == "--constraint"
        if (key, nested_constraint) in self.parsed:
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            reason = f"includes nested more than {MAX_INCLUDE_DEPTH} levels deep at '{target}'"
            raise RequirementsError(origin, reason, number)
        try:
            included = self.read(path)
        except OSError as error:
            raise RequirementsError(
                origin, f"cannot read '{target}': {os_error_reason(error)}", number
            ) from None
        self.parse(included, path, nested_constraint, (*stack, key))


def _shown(reason: str, origin: str) -> str:
    """`reason`, unless it may quote a secret: the line of a file not named as a pin file."""
    return reason if named_like_pin_file(origin) else _TEXT_NOT_SHOWN


def _entry(
    text: str,
    origin: str,
    number: int,
    options: tuple[str, ...],
    editable: bool,
    constraint: bool,
) -> RequirementEntry:
    """Build the entry for a requirement text, telling PEP 508 from URLs and local paths."""
    location, _, marker = text.partition(" ;")
    location = location.strip()
    requirement: Requirement | None = None
    if _URL_RE.match(text):
        name = _url_name(location)
        if name is not None:
            marker_text = f" ; {marker.strip()}" if marker.strip() else ""
            with contextlib.suppress(InvalidRequirement):
                requirement = Requirement(f"{name} @ {location}{marker_text}")
    else:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            if not (editable or _is_path(location)):
                raise RequirementsError(origin, invalid_reason(text, error), number) from None
            # A local directory or archive: only a wheel file name tells the project.
            name = _url_name(location)
        else:
            name = requirement.name
    return RequirementEntry(
        text,
        requirement,
        canonicalize_name(name) if name else None,
        origin,
        number,
        options,
        editable,
        constraint,
    )


def _is_path(text: str) -> bool:
    return (
        text.startswith((".", "/", "~"))
        or "/" in text
        or "\\" in text
        or text.lower().endswith(_ARCHIVE_SUFFIXES)
    )


def _url_name(text: str) -> str | None:
    """Project name from an `#egg=` fragment or a wheel file name, if any."""
    egg = _EGG_RE.search(text)
    if egg:
        return egg.group(1).split("[")[0]
    wheel = _WHEEL_RE.search(text.split("#")[0].split("?")[0])
    if wheel:
        return wheel.group(1).rsplit("/", 1)[-1]
    return None


__all__ = [
    "Pins",
    "RequirementEntry",
    "RequirementsError",
    "load_requirements",
    "merge_pins",
    "named_like_pin_file",
    "os_error_reason",
    "parse_requirements",
    "read_file",
    "read_pin_bytes",
]
