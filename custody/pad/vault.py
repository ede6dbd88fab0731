"""The facility copy of a pad: chunks encrypted on the HSM under a per-pad, non-extractable key.

A real HSM cannot hold a GiB, so the pad lives in the facility home as ciphertext and the token
holds only the key:

    HOME/vault/<pad id hex>/manifest.json     the pad's manifest (byte-identical to the USB's)
    HOME/vault/<pad id hex>/journal.json      the facility side's consumption journal
    HOME/vault/<pad id hex>/vault.json        format, key label, chunk count (no secrets)
    HOME/vault/<pad id hex>/chunks/NNNNNN.gcm "RDV1" ‖ nonce(12) ‖ AES-256-GCM(chunk) ‖ tag(16)

Each chunk (the manifest's chunk size, 1 MiB by default) is encrypted **on the token** with
AES-256-GCM under the key labelled ``reddoor-pad-<pad id hex>`` (generated on the token,
EXTRACTABLE false, checked NEVER_EXTRACTABLE and ALWAYS_SENSITIVE), a fresh random 96-bit nonce
from the token's RNG, and associated data ``"reddoor-vault/1" ‖ pad id (16) ‖ chunk index (u64
big-endian)``: a chunk moved to another index or another pad does not authenticate. Every
PKCS#11 call goes through `custody.hsm.Token`, which holds the process-wide PKCS#11 lock.

Reading (`VaultPadBytes.read`) decrypts on the token and keeps at most two decrypted chunks in
memory (wiped on eviction and close). Zeroizing: GCM ciphertext cannot be zeroed in place, so a
used range is zeroed in the cached plaintext at once and, at `sync` (which `PadCopy` calls before
every journal write and at close), each touched chunk is **re-encrypted with its used ranges
zeroed** under a fresh nonce and atomically replaces the old chunk file. The journal remains the
authority on what was used (reuse is refused from the journal alone); re-encryption makes the
used bytes unrecoverable from the current chunk files, and destroying the key makes every chunk
file — including old copies that flash wear levelling or backups might keep — undecryptable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from custody import merkle
from custody.bounded_read import read_file
from custody.durable_file import fsync_directory, storage_error, write_atomic
from custody.errors import HsmError, OperationCancelled, PadFormatError
from custody.hsm import GCM_NONCE_BYTES, Token
from custody.pad.manifest import MAX_CHUNK_SIZE, Manifest, Side
from custody.pad.pad_copy import CopyGuard, PadCopy
from custody.pad.store import MANIFEST_NAME, open_copy, write_pad_dir

log = logging.getLogger(__name__)

VAULT_DIR = "vault"
VAULT_FORMAT = "reddoor-vault/1"
VAULT_META = "vault.json"
CHUNKS_DIR = "chunks"
CHUNK_MAGIC = b"RDV1"
TAG_BYTES = 16
CACHE_CHUNKS = 2

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


def key_label(pad_id: bytes) -> str:
    return f"reddoor-pad-{pad_id.hex()}"


def vault_root(home: Path) -> Path:
    return home / VAULT_DIR


def vault_dir(home: Path, pad_id: bytes) -> Path:
    return vault_root(home) / pad_id.hex()


def chunk_aad(pad_id: bytes, index: int) -> bytes:
    return VAULT_FORMAT.encode() + pad_id + index.to_bytes(8, "big")


def _chunk_path(directory: Path, index: int) -> Path:
    return directory / CHUNKS_DIR / f"{index:06d}.gcm"


def read_chunk_file(path: Path, chunk_size: int = MAX_CHUNK_SIZE) -> bytes:
    """A vault chunk file: magic, nonce, ciphertext of at most `chunk_size` bytes, tag. More is
    not a chunk of this pad (PadFormatError). OSError propagates."""
    limit = len(CHUNK_MAGIC) + GCM_NONCE_BYTES + chunk_size + TAG_BYTES
    return read_file(path, limit, "facility chunk", error=PadFormatError)


def _wipe(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


def encrypt_chunk(token: Token, label: str, pad_id: bytes, index: int, data: bytes) -> bytes:
    nonce = token.random(GCM_NONCE_BYTES)
    return CHUNK_MAGIC + nonce + token.encrypt_gcm(label, nonce, chunk_aad(pad_id, index), data)


def decrypt_chunk(token: Token, label: str, pad_id: bytes, index: int, blob: bytes) -> bytearray:
    head = len(CHUNK_MAGIC) + GCM_NONCE_BYTES
    if len(blob) < head + TAG_BYTES or not blob.startswith(CHUNK_MAGIC):
        raise PadFormatError(f"facility chunk {index} is truncated or not a vault chunk")
    nonce = blob[len(CHUNK_MAGIC) : head]
    return bytearray(token.decrypt_gcm(label, nonce, chunk_aad(pad_id, index), blob[head:]))


# -- writing -------------------------------------------------------------------------------


def write_vault(
    home: Path,
    token: Token,
    manifest: Manifest,
    read_chunk: Callable[[int], bytes | bytearray],
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> dict[str, Any]:
    """Create the facility copy of `manifest`'s pad; `read_chunk(i)` gives chunk i's bytes.

    Every chunk is checked against the manifest's chunk hash before it is encrypted, so the
    facility copy can only be made from the very bytes the ceremony generated. Generates the
    per-pad key (refusing if one exists). Returns the facility copy's description for the
    ledger. On any failure the caller removes the partial copy with `destroy_vault`.
    """
    directory = vault_dir(home, manifest.pad_id)
    label = key_label(manifest.pad_id)
    if directory.exists() and any(directory.iterdir()):
        raise PadFormatError(f"a facility copy of this pad already exists at {directory}")
    (directory / CHUNKS_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
    token.generate_aes_key(label)
    count = len(manifest.chunk_hashes)
    if progress:
        progress(0, manifest.size)
    done = 0
    for i in range(count):
        if cancel is not None and cancel():
            raise OperationCancelled("writing the facility copy was cancelled")
        data = read_chunk(i)
        try:
            if hashlib.sha256(data).digest() != manifest.chunk_hashes[i]:
                raise PadFormatError(
                    f"chunk {i} read for the facility copy does not match the pad's chunk hash"
                )
            blob = encrypt_chunk(token, label, manifest.pad_id, i, bytes(data))
        finally:
            if isinstance(data, bytearray):
                _wipe(data)
        _write_file(_chunk_path(directory, i), blob)
        done += manifest.chunk_size if i < count - 1 else manifest.size - done
        if progress:
            progress(done, manifest.size)
    fsync_directory(directory / CHUNKS_DIR)
    meta = {
        "format": VAULT_FORMAT,
        "pad_id": manifest.pad_id.hex(),
        "key_label": label,
        "chunks": count,
        "chunk_size": manifest.chunk_size,
        "nonce": "random 96-bit from the token RNG, per chunk and per re-encryption",
        "aad": "reddoor-vault/1 || pad id || chunk index (u64 BE)",
    }
    write_atomic(directory / VAULT_META, json.dumps(meta, indent=1).encode() + b"\n")
    write_pad_dir(directory, manifest, Side.FACILITY)
    info = token.info()
    return {
        "key_label": label,
        "token": info.label,
        "model": info.model,
        "manufacturer": info.manufacturer,
        "serial": info.serial,
        "mechanism": "AES-256-GCM on the token",
        "chunks": count,
    }


def _write_file(path: Path, data: bytes) -> None:
    """Write a new chunk file durably (fsync of the file; the directory is synced once)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise storage_error(exc, path) from None


