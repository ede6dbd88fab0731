"""Step 10, "the printed receipt is signed by both officers", is never recorded before the
receipt exists and someone says so: the CLI asks on a terminal, or the ceremony waits at step 10
(nothing destroyed) until `ceremony resume --receipt-signed` (practice home, SoftHSM2)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from ceremony.errors import CeremonyInputNeeded
from ceremony.state_machine import Ceremony
from custody.ledger import home
from tests.ceremony.test_ceremony_machine import Scripted, _plan
from tests.ceremony.test_ceremony_support import (
    REPO,
    event_types,
    ledger_verifies,
    make_facility,
    one_line,
    run_ceremony,
    run_cli,
)


def _status(f) -> dict:
    return json.loads(run_cli("ceremony", "status", "--json", env=f.env()).stdout)


def test_without_a_terminal_the_ceremony_waits_at_step_10(tmp_path):
    f = make_facility(tmp_path)
    receipt = tmp_path / "receipt.pdf"
    proc = run_ceremony(f, "--receipt", str(receipt), size="1M", sign_receipt=False)
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    err = proc.stderr.decode()
    assert out["receipt_signed"] is False and out["receipt"] == str(receipt)
    assert receipt.is_file()
    assert "Receipt signed, leave the room — confirmed" not in err
    assert "step 10" in err and "resume --receipt-signed" in err
    types = event_types(f)
    assert "ceremony.closed" in types and "ceremony.receipt_signed" not in types
    status = _status(f)
    assert status["active"] and status["next_step"] == "close"
    said = run_cli("ceremony", "status", env=f.env()).stdout.decode()
    assert "--receipt-signed" in said and "no abort" in said
    # A made pad is not aborted (that would destroy it): step 10 only waits.
    proc = run_cli("ceremony", "abort", "--reason", "x", *f.officer_args(), env=f.env())
    assert proc.returncode == 37 and "resume it instead" in one_line(proc)
    assert (f.usb / "pad.bin").is_file()
    # Resuming without the statement still waits, and records nothing.
    proc = run_cli("ceremony", "resume", *f.officer_args(), "--json", env=f.env())
    assert proc.returncode == 0 and json.loads(proc.stdout)["receipt_signed"] is False
    assert event_types(f) == types
    # Once the paper is signed, the officers say so.
    proc = run_cli(
        "ceremony", "resume", "--receipt-signed", *f.officer_args(), "--json", env=f.env()
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["receipt_signed"] is True
    assert "Receipt signed, leave the room — confirmed by both officers" in proc.stderr.decode()
    after = event_types(f)
    assert after.count("ceremony.receipt_signed") == 1
    assert "ceremony.exception" not in after  # waiting is not an interruption
    assert not _status(f)["active"]
    ledger_verifies(f)


def _run_on_a_terminal(f, answer: bytes) -> tuple[int, str, str]:
    """`ceremony run` with stdin on a pseudo-terminal; `answer` typed when step 10 asks."""
    master, slave = pty.openpty()
    args = ["ceremony", "run", "--size", "1M", "--customer-dir", str(f.usb), "--source", "os"]
    args += [*f.officer_args(), "--bag-serial", "RD-000123", "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **f.env()},
        cwd=REPO,
    )
    os.close(slave)
    err = b""
    deadline = time.monotonic() + 120  # a bound on a hang, not a timing assertion
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    while b"Type yes" not in err and proc.poll() is None and time.monotonic() < deadline:
        select.select([proc.stderr], [], [], 1.0)
        err += proc.stderr.read() or b""
    os.write(master, answer)
    out, rest = proc.communicate(timeout=120)
    os.close(master)
    return proc.returncode, out.decode(), (err + rest).decode()


@pytest.mark.slow
def test_on_a_terminal_step_10_is_asked_after_the_receipt_is_written(tmp_path):
    f = make_facility(tmp_path)
    code, out, err = _run_on_a_terminal(f, b"yes\n")
    assert code == 0, err
    assert json.loads(out)["receipt_signed"] is True
    assert err.index("receipt: ") < err.index("Is the printed receipt signed by both officers?")
    assert "ceremony.receipt_signed" in event_types(f)

    g = make_facility(tmp_path / "second")
    code, out, err = _run_on_a_terminal(g, b"later\n")
    assert code == 0, err
    assert json.loads(out)["receipt_signed"] is False
    assert "ceremony.receipt_signed" not in event_types(g)
    assert _status(g)["next_step"] == "close"


class LosesTheReceipt(Scripted):
    """The receipt file disappears right after step 9 writes it."""

    def info(self, step, text, facts=None):
        if text == "receipt" and step.id == "receipt":
            os.rename(facts["path"], facts["path"] + ".away")


def test_step_10_is_not_asked_while_the_receipt_is_missing(tmp_path):
    f = make_facility(tmp_path)
    handler = LosesTheReceipt()
    with home.open_home(f.home) as oh:
        c = Ceremony.begin(oh, _plan(f), handler)
        with pytest.raises(CeremonyInputNeeded, match="is missing"):
            c.run()
    assert "close" not in handler.seen  # never asked
    status = _status(f)
    assert status["active"] and status["next_step"] == "close"
    assert (f.usb / "pad.bin").is_file()  # nothing destroyed
    assert "ceremony.failed" not in event_types(f)
    receipt = next(f.home.glob("ceremonies/*/receipt.pdf.away"))
    receipt.rename(receipt.with_suffix(""))
    with home.open_home(f.home) as oh:
        out = Ceremony.resume(oh, Scripted()).run()
    assert out.receipt == str(receipt.with_suffix(""))
    assert event_types(f).count("ceremony.receipt_signed") == 1
