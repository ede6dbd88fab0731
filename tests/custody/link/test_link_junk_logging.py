"""Unauthenticated junk costs a few log lines, not one per frame (issue #11, item 7).

An attacker on the router publishes 5,000 junk frames of five kinds on a pad's keys. The gateway
(and a user's `ask`) log the first of each reason at once, then a count per reason at most every
10 s, and the totals when they stop. Before, this made one WARNING line per frame (4,666 lines on
the gateway, 615 on a user's terminal).
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from custody.link import keys as link_keys
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import frame
from custody.pad.manifest import Direction
from custody.pad.store import open_pad_dir, read_manifest
from custody.rate_limited_log import DEFAULT_INTERVAL
from tests.custody.link.fixtures import REPO, free_endpoint, spawn, stop

JUNK = 5000
REASONS = ("bad-magic", "truncated", "bad-tag", "wrong-pad", "outside-region")


def junk_frames(pad_id: bytes, direction: Direction, region: tuple[int, int]) -> list[bytes]:
    """JUNK frames, the same number of each reason; none of them authentic."""
    start, end = region
    body = frame.BUCKETS[0]
    frames = []
    for i in range(JUNK):
        reason = REASONS[i % len(REASONS)]
        if reason == "bad-magic":
            frames.append(os.urandom(frame.OVERHEAD + body))
        elif reason == "truncated":
            frames.append(os.urandom(i % frame.OVERHEAD))
        else:
            pid = os.urandom(16) if reason == "wrong-pad" else pad_id
            offset = start + (i * 4096) % (end - start - 4096)
            if reason == "outside-region":
                offset = end + 64
            header = frame.HEADER.pack(
                frame.MAGIC, frame.VERSION, frame.Kind.OPAQUE, direction.code, 0, 0, pid,
                offset, frame.KEY_LEN + body, body,
            )  # fmt: skip
            frames.append(header + os.urandom(body + frame.TAG_LEN))
    return frames


def publish(endpoint: str, key: str, frames: list[bytes]) -> None:
    with Transport(LinkConfig.for_endpoint(endpoint)) as t:
        for i, data in enumerate(frames):
            t.publish(key, data)
            if i % 100 == 99:
                time.sleep(0.01)  # paced: the receivers' queues never overflow


def rejection_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "rejected" in ln]


def totals(lines: list[str]) -> dict[str, int]:
    """Per reason: the latest "N since start", or 1 for a reason only its first line shows."""
    out: dict[str, int] = {}
    for ln in lines:
        if m := re.search(r"frames rejected \(([\w-]+)\) in the last .* (\d+) since start", ln):
            out[m.group(1)] = max(out.get(m.group(1), 0), int(m.group(2)))
        elif m := re.search(r"rejected a frame .*: ([\w-]+)", ln):
            out.setdefault(m.group(1), 1)
    return out


def line_bound(elapsed: float) -> int:
    """The first line of each reason, a summary per interval while it lasted, one at stop."""
    return len(REASONS) * (2 + math.ceil(elapsed / DEFAULT_INTERVAL))


@pytest.mark.slow
def test_junk_on_the_gateway_costs_a_few_lines_and_is_counted(pads: Path) -> None:
    ep = free_endpoint()
    ws = pads / "p1" / "workstation"
    manifest = read_manifest(ws)
    region = manifest.region(Direction.W2F)
    junk = junk_frames(manifest.pad_id, Direction.W2F, (region.start, region.end))
    gw = spawn("gateway", "--pads", str(pads / "fac"), "--listen", ep, ready="pad(s) on")
    started = time.monotonic()
    try:
        key = link_keys.frame_key(manifest.pad_id, Direction.W2F)
        with Transport(LinkConfig.for_endpoint(ep)) as t:
            answered = threading.Event()
            sub = t.subscribe(
                link_keys.frame_key(manifest.pad_id, Direction.F2W), lambda k, d: answered.set()
            )
            for i, data in enumerate(junk):
                t.publish(key, data)
                if i % 100 == 99:
                    time.sleep(0.01)  # paced: the gateway's queue never overflows
            # One real question after the junk, on the same session and key (delivered in
            # order): its answer means every junk frame reached the gateway's queue.
            with open_pad_dir(ws) as copy:
                t.publish(key, frame.seal(copy, frame.Kind.QUERY, b"still serving?"))
            assert answered.wait(60), "the gateway stopped answering under junk"
            sub.close()
    finally:
        gw.send_signal(signal.SIGTERM)  # stop() joins the frame workers, then logs the totals
        gw.wait(timeout=30)
        stop(gw)
    elapsed = time.monotonic() - started
    lines = rejection_lines(b"".join(gw.captured).decode())  # type: ignore[attr-defined]
    assert 0 < len(lines) <= line_bound(elapsed), "\n".join(lines[:20])
    assert totals(lines) == {r: JUNK // len(REASONS) for r in REASONS}, "\n".join(lines)


@pytest.mark.slow
def test_junk_on_a_users_terminal_costs_a_few_lines(pads: Path, tmp_path: Path) -> None:
    question = tmp_path / "question.txt"
    question.write_text("anyone there?")
    ep = free_endpoint()
    ws = pads / "p1" / "workstation"
    manifest = read_manifest(ws)
    region = manifest.region(Direction.F2W)
    junk = junk_frames(manifest.pad_id, Direction.F2W, (region.start, region.end))
    router = spawn("router", "--listen", ep, ready="router listening")
    try:
        with Transport(LinkConfig.for_endpoint(ep)) as t:
            asked = threading.Event()
            sub = t.subscribe(
                link_keys.frame_key(manifest.pad_id, Direction.W2F), lambda k, d: asked.set()
            )
            started = time.monotonic()
            ask = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app",
                    "ask",
                    "-",
                    "--pad",
                    str(ws),
                    "--connect",
                    ep,
                    "--no-presence-check",
                    "--timeout",
                    "15",
                ],
                cwd=REPO,
                stdin=question.open("rb"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            assert asked.wait(60), "ask never sent its question"  # it is subscribed by now
            sub.close()
        publish(ep, link_keys.frame_key(manifest.pad_id, Direction.F2W), junk)
        _, err = ask.communicate(timeout=120)
    finally:
        stop(router)
    elapsed = time.monotonic() - started
    assert ask.returncode == 24, err.decode()  # no answer: there is no gateway
    lines = rejection_lines(err.decode())
    assert 0 < len(lines) <= line_bound(elapsed), "\n".join(lines[:20])
    assert totals(lines) == {r: JUNK // len(REASONS) for r in REASONS}, "\n".join(lines)
