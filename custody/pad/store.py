"""A pad directory on disk: its layout, and opening the copy in it for use.

A directory holds `manifest.json`, `journal.json`, `pad.bin` (the bytes; the facility's vault
keeps them in the HSM instead) and a lock file. `open_copy` is the one opening sequence for every
kind of copy: take the lock, bind the journal to the manifest, then the rollback checks (the
host's witness, the medium). What a copy does once open is `custody.pad.pad_copy.PadCopy`.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from custody.durable_file import write_atomic
from custody.errors import PadFormatError, PadInUseError, PadRollbackError
from custody.pad.journal import JournalState, read_journal
from custody.pad.manifest import Manifest, Side, read_manifest_file
from custody.pad.medium import DEFAULT_BLOCK, FilePadBytes, PadBytes
from custody.pad.pad_copy import PadCopy
from custody.pad.witness import Witness

MANIFEST_NAME = "manifest.json"
PAD_NAME = "pad.bin"
JOURNAL_NAME = "journal.json"
LOCK_NAME = ".lock"


def default_state_dir() -> Path:
    env = os.environ.get("REDDOOR_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "reddoor"


def lock_directory(directory: Path) -> int:
    """Take the copy's exclusive lock or raise PadInUseError."""
    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise PadFormatError(f"cannot open {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise PadInUseError(f"pad {directory} is in use by another Red Door process") from None
    return fd


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_NAME
    try:
        data = read_manifest_file(path)
    except FileNotFoundError:
        raise PadFormatError(f"{directory} is not a pad directory (no {MANIFEST_NAME})") from None
    except IsADirectoryError:
        raise PadFormatError(f"{path} is not a file") from None
    except OSError as exc:
        raise PadFormatError(f"cannot read {path}: {exc.strerror}") from None
    return Manifest.from_bytes(data, str(path))


def open_copy(
    directory: Path,
    make_bytes: Callable[[Path, Manifest], PadBytes],
    *,
    state_dir: Path | None = None,
    block: int = DEFAULT_BLOCK,
    use_witness: bool = True,
    on_warning: Callable[[str], None] | None = None,
    verify: bool = True,
) -> PadCopy:
    """Open the copy whose manifest and journal are in `directory`, its bytes from `make_bytes`.

    One sequence for every kind of copy (a USB directory, the facility's HSM vault): take the
    lock, bind the journal to the manifest, then the rollback checks (host witness, medium).
    `verify=False` skips the rollback checks: only for moving a copy *up* to a record that
    outranks them (`pad resync`), never for using it.
    """
    manifest = read_manifest(directory)
    lock_fd = lock_directory(directory)
    try:
        journal_path = directory / JOURNAL_NAME
        journal = read_journal(journal_path)
        if journal.pad_id != manifest.pad_id or journal.manifest_sha256 != manifest.sha256:
            raise PadRollbackError(
                f"{journal_path} belongs to another pad or another manifest; refusing"
            )
        pad_bytes = make_bytes(directory, manifest)
    except BaseException:
        os.close(lock_fd)
        raise
    witness = (
        Witness(state_dir or default_state_dir(), manifest, journal.side) if use_witness else None
    )
    copy = PadCopy(
        manifest,
        journal,
        journal_path,
        pad_bytes,
        witness=witness,
        block=block,
        lock_fd=lock_fd,
        on_warning=on_warning,
    )
    try:
        if verify:
            copy.check_witness()
            copy.check_medium()
    except BaseException:
        copy.abandon()
        raise
    return copy


def open_pad_dir(
    directory: Path | str,
    *,
    state_dir: Path | None = None,
    block: int = DEFAULT_BLOCK,
    use_witness: bool = True,
    on_warning: Callable[[str], None] | None = None,
    verify: bool = True,
) -> PadCopy:
    """Open a pad directory (a USB stick, a practice copy) for use."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PadFormatError(f"{directory} is not a directory")
    return open_copy(
        directory,
        lambda d, m: FilePadBytes(d / PAD_NAME, m.size),
        state_dir=state_dir,
        block=block,
        use_witness=use_witness,
        on_warning=on_warning,
        verify=verify,
    )


def write_pad_dir(
    directory: Path, manifest: Manifest, side: Side, pad_source: Path | None = None
) -> None:
    """Lay down a fresh copy: manifest, journal at generation 0, and (optionally) pad bytes."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if pad_source is not None:
        import shutil

        shutil.copyfile(pad_source, directory / PAD_NAME)
        os.chmod(directory / PAD_NAME, 0o600)
    journal = JournalState(
        pad_id=manifest.pad_id,
        manifest_sha256=manifest.sha256,
        side=side,
        generation=0,
        send_reserved=manifest.region(side.sends).start,
        recv_mark=manifest.region(side.receives).start,
    )
    write_atomic(directory / MANIFEST_NAME, manifest.to_bytes(), mode=0o600)
    write_atomic(directory / JOURNAL_NAME, journal.to_bytes(), mode=0o600)
