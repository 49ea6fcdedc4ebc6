"""Recognise install commands in notebook cells and judge whether each can be hoisted."""

from __future__ import annotations

from nbsetup.installs.cells import find_installs

__all__ = ["find_installs"]