def destroy_vault(home: Path, token: Token | None, pad_id: bytes) -> dict[str, Any]:
    """Crypto-erase: destroy the per-pad HSM key, then delete the chunk files.

    Returns what was destroyed. The key goes first: once it is gone every chunk file, and any
    copy of one, is undecryptable; deleting the files afterwards is housekeeping.
    """
    label = key_label(pad_id)
    destroyed_keys = token.destroy_key(label) if token is not None else 0
    directory = vault_dir(home, pad_id)
    existed = directory.exists()
    if existed:
        shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(OSError):
            fsync_directory(directory.parent)
    return {"key_label": label, "keys_destroyed": destroyed_keys, "chunk_files_removed": existed}


# -- reading -------------------------------------------------------------------------------


class VaultPadBytes:
    """`PadBytes` for the facility copy: reads decrypt on the token, chunk by chunk."""

    def __init__(self, directory: Path, token: Token, manifest: Manifest) -> None:
        self.directory = directory
        self._token = token
        self._manifest = manifest
        self._label = key_label(manifest.pad_id)
        self._cache: OrderedDict[int, bytearray] = OrderedDict()
        self._pending: dict[int, list[tuple[int, int]]] = {}  # chunk -> ranges to zero
        self._closed = False
        if not token.has_key(self._label):
            raise HsmError(
                f"the HSM has no key {self._label!r} for this facility copy "
                "(crypto-erased, or the wrong token)"
            )

    def _chunk(self, index: int) -> bytearray:
        if self._closed:
            raise PadFormatError("facility pad copy is closed")
        buf = self._cache.get(index)
        if buf is not None:
            self._cache.move_to_end(index)
            return buf
        buf = self._load(index)
        self._cache[index] = buf
        while len(self._cache) > CACHE_CHUNKS:
            _i, old = self._cache.popitem(last=False)
            _wipe(old)
        return buf

    def _load(self, index: int) -> bytearray:
        """Decrypt a chunk on the token, with its pending zeros applied (not cached)."""
        path = _chunk_path(self.directory, index)
        try:
            blob = read_chunk_file(path, self._manifest.chunk_size)
        except FileNotFoundError:
            raise PadFormatError(f"facility chunk {path} is missing") from None
        except OSError as exc:
            raise PadFormatError(f"cannot read facility chunk {path}: {exc.strerror}") from None
        buf = decrypt_chunk(self._token, self._label, self._manifest.pad_id, index, blob)
        for a, b in self._pending.get(index, ()):
            buf[a:b] = bytes(b - a)
        return buf

    def _spans(self, offset: int, length: int) -> list[tuple[int, int, int]]:
        """(chunk index, start within chunk, end within chunk) covering the range."""
        size, cs = self._manifest.size, self._manifest.chunk_size
        if offset < 0 or length < 0 or offset + length > size:
            raise PadFormatError(f"range {offset}+{length} lies outside the pad")
        out = []
        pos, end = offset, offset + length
        while pos < end:
            i = pos // cs
            stop = min(end, (i + 1) * cs)
            out.append((i, pos - i * cs, stop - i * cs))
            pos = stop
        return out

    def read(self, offset: int, length: int) -> bytes | bytearray | memoryview:
        spans = self._spans(offset, length)
        if len(spans) == 1:
            i, a, b = spans[0]
            return memoryview(self._chunk(i))[a:b]
        out = bytearray()
        for i, a, b in spans:
            out += self._chunk(i)[a:b]
        return out

    def zeroize(self, offset: int, length: int) -> None:
        for i, a, b in self._spans(offset, length):
            self._pending.setdefault(i, []).append((a, b))
            cached = self._cache.get(i)
            if cached is not None:
                cached[a:b] = bytes(b - a)

    def sync(self) -> None:
        """Re-encrypt every chunk with pending zeroized ranges (fresh nonce, atomic replace).

        Chunks not in the read cache are decrypted into a scratch buffer, never into the cache:
        a sync runs inside a frame's open (its receive-window write), and evicting (wiping) the
        chunk that frame is being read from would destroy an authentic frame's pad bytes.
        """
        if self._closed and self._pending:
            raise PadFormatError("facility pad copy is closed")
        for i in sorted(self._pending):
            cached = self._cache.get(i)
            plain = cached if cached is not None else self._load(i)  # pending zeros applied
            try:
                blob = encrypt_chunk(
                    self._token, self._label, self._manifest.pad_id, i, bytes(plain)
                )
            finally:
                if cached is None:
                    _wipe(plain)
            write_atomic(_chunk_path(self.directory, i), blob)
            del self._pending[i]

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.sync()
        finally:
            self._closed = True
            for buf in self._cache.values():
                _wipe(buf)
            self._cache.clear()


