"""The one hierarchy of user-facing errors; messages are ready to print after `PATH: error: `."""

from __future__ import annotations


class NbsetupError(Exception):
    """An input nbsetup cannot process; `str(error)` is the reason, lower case, no final period."""


class NotebookError(NbsetupError):
    """A file that cannot be read as a notebook."""


class Unreadable(NotebookError):
    """The file cannot be opened or read."""


class EmptyFile(NotebookError):
    """The file has no content."""


class NotText(NotebookError):
    """The bytes are binary or not UTF-8."""


class InvalidJson(NotebookError):
    """The text is not valid JSON."""


class NotANotebook(NotebookError):
    """Valid JSON that is not a Jupyter notebook."""


class UnsupportedFormat(NotebookError):
    """A notebook in a format version nbsetup does not rewrite (nbformat 3 or older)."""


class StyleMismatch(NotebookError):
    """The file's JSON layout cannot be reproduced byte for byte, so it is not rewritten."""


class TooLarge(NotebookError):
    """The file is above the size nbsetup reads (`notebook_io.MAX_BYTES`); it is not read."""


class UnsafeChange(NbsetupError):
    """The rewritten notebook failed a safety check (`nbsetup.safety`), so it is not written."""


class ChangedMeanwhile(NbsetupError):
    """The file was saved by someone else while nbsetup worked on it, so it is not written."""


class CannotWrite(NbsetupError):
    """The operating system refused to write the file (read-only, disk full, ...)."""
