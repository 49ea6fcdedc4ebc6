"""Records of install commands found in notebook cells, for the recogniser and the pin policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Package managers nbsetup understands. `uv` is `uv pip`; it is written back as pip.
Manager = Literal["pip", "uv", "conda", "apt"]

#: What a command does. Only `install` (and `update`, apt's index refresh) can be hoisted.
Action = Literal["install", "update", "uninstall", "download"]

Option = tuple[str, str | None]


@dataclass(frozen=True)
class InstallCommand:
    """One package-manager invocation, as the shell would see it after unquoting.

    `!pip install -q "numpy<2" -i https://x/simple` becomes
    `InstallCommand(manager="pip", action="install", requirements=("numpy<2",),
    options=(("-q", None), ("-i", "https://x/simple")), ...)`.
    """

    manager: Manager
    action: Action
    #: Requirement arguments in order, unquoted, exactly as written: PEP 508 strings, URLs and
    #: VCS specs (`git+https://...`), conda match specs, apt package names.
    requirements: tuple[str, ...] = ()
    #: Options in order as (flag as written, value or None); `--flag=value` is split.
    #: `-r`/`-c` files are not here but in `requirement_files`/`constraint_files`.
    options: tuple[Option, ...] = ()
    requirement_files: tuple[str, ...] = ()
    constraint_files: tuple[str, ...] = ()
    #: Run through `sudo`.
    sudo: bool = False
    movable: bool = True
    #: Why the command stays where it is (lower case, no final period), set iff not movable.
    reason: str | None = None


@dataclass(frozen=True)
class InstallSite:
    """A run of source lines in one code cell that holds install commands.

    `cell` indexes the notebook's `cells` list (all cell types). `start`/`end` index the cell's
    lines as `source.splitlines(keepends=True)`, end exclusive. `replacement` is what those lines
    become once the movable commands are hoisted: `()` deletes them, a chain keeps its other
    parts (`!pip install x && python run.py` → `("!python run.py\\n",)`); it is None when no
    command here is movable.
    """

    cell: int
    start: int
    end: int
    #: The syntax it was written in, for reports and the census: `!pip`, `%pip`, `%%bash`,
    #: `subprocess`, `os.system`, ...
    form: str
    commands: tuple[InstallCommand, ...]
    replacement: tuple[str, ...] | None

    @property
    def movable(self) -> bool:
        """True when hoisting applies here (some command moves, so the lines change)."""
        return self.replacement is not None
