"""Which `.py`/`.md` files are jupytext text notebooks, decided from their first lines alone.

Pure and free of jupytext, so that discovery can sort a tree's files without the `text` extra:
a script or a document is a text notebook only when its header says so (`--text` overrides).

Before (a percent script's header, as jupytext writes it)::

    # ---
    # jupyter:
    #   jupytext:
    #     text_representation: ...
    # ---
"""

from __future__ import annotations

import re

#: File suffixes read as text notebooks, with the jupytext extension each stands for.
TEXT_SUFFIXES: dict[str, str] = {".py": "py", ".md": "md"}

#: How far into a file a header is looked for: jupytext headers are short, a plain script's
#: first lines never hold one, and reading a whole large module to decide would be waste.
_HEADER_LINES = 200

# The header's opening line: `# ---` in a script, `---` in markdown (a YAML front matter).
_OPEN = {"py": re.compile(r"# ?---\s*"), "md": re.compile(r"---\s*")}
# A `jupytext:` key in the header, at the top level (MyST) or under `jupyter:` (scripts).
_JUPYTEXT_KEY = {"py": re.compile(r"#\s*jupytext:\s*"), "md": re.compile(r"\s*jupytext:\s*")}


def text_extension(name: str) -> str | None:
    """The jupytext extension (`py`, `md`) for a file name, or None for other files."""
    for suffix, extension in TEXT_SUFFIXES.items():
        if name.endswith(suffix):
            return extension
    return None


def has_jupytext_header(data: bytes, extension: str) -> bool:
    """True when `data` opens with a header holding a `jupytext:` section.

    >>> has_jupytext_header(b"# ---\\n# jupyter:\\n#   jupytext:\\n# ---\\n", "py")
    True
    >>> has_jupytext_header(b"import os\\n", "py")
    False
    """
    text = data[:65536].decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()[:_HEADER_LINES]
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None or not _OPEN[extension].fullmatch(lines[first]):
        return False
    for line in lines[first + 1 :]:
        if _OPEN[extension].fullmatch(line):
            return False  # the header closed without a jupytext section
        if _JUPYTEXT_KEY[extension].fullmatch(line):
            return True
    return False


__all__ = ["TEXT_SUFFIXES", "has_jupytext_header", "text_extension"]
