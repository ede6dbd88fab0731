"""The facility vault against a real SoftHSM2 token: encrypt on the token, read back, zeroize,
crypto-erase, and the facility side as a PadCopy."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from custody import merkle
from custody.errors import HsmError, PadFormatError, PadRollbackError
from custody.ledger import home
from custody.pad import vault
from custody.pad.manifest import Manifest, Mark, build
from custody.pad.store import PAD_NAME

CHUNK = 64 * 1024


@pytest.fixture
def opened(tmp_path: Path):
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    with home.open_home(h) as oh:
        yield oh


def _pad(tmp_path: Path, size: int = 5 * CHUNK + 1234) -> tuple[Manifest, bytes]:
    data = os.urandom(size)
    f = tmp_path / PAD_NAME
    f.write_bytes(data)
    m = build(
        f, ceremony_id="t", mark=Mark.PRACTICE, created="2025-01-01T00:00:00Z", chunk_size=CHUNK
    )
    return m, data


def _writer(data: bytes, m: Manifest):
    return lambda i: bytearray(data[i * m.chunk_size : (i + 1) * m.chunk_size])


def test_vault_roundtrip_reads_only_through_the_token(opened, tmp_path):
    m, data = _pad(tmp_path)
    info = vault.write_vault(opened.path, opened.token, m, _writer(data, m))
    assert info["key_label"] == vault.key_label(m.pad_id)
    assert opened.token.has_key(info["key_label"])
    d = vault.vault_dir(opened.path, m.pad_id)
    on_disk = b"".join(p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file())
    for i in range(0, len(data) - 32, 4096):  # no 32-byte window of the pad is stored in clear
        assert data[i : i + 32] not in on_disk
    assert vault.verify_vault(opened.path, opened.token, m)["merkle_root"] == m.merkle_root.hex()
    with vault.open_vault_copy(opened.path, opened.token, m.pad_id) as copy:
        # straddles chunks 0/1 and reads inside one chunk
        assert bytes(copy.read(CHUNK - 10, 20)) == data[CHUNK - 10 : CHUNK + 10]
        assert bytes(copy.read(3 * CHUNK + 5, 100)) == data[3 * CHUNK + 5 : 3 * CHUNK + 105]


def test_tampered_or_moved_chunk_does_not_decrypt(opened, tmp_path):
    m, data = _pad(tmp_path)
    vault.write_vault(opened.path, opened.token, m, _writer(data, m))
    chunks = vault.vault_dir(opened.path, m.pad_id) / "chunks"
    a, b = chunks / "000001.gcm", chunks / "000002.gcm"
    a_bytes = a.read_bytes()
    a.write_bytes(b.read_bytes())  # chunk 2's ciphertext at index 1: AAD mismatch
    with pytest.raises(HsmError, match="did not authenticate"):
        vault.read_vault_chunk(opened.path, opened.token, m, 1)
    flipped = bytearray(a_bytes)
    flipped[40] ^= 1
    a.write_bytes(bytes(flipped))
    with pytest.raises(HsmError):
        vault.verify_vault(opened.path, opened.token, m)


def test_zeroize_reencrypts_used_ranges(opened, tmp_path):
    m, data = _pad(tmp_path)
    vault.write_vault(opened.path, opened.token, m, _writer(data, m))
    copy = vault.open_vault_copy(opened.path, opened.token, m.pad_id)
    fac_send = copy.send_region.start
    off = copy.reserve_send(100)
    assert off == fac_send
    copy.zeroize(off, 100)
    copy.close()
    buf = vault.read_vault_chunk(opened.path, opened.token, m, off // CHUNK)
    rel = off % CHUNK
    assert bytes(buf[rel : rel + 100]) == bytes(100)
    assert bytes(buf[rel + 100 : rel + 200]) == data[off + 100 : off + 200]
    # The journal is authoritative; a re-opened copy continues after the used range.
    with vault.open_vault_copy(opened.path, opened.token, m.pad_id) as again:
        assert again.reserve_send(10) == off + 100


def test_restored_journal_is_refused(opened, tmp_path):
    m, data = _pad(tmp_path)
    vault.write_vault(opened.path, opened.token, m, _writer(data, m))
    j = vault.vault_dir(opened.path, m.pad_id) / "journal.json"
    old = j.read_bytes()
    with vault.open_vault_copy(opened.path, opened.token, m.pad_id) as copy:
        o = copy.reserve_send(64)
        copy.zeroize(o, 64)
    j.write_bytes(old)
    with pytest.raises(PadRollbackError):
        vault.open_vault_copy(opened.path, opened.token, m.pad_id)


def test_crypto_erase(opened, tmp_path):
    m, data = _pad(tmp_path)
    vault.write_vault(opened.path, opened.token, m, _writer(data, m))
    blob = (vault.vault_dir(opened.path, m.pad_id) / "chunks" / "000000.gcm").read_bytes()
    out = vault.destroy_vault(opened.path, opened.token, m.pad_id)
    assert out["keys_destroyed"] == 1
    assert vault.key_label(m.pad_id) not in opened.token.labels()
    assert not vault.vault_dir(opened.path, m.pad_id).exists()
    with pytest.raises(HsmError):  # a kept copy of a chunk no longer decrypts
        vault.decrypt_chunk(opened.token, vault.key_label(m.pad_id), m.pad_id, 0, blob)
    with pytest.raises(PadFormatError):
        vault.open_vault_copy(opened.path, opened.token, m.pad_id)


def test_wrong_bytes_are_refused_before_encryption(opened, tmp_path):
    m, data = _pad(tmp_path)
    bad = bytearray(data)
    bad[CHUNK + 7] ^= 0xFF
    with pytest.raises(PadFormatError, match="chunk 1"):
        vault.write_vault(opened.path, opened.token, m, _writer(bytes(bad), m))
    assert merkle.root(list(m.chunk_hashes)) == m.merkle_root
    assert hashlib.sha256(data[:CHUNK]).digest() == m.chunk_hashes[0]


def test_an_authentic_frame_survives_the_sync_its_own_open_triggers(opened, tmp_path):
    """Opening a question can write the receive window, which re-encrypts the chunks with
    pending zeros; that must not evict (and wipe) the chunk the question is being read from."""
    from custody.link import messages as link_messages
    from custody.pad import frame
    from custody.pad.practice import make_practice_pad
    from custody.pad.store import open_pad_dir, read_manifest

    small = 4096
    make_practice_pad(tmp_path / "p", 1 << 20, chunk_size=small)
    m = read_manifest(tmp_path / "p" / "facility")
    raw = (tmp_path / "p" / "facility" / "pad.bin").read_bytes()
    vault.write_vault(opened.path, opened.token, m, lambda i: raw[i * small : (i + 1) * small])
    ws = open_pad_dir(tmp_path / "p" / "workstation", use_witness=False)
    fac = vault.open_vault_copy(opened.path, opened.token, m.pad_id, use_witness=False)
    try:
        assert frame.open_frame(fac, frame.seal(ws, frame.Kind.QUERY, b"q1")).payload == b"q1"
        while True:  # answers until one crosses an f2w chunk boundary (two chunks pending)
            off = link_messages.next_send_offset(fac)
            frame.seal(fac, frame.Kind.ANSWER_CHUNK, b"a")
            if off // small != (off + 288 - 1) // small:
                break
        ws.reserve_send(70000)  # the next question lands past the receive window
        q2 = frame.seal(ws, frame.Kind.QUERY, b"second question")
        assert frame.open_frame(fac, q2).payload == b"second question"
    finally:
        ws.close()
        fac.close()
