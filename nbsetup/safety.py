"""A last look before writing, like black's AST equivalence check: the rewrite lost nothing.

`verify(old, new, origins)` compares a notebook with its rewrite without knowing how the
rewrite was made: it asks the recogniser which lines are movable installs and what is left of
them once the installs move, nothing else. It raises `UnsafeChange` naming the first broken
invariant:

- notebook-level keys and values are unchanged;
- every markdown/raw cell is kept, unchanged, in order, and so is every code cell that opts
  out (`optouts`); an install that a `# nbsetup: skip` comment marks is not moved;
- a kept code cell keeps its outputs, attachments, metadata, id and source shape; its source
  only loses movable install lines (a chain keeps its other parts); a cell disappears only
  when installs were all it held, besides comments, blank lines and a cell magic line; the
  environment cell may also change the choices its marker records;
- there is at most one environment cell, and no code runs before it; it installs every
  package whose install left its cell, and keeps the user's own lines;
- no comment is lost: every comment of the original (whole-line or trailing) is in the
  rewrite, and comment lines that left a cell are in the environment cell, in order;
- the rewrite validates against the nbformat schema (without nbformat's silent repairs) when
  the original did.

`nbformat.validate(new)` would do for the last point, but it adds missing cell ids in place.
Pass the data parsed back from the bytes about to be written, and the check covers the
serialisation too.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbsetup import comments, envcell, installs, optouts, packages, verdicts
from nbsetup.errors import UnsafeChange
from nbsetup.installs.records import InstallCommand, InstallSite
from nbsetup.notebook_io import cell_text

#: Ends every safety message: the rewrite, not the notebook, is at fault.
BUG_NOTE = "nothing was written; this is an nbsetup bug, please report it with this notebook"

# Every line an install moves out of names its tool somewhere (a guard against line numbers
# that point at the wrong line; continuation and bracket lines are part of the same site).
_TOOL = re.compile(r"pip|conda|mamba|\buv\b|apt")
_APT_NAME_END = re.compile(r"[=:/]")


def verify(old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None]) -> None:
    """Raise `UnsafeChange` unless `new` is a safe rewrite of `old`.

    `origins[i]` is the index in `old["cells"]` of the cell that new cell `i` comes from, or
    None for a new (environment) cell, as `transform.Result.origins` gives it.
    """
    problem = _first_problem(old, new, origins)
    if problem is not None:
        raise UnsafeChange(f"safety check failed: {problem}; {BUG_NOTE}")


def _first_problem(
    old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None]
) -> str | None:
    problem = (
        _notebook_problem(old, new)
        or _structure_problem(old, new, origins)
        or _content_problem(old, new, origins)
    )
    if problem is not None:
        return problem
    kept = _kept(old, new, origins)  # valid origins: `_structure_problem` checked them
    return _comments_problem(old, new, origins, kept) or _schema_problem(old, new, origins, kept)


def _notebook_problem(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    old_keys = [key for key in old if key != "cells"]
    if old_keys != [key for key in new if key != "cells"]:
        return "the notebook-level keys changed"
    changed = next((key for key in old_keys if old[key] != new[key]), None)
    return None if changed is None else f"the notebook-level {changed!r} changed"


def _is_env(cell: dict[str, Any]) -> bool:
    return envcell.find([cell]) == 0


def _structure_problem(
    old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None]
) -> str | None:
    """Origins, cell order, non-code cells, and where the environment cell is."""
    old_cells, new_cells = old["cells"], new["cells"]
    if len(origins) != len(new_cells):
        return f"{len(origins)} origins for {len(new_cells)} cells"
    known = [origin for origin in origins if origin is not None]
    if len(set(known)) != len(known) or not all(0 <= o < len(old_cells) for o in known):
        return "cell origins are not distinct cells of the original"
    envs = [index for index, cell in enumerate(new_cells) if _is_env(cell)]
    if len(envs) > max(1, sum(map(_is_env, old_cells))):
        return f"{len(envs)} environment cells (cells {', '.join(str(i + 1) for i in envs)})"
    for index, origin in enumerate(origins):
        if origin is None and index not in envs:
            return f"cell {index + 1} is new and is not the environment cell"
    if envs:
        runs = next(
            (
                i
                for i, cell in enumerate(new_cells[: envs[0]])
                if cell["cell_type"] == "code" and verdicts.runs_code(cell_text(cell))
            ),
            None,
        )
        if runs is not None:
            return f"code cell {runs + 1} runs before the environment cell (cell {envs[0] + 1})"
    order = [origin for index, origin in enumerate(origins) if index not in envs]
    if any(a is None or b is None or a >= b for a, b in itertools.pairwise(order)):
        return "cells are not in their original order"
    where = {origin: index for index, origin in enumerate(origins) if origin is not None}
    for index, cell in enumerate(old_cells):
        if cell["cell_type"] == "code":
            continue
        if index not in where:
            return f"{cell['cell_type']} cell {index + 1} was removed"
        if new_cells[where[index]] != cell:
            return f"{cell['cell_type']} cell {index + 1} changed"
    for index in optouts.cell_reasons(old_cells):
        if index not in where:
            return f"code cell {index + 1} opts out, but was removed"
        if new_cells[where[index]] != old_cells[index]:
            return f"code cell {index + 1} opts out, but changed"
    return None


@dataclass(frozen=True)
class _Segment:
    """A line of a cell that must survive as is, or a movable install site's lines."""

    line: str
    number: int
    site: InstallSite | None = None


