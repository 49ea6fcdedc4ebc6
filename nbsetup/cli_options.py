"""The options `nbsetup fix` and `nbsetup check` share, and the formats each writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from nbsetup import console, runtime, selection
from nbsetup.cli_runs import existing_paths
from nbsetup.config import OUTPUT_FORMATS

F = TypeVar("F", bound=Callable[..., object])

#: Report formats of `fix`; `check` takes every one of `config.OUTPUT_FORMATS`.
FIX_FORMATS = OUTPUT_FORMATS[:3]

# Options that `fix` and `check` share.
paths_argument = click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, allow_dash=True),
    callback=existing_paths,
)
exclude_option = click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip files and directories matching GLOB while walking directories (repeatable; "
    "replaces [tool.nbsetup] exclude).",
)


def format_option(choices: tuple[str, ...]) -> Callable[[F], F]:
    return click.option(
        "--output-format",
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=None,
        help="Report format on stdout (default: [tool.nbsetup] output-format of the working "
        "directory's project, else text). --format is the older name.",
    )


jobs_option = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Process files in N worker processes (default: the number of CPUs).",
)
text_option = click.option(
    "--text",
    "text_notebooks",
    is_flag=True,
    help="Read .py/.md files named in PATHS as jupytext text notebooks even without a "
    "jupytext header (directories only ever yield those with one). Needs nbsetup[text].",
)
runtime_option = click.option(
    "--runtime",
    "runtime_name",
    type=click.Choice(runtime.RUNTIMES),
    default=None,
    help="The runtime the notebooks run on: what it has installed and loads before the first "
    "cell (colab, kaggle, jupyter), or auto: each notebook's, from its metadata. Default: "
    "[tool.nbsetup] runtime, else auto.",
)
verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Trace on stderr the pin files and settings each notebook used, what the directory "
    "walk skipped, and timings.",
)
color_option = click.option(
    "--color",
    type=click.Choice(console.COLOR_CHOICES),
    default="auto",
    show_default=True,
    help="Colour the human output: auto (on a terminal, unless NO_COLOR is set), always, never.",
)
stdin_filename_option = click.option(
    "--stdin-filename",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="With '-' as the path: the file the notebook on stdin stands for; its pin files and "
    "[tool.nbsetup] apply, and reports name it (default: '-', settings of the working "
    "directory).",
)
pins_option = click.option(
    "--pins",
    "pin_files",
    multiple=True,
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    metavar="FILE",
    help="Pin from FILE: a requirements file, pylock.toml, uv.lock, pyproject.toml or conda "
    "environment.yml (repeatable; the first file to pin a package wins, pyproject.toml ranges "
    "after the others; replaces [tool.nbsetup] pin-sources).",
)
#: Pin sources when none is given: the nearest of these, walking up to the repository root.
DEFAULT_PINS = (
    "[tool.nbsetup] pin-sources, else the pin files of the nearest directory, from the "
    "notebook's up to the repository root, that has any: the first of requirements.txt, "
    "pylock.toml, uv.lock; environment.yml; a pyproject.toml that declares dependencies"
)


def selectors(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...] | None:
    """`--select`/`--ignore` values: codes, prefixes or ALL, checked; None when not given."""
    if not value:
        return None
    chosen = tuple(code for text in value for code in selection.split(text))
    try:
        selection.expand(chosen)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return chosen
