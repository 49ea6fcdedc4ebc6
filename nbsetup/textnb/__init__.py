"""Text notebooks (jupytext percent/light scripts, MyST and jupytext markdown), byte-faithful.

`loads`/`dumps` mirror `nbsetup.notebook_io` for text: the notebook as jupytext reads it, and
back with only the changed cells rendered. `detect` decides which files are text notebooks
without jupytext; `pairs` finds the other members of a jupytext pair. jupytext itself is the
optional `nbsetup[text]` extra; without it reading raises `MissingExtra`.
"""

from __future__ import annotations

from nbsetup.textnb.codec import Rewrite, TextDocument, dumps, fix_text, loads
from nbsetup.textnb.detect import TEXT_SUFFIXES, has_jupytext_header, text_extension
from nbsetup.textnb.layout import MissingExtra, TextNotebookError

__all__ = [
    "TEXT_SUFFIXES",
    "MissingExtra",
    "Rewrite",
    "TextDocument",
    "TextNotebookError",
    "dumps",
    "fix_text",
    "has_jupytext_header",
    "loads",
    "text_extension",
]
