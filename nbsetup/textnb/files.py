"""The file side of text notebooks: which codec reads a file, and a jupytext pair's members.

This is shell code (it reads the other members of a pair), kept beside the codec so that the
pipeline needs only two calls: `codec_for` to read and write one file, `pair_writes` to fix
the members of its jupytext pair the same way, all or none.

A pair is a notebook whose jupytext `formats` metadata names several files (`ipynb,py:percent`:
`demo.ipynb` and `demo.py`). Every member that exists is fixed in the same run, from the same
pins, and is written only when all agree: the members must hold the same cells before the fix
(else "out of sync", nothing written) and after it. So `jupytext --sync` finds nothing to do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbsetup import notebook_io
from nbsetup.errors import NbsetupError
from nbsetup.notebook_io import cell_text
from nbsetup.textnb import codec
from nbsetup.textnb.detect import has_jupytext_header, text_extension
from nbsetup.textnb.layout import EXTRA_HINT, jupytext_module

#: The pipeline's core, as `transform.hoist` does it: notebook in, notebook and origins out.
Rewrite = Callable[[dict[str, Any]], tuple[dict[str, Any], Sequence[int | None]]]

# `formats: ipynb,py:percent` in a text notebook's header (enough to pair files in discovery).
_FORMATS_LINE = re.compile(r"^[#\s]*formats:\s*['\"]?([^'\"\s]+)", re.MULTILINE)


class PairError(NbsetupError):
    """The members of a jupytext pair cannot be fixed the same way."""


class NotATextNotebook(NbsetupError):
    """A `.py`/`.md` file named on the command line without a jupytext header."""


@dataclass(frozen=True)
class Codec:
    """How one file is read and written: `.ipynb` JSON, or a jupytext text format."""

    #: The jupytext extension (`py`, `md`) of a text notebook; None for `.ipynb`.
    text: str | None = None

    def loads(self, data: bytes) -> Any:
        """The file's document (`notebook_io.Document` or `codec.TextDocument`)."""
        return codec.loads(data, self.text) if self.text else notebook_io.loads(data)

    def dumps(
        self, document: Any, notebook: dict[str, Any], origins: Sequence[int | None]
    ) -> bytes:
        """`notebook` written back in the document's own format (see the two codecs)."""
        if self.text:
            return codec.dumps(document, notebook, origins)
        return notebook_io.dumps(document, notebook, origins)


def codec_for(path: Path, data: bytes, text: bool = False) -> Codec:
    """The codec for `path`: text for `.py`/`.md` with a jupytext header (any with `text`).

    Raises `NotATextNotebook` for a `.py`/`.md` without a header: a plain script or document
    named on the command line is refused, never rewritten, unless `--text` says it is one.
    """
    extension = text_extension(path.name)
    if extension is None:
        return Codec()
    if text or has_jupytext_header(data, extension):
        return Codec(extension)
    raise NotATextNotebook(
        "not a text notebook (no jupytext header); pass --text to read it as one"
    )


def is_text_notebook(path: Path) -> bool:
    """True for a `.py`/`.md` file whose header makes it a jupytext notebook (for discovery)."""
    extension = text_extension(path.name)
    if extension is None:
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return False
    return has_jupytext_header(head, extension)


def drop_twins(paths: Sequence[Path]) -> list[Path]:
    """`paths` less each text notebook paired with an `.ipynb` beside it that is also listed.

    The `.ipynb` stands for the pair: processing it fixes both (`pair_writes`), once.
    """
    listed = set(paths)
    kept = []
    for path in paths:
        twin = path.with_suffix(".ipynb")
        if text_extension(path.name) and twin in listed and "ipynb" in _header_formats(path):
            continue
        kept.append(path)
    return kept


