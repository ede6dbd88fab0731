"""The state machine through its Python API with a scripted handler (as the Qt wizard drives it),
the generated runbook, and the USB helpers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ceremony import state_machine, steps, usb_media
from ceremony.ceremony_plan import CeremonyPlan
from ceremony.entropy_sources import OsSource
from ceremony.errors import CeremonyCancelled, CopyVerificationFailure, PadStatisticsFailure
from ceremony.handler import CeremonyHandler
from ceremony.state_machine import Ceremony
from custody.errors import MediumError, PadFormatError
from custody.ledger import home
from custody.pad import vault
from custody.pad.manifest import Mark, build
from tests.ceremony.test_ceremony_support import PASS_A, PASS_B, make_facility, nothing_left

REPO = Path(__file__).resolve().parents[2]


class Scripted(CeremonyHandler):
    def __init__(self, serials=("RD-9", "RD-9"), cancel_at: int | None = None) -> None:
        self.serials = list(serials)
        self.cancel_at = cancel_at
        self.seen: list[str] = []
        self.progress_calls = 0
        self.exceptions: list[tuple[str, str, str]] = []

    def officer_credentials(self, index, exclude):
        return [("alice", PASS_A), ("bob", PASS_B)][index]

    def confirm(self, step, facts):
        self.seen.append(step.id)
        return True

    def confirm_fingerprint(self, step, what, hex_digest, words):
        assert len(words.split()) == 8
        return True

    def bag_serial(self, attempt, second):
        return self.serials.pop(0)

    def exception(self, step_id, expected, happened):
        self.exceptions.append((step_id, expected, happened))
        return "stop"

    def progress(self, step, done, total):
        self.progress_calls += 1

    def cancelled(self):
        return self.cancel_at is not None and self.progress_calls >= self.cancel_at


@pytest.fixture
def f(tmp_path):
    return make_facility(tmp_path)


def _plan(f, **kw) -> CeremonyPlan:
    return CeremonyPlan(size=1 << 20, customer_dir=f.usb, sources=["os"], chunk_size=1 << 18, **kw)


def test_api_ceremony_asks_every_step(f):
    h = Scripted()
    with home.open_home(f.home) as oh:
        outcome = Ceremony.begin(oh, _plan(f), h).run()
    assert h.seen == [s.id for s in steps.STEPS if s.event]
    assert outcome.mark == Mark.PRACTICE.value and outcome.bag_serial == "RD-9"
    assert outcome.to_dict()["fingerprints"]["merkle_root_words"]
    assert h.progress_calls > 0
    # The receipt's QR payload (the closing event's inclusion proof) verifies offline.
    from ceremony import receipt_data
    from custody.documents import receipt_payload

    with home.open_home(f.home) as oh:
        data = receipt_data.receipt_data(oh.ledger, bytes.fromhex(outcome.pad_id))
        public_key, origin = oh.ledger.public_key, oh.ledger.origin
    assert data.bag_serial == "RD-9" and [o["name"] for o in data.officers] == ["alice", "bob"]
    assert all(o["key_fingerprint"].startswith("SHA256:") for o in data.officers)
    result = receipt_payload.verify_receipt_bundle(
        receipt_payload.encode_payload(data.inclusion_bundle), public_key, origin=origin
    )
    assert result.seq == outcome.closing_event and result.event_type == "ceremony.closed"
    assert result.payload["pad_id"] == outcome.pad_id


def test_the_frame_policy_is_signed_with_the_plan_and_written_into_the_manifest(f):
    """Set at the ceremony: in the plan both officers sign (ceremony.started), in the pad's
    manifest (both copies) and in pad.generated, from which the ledger derives it."""
    from custody.lifecycle import states
    from custody.pad.frame_policy import FramePolicy, PolicyMode
    from custody.pad.store import read_manifest

    policy = FramePolicy(PolicyMode.OTP_PREFERRED, 8192, ("SECRET",))
    with home.open_home(f.home) as oh:
        outcome = Ceremony.begin(oh, _plan(f, frame_policy=policy), Scripted()).run()
        events = {e.type: e for e in oh.ledger.events()}
        assert events["ceremony.started"].payload["plan"]["frame_policy"] == policy.to_dict()
        assert len(events["ceremony.started"].approvals) == 2
        assert events["pad.generated"].payload["frame_policy"] == policy.to_dict()
        assert states.find_pad(oh.ledger, outcome.pad_id).policy == policy
    assert read_manifest(f.usb).policy == policy
    with home.open_home(f.home) as oh:
        copy = vault.open_vault_copy(oh.path, oh.token, bytes.fromhex(outcome.pad_id))
        try:
            assert copy.frame_policy == policy
        finally:
            copy.close()


def test_cancel_during_generation_zeroizes(f):
    h = Scripted(cancel_at=1)
    with home.open_home(f.home) as oh, pytest.raises(CeremonyCancelled):
        Ceremony.begin(oh, _plan(f), h).run()
    nothing_left(f)
    assert state_machine.ceremony_status(f.home)["state"] == "failed"


def test_bag_serial_mismatch_is_an_exception(f):
    h = Scripted(serials=["A1", "A2", "B1", "B2", "C1", "C2"])
    with home.open_home(f.home) as oh, pytest.raises(CeremonyCancelled):
        Ceremony.begin(oh, _plan(f), h).run()
    assert h.exceptions and h.exceptions[0][0] == "seal"
    with home.open_home(f.home) as oh:
        types = [e.type for e in oh.ledger.events()]
    assert "ceremony.exception" in types and types[-1] == "ceremony.failed"
    nothing_left(f)


def test_statistics_inconsistent_with_uniform_stops(f, monkeypatch):
    class Lopsided(OsSource):
        """Passes the health tests (no long runs) but half its bits are never set."""

        def readinto(self, buffer):
            super().readinto(buffer)
            view = buffer.cast("B") if buffer.format != "B" else buffer
            data = bytearray(view)
            for i in range(0, len(data), 8):
                data[i] &= 0x7F
            view[:] = data

    h = Scripted()
    with home.open_home(f.home) as oh:
        c = Ceremony.begin(oh, _plan(f), h, source_factory=lambda specs: [Lopsided()])
        with pytest.raises(PadStatisticsFailure):
            c.run()
    nothing_left(f)


def test_corrupted_customer_copy_fails_verification(f, monkeypatch):
    real = usb_media.read_back

    def corrupt_then_read(path, manifest, **kw):
        with open(path, "r+b") as fh:
            fh.seek(12345)
            b = fh.read(1)
            fh.seek(12345)
            fh.write(bytes([b[0] ^ 1]))
        return real(path, manifest, **kw)

    monkeypatch.setattr(usb_media, "read_back", corrupt_then_read)
    with home.open_home(f.home) as oh, pytest.raises(CopyVerificationFailure):
        Ceremony.begin(oh, _plan(f), Scripted()).run()
    nothing_left(f)


def test_runbook_is_generated_from_the_steps():
    doc = (REPO / "docs" / "ceremony.md").read_text(encoding="utf-8")
    assert doc == steps.render_runbook(), "regenerate: python -m ceremony.steps --write ..."
    assert steps.script_words() in doc
    assert hashlib.sha256(steps.script_bytes()).digest() == steps.script_sha256()
    ids = [s.id for s in steps.STEPS]
    assert ids == [
        "prepare", "authenticate", "sources", "generate", "customer_copy",
        "facility_copy", "verify", "seal", "receipt", "close",
    ]  # fmt: skip
    from custody.ledger.entry import TWO_PERSON_TYPES

    assert steps.TWO_PERSON_EVENTS <= TWO_PERSON_TYPES


def test_ceremony_core_is_qt_free():
    import subprocess
    import sys

    code = (
        "import sys, ceremony.state_machine, ceremony.steps, ceremony.usb_media, custody.pad.vault;"
        "sys.exit(1 if 'PySide6' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0


# -- USB media helpers ----------------------------------------------------------------------


def test_fake_sysfs_drive(tmp_path):
    sysb, udev = tmp_path / "block", tmp_path / "udev"
    d = sysb / "sdb"
    (d / "device").mkdir(parents=True)
    (d / "removable").write_text("1\n")
    (d / "size").write_text("62521344\n")
    (d / "dev").write_text("8:16\n")
    (d / "device" / "vendor").write_text("SanDisk \n")
    (d / "device" / "model").write_text("Ultra\n")
    udev.mkdir()
    (udev / "b8:16").write_text("E:ID_SERIAL_SHORT=4C530001\nE:ID_BUS=usb\n")
    (sysb / "vda").mkdir()
    (sysb / "vda" / "removable").write_text("0\n")
    drives = usb_media.list_removable(sysb, udev)
    assert [x.to_dict() for x in drives] == [
        {
            "device": "/dev/sdb",
            "removable": True,
            "size": 62521344 * 512,
            "vendor": "SanDisk",
            "model": "Ultra",
            "serial": "4C530001",
            "bus": "usb",
        }
    ]


def test_mount_of_picks_the_longest_mount_point(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 254:0 / / rw - ext4 /dev/vda rw\n"
        "40 22 8:17 / /media/usb rw,nosuid - vfat /dev/sdb1 rw\n"
    )
    assert usb_media.mount_of(Path("/media/usb/x"), info)["source"] == "/dev/sdb1"
    assert usb_media.mount_of(Path("/media/usbother"), info)["source"] == "/dev/vda"


def test_production_refuses_a_fixed_disk(tmp_path):
    with pytest.raises(MediumError, match="not on a removable drive"):
        usb_media.check_target(tmp_path, 1 << 20, chunk_size=1 << 20, require_removable=True)


def test_read_back_detects_a_flipped_bit(tmp_path):
    w = usb_media.PartialPadWriter(tmp_path, 1 << 16)
    w(memoryview(os.urandom(200_000)))
    digests = w.finish()
    m = build(
        w.path,
        ceremony_id="t",
        mark=Mark.PRACTICE,
        created="2025-01-01T00:00:00Z",
        chunk_size=1 << 16,
        chunk_digests=digests,
    )
    assert usb_media.read_back(w.path, m)["chunks"] == 4
    data = bytearray(w.path.read_bytes())
    data[70_000] ^= 4
    w.path.write_bytes(data)
    with pytest.raises(PadFormatError, match="1 chunk"):
        usb_media.read_back(w.path, m)
    assert usb_media.zeroize_file(w.path) and not w.path.exists()
    assert vault.key_label(b"\x01" * 16) == "reddoor-pad-" + "01" * 16
