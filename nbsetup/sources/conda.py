"""Read a conda environment file (`environment.yml`) into pins: conda specs and its pip list.

    channels: [conda-forge]
    dependencies:
      - python=3.11
      - conda-forge::gdal=3.8.4      # a conda pin, for `%conda install` lines
      - pip:
        - requests==2.31.0           # a pip requirements line, for pip lines
        - -r requirements-extra.txt  # relative to the environment file, as conda runs pip

Each conda dependency is a pin for the package its match spec names, kept as written
(`nbsetup.matchspec`). The `pip:` list holds lines in pip's requirements format. The
`channels:` list is not applied: a notebook's `%conda install` keeps its own `-c` options,
and a dependency written `channel::name` keeps its channel. Lines come from the YAML parser's
marks. Reading YAML needs PyYAML, the optional extra `nbsetup[conda]`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from nbsetup import matchspec
from nbsetup.pins import Pins, RequirementEntry, RequirementsError
from nbsetup.sources.requirements_txt import (
    named_like_pin_file,
    os_error_reason,
    parse_requirements,
    read_file,
    read_pin_bytes,
)

#: The names `conda env create` looks for; any other `.yml`/`.yaml` file given is read too.
FILE_NAMES = ("environment.yml", "environment.yaml")
SUFFIXES = (".yml", ".yaml")
MISSING_YAML = "reading a conda environment file needs PyYAML: pip install 'nbsetup[conda]'"


def load(path: Path) -> Pins:
    """The pins of a conda environment file; `RequirementsError` naming the file and line."""
    origin = str(path)
    try:
        import yaml
    except ImportError:
        raise RequirementsError(origin, MISSING_YAML) from None
    try:
        text = read_pin_bytes(path).decode("utf-8")
    except OSError as error:
        raise RequirementsError(origin, f"cannot read file: {os_error_reason(error)}") from None
    except UnicodeDecodeError:
        raise RequirementsError(origin, "not valid UTF-8 text") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise RequirementsError(origin, *_yaml_reason(error)) from None
    dependencies = _value(root, "dependencies", yaml, origin)
    if dependencies is None:
        return Pins(files=(origin,))
    if not isinstance(dependencies, yaml.SequenceNode):
        raise RequirementsError(origin, "'dependencies' must be a list", _line(dependencies))
    entries: list[RequirementEntry] = []
    options: list[str] = []
    files: list[str] = [origin]
    for item in dependencies.value:
        if isinstance(item, yaml.ScalarNode):
            entries.append(_conda_entry(item.value, origin, _line(item)))
            continue
        pip = _value(item, "pip", yaml, origin) if isinstance(item, yaml.MappingNode) else None
        if not isinstance(pip, yaml.SequenceNode) or len(item.value) != 1:
            reason = "expected a conda package or a 'pip:' list"
            raise RequirementsError(origin, reason, _line(item))
        for line in pip.value:
            if not isinstance(line, yaml.ScalarNode):
                raise RequirementsError(origin, "expected a pip requirement", _line(line))
            pins = _pip_line(line.value, origin, _line(line))
            entries += pins.entries
            options += pins.options
            files += [f for f in pins.files if f not in files]
    return Pins(tuple(entries), tuple(options), tuple(files))


def _conda_entry(text: str, origin: str, line: int) -> RequirementEntry:
    spec = matchspec.parse(text)
    if not spec.name:
        # A `.yml` file is read as a conda environment whatever its name: quote its text only
        # when it is named as one, as it may be any configuration file, secrets included.
        shown = f" '{text}'" if named_like_pin_file(origin) else " (its text is not shown)"
        raise RequirementsError(origin, f"invalid conda package{shown}", line)
    name = canonicalize_name(spec.name)
    return RequirementEntry(text.strip(), None, name, origin, line, manager="conda")


def _pip_line(text: str, origin: str, line: int) -> Pins:
    """One line of the `pip:` list, read as a requirements file line found at `line`."""
    try:
        pins = parse_requirements(text, origin, read_file)
    except RequirementsError as error:
        if error.origin != origin:
            raise  # a problem in an included file, which names its own line
        raise RequirementsError(origin, error.reason, line) from None
    entries = tuple(replace(e, line=line) if e.origin == origin else e for e in pins.entries)
    return Pins(entries, pins.options, pins.files)


def _value(node: Any, key: str, yaml: Any, origin: str) -> Any:
    """The value node of `key` in a mapping node, or None; the document must be a mapping."""
    if node is None:
        return None
    if not isinstance(node, yaml.MappingNode):
        raise RequirementsError(origin, "expected a mapping with 'dependencies'", _line(node))
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _yaml_reason(error: Any) -> tuple[str, int | None]:
    """`invalid YAML: <problem>` and the line PyYAML marks, when it marks one."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"invalid YAML: {problem}", (mark.line + 1 if mark is not None else None)
