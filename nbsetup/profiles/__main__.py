"""`python -m nbsetup.profiles refresh`: regenerate a runtime profile's package list.

    python -m nbsetup.profiles refresh colab pip-freeze.txt \
        --header "nbsetup profile colab · googlecolab/backend-info@<commit> · <date> · Apache-2.0"
    python -m nbsetup.profiles refresh colab --here --header "..."   # inside the runtime

Writes `nbsetup/profiles/data/<list>.txt` (or `--output`). See `nbsetup.profiles.refresh`
for the file format.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nbsetup.profiles import DATA, LISTS
from nbsetup.profiles.refresh import entries_here, parse_freeze, render


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m nbsetup.profiles")
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser("refresh", help="rewrite one package list of a profile")
    refresh.add_argument("list", choices=sorted(LISTS), help="the list to write")
    refresh.add_argument("freeze", nargs="?", type=Path, help="a `pip freeze` output file")
    refresh.add_argument(
        "--here",
        action="store_true",
        help="read this Python environment instead, with each distribution's top-level modules",
    )
    refresh.add_argument(
        "--header", required=True, help="one line: profile, source and commit, date, licence"
    )
    refresh.add_argument("--output", type=Path, help="where to write (default: the shipped list)")
    args = parser.parse_args(argv)
    if args.here == (args.freeze is not None):
        parser.error("give a freeze file or --here, not both")
    if args.here:
        import importlib.metadata

        versions = {
            dist.metadata["Name"]: dist.version for dist in importlib.metadata.distributions()
        }
        entries = entries_here(versions, importlib.metadata.packages_distributions())
    else:
        entries = parse_freeze(args.freeze.read_text(encoding="utf-8"))
    output = args.output or DATA / f"{args.list}.txt"
    output.write_text(render(args.header, entries), encoding="utf-8")
    print(f"{output}: {len(entries)} distributions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