def _content_problem(
    old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None]
) -> str | None:
    """Code cells: other members kept, lines kept in order, hoisted packages installed."""
    old_cells, new_cells = old["cells"], new["cells"]
    old_env = envcell.find(old_cells)
    sources = [
        cell_text(cell) if cell["cell_type"] == "code" and index != old_env else None
        for index, cell in enumerate(old_cells)
    ]
    by_cell: dict[int, list[InstallSite]] = {}
    for site in installs.find_installs(sources, optouts.cell_reasons(old_cells)):
        if site.movable:
            by_cell.setdefault(site.cell, []).append(site)
    where = {origin: index for index, origin in enumerate(origins) if origin is not None}
    moved: list[InstallCommand] = []
    moved_comments: list[str] = []
    statements: list[InstallSite] = []
    for index, source in enumerate(sources):
        if source is None:
            continue
        segments = _segments(source, by_cell.get(index, []))
        if index not in where or _is_env(new_cells[where[index]]):
            problem = _removed_problem(index, segments)
            if index in where:  # the environment cell took its place
                problem = problem or _marked_problem(
                    index, old_cells[index], new_cells[where[index]]
                )
            gone = list(by_cell.get(index, []))
            moved_comments += [
                s.line for s in segments if not s.site and comments.is_comment_line(s.line)
            ]
        else:
            cell = new_cells[where[index]]
            problem = _members_problem(index, old_cells[index], cell)
            gone, problem, left = _align(index, segments, cell_text(cell).splitlines(), problem)
            moved_comments += left
        if problem is not None:
            return problem
        moved += [command for site in gone for command in site.commands if command.movable]
        statements += [site for site in gone if site.statement is not None]
    env = next((cell for cell in new_cells if _is_env(cell)), None)
    env_stripped = [line.strip() for line in cell_text(env).splitlines()] if env else []
    missing_comment = _missing_in_order([line.strip() for line in moved_comments], env_stripped)
    if missing_comment is not None:
        return f"comment {missing_comment!r} left its cell but is not in the environment cell"
    missing_line = _missing_in_order(
        [line.strip() for site in statements for line in _copied_lines(site)], env_stripped
    )
    if missing_line is not None:
        return f"line {missing_line!r} of a moved block is not in the environment cell as written"
    if old_env is not None:
        if old_env not in where or not _is_env(new_cells[where[old_env]]):
            return "the environment cell was removed"
        problem = _marked_problem(old_env, old_cells[old_env], new_cells[where[old_env]])
        if problem is not None:
            return problem
        kept, commands = _env_contents(old_cells[old_env])
        moved += commands
        env_lines = [line.strip() for line in cell_text(new_cells[where[old_env]]).splitlines()]
        missing = _missing_in_order([line.strip() for line in kept], env_lines)
        if missing is not None:
            return f"line {missing!r} of the environment cell is missing"
    return _installed_problem(moved, env)


