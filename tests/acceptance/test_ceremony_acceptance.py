"""Whole ceremonies through the CLI against SoftHSM2 and a directory "USB"."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess

import pytest

from tests.ceremony.test_ceremony_support import (
    PASS_A,
    PASS_B,
    both_copies_verify,
    event_types,
    killed,
    ledger_verifies,
    make_facility,
    nothing_left,
    one_line,
    run_ceremony,
    run_cli,
)

STEP_EVENTS = [
    "ceremony.started",
    "ceremony.sources_checked",
    "pad.generated",
    "pad.customer_copy_written",
    "pad.facility_copy_written",
    "pad.copies_verified",
    "pad.sealed",
    "ceremony.closed",
    "ceremony.receipt_signed",
]


def test_full_practice_ceremony(tmp_path):
    f = make_facility(tmp_path)
    receipt = tmp_path / "receipt.pdf"
    proc = run_ceremony(f, "--receipt", str(receipt))
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    for key in ("pad_id", "fingerprints", "usb", "hsm", "receipt", "bag_serial", "mark"):
        assert key in out
    assert out["mark"] == "PRACTICE" and out["receipt"] == str(receipt)
    assert out["hsm"]["key_label"] == f"reddoor-pad-{out['pad_id']}"
    both_copies_verify(f, out["pad_id"])
    ledger_verifies(f)
    types = event_types(f)
    assert [t for t in types if t in STEP_EVENTS] == STEP_EVENTS
    # secrets: no passphrase in the ledger log, the receipt or the journal; files 0600
    log = run_cli("ledger", "log", "--json", env=f.env()).stdout
    for secret in (PASS_A, PASS_B):
        assert secret.encode() not in log
        assert secret.encode() not in receipt.read_bytes()
    for p in f.usb.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    # the receipt's text holds the fingerprints and serials
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(receipt), "-"], capture_output=True, check=True
        ).stdout.decode()
        flat = " ".join(text.split())
        assert out["pad_id_display"] in flat
        assert "RD-000123" in flat
        assert out["fingerprints"]["merkle_root_words"] in flat
        assert out["hsm"]["key_label"] in flat
        assert "PRACTICE" in flat
    # re-issued from the ledger alone: the same bytes
    again = tmp_path / "again.pdf"
    proc = run_cli("receipt", out["pad_id_display"], "--out", str(again), env=f.env())
    assert proc.returncode == 0, proc.stderr.decode()
    assert again.read_bytes() == receipt.read_bytes()
    status = json.loads(run_cli("ceremony", "status", "--json", env=f.env()).stdout)
    assert status["state"] == "closed" and not status["active"]


@pytest.mark.parametrize(
    "sources",
    [("test:stuck",), ("test:biased",), ("os", "test:stuck")],
    ids=["stuck", "biased", "healthy+stuck"],
)
def test_bad_source_stops_with_nothing_left(tmp_path, sources):
    f = make_facility(tmp_path)
    proc = run_ceremony(f, sources=sources)
    assert proc.returncode == 33, proc.stderr.decode()
    assert "health test failed" in one_line(proc)
    nothing_left(f)
    ledger_verifies(f)
    assert "ceremony.failed" in event_types(f)
    status = json.loads(run_cli("ceremony", "status", "--json", env=f.env()).stdout)
    assert status["state"] == "failed" and not status["active"]
    # and the home is ready for the next ceremony
    proc = run_ceremony(f, size="1M")
    assert proc.returncode == 0, proc.stderr.decode()


# (step, phase) where the ceremony process is killed with SIGKILL; every step is covered.
KILL_POINTS = [
    ("prepare", "worked"),
    ("authenticate", "worked"),
    ("sources", "confirmed"),
    ("generate", "during"),
    ("customer_copy", "worked"),
    ("facility_copy", "during"),
    ("verify", "start"),
    ("seal", "confirmed"),
    ("receipt", "confirmed"),
    ("close", "worked"),
]


@pytest.mark.slow
@pytest.mark.parametrize("step,phase", KILL_POINTS, ids=[s for s, _ in KILL_POINTS])
def test_kill_in_every_step_then_resume(tmp_path, step, phase):
    f = make_facility(tmp_path)
    proc = run_ceremony(f, env={"REDDOOR_CEREMONY_KILL": f"{step}:{phase}"})
    assert killed(proc), proc.stderr.decode()
    status = json.loads(run_cli("ceremony", "status", "--json", env=f.env()).stdout)
    assert status["active"] and status["next_step"] == step
    proc = run_ceremony(f)  # a new ceremony is refused while one is in progress
    assert proc.returncode == 37 and "in progress" in one_line(proc)
    proc = run_cli(
        "ceremony", "resume", *f.officer_args(), "--bag-serial", "RD-000123", "--receipt-signed",
        "--json", env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    assert out["receipt_signed"] is True
    both_copies_verify(f, out["pad_id"])
    ledger_verifies(f)
    types = event_types(f)
    assert "ceremony.exception" in types
    for t in STEP_EVENTS:  # each step recorded exactly once despite the crash
        assert types.count(t) == 1, (t, types)


@pytest.mark.slow
@pytest.mark.parametrize(
    "step,phase",
    [("generate", "during"), ("facility_copy", "during"), ("seal", "start")],
    ids=["generate", "facility_copy", "seal"],
)
def test_kill_then_abort_leaves_no_pad(tmp_path, step, phase):
    f = make_facility(tmp_path)
    proc = run_ceremony(f, env={"REDDOOR_CEREMONY_KILL": f"{step}:{phase}"})
    assert killed(proc)
    proc = run_cli(
        "ceremony", "abort", "--reason", "power cut", *f.officer_args(), "--json", env=f.env()
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    assert out["step"] == step
    nothing_left(f)
    ledger_verifies(f)
    types = event_types(f)
    assert types[-2:] == ["ceremony.exception", "ceremony.aborted"]
    proc = run_cli("ceremony", "resume", *f.officer_args(), env=f.env())
    assert proc.returncode == 37 and "no ceremony is in progress" in one_line(proc)
