"""`python -m nbsetup`."""

from __future__ import annotations

from nbsetup.cli import main

if __name__ == "__main__":
    main(prog_name="nbsetup")
