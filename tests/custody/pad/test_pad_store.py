"""Pad copies: reservation, journal durability, rollback guards, locking."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.errors import (
    FrameRejected,
    PadExhaustedError,
    PadFormatError,
    PadInUseError,
    PadRollbackError,
)
from custody.pad import frame
from custody.pad.frame import Kind
from custody.pad.journal import IntervalSet, JournalState, read_journal
from custody.pad.manifest import Manifest
from custody.pad.practice import make_practice_pad
from custody.pad.store import JOURNAL_NAME, MANIFEST_NAME, open_pad_dir
from tests.custody.pad.fixtures import practice_pair


def test_reservation_is_durable_before_use(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 1 << 20)
    ws = open_pad_dir(tmp_path / "p" / "workstation", block=8192)
    off = ws.reserve_send(300)
    journal = read_journal(tmp_path / "p" / "workstation" / JOURNAL_NAME)
    assert journal.send_reserved >= off + 300
    assert journal.send_reserved == 8192  # a whole block, not per message
    ws.abandon()  # a crash: the journal is not rewritten
    ws = open_pad_dir(tmp_path / "p" / "workstation", block=8192)
    assert ws.reserve_send(10) == 8192  # at most one block lost, nothing reused
    ws.close()
    # A clean close gives back the unused tail of the block.
    assert read_journal(tmp_path / "p" / "workstation" / JOURNAL_NAME).send_reserved == 8202


def test_second_process_is_refused(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 1 << 20)
    ws = open_pad_dir(tmp_path / "p" / "workstation")
    with pytest.raises(PadInUseError):
        open_pad_dir(tmp_path / "p" / "workstation")
    ws.close()
    open_pad_dir(tmp_path / "p" / "workstation").close()


def test_rolled_back_journal_is_detected_by_the_witness(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 1 << 20)
    ws_dir = tmp_path / "p" / "workstation"
    old = (ws_dir / JOURNAL_NAME).read_bytes()
    with open_pad_dir(ws_dir) as ws:
        frame.seal(ws, Kind.QUERY, b"one")
    (ws_dir / JOURNAL_NAME).write_bytes(old)  # restore the backup
    with pytest.raises(PadRollbackError, match="older than this host's record"):
        open_pad_dir(ws_dir)


def test_rolled_back_journal_is_detected_on_the_medium_without_witness(tmp_path: Path) -> None:
    """A host that never saw the pad still notices: used bytes past the mark are zeroized."""
    make_practice_pad(tmp_path / "p", 1 << 20)
    ws_dir = tmp_path / "p" / "workstation"
    old = (ws_dir / JOURNAL_NAME).read_bytes()
    with open_pad_dir(ws_dir) as ws:
        frame.seal(ws, Kind.QUERY, b"one")
    (ws_dir / JOURNAL_NAME).write_bytes(old)
    with pytest.raises(PadRollbackError, match="already zeroized"):
        open_pad_dir(ws_dir, use_witness=False)


def test_receive_side_rollback_is_detected(tmp_path: Path) -> None:
    ws, fac = practice_pair(tmp_path / "p")
    fac_dir = tmp_path / "p" / "facility"
    fac.close()
    old = (fac_dir / JOURNAL_NAME).read_bytes()
    fac = open_pad_dir(fac_dir)
    q = frame.seal(ws, Kind.QUERY, b"q")
    frame.open_frame(fac, q)
    fac.close()
    ws.close()
    (fac_dir / JOURNAL_NAME).write_bytes(old)
    with pytest.raises(PadRollbackError):
        open_pad_dir(fac_dir)
    with pytest.raises(PadRollbackError):
        open_pad_dir(fac_dir, use_witness=False)


def test_a_second_copy_of_the_usb_is_refused_on_the_same_host(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 1 << 20)
    ws_dir = tmp_path / "p" / "workstation"
    clone = tmp_path / "clone"
    shutil.copytree(ws_dir, clone)
    with open_pad_dir(ws_dir) as ws:
        frame.seal(ws, Kind.QUERY, b"one")
    with pytest.raises(PadRollbackError):
        open_pad_dir(clone)


def test_replaced_manifest_is_refused(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "a", 1 << 20)
    make_practice_pad(tmp_path / "b", 1 << 20)
    ws_dir = tmp_path / "a" / "workstation"
    shutil.copy(tmp_path / "b" / "workstation" / MANIFEST_NAME, ws_dir / MANIFEST_NAME)
    with pytest.raises(PadRollbackError, match="another pad"):
        open_pad_dir(ws_dir)


def test_corrupt_journal_is_refused_not_reset(tmp_path: Path) -> None:
    make_practice_pad(tmp_path / "p", 1 << 20)
    path = tmp_path / "p" / "workstation" / JOURNAL_NAME
    path.write_bytes(path.read_bytes().replace(b'"reserved_end":0', b'"reserved_end":9'))
    with pytest.raises(PadFormatError, match="checksum"):
        open_pad_dir(tmp_path / "p" / "workstation")


def test_manifest_must_be_canonical_and_consistent(tmp_path: Path) -> None:
    m = make_practice_pad(tmp_path / "p", 1 << 20)
    data = m.to_bytes()
    assert Manifest.from_bytes(data) == m
    with pytest.raises(PadFormatError):
        Manifest.from_bytes(data.replace(b'"mark":"PRACTICE"', b'"mark":"PRODUCTION" '))
    with pytest.raises(PadFormatError):
        Manifest.from_bytes(data.replace(m.merkle_root.hex().encode(), b"00" * 32))
    with pytest.raises(PadFormatError):
        Manifest.from_bytes(b"{not json")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 30)), max_size=30))
def test_interval_set_matches_a_model(ops: list[tuple[int, int]]) -> None:
    s = IntervalSet()
    model: set[int] = set()
    for a, n in ops:
        assert s.overlaps(a, a + n) == bool(model & set(range(a, a + n)))
        s.add(a, a + n)
        model |= set(range(a, a + n))
    items = s.items()
    assert {i for a, b in items for i in range(a, b)} == model
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(items))


def test_receive_window_crash_never_accepts_a_replay(tmp_path: Path) -> None:
    ws, fac = practice_pair(tmp_path / "p", block=4096)
    frames = [frame.seal(ws, Kind.QUERY, bytes(100)) for _ in range(5)]
    for f in frames[:3]:
        frame.open_frame(fac, f)
    fac.abandon()  # crash after releasing three plaintexts
    fac = open_pad_dir(tmp_path / "p" / "facility", block=4096)
    for f in frames[:3]:
        with pytest.raises(Exception) as exc:
            frame.open_frame(fac, f)
        assert getattr(exc.value, "reason", None) == "replay"
    # Frames in flight inside the crashed window are lost, never reused; later ones open.
    later = frame.seal(ws, Kind.QUERY, b"after the window")
    while frame.parse_header(later).offset < 4096 + 288 * 3:
        later = frame.seal(ws, Kind.QUERY, b"after the window")
    assert frame.open_frame(fac, later).payload == b"after the window"
    ws.close()
    fac.close()


def test_low_pad_warnings(tmp_path: Path) -> None:
    warnings: list[str] = []
    make_practice_pad(tmp_path / "p", 256 * 1024)
    ws = open_pad_dir(tmp_path / "p" / "workstation", on_warning=warnings.append, block=4096)
    with pytest.raises(PadExhaustedError):
        while True:
            frame.seal(ws, Kind.QUERY, bytes(100))
    assert any("10%" in w for w in warnings)
    assert any("1%" in w for w in warnings)
    ws.close()


def test_a_journal_is_written_only_when_it_changes(tmp_path: Path) -> None:
    """Opening and closing a copy, or refusing a forged frame, writes no journal: `generation`
    counts changes (docs/pad-format.md). A frame that opens does change it."""
    ws, fac = practice_pair(tmp_path / "pad")
    q = frame.seal(ws, Kind.QUERY, b"q")
    ws.close()
    fac.close()
    path = tmp_path / "pad" / "facility" / JOURNAL_NAME
    before = path.read_bytes()
    forged = q[:-1] + bytes([q[-1] ^ 1])
    with open_pad_dir(tmp_path / "pad" / "facility") as fac:
        with pytest.raises(FrameRejected) as exc:
            frame.open_frame(fac, forged)
        assert exc.value.reason == "bad-tag"
    assert path.read_bytes() == before
    with open_pad_dir(tmp_path / "pad" / "facility") as fac:
        assert frame.open_frame(fac, q).payload == b"q"
    after = read_journal(path)
    # one write for the receive window, one for the exact state at close
    assert after.generation == JournalState.from_bytes(before, "journal").generation + 2
    assert (after.recv_mark, after.recv_seen) == (frame.KEY_LEN + 256, [])
