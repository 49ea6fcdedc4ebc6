"""Project settings: `[tool.nbsetup]` in pyproject.toml, defaults, and command-line overrides.

    [tool.nbsetup]
    pin-sources = ["uv.lock", "environment.yml"]  # or one path; earlier wins
    exclude = ["drafts/*", "archive"]
    pin-missing = true
    env-cell-style = "!pip"
    quiet-install = true
    kernels = ["python", "sage"]
    installer = "auto"           # "pip" (default), "uv" or "auto"
    guard = true                 # check versions when the environment cell runs
    header = "# Setup"           # the environment cell's first line; "" for none
    extend-preloaded = ["polars"]  # or `preloaded = [...]` to replace the list
    runtime = "colab"            # "colab", "kaggle", "jupyter" or "auto" (default)
    select = ["NBS"]             # `nbsetup check` rules: codes, prefixes or "ALL"
    ignore = ["NBS005"]
    per-file-ignores = {"drafts/*" = ["NBS002"]}
    output-format = "github"     # the report format when --output-format is not given

    [tool.nbsetup.per-file-settings]    # settings for the files a glob matches
    "legacy/*.ipynb" = { skip = true }  # fix and check leave these notebooks alone
    "colab/*.ipynb" = { guard = true, installer = "auto" }

A notebook's settings come from the nearest pyproject.toml holding a `[tool.nbsetup]` table,
from its directory upwards to the repository root, as black and ruff find theirs. Precedence:
command line > a matching `per-file-settings` table (a later one over an earlier one) >
pyproject.toml > defaults (`for_file`). The nearest table is used whole; tables further up
are not merged into it. The settings that shape the environment cell (`guard`, `installer`,
`env-cell-style`, `quiet-install`, `header`) are None here unless given: the cell keeps what
it records for those (`choices`). `requirements` is the older name of `pin-sources` and is
still read; a table may not set both.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from nbsetup import files, selection
from nbsetup.envcell import INSTALLERS, PIP_STYLES, is_header_text
from nbsetup.errors import NbsetupError
from nbsetup.runtime import AUTO, RUNTIMES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (tests run on 3.11+)
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
#: Report formats (`--output-format`); `fix` takes the first three, `check` all of them.
OUTPUT_FORMATS = ("text", "json", "github", "sarif", "junit", "gitlab")


class ConfigError(NbsetupError):
    """A pyproject.toml that cannot be read, or whose `[tool.nbsetup]` table is not valid."""

    def __init__(self, path: Path, reason: str, key: str | None = None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        #: The `[tool.nbsetup]` key to blame, if one is.
        self.key = key


@dataclass(frozen=True)
class ProjectConfig:
    """nbsetup's settings for the notebooks of one project; the defaults without a table."""

    #: Pin sources (`pin-sources`), absolute; empty: the nearest pin files of each notebook.
    pin_sources: tuple[Path, ...] = ()
    #: Globs of files and directories to skip while walking directories.
    exclude: tuple[str, ...] = ()
    #: Whether a hoisted package that the requirements do not pin fails its notebook.
    pin_missing: bool = False
    #: How the environment cell runs pip: `envcell.PIP_STYLES`, the magic or a shell escape.
    #: This and the other environment-cell choices are None when not given: the cell's own
    #: recorded choice, else the default (`%pip`), applies (`choices.resolve`).
    env_cell_style: str | None = None
    #: Whether the environment cell's install lines pass `-q` (default: no).
    quiet_install: bool | None = None
    #: Kernel languages (lower case) of the notebooks to rewrite; others are skipped.
    kernels: tuple[str, ...] = ("python",)
    #: What runs the pip lines: `envcell.INSTALLERS` (`auto`: pip if the kernel has it, else uv;
    #: default: pip).
    installer: str | None = None
    #: Whether the environment cell checks, when it runs, that the pins took effect (default:
    #: no).
    guard: bool | None = None
    #: The environment cell's first line (`envcell.is_header_text`; "": none; default:
    #: `envcell.DEFAULT_HEADER`).
    header: str | None = None
    #: Distributions the runtime imports before the first cell; None: `runtime.PRELOADED`.
    preloaded: tuple[str, ...] | None = None
    #: Added to `preloaded` (`extend-preloaded`).
    extend_preloaded: tuple[str, ...] = ()
    #: The runtime the notebooks run on (`runtime.RUNTIMES`; `auto`: each notebook's own).
    runtime: str = AUTO
    #: `nbsetup check` rules to report (codes, prefixes, `ALL`); None: every rule.
    select: tuple[str, ...] | None = None
    #: Rules not to report.
    ignore: tuple[str, ...] = ()
    #: Rules not to report in the files matching each glob (relative to `root`).
    #: (`{"drafts/*" = ["NBS002"]}` is `(("drafts/*", ("NBS002",)),)`: hashable, as the
    #: rest of this record.)
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: The report format of a run started in this project without `--output-format`.
    output_format: str | None = None
    #: `[tool.nbsetup.per-file-settings]`: each glob with the settings it gives the files it
    #: matches, as (field name, value) pairs, in the file's order; `for_file` applies them.
    per_file_settings: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = ()
    #: The `per-file-settings` glob whose `skip = true` opts this notebook out (`for_file`).
    skipped_by: str | None = None
    #: The pyproject.toml these settings were read from; None: no file.
    source: Path | None = None

    @property
    def root(self) -> Path | None:
        """The directory `pin-sources` paths and `exclude` globs are relative to."""
        return self.source.parent if self.source is not None else None


