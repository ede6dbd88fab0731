"""Helpers for link tests: free ports, subprocesses that announce readiness, a wire capture."""

from __future__ import annotations

import itertools
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from custody import frame, link_keys
from custody.zenoh_transport import LinkConfig, Transport

REPO = Path(__file__).resolve().parents[2]


def free_endpoint() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp/127.0.0.1:{port}"


def spawn(*args: str, ready: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `reddoor ARGS`; wait until its stderr says `ready` (no timing assertion)."""
    full = dict(os.environ)
    full.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[bytes] = []
    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError(f"{args[0]} exited: {b''.join(lines).decode(errors='replace')}")
        lines.append(line)
        if ready.encode() in line:
            break
    # keep draining stderr so the child never blocks on a full pipe
    proc.captured = lines  # type: ignore[attr-defined]
    threading.Thread(
        target=lambda: lines.extend(iter(proc.stderr.readline, b"")), daemon=True
    ).start()
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Capture:
    """Every frame on `reddoor/v1/pad/**`, as a separate client of the router."""

    def __init__(self, endpoint: str) -> None:
        self.transport = Transport(LinkConfig.for_endpoint(endpoint))
        self.frames: list[tuple[str, bytes]] = []
        self.q: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._lock = threading.Lock()
        self.sub = self.transport.subscribe(link_keys.ALL_PAD_FRAMES, self._on)

    def _on(self, key: str, data: bytes) -> None:
        with self._lock:
            self.frames.append((key, data))
        self.q.put((key, data))

    def wait_for(self, predicate, limit: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + limit
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError("condition not reached")
            time.sleep(0.02)

    def count(self, direction: str) -> int:
        with self._lock:
            return sum(1 for k, _ in self.frames if k.endswith("/" + direction))

    def assert_no_reuse(self) -> int:
        """No two different frames share a pad byte, per pad and direction."""
        with self._lock:
            distinct = {(k, d) for k, d in self.frames}
        by_dir: dict[str, list[tuple[int, int, bytes]]] = {}
        for k, d in distinct:
            h = frame.parse_header(d)
            by_dir.setdefault(k, []).append((h.offset, h.offset + h.range_len, d))
        for k, ranges in by_dir.items():
            ranges.sort()
            for (a0, a1, _), (b0, b1, _) in itertools.pairwise(ranges):
                assert a1 <= b0, f"pad range reused on {k}: [{a0},{a1}) and [{b0},{b1})"
        return len(distinct)

    def close(self) -> None:
        self.sub.close()
        self.transport.close()
