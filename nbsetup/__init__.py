"""nbsetup: hoist and pin the package installs of Jupyter notebooks.

The Python API, for editor extensions, migration jobs and test suites::

    import nbsetup

    result = nbsetup.fix_bytes(data, pins="requirements.txt")  # pure: bytes in, bytes out
    result = nbsetup.fix_path("demo.ipynb")  # as `nbsetup fix demo.ipynb`
    diagnostics = nbsetup.check_path("demo.ipynb")  # as `nbsetup check demo.ipynb`

Every name in `__all__` is stable; modules and names not listed there are private.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

from nbsetup.api import (
    FixResult,
    check_path,
    fix_bytes,
    fix_path,
    load_config,
    load_pins,
)
from nbsetup.changes import Change
from nbsetup.config import ProjectConfig
from nbsetup.diagnostics import Diagnostic
from nbsetup.errors import NbsetupError, UnpinnedPackages
from nbsetup.pins import Pins
from nbsetup.report import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "Change",
    "Diagnostic",
    "FixResult",
    "NbsetupError",
    "Pins",
    "ProjectConfig",
    "UnpinnedPackages",
    "check_path",
    "fix_bytes",
    "fix_path",
    "load_config",
    "load_pins",
]
