"""The HSM seam against a real SoftHSM2 token in a temporary directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custody import hsm
from custody.errors import (
    HsmError,
    HsmKeyMissing,
    HsmModuleMissing,
    HsmPinIncorrect,
    HsmTokenMissing,
)

REPO = Path(__file__).resolve().parents[3]
PIN = "test-user-pin-1"


@pytest.fixture
def token_conf(tmp_path):
    conf = tmp_path / "softhsm2.conf"
    hsm.write_softhsm_conf(conf, tmp_path / "tokens")
    hsm.init_softhsm_token(conf, "rd-test", PIN)
    return conf


@pytest.fixture
def token(token_conf):
    with hsm.Token.open("rd-test", PIN, softhsm_conf=token_conf) as tok:
        yield tok


def test_info_and_random_counts_bytes(token):
    info = token.info()
    assert info.label == "rd-test"
    assert "SoftHSM" in info.model
    assert re.fullmatch(r"[0-9a-f]{16}", info.serial)
    assert len(token.random(1)) == 1
    assert len(token.random(4096)) == 4096
    assert token.random(32) != token.random(32)


def test_aes_key_is_non_extractable_and_seals_secrets(token, token_conf):
    token.generate_aes_key("k1")
    with pytest.raises(HsmError, match="already holds"):
        token.generate_aes_key("k1")
    blob = token.seal_secret("k1", b"\x01" * 32, b"context")
    assert b"\x01" * 32 not in blob
    assert token.unseal_secret("k1", blob, b"context") == b"\x01" * 32
    with pytest.raises(HsmError, match="did not authenticate"):
        token.unseal_secret("k1", blob, b"other context")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(HsmError, match="did not authenticate"):
        token.unseal_secret("k1", tampered, b"context")
    # Independent check with pkcs11-tool (opensc): the key is sensitive and never extractable.
    out = subprocess.run(
        [
            "pkcs11-tool",
            "--module",
            hsm.DEFAULT_MODULE,
            "--token-label",
            "rd-test",
            "--list-objects",
            "--login",
            "--pin",
            PIN,
        ],
        env={"SOFTHSM2_CONF": str(token_conf), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    block = out.stdout.split("label:      k1")[1].split("Object;")[0]
    assert "Usage:      encrypt, decrypt\n" in block
    assert "always sensitive, never extractable" in block


def test_gcm_chunks_with_nonce_and_aad(token):
    token.generate_aes_key("vault")
    nonce = token.random(12)
    chunk = token.random(1 << 16)
    ct = token.encrypt_gcm("vault", nonce, b"pad:1|chunk:7", chunk)
    assert len(ct) == len(chunk) + 16
    assert token.decrypt_gcm("vault", nonce, b"pad:1|chunk:7", ct) == chunk
    with pytest.raises(HsmError, match="did not authenticate"):
        token.decrypt_gcm("vault", nonce, b"pad:1|chunk:8", ct)
    with pytest.raises(HsmError, match="12 bytes"):
        token.encrypt_gcm("vault", b"short", b"", chunk)


def test_ed25519_sign_and_export(token):
    pub = token.generate_ed25519("signer")
    assert pub == token.ed25519_public_key("signer") and len(pub) == 32
    sig = token.sign_ed25519("signer", b"message")
    Ed25519PublicKey.from_public_bytes(pub).verify(sig, b"message")


def test_destroy_and_list(token):
    token.generate_aes_key("a")
    token.generate_ed25519("b")
    assert {"a", "b"} <= set(token.labels())
    assert token.destroy_key("a") == 1
    assert token.destroy_key("b") == 2  # public and private halves
    assert not token.has_key("a")
    with pytest.raises(HsmKeyMissing, match="no key labelled 'a'"):
        token.seal_secret("a", b"x", b"")


def test_wrong_pin_missing_token_missing_module(token_conf):
    with pytest.raises(HsmPinIncorrect, match="refused the PIN"):
        hsm.Token.open("rd-test", "wrong-pin", softhsm_conf=token_conf)
    with pytest.raises(HsmTokenMissing, match="no HSM token labelled 'nope'"):
        hsm.Token.open("nope", PIN, softhsm_conf=token_conf)
    with pytest.raises(HsmModuleMissing, match="not found"):
        hsm.Token.open("rd-test", PIN, module_path="/nonexistent/libpkcs11.so")


def test_only_the_seams_import_pkcs11_and_sqlcipher():
    sources = [p for d in ("app", "ceremony", "custody") for p in (REPO / d).rglob("*.py")]

    def users(module: str) -> set[str]:
        pattern = rf"^\s*(import|from) {module}\b"
        return {
            str(p.relative_to(REPO)) for p in sources if re.search(pattern, p.read_text(), re.M)
        }

    assert users("pkcs11") == {"custody/hsm.py"}
    assert users("sqlcipher3") == {"custody/ledger/database.py"}


def test_offline_verifier_modules_need_no_hsm_or_sqlcipher():
    code = (
        "import sys; import custody.ledger.proofs, custody.ledger.checkpoint; "
        "import custody.ledger.entry; "
        "bad = {'pkcs11', 'sqlcipher3', 'PySide6'} & set(sys.modules); print(sorted(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
