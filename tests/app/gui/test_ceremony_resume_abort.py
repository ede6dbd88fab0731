"""Abort and resume from the GUI as from the CLI (issue 7 §2).

A `reddoor ceremony run` subprocess is killed with SIGKILL mid-ceremony (the state machine's
test-only kill hook, as the CLI acceptance tests do); the ceremony station then offers resume
and abort for the interrupted ceremony, and either one completes through the wizard.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.gui.ceremony_wizard import CeremonyStation
from app.gui.facility import USB_DIR, Facility, FirstRun
from app.gui.workers import WorkerRunner
from ceremony.steps import STEPS
from tests.app.gui.test_ceremony_wizard import drive
from tests.ceremony.test_ceremony_support import Facility as CliFacility
from tests.ceremony.test_ceremony_support import both_copies_verify, nothing_left

REPO = Path(__file__).resolve().parents[3]


def crash_a_cli_ceremony(home: Path, first: FirstRun, kill_at: str) -> CliFacility:
    """`reddoor ceremony run` in the practice home, killed by SIGKILL at `kill_at`."""
    files = []
    for i, (name, pw) in enumerate(first.passphrases.items()):
        p = home.parent / f"officer{i}.pass"
        p.write_text(pw + "\n")
        p.chmod(0o600)
        files.append((name, p))
    usb = home / USB_DIR / "ceremony-crashed"
    usb.mkdir(mode=0o700)
    args = ["ceremony", "run", "--size", "2M", "--customer-dir", str(usb), "--source", "os"]
    for name, p in files:
        args += ["--officer", f"{name}={p}"]
    args += ["--bag-serial", "BAG-CLI", "--json"]
    env = dict(os.environ, REDDOOR_HOME=str(home), REDDOOR_CEREMONY_KILL=kill_at)
    proc = subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    return CliFacility(home, usb, files[0][1], files[1][1], home.parent)


def open_station(qtbot, facility: Facility) -> tuple[WorkerRunner, CeremonyStation]:
    runner = WorkerRunner()
    station = CeremonyStation(runner, facility)
    qtbot.addWidget(station)
    station.show()
    qtbot.waitUntil(lambda: station._names_cache is not None, timeout=10000)
    return runner, station


def offers_resume_and_abort(station: CeremonyStation, step: str) -> None:
    assert station.resume_button.isVisible()
    assert station.abort_button.isVisible()
    assert station.abort_reason.isVisible()
    assert not station.start_button.isEnabled()  # a new ceremony is refused meanwhile
    text = station.status_label.text()
    assert "interrupted" in text and f"Next: {step}" in text, text


@pytest.mark.parametrize(
    "kill_at", ["generate:during", "customer_copy:worked"], ids=["generate", "customer_copy"]
)
def test_resume_an_interrupted_ceremony_from_the_wizard(qtbot, practice_home, kill_at):
    home, first = practice_home
    cli = crash_a_cli_ceremony(home, first, kill_at)
    facility = Facility(home)
    try:
        runner, station = open_station(qtbot, facility)
        offers_resume_and_abort(station, kill_at.split(":")[0])
        station.resume_button.click()
        step = kill_at.split(":")[0]
        before = [s.id for s in STEPS[: [s.id for s in STEPS].index(step)]]
        assert before and all(station.step_states[x] == "done" for x in before), station.step_states
        seen = drive(qtbot, station, first.passphrases, bag=("BAG-0077", "BAG-0077"))
        assert station.task.error is None, station.banner.label.text()
        out = station.outcome
        assert out is not None and out.bag_serial == "BAG-0077" and out.mark == "PRACTICE"
        if step == "generate":  # the pad is made again: its fingerprint is read aloud
            assert seen["fingerprint"] == out.merkle_root_words.upper()
        assert all(s == "done" for s in station.step_states.values())
        assert facility.verify().ok
        types = [e.type for e in facility.events()]
        assert "ceremony.exception" in types  # the interruption is recorded, signed by both
        for s in STEPS:  # each step recorded exactly once despite the crash
            if s.event:
                assert types.count(s.event) == 1, (s.event, types)
        station.back_to_plan()
        assert not station.resume_button.isVisible() and station.start_button.isEnabled()
        runner.stop_all()
        station.shutdown()
    finally:
        facility.close()
    both_copies_verify(cli, out.pad_id)


def test_abort_an_interrupted_ceremony_from_the_wizard(qtbot, practice_home):
    home, first = practice_home
    cli = crash_a_cli_ceremony(home, first, "generate:during")
    assert (cli.usb / "pad.bin").exists() or list(cli.usb.iterdir())  # material was left
    facility = Facility(home)
    try:
        runner, station = open_station(qtbot, facility)
        offers_resume_and_abort(station, "generate")
        station.abort_button.click()  # no reason typed: refused on screen
        assert station.task is None and "reason" in station.status_label.text()
        station.abort_reason.setText("power cut")
        station.abort_button.click()
        drive(qtbot, station, first.passphrases)
        assert station.task.error is None, station.banner.label.text()
        assert station.outcome is None
        assert station.step_title.text() == "Ceremony aborted"
        assert "aborted" in station.banner.label.text()
        assert facility.verify().ok
        events = facility.events()
        assert [e.type for e in events][-2:] == ["ceremony.exception", "ceremony.aborted"]
        assert "power cut" in str(events[-1].payload)
        station.back_to_plan()
        assert not station.resume_button.isVisible() and station.start_button.isEnabled()
        runner.stop_all()
        station.shutdown()
    finally:
        facility.close()
    nothing_left(cli)
