"""Crash safety with real processes: a sender killed with SIGKILL never reuses a pad byte."""

from __future__ import annotations

import itertools
import os
import random
import signal
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from custody.pad import frame
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.conftest import REPO

SENDER = Path(__file__).with_name("crash_sender.py")


def _read_frames(stream, sink: list[bytes]) -> None:
    buf = b""
    while chunk := stream.read1(65536):
        buf += chunk
        while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            n = struct.unpack(">I", buf[:4])[0]
            sink.append(buf[4 : 4 + n])
            buf = buf[4 + n :]
    if len(buf) > 4 + frame.HEADER_LEN:
        # A frame cut by the kill: its header was on the wire, so its range counts too.
        sink.append(buf[4:])


def kill_loop(pad: Path, kills: int, seed: int) -> tuple[list[bytes], int]:
    rng = random.Random(seed)
    frames: list[bytes] = []
    env = dict(os.environ, PYTHONPATH=str(REPO))
    killed = 0
    for i in range(kills):
        proc = subprocess.Popen(
            [sys.executable, str(SENDER), str(pad), str(rng.choice([1024, 4096, 16384]))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        got: list[bytes] = []
        reader = threading.Thread(target=_read_frames, args=(proc.stdout, got))
        reader.start()
        if i % 5 == 0:
            # Somewhere in start-up: opening, lock, rollback checks, first reservation.
            threading.Event().wait(rng.uniform(0.0, 0.3))
        else:
            while not got and proc.poll() is None:
                threading.Event().wait(0.002)
            threading.Event().wait(rng.uniform(0.0, 0.008))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        assert proc.returncode in (-signal.SIGKILL, 4), proc.stderr.read().decode()
        killed += proc.returncode == -signal.SIGKILL
        frames.extend(got)
    return frames, killed


def assert_no_overlap(frames: list[bytes]) -> list[tuple[int, int]]:
    ranges = []
    for f in frames:
        *_, offset, range_len, _body_len = frame.HEADER.unpack_from(f)
        ranges.append((offset, offset + range_len))
    ranges.sort()
    for (a1, b1), (a2, b2) in itertools.pairwise(ranges):
        assert b1 <= a2, f"pad range reused: [{a1},{b1}) overlaps [{a2},{b2})"
    return ranges


def _run(tmp_path: Path, kills: int, seed: int) -> None:
    # Every kill abandons up to one reservation block, and blocks grow to 16x while a sender
    # is busy: 200 kills can skip well over 64 MiB of pad without reusing a byte.
    make_practice_pad(tmp_path / "pad", 384 << 20, split="1:1")
    frames, killed = kill_loop(tmp_path / "pad" / "workstation", kills, seed)
    assert killed == kills
    assert len(frames) > kills  # the loop really sealed frames between the kills
    assert_no_overlap(frames)
    # Every complete frame on the wire is authentic and opens exactly once at the facility.
    complete = [f for f in frames if _parse_ok(f)]
    with open_pad_dir(tmp_path / "pad" / "facility") as fac:
        for f in complete:
            frame.open_frame(fac, f)


def _parse_ok(f: bytes) -> bool:
    try:
        frame.parse_header(f)
        return True
    except frame.FrameRejected:
        return False


def test_sigkill_never_reuses_pad_bytes_quick(tmp_path: Path) -> None:
    _run(tmp_path, kills=15, seed=1)


@pytest.mark.slow
def test_sigkill_never_reuses_pad_bytes_200_kills(tmp_path: Path) -> None:
    _run(tmp_path, kills=200, seed=2026)
