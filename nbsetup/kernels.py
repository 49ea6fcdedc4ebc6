"""Which kernel a notebook is for, and whether nbsetup rewrites notebooks of that kernel."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def kernel_language(notebook: dict[str, Any]) -> str | None:
    """The notebook's kernel language, lower case, or None when it is unknown (then: Python).

    Read from `kernelspec.language`, then `language_info.name`, then the kernel's name
    (`kernelspec.name`, only where it clearly names a language: `ir`, `julia-1.10`). An empty
    string is unknown: Vertex AI Workbench writes `language_info.name: ""` beside a
    `python3` kernelspec.
    """
    metadata = notebook.get("metadata", {})
    for key, name in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(name), str):
            language = section[name].strip().lower()
            if language:
                return language
    spec = metadata.get("kernelspec")
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return _language_of_kernel(spec["name"].strip().lower())
    return None


#: Kernel names (`jupyter kernelspec list`) that tell their language; any other is unknown.
_KERNEL_NAMES = (
    (re.compile(r"python\d*(\.\d+)*|xpython|.*-py(thon)?\d*|pyspark.*"), "python"),
    (re.compile(r"ir|r|xr"), "r"),
    (re.compile(r"julia(-[\d.]+)?"), "julia"),
    (re.compile(r"ijavascript|javascript|deno|tslab"), "javascript"),
    (re.compile(r"scala.*|spylon.*|almond.*"), "scala"),
    (re.compile(r"bash|sh|zsh"), "bash"),
    (re.compile(r"ocaml.*|xeus-cling.*|xcpp\d*|gophernotes|evcxr.*|rust"), "other"),
)


def _language_of_kernel(name: str) -> str | None:
    for pattern, language in _KERNEL_NAMES:
        if pattern.fullmatch(name):
            return name if language == "other" else language
    return None


def skip_reason(notebook: dict[str, Any], kernels: Sequence[str] = ("python",)) -> str | None:
    """Why nbsetup leaves this notebook alone (a kernel not in `kernels`), or None."""
    language = kernel_language(notebook)
    if language is not None and language not in {kernel.lower() for kernel in kernels}:
        if kernels == ("python",):
            return f"not a Python notebook (kernel language: {language})"
        return f"kernel language {language} is not one of: {', '.join(kernels)}"
    return None