def _header_formats(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(65536).decode("utf-8", errors="replace")
    except OSError:
        return ""
    found = _FORMATS_LINE.search(head)
    return found.group(1) if found else ""


def pair_writes(
    path: Path,
    data: bytes,
    codec_: Codec,
    document: Any,
    result: tuple[dict[str, Any], Sequence[int | None]],
    rewrite: Rewrite,
) -> list[tuple[Path, bytes]]:
    """The files to write for `path` (`result`: its new notebook and origins) and its pair.

    Lists only files whose bytes change, `.ipynb` first and text last (jupytext takes the
    newest member as the one to sync from). A notebook without a `formats` pairing stands
    alone. Raises `PairError`, naming the pair, when a member holds other cells than `path`
    (before or after the fix) or cannot be read.
    """
    notebook, origins = result
    formats = document.notebook.get("metadata", {}).get("jupytext", {}).get("formats")
    if not isinstance(formats, str) or "," not in formats:
        new_data = codec_.dumps(document, notebook, origins)
        return [(path, new_data)] if new_data != data else []
    if _stands_alone(path, formats):
        held = codec.held(notebook, document.notebook, origins)
        new_data = codec_.dumps(document, held, origins)
        return [(path, new_data)] if new_data != data else []
    jupytext_module()  # a pair is found with jupytext's own path rules
    from jupytext.paired_paths import InconsistentPath, paired_paths

    try:
        fmts = {
            Path(member): fmt
            for member, fmt in paired_paths(str(path), _own_format(path, document), formats)
        }
    except InconsistentPath as error:
        raise PairError(f"jupytext pair {formats}: {error}") from None
    names = ", ".join(member.name for member in fmts)
    # Every member's cells as a text notebook holds them, so that all members agree.
    new_notebook = codec.held(notebook, document.notebook, origins)
    writes = [(path, data, codec_.dumps(document, new_notebook, origins))]
    for member, fmt in fmts.items():
        if member == path or not member.exists():
            continue
        old = notebook_io.read_bytes(member)
        twin_codec = Codec(None if fmt["extension"] == ".ipynb" else fmt["extension"][1:])
        try:
            twin = twin_codec.loads(old)
        except NbsetupError as error:
            raise PairError(f"paired with {member} ({formats}): {error}") from None
        if _cells(twin.notebook) != _cells(document.notebook):
            raise PairError(
                f"paired with {member} ({formats}) but their cells differ; run "
                f"`jupytext --sync {path}` first, then nbsetup fix (pair: {names})"
            )
        twin_notebook, twin_origins = rewrite(twin.notebook)
        twin_notebook = codec.held(twin_notebook, twin.notebook, twin_origins)
        if _cells(twin_notebook) != _cells(new_notebook):
            raise PairError(
                f"the fix would leave {member} ({formats}) out of sync; nothing written "
                f"(pair: {names})"
            )
        writes.append((member, old, twin_codec.dumps(twin, twin_notebook, twin_origins)))
    changed = [(member, new) for member, old, new in writes if new != old]
    return sorted(changed, key=lambda write: text_extension(write[0].name) is not None)


#: A pairing entry that names only an extension (`ipynb`, `py:percent`, `.md:myst`): its member
#: is the file of the same name in the same directory. Any other (a prefix, a suffix such as
#: `.pct.py`, a directory, `auto:percent`) is left to jupytext's path rules.
_PLAIN_ENTRY = re.compile(r"\.?(\w+)(?::[\w-]+)?")


def _stands_alone(path: Path, formats: str) -> bool:
    """True when `formats` pairs `path` only with same-name files that do not exist.

    Such a notebook is written as a pair with no other member would be, without importing
    jupytext (a third of a second) to find the members. Anything this does not read for sure
    (another entry shape, `path`'s own extension not among the entries) goes to jupytext,
    which also raises for an inconsistent pairing.
    """
    extensions = []
    for entry in formats.split(","):
        plain = _PLAIN_ENTRY.fullmatch(entry)
        if plain is None or plain.group(1) == "auto":
            return False
        extensions.append("." + plain.group(1))
    if path.suffix not in extensions:
        return False
    return not any(path.with_suffix(ext).exists() for ext in extensions if ext != path.suffix)


def _own_format(path: Path, document: Any) -> dict[str, str]:
    fmt = getattr(document, "fmt", None)
    return dict(fmt) if fmt else {"extension": path.suffix}


def _cells(notebook: dict[str, Any]) -> list[tuple[str, str]]:
    return [(cell["cell_type"], cell_text(cell)) for cell in notebook["cells"]]


__all__ = [
    "EXTRA_HINT",
    "Codec",
    "NotATextNotebook",
    "PairError",
    "codec_for",
    "drop_twins",
    "is_text_notebook",
    "pair_writes",
]
