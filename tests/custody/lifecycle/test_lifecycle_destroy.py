"""`pad destroy`: nothing is destroyed before both officers are authenticated, an approved act
that fails is recorded, a certificate path is checked first, and a pad is "destroyed" only
once both copies are (practice home, SoftHSM2, through the CLI and the Python API)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from custody.errors import HsmError
from custody.ledger import home
from custody.lifecycle import destruction, states
from custody.pad import vault
from tests.ceremony.test_ceremony_support import (
    Facility,
    event_types,
    ledger_verifies,
    make_facility,
    one_line,
    run_ceremony,
    run_cli,
)


@pytest.fixture
def retired(tmp_path):
    """A practice pad, its ceremony closed, retired: ready to be destroyed."""
    f = make_facility(tmp_path)
    proc = run_ceremony(f, "--split", "1:1", size="64K")
    assert proc.returncode == 0, proc.stderr.decode()
    pad = json.loads(proc.stdout)["pad_id"]
    proc = run_cli("pad", "retire", pad, "--reason", "x", *f.officer_args(), env=f.env())
    assert proc.returncode == 0, proc.stderr.decode()
    return f, pad


def _facility_copy_intact(f: Facility, pad: str) -> None:
    raw = bytes.fromhex(pad)
    assert (vault.vault_dir(f.home, raw) / "chunks" / "000000.gcm").is_file()
    with home.open_home(f.home) as oh:
        assert oh.token.has_key(vault.key_label(raw))


def _state(f: Facility, pad: str) -> str:
    proc = run_cli("custody", "state", pad, "--json", env=f.env())
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)[0]["state"]


def test_same_officer_twice_destroys_nothing(retired):
    f, pad = retired
    proc = run_cli(
        "pad", "destroy", pad, "--method", "crypto-erase",
        "--officer", f"alice={f.pass_a}", "--officer", f"alice={f.pass_a}", env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 11 and "cannot approve twice" in one_line(proc)
    _facility_copy_intact(f, pad)
    types = event_types(f)
    assert "approval.refused" in types and "pad.destroyed" not in types
    assert _state(f, pad) == "retired"
    ledger_verifies(f)


def test_wrong_passphrase_leaves_the_usb_copy(retired, tmp_path):
    f, pad = retired
    bad = tmp_path / "bad.pass"
    bad.write_text("not bob's passphrase\n")
    before = {p.name: p.read_bytes() for p in f.usb.iterdir()}
    proc = run_cli(
        "pad", "destroy", pad, "--method", "overwrite", "--usb", str(f.usb),
        "--officer", f"alice={f.pass_a}", "--officer", f"bob={bad}", env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 11 and "wrong passphrase for officer 'bob'" in one_line(proc)
    assert {p.name: p.read_bytes() for p in f.usb.iterdir()} == before
    assert "pad.destroyed" not in event_types(f)
    ledger_verifies(f)


def test_unwritable_certificate_path_is_refused_before_acting(retired, tmp_path):
    f, pad = retired
    bad_paths = [(tmp_path, "is a directory"), (tmp_path / "missing" / "c.pdf", "does not exist")]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        bad_paths.append((locked / "cert.pdf", "not writable"))
    for path, message in bad_paths:
        proc = run_cli(
            "pad", "destroy", pad, "--method", "crypto-erase", *f.officer_args(),
            "--certificate", str(path), env=f.env(),
        )  # fmt: skip
        assert proc.returncode == 2 and message in one_line(proc)
        _facility_copy_intact(f, pad)
    assert "pad.destroyed" not in event_types(f)


def test_an_approved_act_that_fails_is_recorded(retired, monkeypatch):
    f, pad = retired

    def broken(*_a, **_k):
        raise HsmError("the token went away while destroying the key")

    monkeypatch.setattr(vault, "destroy_vault", broken)
    approvers = [("alice", "alice passphrase"), ("bob", "bob passphrase!!")]
    with home.open_home(f.home) as oh:
        with pytest.raises(HsmError, match="token went away"):
            destruction.destroy(oh, pad, "crypto-erase", approvers)
        rec = states.find_pad(oh.ledger, pad)
    assert rec.state == "retired" and rec.destroyed_copies == {}
    types = event_types(f)
    assert types[-1] == "pad.destroy_failed" and "pad.destroyed" not in types
    log = run_cli("ledger", "log", "--json", env=f.env()).stdout.decode().splitlines()
    failed = json.loads(log[-1])
    assert failed["payload"]["approved_by"] == ["alice", "bob"]
    assert failed["payload"]["observed"] == {"token_lists_key": True, "vault_present": True}
    ledger_verifies(f)


def test_destroyed_only_when_both_copies_are(retired, tmp_path):
    f, pad = retired
    cert = tmp_path / "c1.pdf"
    proc = run_cli(
        "pad", "destroy", pad, "--method", "crypto-erase", *f.officer_args(),
        "--certificate", str(cert), env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert _state(f, pad) == "facility_copy_destroyed"
    # The certificate claims only what was checked, names the copy that remains, and has a
    # date line under each signature.
    text = " ".join(
        subprocess.run(["pdftotext", str(cert), "-"], capture_output=True, check=True)
        .stdout.decode()
        .split()
    )
    assert "including backups, is now undecryptable" not in text
    assert "destroyed on this HSM token" in text and "only as long as no other copy" in text
    assert "token directory" in text and "must destroy every such backup" in text
    assert "Customer copy NOT destroyed yet" in text
    assert text.count("date and time:") == 2
    proc = run_cli("custody", "state", pad, env=f.env())
    assert "facility copy destroyed" in proc.stdout.decode()
    inv = json.loads(run_cli("report", "inventory", "--json", env=f.env()).stdout)
    assert inv["counts"] == {"facility_copy_destroyed": 1}
    proc = run_cli(
        "pad", "destroy", pad, "--method", "overwrite", "--usb", str(f.usb), *f.officer_args(),
        "--certificate", str(tmp_path / "c2.pdf"), env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    assert _state(f, pad) == "destroyed"
    ledger_verifies(f)
