"""Shared helpers for the ceremony tests (no tests here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from custody.ledger import home, officers
from custody.pad import vault
from custody.pad.store import PAD_NAME, open_pad_dir

REPO = Path(__file__).resolve().parents[2]
PASS_A = "alice passphrase"
PASS_B = "bob passphrase!!"


@dataclass
class Facility:
    home: Path
    usb: Path
    pass_a: Path
    pass_b: Path
    tmp: Path

    def officer_args(self) -> list[str]:
        return ["--officer", f"alice={self.pass_a}", "--officer", f"bob={self.pass_b}"]

    def env(self, **extra: str) -> dict[str, str]:
        return {"REDDOOR_HOME": str(self.home), **extra}


def make_facility(tmp: Path) -> Facility:
    h = tmp / "home"
    home.init_home(h, practice=True)
    with home.open_home(h) as oh:
        officers.enroll(oh.ledger, "alice", PASS_A)
        officers.enroll(oh.ledger, "bob", PASS_B)
    a, b = tmp / "alice.pass", tmp / "bob.pass"
    a.write_text(PASS_A + "\n")
    b.write_text(PASS_B + "\n")
    a.chmod(0o600)
    b.chmod(0o600)
    usb = tmp / "usb"
    usb.mkdir()
    return Facility(h, usb, a, b, tmp)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, stdin: bytes | None = None
):
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,  # e.g. the question of `reddoor ask` (never in argv)
        capture_output=True,
        env=full,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def run_ceremony(
    f: Facility,
    *extra: str,
    size: str = "2M",
    sources=("os",),
    env: dict[str, str] | None = None,
    sign_receipt: bool = True,
):
    """`ceremony run` (no terminal: it stops at step 10, the receipt written and not yet
    signed); with `sign_receipt`, then `ceremony resume --receipt-signed`, as the officers do
    once they have signed the printout. Returns the run's process."""
    args = ["ceremony", "run", "--size", size, "--customer-dir", str(f.usb)]
    for s in sources:
        args += ["--source", s]
    args += [*f.officer_args(), "--bag-serial", "RD-000123", "--json", *extra]
    proc = run_cli(*args, env=f.env(**(env or {})))
    if sign_receipt and proc.returncode == 0 and not json.loads(proc.stdout)["receipt_signed"]:
        signed = run_cli(
            "ceremony", "resume", "--receipt-signed", *f.officer_args(), "--json", env=f.env()
        )
        assert signed.returncode == 0, signed.stderr.decode()
        assert json.loads(signed.stdout)["receipt_signed"] is True
    return proc


def one_line(proc) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("reddoor: error")]
    assert len(lines) == 1, err
    return lines[0]


def killed(proc) -> bool:
    return proc.returncode == -signal.SIGKILL


def event_types(f: Facility) -> list[str]:
    proc = run_cli("ledger", "log", "--json", env=f.env())
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line)["type"] for line in proc.stdout.decode().splitlines()]


def ledger_verifies(f: Facility) -> None:
    proc = run_cli("ledger", "verify", env=f.env())
    assert proc.returncode == 0, proc.stderr.decode()


def nothing_left(f: Facility) -> None:
    """No pad material anywhere: customer dir empty, no vault, no pad key on the token."""
    assert sorted(p.name for p in f.usb.iterdir()) == []
    vroot = vault.vault_root(f.home)
    assert not vroot.exists() or list(vroot.iterdir()) == []
    with home.open_home(f.home) as oh:
        assert not [x for x in oh.token.labels() if x.startswith("reddoor-pad-")]


def both_copies_verify(f: Facility, pad_hex: str) -> None:
    """The customer copy and the facility copy (decrypted on the token) hold the same pad."""
    raw = bytes.fromhex(pad_hex)
    data = (f.usb / PAD_NAME).read_bytes()
    with home.open_home(f.home) as oh:
        with vault.open_vault_copy(oh.path, oh.token, raw, use_witness=False) as fac:
            m = fac.manifest
            assert vault.verify_vault(oh.path, oh.token, m)["merkle_root"] == m.merkle_root.hex()
            for off in (0, m.chunk_size - 7, m.size - 64):
                assert (
                    bytes(fac.read(off, 64 if off + 64 <= m.size else m.size - off))
                    == (data[off : off + 64])
                )
        chunk_files = b"".join(p.read_bytes() for p in vault.vault_dir(oh.path, raw).rglob("*.gcm"))
        for i in range(0, len(data) - 32, 65536):
            assert data[i : i + 32] not in chunk_files
    with open_pad_dir(f.usb, use_witness=False) as ws:
        assert ws.manifest.to_bytes() == m.to_bytes()
