"""Constant-rate cover traffic: the rate on the wire against the configured rate.

A router, a gateway and a workstation in one process on loopback, both sides sending cover at
RATE frames/s in a BUCKET body; a capture client counts the frames per direction for SECONDS.
Baseline: the configured rate. Reports the measured/configured ratio and the spread of the gaps
between frames (a steady sender has gaps close to 1/RATE).
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from custody.link import keys as link_keys
from custody.link.backends import EchoBackend
from custody.link.gateway import Gateway
from custody.link.pad_providers import DirectoryPadProvider
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import free_endpoint

RATE, BUCKET, SECONDS = 50.0, 1024, 4.0


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["REDDOOR_STATE_DIR"] = str(base / "state")
        make_practice_pad(base / "p", 16 << 20, split="1:1")
        ep = free_endpoint()
        router = Transport(LinkConfig.router(ep))
        arrivals: dict[str, list[float]] = {"w2f": [], "f2w": []}
        lock = threading.Lock()
        cap = Transport(LinkConfig.for_endpoint(ep))

        def on(key: str, _data: bytes) -> None:
            with lock:
                arrivals[key.rsplit("/", 1)[1]].append(time.monotonic())

        sub = cap.subscribe(link_keys.ALL_PAD_FRAMES, on)
        gw_t = Transport(LinkConfig.for_endpoint(ep))
        gw = Gateway(
            gw_t,
            DirectoryPadProvider(base / "p" / "facility"),
            EchoBackend(),
            cover_rate=RATE,
            cover_bucket=BUCKET,
        )
        ws_t = Transport(LinkConfig.for_endpoint(ep))
        copy = open_pad_dir(base / "p" / "workstation")
        client = WorkstationClient(copy, ws_t)
        try:
            gw.start()
            client.enable_cover(RATE, BUCKET)
            time.sleep(1.0)  # settle
            with lock:
                for v in arrivals.values():
                    v.clear()
            time.sleep(SECONDS)
            with lock:
                snap = {k: list(v) for k, v in arrivals.items()}
        finally:
            client.disable_cover()
            client.close()
            copy.close()
            gw.stop()
            sub.close()
            for t in (ws_t, gw_t, cap, router):
                t.close()
    res: dict[str, float] = {"configured_frames_per_s": RATE}
    for d, times in snap.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        res[f"{d}_frames_per_s"] = round(len(times) / SECONDS, 2)
        res[f"{d}_ratio_to_configured"] = round(len(times) / SECONDS / RATE, 3)
        if len(gaps) > 2:
            res[f"{d}_gap_median_ms"] = round(statistics.median(gaps) * 1e3, 2)
            res[f"{d}_gap_stdev_ms"] = round(statistics.stdev(gaps) * 1e3, 2)
    for k, v in res.items():
        print(f"{k:>28}: {v}")
    return res


if __name__ == "__main__":
    main()
