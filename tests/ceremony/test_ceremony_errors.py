"""Refusals: clear one-line message, non-zero exit, nothing lost (ledger and media intact)."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.ceremony.test_ceremony_support import (
    event_types,
    ledger_verifies,
    make_facility,
    nothing_left,
    one_line,
    run_ceremony,
    run_cli,
)
from tests.custody.pad.test_cli_frames import small_tmpfs


@pytest.fixture
def f(tmp_path):
    return make_facility(tmp_path)


def _no_active(f) -> None:
    status = json.loads(run_cli("ceremony", "status", "--json", env=f.env()).stdout)
    assert not status["active"]


def test_one_officer_twice(f):
    proc = run_cli(
        "ceremony", "run", "--size", "1M", "--customer-dir", str(f.usb), "--source", "os",
        "--officer", f"alice={f.pass_a}", "--officer", f"alice={f.pass_a}",
        "--bag-serial", "X", env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 11
    assert "cannot approve twice" in one_line(proc)
    nothing_left(f)
    ledger_verifies(f)
    assert "approval.refused" in event_types(f)
    _no_active(f)


def test_wrong_passphrase(f, tmp_path):
    bad = tmp_path / "bad.pass"
    bad.write_text("not bob's passphrase\n")
    proc = run_cli(
        "ceremony", "run", "--size", "1M", "--customer-dir", str(f.usb), "--source", "os",
        "--officer", f"alice={f.pass_a}", "--officer", f"bob={bad}",
        "--bag-serial", "X", env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 11
    assert "wrong passphrase for officer 'bob'" in one_line(proc)
    assert b"not bob" not in proc.stderr
    nothing_left(f)
    ledger_verifies(f)
    _no_active(f)


def test_missing_hsm(f):
    tokens = f.home / "practice" / "tokens"
    shutil.move(tokens, f.tmp / "tokens-away")
    tokens.mkdir()
    proc = run_ceremony(f, size="1M")
    assert proc.returncode == 8
    assert "no HSM token labelled" in one_line(proc)
    shutil.rmtree(tokens)
    shutil.move(f.tmp / "tokens-away", tokens)
    nothing_left(f)
    ledger_verifies(f)


def test_wrong_pin(f):
    pin = f.home / "practice" / "token-pin"
    good = pin.read_text()
    pin.write_text("000000\n")
    proc = run_ceremony(f, size="1M")
    assert proc.returncode == 8
    assert "refused the PIN" in one_line(proc)
    assert b"000000" not in proc.stderr
    pin.write_text(good)
    nothing_left(f)
    ledger_verifies(f)


def test_customer_dir_holds_a_pad(f):
    assert run_ceremony(f, size="1M").returncode == 0
    before = {p.name: p.read_bytes() for p in f.usb.iterdir()}
    proc = run_ceremony(f, size="1M")
    assert proc.returncode == 35
    assert "already holds a pad" in one_line(proc)
    assert {p.name: p.read_bytes() for p in f.usb.iterdir()} == before
    ledger_verifies(f)


def test_customer_dir_not_empty(f):
    (f.usb / "holiday.jpg").write_bytes(b"x")
    proc = run_ceremony(f, size="1M")
    assert proc.returncode == 35 and "not empty" in one_line(proc)
    assert [p.name for p in f.usb.iterdir()] == ["holiday.jpg"]


def test_missing_customer_dir(f):
    proc = run_cli(
        "ceremony", "run", "--size", "1M", "--customer-dir", str(f.tmp / "nope"),
        "--source", "os", *f.officer_args(), "--bag-serial", "X", env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 35 and "does not exist" in one_line(proc)


def test_too_small_usb(f, tmp_path):
    with small_tmpfs(tmp_path / "stick", "1m") as stick:
        proc = run_cli(
            "ceremony", "run", "--size", "4M", "--customer-dir", str(stick), "--source", "os",
            *f.officer_args(), "--bag-serial", "X", env=f.env(),
        )  # fmt: skip
        assert proc.returncode == 35
        assert "too small" in one_line(proc)
        assert list(stick.iterdir()) == []
    ledger_verifies(f)
    _no_active(f)


def test_full_usb(f, tmp_path):
    """A stick big enough in total but nearly full (only ignorable names on it)."""
    with small_tmpfs(tmp_path / "stick", "8m") as stick:
        (stick / "lost+found").mkdir()
        (stick / "lost+found" / "old").write_bytes(bytes(6 << 20))
        proc = run_cli(
            "ceremony", "run", "--size", "4M", "--customer-dir", str(stick), "--source", "os",
            *f.officer_args(), "--bag-serial", "X", env=f.env(),
        )  # fmt: skip
        assert proc.returncode == 35
        assert "too small" in one_line(proc)
        assert [p.name for p in stick.iterdir()] == ["lost+found"]
    ledger_verifies(f)
    _no_active(f)


def test_bad_size_and_split(f):
    proc = run_ceremony(f, size="12Q")
    assert proc.returncode == 2 and "bad size" in one_line(proc)
    proc = run_ceremony(f, "--split", "0:1", size="1M")
    assert proc.returncode == 2 and "bad split" in one_line(proc)
    proc = run_ceremony(f, size="20K")
    assert proc.returncode == 2 and "too small" in one_line(proc)
    nothing_left(f)


def test_test_sources_refused_outside_tests(f):
    proc = run_ceremony(f, size="1M", sources=("test:stuck",), env={"REDDOOR_TESTING": "0"})
    assert proc.returncode == 2 and "only in the test suite" in one_line(proc)
    nothing_left(f)
