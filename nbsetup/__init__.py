"""nbsetup: hoist and pin the package installs of Jupyter notebooks."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
