"""A refused officer never fails a ceremony in progress; missing inputs are found up front;
a missing bag serial at the seal step leaves the ceremony resumable (practice home, SoftHSM2)."""

from __future__ import annotations

import json

import pytest

from ceremony.ceremony_plan import CeremonyPlan
from ceremony.errors import CeremonyInputNeeded
from ceremony.state_machine import Ceremony
from custody.ledger import home
from tests.ceremony.test_ceremony_machine import Scripted
from tests.ceremony.test_ceremony_support import (
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


def _status(f) -> dict:
    return json.loads(run_cli("ceremony", "status", "--json", env=f.env()).stdout)


@pytest.fixture
def interrupted(tmp_path):
    """A ceremony killed (SIGKILL) while generating."""
    f = make_facility(tmp_path)
    proc = run_ceremony(f, size="1M", env={"REDDOOR_CEREMONY_KILL": "generate:during"})
    assert killed(proc), proc.stderr.decode()
    assert _status(f)["active"]
    return f


def _bad_officers(f, tmp_path):
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not bob's passphrase\n")
    return [
        (["--officer", f"alice={f.pass_a}", "--officer", f"alice={f.pass_a}"], "twice"),
        (["--officer", f"alice={f.pass_a}", "--officer", f"bob={wrong}"], "wrong passphrase"),
        (["--officer", f"alice={f.pass_a}", "--officer", f"mallory={f.pass_b}"], "mallory"),
    ]


@pytest.mark.slow
def test_a_refused_officer_on_resume_or_abort_leaves_the_ceremony_resumable(interrupted, tmp_path):
    f = interrupted
    before = _status(f)
    types_before = event_types(f)
    for officer_args, message in _bad_officers(f, tmp_path):
        for action in (["resume", "--bag-serial", "RD-1"], ["abort", "--reason", "x"]):
            proc = run_cli("ceremony", action[0], *officer_args, *action[1:], env=f.env())
            assert proc.returncode == 11, (action, proc.stderr.decode())
            assert message in one_line(proc)
            now = _status(f)
            assert now["active"] and now["next_step"] == before["next_step"] == "generate"
            assert now["interruptions"] == before["interruptions"]
    new = event_types(f)[len(types_before) :]
    assert set(new) == {"approval.refused"}  # no exception, no ceremony.failed, no abort
    ledger_verifies(f)
    # Still resumable: the right officers finish it.
    proc = run_cli(
        "ceremony", "resume", *f.officer_args(), "--bag-serial", "RD-1", "--json", env=f.env()
    )
    assert proc.returncode == 0, proc.stderr.decode()
    both_copies_verify(f, json.loads(proc.stdout)["pad_id"])
    ledger_verifies(f)


def test_run_without_bag_serial_and_terminal_is_refused_up_front(tmp_path):
    f = make_facility(tmp_path)
    before = event_types(f)
    proc = run_cli(
        "ceremony",
        "run",
        "--size",
        "1M",
        "--customer-dir",
        str(f.usb),
        "--source",
        "os",
        *f.officer_args(),
        env=f.env(),
    )  # fmt: skip  (stdin is a pipe, not a terminal)
    assert proc.returncode == 2 and "--bag-serial" in one_line(proc)
    assert _status(f)["ceremony_id"] is None  # nothing started: no journal, no event
    assert event_types(f) == before
    nothing_left(f)
    proc = run_cli(
        "ceremony", "run", "--size", "1M", "--customer-dir", str(f.usb), "--source", "os",
        *f.officer_args(), "--bag-serial", " ", env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 2 and "--bag-serial" in one_line(proc)
    assert event_types(f) == before


class NoSerial(Scripted):
    def bag_serial(self, attempt, second):
        raise CeremonyInputNeeded("no bag serial: resume with one")


def test_no_bag_serial_at_the_seal_step_leaves_the_ceremony_resumable(tmp_path):
    f = make_facility(tmp_path)
    plan = CeremonyPlan(size=1 << 20, customer_dir=f.usb, sources=["os"], chunk_size=1 << 18)
    with home.open_home(f.home) as oh:
        c = Ceremony.begin(oh, plan, NoSerial())
        with pytest.raises(CeremonyInputNeeded):
            c.run()
    status = _status(f)
    assert status["active"] and status["next_step"] == "seal"
    assert "ceremony.failed" not in event_types(f)
    assert (f.usb / "pad.bin").is_file()  # nothing destroyed
    with home.open_home(f.home) as oh:
        out = Ceremony.resume(oh, Scripted()).run()
    assert out.bag_serial == "RD-9"
    both_copies_verify(f, out.pad_id)
    ledger_verifies(f)


def test_step_confirmation_is_printed_only_after_approval(tmp_path):
    f = make_facility(tmp_path)
    bad = tmp_path / "bad.pass"
    bad.write_text("not bob's passphrase\n")
    proc = run_cli(
        "ceremony", "run", "--size", "1M", "--customer-dir", str(f.usb), "--source", "os",
        "--officer", f"alice={f.pass_a}", "--officer", f"bob={bad}", "--bag-serial", "X",
        env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 11
    assert "confirmed by both officers" not in proc.stderr.decode()
    proc = run_ceremony(f, size="1M")
    assert proc.returncode == 0, proc.stderr.decode()
    assert "step authenticate: Two officers authenticate — confirmed by both officers (event" in (
        proc.stderr.decode()
    )
