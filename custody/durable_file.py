"""Durable, atomic file replacement: write, fsync, atomic rename, directory fsync.

After `write_atomic` returns, a crash or power loss leaves either the old or the new content at
`path`, never a mix, and the new content survives a power loss once the call has returned.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from custody.errors import StorageError


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left on the medium holding {path}"
    if exc.errno == errno.EROFS:
        return f"the medium holding {path} is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied writing {path}"
    return f"cannot write {path}: {exc.strerror or exc}"


def write_atomic(
    path: Path, data: bytes, mode: int = 0o600, *, durable: bool = True, exact_mode: bool = False
) -> None:
    """Replace `path` with `data` atomically; durably unless `durable=False`.

    Without `durable` the rename is still atomic (readers see old or new content) but a power
    loss may bring back the old content: only for records where lagging behind is safe.
    `mode` is narrowed by the process umask (077 for the CLI) unless `exact_mode`: then the file
    has exactly `mode` — for files another service's user must read (metrics textfiles).
    Raises StorageError; `replace_atomically` is the same with the OSError left to the caller.
    """
    try:
        replace_atomically(path, data, mode, durable=durable, exact_mode=exact_mode)
    except OSError as exc:
        raise StorageError(_describe(exc, path)) from None


def replace_atomically(
    path: Path, data: bytes, mode: int = 0o600, *, durable: bool = True, exact_mode: bool = False
) -> None:
    """`write_atomic` raising the OSError (the temporary file removed)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            if exact_mode:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        if durable:
            fsync_directory(path.parent)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def storage_error(exc: OSError, path: Path) -> StorageError:
    """Translate an OSError from a write to `path` into a user-facing StorageError."""
    return StorageError(_describe(exc, path))
