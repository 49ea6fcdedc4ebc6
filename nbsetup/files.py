"""Read and replace files without hanging, exhausting memory or losing someone else's save.

`read_regular(path, limit)` reads regular files only: a FIFO, a device or a socket is
refused from its type before any read (a FIFO opened to read blocks until a writer comes,
`/dev/zero` never ends), and the size limit is checked before reading and again while
reading. `replace(path, data, expected=...)` writes a same-directory temp file, keeps the
target's mode and (where permitted) owner, and replaces the target only if it still holds
the bytes that were read. Failures are `OSError`s whose `strerror` is a user-ready reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: The largest pin or settings file read (requirements, lock, pyproject.toml, environment.yml):
#: real lock files stay under a few MiB, and parsing costs several times the size in memory.
MAX_PIN_FILE_BYTES = 32 * 1024 * 1024
#: Temp files are named `.<name>.<8 random characters>.nbsetup-tmp` (`tempfile.mkstemp`).
TEMP_SUFFIX = ".nbsetup-tmp"
#: A temp file left by an earlier run (killed with SIGKILL, a power cut) is removed by the next
#: write of its file once it is this much older than the current run (seconds): a temp file
#: another nbsetup is writing at this moment is younger.
STALE_AFTER_SECONDS = 60.0
#: When this process started, for telling stale temp files from those of a run in progress.
RUN_STARTED = time.time()
#: Read in pieces of this size, so that a file growing while it is read stops at the limit.
_CHUNK = 1024 * 1024
#: Most file systems limit a name to 255 bytes: a temp name for a 234-byte name must be cut.
_NAME_MAX = 255
_RANDOM = 8
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileTooLarge(OSError):
    """A file above the size limit of its reader; `size` is what was seen, in bytes."""

    def __init__(self, size: int, limit: int) -> None:
        mib = 1024 * 1024
        reason = f"file too large ({size / mib:.1f} MiB; the limit is {limit / mib:.0f} MiB)"
        super().__init__(errno.EFBIG, reason)
        self.size = size


class FileChanged(OSError):
    """The file no longer holds the bytes that were read: someone saved it meanwhile."""


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; `OSError` with a reason otherwise.

    The file's type is looked at before it is opened (opening a device can have effects of
    its own) and again on the open descriptor, which is opened non-blocking so that a FIFO
    swapped in meanwhile cannot block. A file above `limit` raises `FileTooLarge`.
    """
    descriptor, status = _open_regular(path)
    try:
        if status.st_size > limit:
            raise FileTooLarge(status.st_size, limit)
        pieces = []
        total = 0
        # The first read asks for the whole file (one more byte tells that it grew): a big file
        # is then one allocation, not pieces joined into a second copy.
        wanted = status.st_size + 1
        while total <= limit:
            piece = os.read(descriptor, min(max(wanted, _CHUNK), limit + 1 - total))
            wanted = 0
            if not piece:
                break
            pieces.append(piece)
            total += len(piece)
    finally:
        os.close(descriptor)
    if total > limit:
        raise FileTooLarge(total, limit)
    return b"".join(pieces)


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """A read-only descriptor of a regular file and its status; `OSError` for anything else.

    The type is looked at before the open (opening a device can have effects of its own) and
    again on the descriptor, opened non-blocking so that a FIFO swapped in cannot block.
    """
    _check_regular(os.stat(path).st_mode)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        status = os.fstat(descriptor)
        _check_regular(status.st_mode)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, status


def _check_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory")
    for test, kind in _KINDS:
        if test(mode):
            raise OSError(errno.EINVAL, f"is {kind}, not a regular file")
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file")


def replace(path: Path, data: bytes, *, expected: bytes | None = None, sync: bool = True) -> None:
    """Replace the file's content at once: same-directory temp file, fsync, then `os.replace`.

    With `sync` false, the temp file is not fsynced: the caller promises `sync_all` once it
    has written its files (a batch). An interrupted or killed process still leaves the old
    file or the new one, never a mix: `os.replace` is atomic either way; only a power loss
    before that sync could find new names whose data the disk does not hold yet.

    A symlink is written through to its target; the target's permission bits are kept, and
    its owner and group too where this process may set them (always as root). With
    `expected`, the target must still hold exactly those bytes just before it is replaced,
    else `FileChanged` is raised and the target is left as it is. Stale temp files of
    earlier runs for the same target are removed first.
    """
    target = Path(os.path.realpath(path))
    try:
        status = target.stat()
    except FileNotFoundError:
        if expected is None:
            raise
        raise FileChanged(errno.ENOENT, "changed while nbsetup ran (it was removed)") from None
    prefix = temp_prefix(target.name)
    remove_stale_temps(target.parent, prefix)
    with signals_held(_DURING_REPLACE):
        _replace(target, status, data, expected, prefix, sync)


def sync_all() -> None:
    """Write every file's data to disk (`os.sync`): once after a batch of unsynced replaces."""
    if hasattr(os, "sync"):
        os.sync()


