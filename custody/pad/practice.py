"""Practice pads: OS CSPRNG bytes, marked PRACTICE, written as a workstation and a facility copy.

A practice pad lets the frame layer and the link run end to end before a ceremony and an HSM
exist. It is never a production pad: its manifest says PRACTICE and a production home refuses it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

from custody.durable_file import storage_error
from custody.errors import UsageError
from custody.pad import manifest as pad_manifest
from custody.pad.frame_policy import FramePolicy
from custody.pad.manifest import DEFAULT_CHUNK_SIZE, Manifest, Mark, Side
from custody.pad.store import PAD_NAME, write_pad_dir

WORKSTATION_DIR = "workstation"
FACILITY_DIR = "facility"


def make_practice_pad(
    out: Path,
    size: int,
    *,
    split: str = "1:3",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    frame_policy: FramePolicy | None = None,
) -> Manifest:
    """Create OUT/workstation and OUT/facility. Refuses to overwrite an existing pad.
    `frame_policy` goes into the manifest (None: no field, i.e. otp-only)."""
    # Checked before anything is written, so a refused size leaves nothing behind.
    pad_manifest.check_new_pad(size, split, chunk_size=chunk_size)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a directory; give a directory for the pad")
    ws, fac = out / WORKSTATION_DIR, out / FACILITY_DIR
    for d in (ws, fac):
        if d.exists() and (not d.is_dir() or any(d.iterdir())):
            raise UsageError(f"{d} already exists and is not empty; refusing to overwrite a pad")
    try:
        ws.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise storage_error(exc, ws) from None
    pad_path = ws / PAD_NAME
    digests = []
    try:
        fd = os.open(pad_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            left = size
            while left:
                chunk = secrets.token_bytes(min(chunk_size, left))
                os.write(fd, chunk)
                digests.append(hashlib.sha256(chunk).digest())
                left -= len(chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        shutil.rmtree(ws, ignore_errors=True)
        raise storage_error(exc, pad_path) from None
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    try:
        manifest = pad_manifest.build(
            pad_path,
            split=split,
            ceremony_id="practice",
            mark=Mark.PRACTICE,
            created=created,
            chunk_size=chunk_size,
            chunk_digests=tuple(digests),
            frame_policy=frame_policy,
        )
        write_pad_dir(ws, manifest, Side.WORKSTATION)
        write_pad_dir(fac, manifest, Side.FACILITY, pad_source=pad_path)
    except BaseException:
        shutil.rmtree(ws, ignore_errors=True)
        shutil.rmtree(fac, ignore_errors=True)
        raise
    return manifest