def _segments(source: str, sites: Sequence[InstallSite]) -> list[_Segment]:
    lines = source.splitlines()
    segments = []
    number = 0
    for site in sorted(sites, key=lambda site: site.start):
        segments += [_Segment(lines[n], n + 1) for n in range(number, site.start)]
        segments.append(_Segment("\n".join(lines[site.start : site.end]), site.start + 1, site))
        number = site.end
    segments += [_Segment(lines[n], n + 1) for n in range(number, len(lines))]
    return segments


def _removed_problem(index: int, segments: Sequence[_Segment]) -> str | None:
    if not any(segment.site for segment in segments):
        return f"code cell {index + 1} was removed, but it had no install to move"
    for segment in segments:
        if segment.site and segment.site.statement is None and not _TOOL.search(segment.line):
            return _not_an_install(index, segment)
        for line in _rest(segment.site) if segment.site else [segment.line]:
            if not verdicts.is_inert(line):
                return f"code cell {index + 1} was removed with its line {line!r}"
    return None


def _marked_problem(index: int, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The environment cell, or the install cell whose place it took, keeps everything but its
    source and the marker's value (the choices it records)."""
    metadata = {
        **old.get("metadata", {}),
        envcell.MARKER: new.get("metadata", {}).get(envcell.MARKER),
    }
    if new.get("metadata") != metadata:
        return f"code cell {index + 1} changed its metadata beyond the {envcell.MARKER!r} key"
    return _members_problem(index, {**old, "metadata": metadata}, new)


def _comments_problem(
    old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None], kept: set[int]
) -> str | None:
    """A comment of the original that the rewrite does not have (as many times).

    A cell equal to its original has the same comments on both sides, so only the others
    are read: most cells of a notebook are kept as they are (`kept`, by `_kept`).
    """
    lost = comments.cells_comments(
        cell for index, cell in enumerate(old["cells"]) if index not in kept
    ) - comments.cells_comments(
        cell for cell, origin in zip(new["cells"], origins, strict=True) if origin not in kept
    )
    if lost:
        return f"the comment {next(iter(lost))!r} was lost"
    return None