def read_vault_chunk(home: Path, token: Token, manifest: Manifest, index: int) -> bytearray:
    """Decrypt one chunk on the token (for verification). The caller wipes the result."""
    directory = vault_dir(home, manifest.pad_id)
    try:
        blob = read_chunk_file(_chunk_path(directory, index), manifest.chunk_size)
    except OSError:
        raise PadFormatError(f"facility chunk {index} of the pad is missing") from None
    return decrypt_chunk(token, key_label(manifest.pad_id), manifest.pad_id, index, blob)


def verify_vault(
    home: Path,
    token: Token,
    manifest: Manifest,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> dict[str, Any]:
    """Decrypt every chunk on the token and check it against the manifest and Merkle root."""
    hashes = []
    done = 0
    for i in range(len(manifest.chunk_hashes)):
        if cancel is not None and cancel():
            raise OperationCancelled("verifying the facility copy was cancelled")
        buf = read_vault_chunk(home, token, manifest, i)
        try:
            hashes.append(hashlib.sha256(buf).digest())
            done += len(buf)
        finally:
            _wipe(buf)
        if progress:
            progress(done, manifest.size)
    bad = [i for i, (a, b) in enumerate(zip(hashes, manifest.chunk_hashes, strict=True)) if a != b]
    root = merkle.root(hashes)
    if bad or root != manifest.merkle_root:
        raise PadFormatError(
            f"the facility copy does not verify: {len(bad)} chunk(s) differ (first: {bad[:1]})"
        )
    return {"chunks": len(hashes), "merkle_root": root.hex(), "bytes": done}


# -- opening the facility side ---------------------------------------------------------------


def open_vault_copy(
    home: Path,
    token: Token,
    pad_id: bytes,
    *,
    state_dir: Path | None = None,
    use_witness: bool = True,
    on_warning: Callable[[str], None] | None = None,
    verify: bool = True,
) -> PadCopy:
    """Open the facility side of a pad as a `PadCopy` (journal in the home, bytes on the HSM)."""
    directory = vault_dir(home, pad_id)
    if not directory.is_dir():
        raise PadFormatError(f"the facility home holds no copy of pad {pad_id.hex()}")
    return open_copy(
        directory,
        lambda d, m: VaultPadBytes(d, token, m),
        state_dir=state_dir,
        use_witness=use_witness,
        on_warning=on_warning,
        verify=verify,
    )


def vault_pad_ids(home: Path) -> list[bytes]:
    """Pads with a complete facility copy in the home (manifest present)."""
    root = vault_root(home)
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if (d / MANIFEST_NAME).is_file() and (d / VAULT_META).is_file():
            with contextlib.suppress(ValueError):
                out.append(bytes.fromhex(d.name))
    return out


class VaultPadProvider:
    """The gateway's `PadProvider` over the facility home's vault (one token per process).

    `guard` (custody.lifecycle.marks.MarksGuard on the same home's ledger) checks each copy against
    the ledger when it is opened and mirrors its journal writes there.
    """

    def __init__(
        self,
        home: Path,
        token: Token,
        *,
        state_dir: Path | None = None,
        only: Sequence[bytes] | None = None,
        guard: CopyGuard | None = None,
    ) -> None:
        self.home = home
        self.token = token
        self.state_dir = state_dir
        self.guard = guard
        self._only = None if only is None else set(only)

    def pad_ids(self) -> Sequence[bytes]:
        ids = vault_pad_ids(self.home)
        return ids if self._only is None else [i for i in ids if i in self._only]

    def open(self, pad_id: bytes) -> PadCopy:
        def opener() -> PadCopy:
            return open_vault_copy(self.home, self.token, pad_id, state_dir=self.state_dir)

        return opener() if self.guard is None else self.guard.open(pad_id, opener)
