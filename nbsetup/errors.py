"""The one hierarchy of user-facing errors; messages are ready to print after `PATH: error: `."""

from __future__ import annotations

from collections.abc import Sequence


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


class TooLarge(NotebookError):
    """The file is above the size nbsetup reads (`notebook_io.MAX_BYTES`); it is not read."""


class UnsafeChange(NbsetupError):
    """The rewritten notebook failed a safety check (`nbsetup.safety`), so it is not written."""


class UnpinnedPackages(NbsetupError):
    """`pin-missing` is on and the environment cell would hold packages the pins leave open."""

    def __init__(
        self, packages: Sequence[str], label: str | None, origin: str | None = None
    ) -> None:
        where = f"by {label}" if label else "(no requirements file found)"
        super().__init__(f"not pinned {where}: {', '.join(packages)} (pin-missing is on)")
        #: The packages without a pin, as the environment cell names them.
        self.packages = tuple(packages)
        #: The pin sources, as reports name them; None: no pins.
        self.origin = origin


class ChangedMeanwhile(NbsetupError):
    """The file was saved by someone else while nbsetup worked on it, so it is not written."""


class CannotWrite(NbsetupError):
    """The operating system refused to write the file (read-only, disk full, ...)."""
