"""Reading files and streams with a size limit: every input the CLI reads comes through here.

The limits themselves live beside the formats they bound (`checkpoint.MAX_NOTE_BYTES`,
`pad_manifest.MAX_MANIFEST_BYTES`, ...) and are listed in docs/architecture.md "Input limits".

Rules kept here:

* Bounded before allocation: at most `limit + 1` bytes are ever read, in pieces, so a 2 GB file or
  `/dev/zero` is refused after reading one byte past the limit, not after filling the memory. A
  regular file larger than the limit is refused from its size alone, before any read.
* Special files are read like any stream, within the same limit: `/dev/zero` or a FIFO fed
  endlessly is refused at the limit. A FIFO waits for its writer, as Unix FIFOs do (that is how
  a secret is passed without touching the disk: `mkfifo`, then the password manager writes).
* The error is typed: `InputTooLarge` (exit 2) unless the caller names its format's own error
  (a pad file too large is a corrupt pad: `PadFormatError`, exit 3).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from custody.errors import InputTooLarge, RedDoorError

PIECE = 1 << 16  # read in pieces: a limit is a ceiling, never an allocation size


def _too_large(what: str, where: str, limit: int, error: type[RedDoorError]) -> RedDoorError:
    return error(f"{what} {where} is larger than its limit of {limit:,} bytes")


def read_stream(stream: BinaryIO, limit: int, what: str, *, where: str = "on stdin") -> bytes:
    """At most `limit` bytes from an open binary stream (stdin); more is `InputTooLarge`."""
    parts: list[bytes] = []
    total = 0
    while total <= limit:
        piece = stream.read(min(PIECE, limit + 1 - total))
        if not piece:
            break
        parts.append(piece)
        total += len(piece)
    if total > limit:
        raise _too_large(what, where, limit, InputTooLarge)
    return b"".join(parts)


def _open(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def read_file(
    path: Path, limit: int, what: str, *, error: type[RedDoorError] = InputTooLarge
) -> bytes:
    """The bytes of `path`, refused with `error` when there are more than `limit`.

    OSError (missing, unreadable, a directory) propagates: callers already say what a missing
    file of theirs means."""
    fd = _open(path)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise _too_large(what, str(path), limit, error)
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
            parts: list[bytes] = []
            total = 0
            while total <= limit:
                piece = fh.read(min(PIECE, limit + 1 - total))
                if not piece:
                    break
                parts.append(piece)
                total += len(piece)
    finally:
        os.close(fd)
    if total > limit:
        raise _too_large(what, str(path), limit, error)
    return b"".join(parts)


def iter_lines(
    path: Path,
    limit: int,
    line_limit: int,
    what: str,
    *,
    error: type[RedDoorError] = InputTooLarge,
) -> Iterator[bytes]:
    """The lines of a JSON-lines file, each at most `line_limit` bytes, `limit` in all.

    A line longer than its limit (no newline in sight, as in /dev/zero) or a file longer than
    its limit raises `error` when it is reached; lines before it have been yielded."""
    fd = _open(path)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise _too_large(what, str(path), limit, error)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            total = 0
            while line := fh.readline(line_limit + 1):
                total += len(line)
                if total > limit:
                    raise _too_large(what, str(path), limit, error)
                if len(line) > line_limit and not line.endswith(b"\n"):
                    raise error(
                        f"{what} {path} has a line longer than its limit of {line_limit:,} bytes"
                    )
                yield line
    finally:
        os.close(fd)


def check_file(
    path: Path, limit: int, what: str, *, error: type[RedDoorError] = InputTooLarge
) -> None:
    """For files another library reads by path (Zenoh's TLS certificates and keys): a regular
    file of at most `limit` bytes. A device or FIFO is refused: the library would read it
    without a bound."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {path} is not a regular file")
    if st.st_size > limit:
        raise _too_large(what, str(path), limit, error)
