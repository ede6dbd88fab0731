"""Metrics overhead (issue 15): the link round trip with and without `reddoor gateway --metrics`.

One router, a fresh 64 MiB practice pad per round; the gateway is started alternately without
and with `--metrics` (then scraped five times a second, far more often than Prometheus' usual
15 s), ROUNDS times each, interleaved so that a busy shared machine weighs on both alike. Each
round times N 1 KiB round trips from a workstation client in this process. Target: the medians
within 5 %.
Run: `python -m tests.benchmarks.bench_metrics`.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import free_endpoint, free_port, spawn, stop

N = 2000
ROUNDS = 3
SCRAPE_INTERVAL = 0.2


def _scraper(port: int, done: threading.Event, count: list[int]) -> None:
    while not done.wait(SCRAPE_INTERVAL):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            r.read()
        count[0] += 1


def _round(ep: str, base: Path, metrics: bool) -> tuple[list[float], int]:
    """N round trips on a fresh pad (a 64 MiB pad holds a few rounds only)."""
    base = base / f"round-{len(list(base.glob('round-*')))}"
    make_practice_pad(base / "p", 64 << 20)
    extra: list[str] = []
    port = free_port()
    if metrics:
        extra = ["--metrics", f"tcp/127.0.0.1:{port}"]
    gw = spawn(
        "gateway", "--connect", ep, "--pads", str(base / "p" / "facility"),
        "--chunk-bytes", "16384", *extra, ready="serving",
    )  # fmt: skip
    done, scrapes = threading.Event(), [0]
    scraper = threading.Thread(target=_scraper, args=(port, done, scrapes), daemon=True)
    if metrics:
        scraper.start()
    try:
        with (
            Transport(LinkConfig.for_endpoint(ep)) as t,
            open_pad_dir(base / "p" / "workstation", block=4 << 20) as copy,
        ):
            c = WorkstationClient(copy, t)
            try:
                q = "q" * (1024 - 40)  # with its metadata line the query body is ~1 KiB
                for _ in range(20):  # warm up
                    c.ask(q)
                rt = []
                for _ in range(N):
                    t0 = time.perf_counter()
                    c.ask(q)
                    rt.append(time.perf_counter() - t0)
            finally:
                c.close()
    finally:
        done.set()
        if metrics:
            scraper.join()
        stop(gw)
    return rt, scrapes[0]


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["REDDOOR_STATE_DIR"] = str(base / "state")
        ep = free_endpoint()
        router = spawn("router", "--listen", ep, ready="router listening")
        plain: list[float] = []
        with_metrics: list[float] = []
        scrapes = 0
        try:
            for _ in range(ROUNDS):
                plain += _round(ep, base, metrics=False)[0]
                rt, n = _round(ep, base, metrics=True)
                with_metrics += rt
                scrapes += n
        finally:
            stop(router)
    off, on = statistics.median(plain), statistics.median(with_metrics)
    res = {
        "link_median_ms_without_metrics": off * 1e3,
        "link_median_ms_with_metrics": on * 1e3,
        "metrics_over_plain": on / off,
        "round_trips_each": float(len(plain)),
        "scrapes": float(scrapes),
    }
    for k, v in res.items():
        print(f"{k:34s} {v:10.3f}")
    return res


if __name__ == "__main__":
    main()