@dataclass(frozen=True)
class Overrides:
    """Settings given on the command line; None: not given there."""

    pin_sources: tuple[Path, ...] | None = None
    exclude: tuple[str, ...] | None = None
    pin_missing: bool | None = None
    env_cell_style: str | None = None
    quiet_install: bool | None = None
    kernels: tuple[str, ...] | None = None
    installer: str | None = None
    guard: bool | None = None
    runtime: str | None = None
    #: `--select`/`--ignore` replace the file's lists, as ruff's do.
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None


def merge(overrides: Overrides, project: ProjectConfig) -> ProjectConfig:
    """The settings in force: each one from the command line if given there, else `project`'s.

    `project` holds the pyproject.toml's values, and the defaults for the keys it leaves out.
    A list given on the command line replaces the file's list (as black's and ruff's
    `--exclude` do): `Overrides(exclude=("a",))` over `exclude = ["b"]` gives `("a",)`.
    """
    given = {f.name: getattr(overrides, f.name) for f in fields(overrides)}
    return replace(project, **{name: value for name, value in given.items() if value is not None})


def for_file(project: ProjectConfig, path: Path) -> ProjectConfig:
    """The settings for the notebook at `path`: `project`'s, with every `per-file-settings`
    table whose glob matches it applied in the file's order (a later one wins for a key).

    A glob matches as a `per-file-ignores` glob does (`selection.matches`): the file's name,
    its path relative to the pyproject.toml's directory, or its path as given.
    """
    given: dict[str, Any] = {}
    for glob, settings in project.per_file_settings:
        if selection.matches(path, project.root, glob):
            given.update(settings)
    return replace(project, **given) if given else project


def find_project_config(start: Path) -> Path | None:
    """The pyproject.toml configuring `start` (a notebook or a directory), or None.

    The nearest pyproject.toml with a `[tool.nbsetup]` table, from `start`'s directory up to
    the repository root (a directory holding `.git`, itself included) or the filesystem root.
    One without the table does not end the search, so the pyproject.toml of a package inside a
    repository leaves the repository's settings in force (black and ruff search the same way).
    Raises `ConfigError` for a pyproject.toml on the way that cannot be read.
    """
    directory = start.absolute()
    if not directory.is_dir():
        directory = directory.parent
    while True:
        candidate = directory / PYPROJECT
        if candidate.is_file() and "nbsetup" in _tool_table(_read(candidate)):
            return candidate
        if (directory / ".git").exists() or directory.parent == directory:
            return None
        directory = directory.parent


def load_config(path: Path) -> ProjectConfig:
    """The settings of a pyproject.toml (defaults for what its `[tool.nbsetup]` leaves out)."""
    return parse_config(_read(path), path)


