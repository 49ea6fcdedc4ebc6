"""`nbsetup lock`: write versions for a collection's unpinned installs into its pin file.

`gather` finds what the pin files do not pin exactly, `resolve` finds versions (an
interpreter's installed ones, or pip's or uv's resolver), `edit` changes the requirements file
minimally, `run` ties them together over a collection and `cli` is the command.
"""

from __future__ import annotations
