"""Which kernel a notebook is for, and whether nbsetup rewrites notebooks of that kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def kernel_language(notebook: dict[str, Any]) -> str | None:
    """The notebook's kernel language, lower case, or None when it names none."""
    metadata = notebook.get("metadata", {})
    for key, name in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(name), str):
            return section[name].lower()
    return None


def skip_reason(notebook: dict[str, Any], kernels: Sequence[str] = ("python",)) -> str | None:
    """Why nbsetup leaves this notebook alone (a kernel not in `kernels`), or None."""
    language = kernel_language(notebook)
    if language is not None and language not in {kernel.lower() for kernel in kernels}:
        if kernels == ("python",):
            return f"not a Python notebook (kernel language: {language})"
        return f"kernel language {language} is not one of: {', '.join(kernels)}"
    return None