def parse_config(document: Mapping[str, Any], path: Path) -> ProjectConfig:
    """Validate the `[tool.nbsetup]` table of a parsed pyproject.toml found at `path`.

    Relative `pin-sources` (or `requirements`) paths are joined to `path`'s directory. Raises
    `ConfigError` naming the file and the key for an unknown key, a value of the wrong type, or
    both `requirements` and `pin-sources`.
    """
    table = _tool_table(document).get("nbsetup", {})
    if not isinstance(table, dict):
        raise ConfigError(path, f"[tool.nbsetup] must be a table, not {_describe(table)}")
    unknown = [key for key in table if key not in _KEYS]
    if unknown:
        raise ConfigError(path, _unknown_message(unknown), unknown[0])
    if "requirements" in table and "pin-sources" in table:
        message = "[tool.nbsetup]: set pin-sources or requirements (its older name), not both"
        raise ConfigError(path, message, "pin-sources")
    values: dict[str, Any] = {}
    for key, value in table.items():
        reader, expected = _KEYS[key]
        try:
            values[key.replace("-", "_")] = reader(value)
        except _Invalid as invalid:
            message = f"[tool.nbsetup] {key}: expected {expected}, got {invalid.got}"
            raise ConfigError(path, message, key) from None
        except _Problem as problem:
            raise ConfigError(path, str(problem), key) from None
    root = path.absolute().parent
    # Lexically normalised, so that a report names `../requirements.txt`, not `a/../b.txt`.
    given = values.pop("pin_sources", ()) or values.pop("requirements", ())
    sources = tuple(Path(os.path.normpath(root / p)) for p in given)
    return ProjectConfig(**values, pin_sources=sources, source=path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = files.read_regular(path, files.MAX_PIN_FILE_BYTES)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(path, f"cannot read file: {reason[:1].lower()}{reason[1:]}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "not valid UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        reason = str(error)
        raise ConfigError(path, f"invalid TOML: {reason[:1].lower()}{reason[1:]}") from None


def _tool_table(document: Mapping[str, Any]) -> Mapping[str, Any]:
    tool = document.get("tool", {})
    return tool if isinstance(tool, dict) else {}


class _Invalid(Exception):
    """A value of the wrong type or outside the allowed values; `got` says what it was."""

    def __init__(self, got: str) -> None:
        super().__init__(got)
        self.got = got


class _Problem(Exception):
    """A value inside a key's value that is not valid; the message says where and why."""


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(_describe(value))
    return value


def _strings(value: object) -> tuple[str, ...]:
    """A non-empty array of non-empty strings."""
    if not isinstance(value, list):
        raise _Invalid(_describe(value))
    if not value:
        raise _Invalid("an empty array")
    for position, item in enumerate(value, start=1):
        if not isinstance(item, str) or not item:
            raise _Invalid(f"{_describe(item)} at position {position}")
    return tuple(value)


def _requirements(value: object) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) and value else _strings(value)


def _exclude(value: object) -> tuple[str, ...]:
    return () if value == [] else _strings(value)


def _env_cell_style(value: object) -> str:
    if not isinstance(value, str) or value not in PIP_STYLES:
        raise _Invalid(_describe(value))
    return value


def _header(value: object) -> str:
    if not is_header_text(value):
        raise _Invalid(_describe(value))
    assert isinstance(value, str)
    return value


def _kernels(value: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(language.lower() for language in _strings(value)))


def _installer(value: object) -> str:
    if not isinstance(value, str) or value not in INSTALLERS:
        raise _Invalid(_describe(value))
    return value


def _runtime(value: object) -> str:
    if not isinstance(value, str) or value not in RUNTIMES:
        raise _Invalid(_describe(value))
    return value


def _selectors(value: object) -> tuple[str, ...]:
    """An array of rule codes or prefixes (`["NBS00", "ALL"]`), possibly empty."""
    chosen = () if value == [] else tuple(code.upper() for code in _strings(value))
    for code in chosen:
        try:
            selection.expand([code])
        except ValueError:
            raise _Invalid(f"{json.dumps(code)}, which names no rule") from None
    return chosen


def _per_file_ignores(value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise _Invalid(_describe(value))
    return tuple((str(glob), _selectors(codes)) for glob, codes in value.items())


#: The keys a `per-file-settings` table may set: how `fix` treats the files it matches, and
#: `skip`. Project-wide keys (pin sources, excludes, rule selection, the report) are not
#: per file; `per-file-ignores` selects rules per file.
_FILE_KEYS = (
    "skip",
    "pin-missing",
    "env-cell-style",
    "quiet-install",
    "installer",
    "guard",
    "header",
    "runtime",
)
_PER_FILE = "[tool.nbsetup.per-file-settings]"


def _per_file_settings(value: object) -> tuple[tuple[str, tuple[tuple[str, object], ...]], ...]:
    """`{"legacy/*" = {skip = true}}` → `(("legacy/*", (("skipped_by", "legacy/*"),)),)`."""
    if not isinstance(value, dict):
        raise _Invalid(_describe(value))
    found = []
    for glob, table in value.items():
        where = f"{_PER_FILE} {json.dumps(glob, ensure_ascii=False)}"
        if not glob:
            raise _Problem(f"{_PER_FILE}: a glob may not be empty")
        if not isinstance(table, dict):
            raise _Problem(f"{where}: expected a table of settings, got {_describe(table)}")
        unknown = [key for key in table if key not in _FILE_KEYS]
        if unknown:
            raise _Problem(_unknown_message(unknown, _FILE_KEYS, where))
        settings: list[tuple[str, object]] = []
        for key, setting in table.items():
            if key == "skip":
                try:
                    skip = _boolean(setting)
                except _Invalid as invalid:
                    message = f"{where} skip: expected true or false, got {invalid.got}"
                    raise _Problem(message) from None
                settings.append(("skipped_by", glob if skip else None))
                continue
            reader, expected = _KEYS[key]
            try:
                settings.append((key.replace("-", "_"), reader(setting)))
            except _Invalid as invalid:
                raise _Problem(f"{where} {key}: expected {expected}, got {invalid.got}") from None
        found.append((glob, tuple(settings)))
    return tuple(found)


def _output_format(value: object) -> str:
    if not isinstance(value, str) or value not in OUTPUT_FORMATS:
        raise _Invalid(_describe(value))
    return value


def _names(value: object) -> tuple[str, ...]:
    """An array of distribution names, possibly empty (`preloaded = []`: none)."""
    return () if value == [] else _strings(value)


#: Each key: its reader (TOML value → setting, raising `_Invalid`) and what it expects, in words.
_KEYS: dict[str, tuple[Callable[[object], object], str]] = {
    "pin-sources": (_requirements, "a path or an array of paths"),
    "requirements": (_requirements, "a path or an array of paths"),
    "exclude": (_exclude, "an array of glob strings"),
    "pin-missing": (_boolean, "true or false"),
    "env-cell-style": (_env_cell_style, " or ".join(json.dumps(s) for s in PIP_STYLES)),
    "quiet-install": (_boolean, "true or false"),
    "kernels": (_kernels, "an array of kernel language names"),
    "installer": (_installer, " or ".join(json.dumps(s) for s in INSTALLERS)),
    "guard": (_boolean, "true or false"),
    "header": (_header, 'one comment line starting with "# ", or ""'),
    "preloaded": (_names, "an array of distribution names"),
    "extend-preloaded": (_names, "an array of distribution names"),
    "runtime": (_runtime, " or ".join(json.dumps(s) for s in RUNTIMES)),
    "select": (_selectors, "an array of rule codes or prefixes"),
    "ignore": (_selectors, "an array of rule codes or prefixes"),
    "per-file-ignores": (_per_file_ignores, "a table of globs to arrays of rule codes"),
    "output-format": (_output_format, " or ".join(json.dumps(s) for s in OUTPUT_FORMATS)),
    "per-file-settings": (_per_file_settings, "a table of globs to tables of settings"),
}


def _unknown_message(
    keys: list[str], known: Collection[str] = _KEYS, table: str = "[tool.nbsetup]"
) -> str:
    described = []
    for key in keys:
        import difflib  # only to suggest a key for a misspelt one

        close = difflib.get_close_matches(key.replace("_", "-"), known, n=1)
        described.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    noun = "key" if len(keys) == 1 else "keys"
    message = f"unknown {noun} in {table}: {', '.join(described)}"
    if any("?" not in text for text in described):
        message += f"; known keys: {', '.join(known)}"
    return message


def _describe(value: object) -> str:
    """A TOML value as a user wrote it: `a string ("yes")`, `an integer (1)`, `a table`."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({json.dumps(value, ensure_ascii=False)})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a date or time ({value})"