#: Held back while a temp file exists: otherwise a signal landing between the temp file's
#: creation and the `try` that removes it (inside `mkstemp`, say) would leave it behind; a
#: worker process, which dies of SIGTERM, would leave one whenever stopped mid-write.
_DURING_REPLACE = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def signals_held(signals: frozenset[signal.Signals]) -> Iterator[None]:
    """Hold `signals` back in this thread meanwhile: they take effect right after."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover (Windows)
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _replace(
    target: Path,
    status: os.stat_result,
    data: bytes,
    expected: bytes | None,
    prefix: str,
    sync: bool,
) -> None:
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            _keep_owner(temp.fileno(), status)
            # After chown, which clears the set-user-ID and set-group-ID bits.
            os.fchmod(temp.fileno(), stat.S_IMODE(status.st_mode))
            if sync:
                os.fsync(temp.fileno())
        # The last moment to notice an editor's save (an autosave, `git checkout`) made while
        # this run worked: comparing bytes, not the mtime, which coarse clocks can repeat.
        if expected is not None and not _holds(target, expected):
            raise FileChanged(errno.EAGAIN, "changed while nbsetup ran")
        os.replace(temp_name, target)
    except BaseException:
        # Interrupted or failed: the original is untouched; do not leave the temp file behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _holds(target: Path, expected: bytes) -> bool:
    """Whether `target` is a regular file holding exactly `expected`, compared piece by piece
    (a big notebook is not read into memory a second time beside its rewrite)."""
    try:
        descriptor, status = _open_regular(target)
    except OSError:
        return False  # replaced by a directory, gone, unreadable: changed all the same
    try:
        if status.st_size != len(expected):
            return False
        view = memoryview(expected)
        position = 0
        while piece := os.read(descriptor, _CHUNK):
            if view[position : position + len(piece)] != piece:
                return False
            position += len(piece)
        return position == len(expected)
    except OSError:
        return False
    finally:
        os.close(descriptor)


def _keep_owner(descriptor: int, status: os.stat_result) -> None:
    new = os.fstat(descriptor)
    if (new.st_uid, new.st_gid) == (status.st_uid, status.st_gid):
        return
    try:
        os.fchown(descriptor, status.st_uid, status.st_gid)
    except PermissionError:
        # Not permitted (another user's file in a directory we may write): keep the group at
        # least, which a member of it may set.
        with contextlib.suppress(PermissionError):
            os.fchown(descriptor, -1, status.st_gid)


def temp_prefix(name: str) -> str:
    """`.<name>.`, the name cut so that the whole temp name fits in 255 bytes."""
    room = _NAME_MAX - len(TEMP_SUFFIX) - _RANDOM - 2
    encoded = os.fsencode(name)[:room]
    # Cutting bytes can split a character; the surrogate escape keeps any byte, like fsencode.
    return "." + os.fsdecode(encoded) + "."


def remove_stale_temps(directory: Path, prefix: str) -> None:
    """Remove `prefix` temp files in `directory` older than this run, as far as permitted.

    The directory is listed once per process: the stale temp files of all its notebooks are
    found then (files written during the run are newer than the cutoff, so a later listing
    would find no more), and each notebook's are removed when it is written. Listing it on
    every write made a batch cost quadratic in the files per directory.
    """
    key = os.path.abspath(directory)
    stale = _STALE.get(key)
    if stale is None:
        stale = _STALE[key] = _stale_temps(directory)
    for entry_path in stale.pop(prefix, ()):
        with contextlib.suppress(OSError):
            status = os.stat(entry_path, follow_symlinks=False)
            if (
                stat.S_ISREG(status.st_mode)
                and status.st_mtime < RUN_STARTED - STALE_AFTER_SECONDS
            ):
                os.unlink(entry_path)


#: The stale temp files of each directory listed so far, by the prefix of their notebook.
_STALE: dict[str, dict[str, list[str]]] = {}
_TEMP_NAME = re.compile(rf"(\..*\.)[a-z0-9_]{{{_RANDOM}}}{re.escape(TEMP_SUFFIX)}", re.S)


def _stale_temps(directory: Path) -> dict[str, list[str]]:
    """The temp files in `directory` older than this run, by prefix (`temp_prefix`)."""
    cutoff = RUN_STARTED - STALE_AFTER_SECONDS
    found: dict[str, list[str]] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.endswith(TEMP_SUFFIX):
            continue
        match = _TEMP_NAME.fullmatch(entry.name)
        if match is None:
            continue
        with contextlib.suppress(OSError):
            status = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(status.st_mode) and status.st_mtime < cutoff:
                found.setdefault(match.group(1), []).append(entry.path)
    return found


def reason(error: OSError) -> str:
    """`no such file or directory`: the strerror, lower case, without errno and path."""
    text = error.strerror or str(error)
    return text[:1].lower() + text[1:]


__all__ = [
    "MAX_PIN_FILE_BYTES",
    "RUN_STARTED",
    "STALE_AFTER_SECONDS",
    "TEMP_SUFFIX",
    "FileChanged",
    "FileTooLarge",
    "read_regular",
    "reason",
    "remove_stale_temps",
    "replace",
    "temp_prefix",
]
