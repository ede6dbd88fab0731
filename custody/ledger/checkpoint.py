"""Signed checkpoints in the C2SP tlog-checkpoint format (a C2SP signed note).

    <origin>\\n
    <tree size, decimal>\\n
    <root hash, base64>\\n
    \\n
    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\\n

The signature covers the note text: the three body lines, each ending in a newline. The key id
is SHA-256(key name || "\\n" || 0x01 || public key)[:4] (C2SP signed-note, Ed25519). A verifier
key is written `<name>+<key id hex>+<base64(0x01 || public key)>` (the "vkey" form).

Offline: this module needs only `cryptography`, no HSM and no SQLCipher, so auditors can use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody.bounded_read import read_file
from custody.errors import ProofError, UsageError

SIG_PREFIX = "\u2014 "  # em dash and a space, as in every C2SP signed note
ED25519_ALG = 0x01
MAX_NOTE_BYTES = 16_384
MAX_VKEY_BYTES = 4_096  # a verifier key file (one line of about 80 characters)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> bytes:
        root64 = base64.b64encode(self.root).decode("ascii")
        return f"{self.origin}\n{self.size}\n{root64}\n".encode()


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALG]) + public_key).digest()[:4]


def vkey(name: str, public_key: bytes) -> str:
    """The verifier key string an auditor needs to check checkpoints offline."""
    encoded = base64.b64encode(bytes([ED25519_ALG]) + public_key).decode("ascii")
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_vkey(text: str) -> tuple[str, bytes]:
    """(name, raw Ed25519 public key) from a vkey string; checks the embedded key id."""
    try:
        name, kid_hex, key64 = text.strip().split("+", 2)  # names never hold "+"
        raw = base64.b64decode(key64, validate=True)
        kid = bytes.fromhex(kid_hex)
    except (ValueError, binascii.Error):
        raise ProofError("the verifier key is not in name+keyid+base64 form") from None
    if len(raw) != 33 or raw[0] != ED25519_ALG:
        raise ProofError("the verifier key is not an Ed25519 key")
    public_key = raw[1:]
    if key_id(name, public_key) != kid:
        raise ProofError("the verifier key's id does not match its name and key")
    return name, public_key


def sign(
    checkpoint: Checkpoint, name: str, public_key: bytes, signer: Callable[[bytes], bytes]
) -> str:
    """The signed note text for `checkpoint`; `signer` returns an Ed25519 signature of its input."""
    body = checkpoint.body()
    signature = signer(body)
    if len(signature) != 64:
        raise ProofError("the signer did not return an Ed25519 signature")
    blob = base64.b64encode(key_id(name, public_key) + signature).decode("ascii")
    return body.decode() + f"\n{SIG_PREFIX}{name} {blob}\n"


def read_note_file(path: Path) -> str:
    """A checkpoint kept in a file (an auditor's copy): at most MAX_NOTE_BYTES of UTF-8."""
    try:
        data = read_file(path, MAX_NOTE_BYTES, "checkpoint file", error=ProofError)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise UsageError(f"cannot read checkpoint file {path}") from None


def read_vkey_file(path: Path) -> str:
    """A verifier key file (ledger.vkey): at most MAX_VKEY_BYTES of text."""
    try:
        data = read_file(path, MAX_VKEY_BYTES, "verifier key file")
        return data.decode("utf-8").strip()
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename or path}") from None
    except UnicodeDecodeError:
        raise ProofError("the verifier key is not in name+keyid+base64 form") from None


def parse(text: str) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """Split a signed checkpoint into its body and its signature lines (not yet verified)."""
    if len(text.encode()) > MAX_NOTE_BYTES:
        raise ProofError("the checkpoint is too large to be a checkpoint")
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise ProofError("the checkpoint has no signature block")
    lines = body.split("\n")
    if len(lines) < 3:
        raise ProofError("the checkpoint body needs origin, size and root hash lines")
    origin, size_text, root64 = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise ProofError("the checkpoint's origin or size line is malformed")
    try:
        root = base64.b64decode(root64, validate=True)
    except binascii.Error:
        raise ProofError("the checkpoint's root hash is not base64") from None
    if len(root) != 32:
        raise ProofError("the checkpoint's root hash is not 32 bytes")
    signatures: list[tuple[str, bytes, bytes]] = []
    if not sigs.endswith("\n"):
        raise ProofError("the checkpoint's signature block must end with a newline")
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise ProofError("a checkpoint signature line does not start with an em dash")
        try:
            name, blob64 = line[len(SIG_PREFIX) :].split(" ")
            blob = base64.b64decode(blob64, validate=True)
        except (ValueError, binascii.Error):
            raise ProofError("a checkpoint signature line is malformed") from None
        if len(blob) < 5:
            raise ProofError("a checkpoint signature is too short")
        signatures.append((name, blob[:4], blob[4:]))
    checkpoint = Checkpoint(origin, int(size_text), root)
    # Extension lines (C2SP allows them) are part of the signed body: keep exact bytes.
    if body + "\n" != checkpoint.body().decode():
        raise ProofError("the checkpoint has extension lines this version does not accept")
    return checkpoint, signatures


def verify(text: str, name: str, public_key: bytes, origin: str | None = None) -> Checkpoint:
    """Parse and verify `text` with the key (name, public_key). Raises ProofError."""
    checkpoint, signatures = parse(text)
    if origin is not None and checkpoint.origin != origin:
        raise ProofError(
            f"the checkpoint is for log {checkpoint.origin!r}, not this ledger ({origin!r})"
        )
    kid = key_id(name, public_key)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    for sig_name, sig_kid, signature in signatures:
        if sig_name != name or sig_kid != kid:
            continue
        try:
            verifier.verify(signature, checkpoint.body())
        except InvalidSignature:
            raise ProofError("the checkpoint's signature does not verify") from None
        return checkpoint
    raise ProofError(f"the checkpoint carries no signature by key {name!r}")
