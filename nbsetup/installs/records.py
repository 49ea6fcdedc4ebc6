"""Records of install commands found in notebook cells, for the recogniser and the pin policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Package managers nbsetup understands. `uv` is `uv pip`; it is written back as pip.
Manager = Literal["pip", "uv", "conda", "apt"]

#: What a command does. Only `install` (and `update`, apt's index refresh) can be hoisted.
Action = Literal["install", "update", "uninstall", "download"]

Option = tuple[str, str | None]

#: How a line's words reach the installer, which decides how a word is quoted (`quoting`):
#: `!` (a shell line), `%pip`, `%uv`, `%conda`, `%mamba`, `%micromamba`.
LineKind = Literal["!", "%pip", "%uv", "%conda", "%mamba", "%micromamba"]


@dataclass(frozen=True)
class Written:
    """How the notebook wrote an install command, so that the environment cell can copy it.

    `!pip install -q "numpy<2"  # for torch` (a line of its own) is
    `Written('!pip install -q "numpy<2"  # for torch', "!", spans)`, where `spans[i]` is where
    word i of `InstallCommand.words` sits in `text`. A command that is not a line of its own (a
    part of a `%%bash` body, a `subprocess` call) has no text: the environment cell renders its
    words in the closest line form, `kind`, and reports why (`normalised`).
    """

    #: The line as written, indent and final newline dropped, a trailing comment kept.
    text: str | None
    kind: LineKind
    #: (start, end) of each word of the command in `text`; () when they cannot be mapped
    #: (a `%conda` line re-joins its words).
    spans: tuple[tuple[int, int], ...] = ()
    #: Why the environment cell's line is not the notebook's own text, for the report.
    normalised: str | None = None


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
    # The fields below say how the command was written, not what it does: records compare
    # by meaning.
    #: The command's words after unquoting, from `sudo` or the program on
    #: (`("sudo", "apt-get", "install", "-y", "x")`), with where each sat in the parsed text.
    words: tuple[str, ...] = field(default=(), compare=False)
    word_spans: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    #: The index in `words` of each requirement (parallel to `requirements`), and of the
    #: subcommand (`install`).
    requirement_words: tuple[int, ...] = field(default=(), compare=False)
    action_word: int = field(default=0, compare=False)
    #: How the notebook wrote it (set by the recogniser once it knows the line).
    written: Written | None = field(default=None, compare=False)
    #: A line broken as written that nbsetup reads as meant (`% pip install x`, unquoted
    #: `pkg>=1.2`), with what the original did instead; see `verdicts.repairs`.
    repaired: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Statement:
    """A Python statement that moves to the environment cell whole, verbatim (`blocks`).

    `if IN_COLAB:` / `    !pip install x` is `Statement("block", lines, ("IN_COLAB",),
    slots=((1, 2),))`: `slots[i]` is where command i of its site sits in `lines` (rendered with
    the pins there, the other lines copied). `IN_COLAB = "google.colab" in sys.modules` is a
    `"definition"` of `IN_COLAB` that a block reads: it moves first, and has no commands.
    """

    kind: Literal["block", "definition"]
    #: The statement's lines as written, without their line breaks.
    lines: tuple[str, ...]
    #: A block: the names its conditions read; a definition: the names it binds.
    names: tuple[str, ...] = ()
    slots: tuple[tuple[int, int], ...] = ()
    #: `try: import x` / `except ImportError:`: the module now imported in the environment cell.
    imports: str | None = None
    #: "an if block", "a try block" (a definition: what it is), for the report.
    what: str = "an if block"


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
    #: The block or definition these lines are, when they move as one statement (`blocks`).
    statement: Statement | None = None

    @property
    def movable(self) -> bool:
        """True when hoisting applies here (some command moves, so the lines change)."""
        return self.replacement is not None