def _members_problem(index: int, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Everything but the source is kept, and the source keeps its shape."""
    if isinstance(old["source"], str) != isinstance(new["source"], str):
        return f"code cell {index + 1} changed its source from a string to a list or back"
    if [key for key in old if key != "source"] != [key for key in new if key != "source"]:
        return f"code cell {index + 1} gained, lost or reordered keys"
    changed = next((key for key in old if key != "source" and old[key] != new[key]), None)
    return None if changed is None else f"code cell {index + 1} changed its {changed!r}"


def _align(
    index: int, segments: Sequence[_Segment], lines: Sequence[str], problem: str | None
) -> tuple[list[InstallSite], str | None, list[str]]:
    """Match a kept cell's new lines to its old ones: the sites that left, or what is wrong.

    A kept line must come next, as is. A site leaves what the recogniser says is left of it
    once its installs move (nothing, or the rest of a chain), or stays as it was (a lone
    `apt-get update` only moves with an apt install). A comment line may leave with a moved
    install: those are returned third, for the caller to find in the environment cell.
    """
    gone: list[InstallSite] = []
    left: list[str] = []
    if problem is not None:
        return gone, problem, left
    position = 0
    for number, segment in enumerate(segments):
        site = segment.site
        if site is None:
            after = segments[number:]
            if position >= len(lines) and not any(
                s.line.strip() and not comments.is_comment_line(s.line)
                for s in after
                if not s.site
            ):
                # Blank lines that ended the cell may become its final newline, or go.
                sites = [s.site for s in after if s.site]
                if not any(_rest(s) for s in sites):
                    rest = [
                        s.line for s in after if not s.site and comments.is_comment_line(s.line)
                    ]
                    return gone + sites, None, left + rest
            if (position >= len(lines) or lines[position] != segment.line) and (
                comments.is_comment_line(segment.line)
            ):
                left.append(segment.line)
                continue
            if position >= len(lines) or lines[position] != segment.line:
                found = repr(lines[position]) if position < len(lines) else "the end of the cell"
                return (
                    gone,
                    (
                        f"code cell {index + 1}: line {segment.number} {segment.line!r} is "
                        f"missing (found {found})"
                    ),
                    left,
                )
            position += 1
            continue
        original, rest = segment.line.split("\n"), _rest(site)
        if lines[position : position + len(original)] == original:
            position += len(original)
        elif lines[position : position + len(rest)] == rest:
            position += len(rest)
            gone.append(site)
            if site.statement is None and not _TOOL.search(segment.line):
                return gone, _not_an_install(index, segment), left
        else:
            return (
                gone,
                (
                    f"code cell {index + 1}: line {segment.number}: what is left of "
                    f"{segment.line!r} once its installs move ({rest}) is missing"
                ),
                left,
            )
    if position < len(lines):
        return gone, f"code cell {index + 1}: line {lines[position]!r} is new", left
    return gone, None, left


def _not_an_install(index: int, segment: _Segment) -> str:
    return (
        f"code cell {index + 1}: line {segment.number} {segment.line!r} was taken for an "
        "install but names no package tool"
    )


def _copied_lines(site: InstallSite) -> list[str]:
    """The lines of a moved block or definition that the environment cell copies as written:
    all but its install lines (which pins may change), comments included, in order."""
    statement = site.statement
    if statement is None:
        return []
    installs = {i for start, end in statement.slots for i in range(start, end)}
    return [line for i, line in enumerate(statement.lines) if i not in installs]


def _rest(site: InstallSite) -> list[str]:
    """The lines the recogniser says are left of a site once its installs move."""
    return "".join(site.replacement or ()).splitlines()


def _env_contents(cell: dict[str, Any]) -> tuple[list[str], list[InstallCommand]]:
    """An environment cell's own lines (not installs, headers or blank) and its commands.

    Its header and generated blocks (the guard, the `auto` installer) are nbsetup's, not the
    user's: the cell is read as `envcell.document` gives it back.
    """
    text = "\n".join(envcell.document(cell_text(cell), envcell.recorded_header(cell)))
    sites = [site for site in installs.find_installs([text]) if site.movable]
    segments = _segments(text, sites)
    kept = [
        line
        for s in segments
        for line in ([s.line] if s.site is None else _copied_lines(s.site))
        if line.strip()
    ]
    return kept, [command for site in sites for command in site.commands if command.movable]


def _missing_in_order(expected: Sequence[str], lines: Sequence[str]) -> str | None:
    """The first of `expected` not found in `lines` after the ones before it, or None."""
    remaining = iter(lines)
    for line in expected:
        if not any(candidate == line for candidate in remaining):
            return line
    return None


def _installed_problem(moved: Sequence[InstallCommand], env: dict[str, Any] | None) -> str | None:
    wanted = {key for command in moved for key in _package_keys(command)}
    if not wanted:
        return None
    if env is None:
        return "installs left their cells, but there is no environment cell"
    sites = installs.find_installs([envcell.user_view(cell_text(env))])
    have = {key for site in sites for command in site.commands for key in _package_keys(command)}
    missing = sorted(wanted - have)
    if missing:
        return f"the environment cell does not install {missing[0][1]!r} ({missing[0][0]})"
    return None


def _package_keys(command: InstallCommand) -> set[tuple[str, str]]:
    """What a command installs, by manager and name (pinning may change versions, not names)."""
    if command.action != "install":
        return set()
    manager: str = "pip" if command.manager == "uv" else command.manager
    keys = {(manager, f"-r {path}") for path in command.requirement_files}
    keys |= {(manager, f"-c {path}") for path in command.constraint_files}
    for text in command.requirements:
        keys.add(packages.package_key(manager, text))
    return keys


def _schema_problem(
    old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None], kept: set[int]
) -> str | None:
    """An nbformat schema error in `new`, unless `old` had one too.

    Cells equal to their original are valid when the original is, and the notebook-level keys
    are the original's (`_notebook_problem`), so only new and changed cells go through the
    schema: large notebooks stay cheap. They are code cells (the rewrite changes no other
    kind), checked against the schema's code cell definition, which compiles in a third of
    the time of the whole schema; any other goes through the whole schema, as a notebook.
    Likewise a changed cell's outputs are checked only when they are not its original's: an
    output's validity depends on nothing else (and the format version is the original's).
    """
    old_cells = old["cells"]
    changed = []
    new_outputs = []
    for cell, origin in zip(new["cells"], origins, strict=True):
        if origin in kept:
            continue
        changed.append(cell)
        if origin is None or not _same_outputs(cell, old_cells[origin]):
            new_outputs.append(cell)
    problem = _ids_error(new) or _cells_error(new, changed, new_outputs)
    if problem is None or _ids_error(old) or _schema_error(old):
        return None
    return f"the result is not a valid notebook ({problem})"


def _same_outputs(cell: Any, original: Any) -> bool:
    """Whether two code cells hold the same list of outputs."""
    return (
        isinstance(cell, dict)
        and isinstance(original, dict)
        and original.get("cell_type") == "code"
        and isinstance(cell.get("outputs"), list)
        and cell["outputs"] == original.get("outputs")
    )


def _kept(old: dict[str, Any], new: dict[str, Any], origins: Sequence[int | None]) -> set[int]:
    """The cells of `old` that `new` holds unchanged (equal), by index."""
    old_cells = old["cells"]
    return {
        origin
        for cell, origin in zip(new["cells"], origins, strict=True)
        if origin is not None and cell == old_cells[origin]
    }


def _ids_error(notebook: dict[str, Any]) -> str | None:
    """Cell ids missing, not strings or repeated, from nbformat 4.5 on."""
    if not _is_minor(notebook.get("nbformat_minor")) or notebook["nbformat_minor"] < 5:
        return None
    ids = [cell.get("id") for cell in notebook["cells"]]
    bad = next((index for index, id_ in enumerate(ids) if not isinstance(id_, str)), None)
    if bad is not None:
        return f"cell {bad + 1} has no id"
    return "cell ids are not unique" if len(set(ids)) != len(ids) else None


def _cells_error(
    notebook: dict[str, Any],
    cells: Sequence[dict[str, Any]],
    new_outputs: Sequence[dict[str, Any]] | None = None,
) -> str | None:
    """The first schema error of `cells`, cells of `notebook` (with their 1-based position).

    The outputs are checked only for the cells of `new_outputs` (None: all of `cells`).
    """
    minor = notebook.get("nbformat_minor")
    if not all(isinstance(cell, dict) and cell.get("cell_type") == "code" for cell in cells):
        return _schema_error({**notebook, "cells": list(cells)})
    if not _is_minor(minor):
        return "no integer 'nbformat_minor'"
    check = _validator(minor, CODE_CELL)
    outputs_of = {id(cell) for cell in (cells if new_outputs is None else new_outputs)}
    for cell in cells:
        error = check(cell)
        if error is None and id(cell) in outputs_of:
            error = next(
                (
                    f"output {index}: {found}"
                    for index, output in enumerate(cell["outputs"], 1)
                    if (found := _validator(minor, OUTPUT)(output)) is not None
                ),
                None,
            )
        if error is not None:
            number = next(i for i, c in enumerate(notebook["cells"], 1) if c is cell)
            return f"cell {number}: {error}"
    return None


def _schema_error(notebook: dict[str, Any]) -> str | None:
    """The first nbformat 4 schema error.

    This calls the schema validator itself: `nbformat.validate` adds missing cell ids and
    renumbers repeated ones in the notebook it checks (and only warns about them).
    """
    minor = notebook.get("nbformat_minor")
    if not _is_minor(minor):
        return "no integer 'nbformat_minor'"
    return _validator(minor, NOTEBOOK)(notebook)


def _is_minor(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


#: What `_validator` checks: a whole notebook, a code cell but for the items of its outputs,
#: or one output.
NOTEBOOK, CODE_CELL, OUTPUT = "notebook", "code_cell", "output"


@functools.cache
def _validator(minor: int, part: str) -> Callable[[dict[str, Any]], str | None]:
    """The schema check of nbformat 4.`minor` for `part`: the first error, or None.

    For the minor versions nbformat ships a schema for, the schema file is compiled with
    fastjsonschema, nbformat's default validator, without importing nbformat itself: that
    import takes longer than the rest of `nbsetup fix` on a small notebook. For others (a
    notebook from a newer nbformat), nbformat's own validator decides, as it relaxes the schema;
    there a code cell is checked whole, outputs included, so `OUTPUT` has nothing left to check.
    """
    schema = _bundled_schema(minor)
    if schema is None:
        from nbformat.validator import get_validator

        validator = get_validator(version=4, version_minor=minor)

        def nbformat_error(data: dict[str, Any]) -> str | None:
            if part == OUTPUT:
                return None
            notebook: dict[str, Any] = (
                data
                if part == NOTEBOOK
                else {"cells": [data], "metadata": {}, "nbformat": 4, "nbformat_minor": minor}
            )
            errors = validator.iter_errors(notebook)
            return next((str(error.message) for error in errors), None)

        return nbformat_error
    import fastjsonschema

    if part != NOTEBOOK:
        schema = _definition_schema(schema, part)
    check = fastjsonschema.compile(schema)

    def first_error(notebook: dict[str, Any]) -> str | None:
        try:
            check(notebook)
        except fastjsonschema.JsonSchemaException as error:
            return str(error)
        return None

    return first_error


def _definition_schema(schema: dict[str, Any], part: str) -> dict[str, Any]:
    """The notebook schema reduced to its definition of `part`: for a code cell, with no
    schema for the items of `outputs` (checked one by one as `output`s), as that half of the
    definition costs as much to compile as the rest."""
    definitions = dict(schema.get("definitions", {}))
    cell = definitions.get(CODE_CELL)
    if part == CODE_CELL and isinstance(cell, dict) and isinstance(cell.get("properties"), dict):
        properties = cell["properties"]
        outputs = properties.get("outputs")
        if isinstance(outputs, dict) and "items" in outputs:
            unchecked = {key: value for key, value in outputs.items() if key != "items"}
            definitions[CODE_CELL] = {**cell, "properties": {**properties, "outputs": unchecked}}
    reduced = {**schema, "definitions": definitions, "$ref": f"#/definitions/{part}"}
    for key in ("type", "required", "properties", "additionalProperties"):
        reduced.pop(key, None)
    return reduced


def _bundled_schema(minor: int) -> dict[str, Any] | None:
    """nbformat's JSON schema for 4.`minor`, read from its package without importing it."""
    spec = importlib.util.find_spec("nbformat")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "v4"
    try:
        text = (path / f"nbformat.v4.{minor}.schema.json").read_text(encoding="utf-8")
    except OSError:
        return None
    schema: dict[str, Any] = json.loads(text)
    return schema
