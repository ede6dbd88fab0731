"""Link benchmark: 1 KiB round trips through a router on loopback, against bare Zenoh.

Processes: a router (`reddoor router`), a gateway (`reddoor gateway`, echo backend) and, for the
baseline, a bare Zenoh ponger; the client runs here. Run: `python -m tests.benchmarks.bench_link`.
"""

from __future__ import annotations

import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.custody.link.fixtures import REPO, free_endpoint, spawn, stop

N = 2000
PONG = """
import sys, time
from custody.link.zenoh_transport import LinkConfig, Transport
t = Transport(LinkConfig.for_endpoint(sys.argv[1]))
t.subscribe("bench/ping", lambda k, d: t.publish("bench/pong", d))
print("pong ready", file=sys.stderr, flush=True)
time.sleep(3600)
"""


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def bare(ep: str, n: int) -> list[float]:
    proc = subprocess.Popen([sys.executable, "-c", PONG, ep], cwd=REPO, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    proc.stderr.readline()
    t = Transport(LinkConfig.for_endpoint(ep))
    q: queue.Queue[bytes] = queue.Queue()
    t.subscribe("bench/pong", lambda k, d: q.put(d))
    payload = os.urandom(1024)
    for _ in range(50):  # until the pong's subscription reached the router
        t.publish("bench/ping", payload)
        try:
            q.get(timeout=0.1)
            break
        except queue.Empty:
            pass
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        t.publish("bench/ping", payload)
        q.get(timeout=10)
        out.append(time.perf_counter() - t0)
    t.close()
    proc.kill()
    proc.wait()
    return out


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["REDDOOR_STATE_DIR"] = str(base / "state")
        make_practice_pad(base / "p", 64 << 20)
        ep = free_endpoint()
        router = spawn("router", "--listen", ep, ready="router listening")
        gw = spawn(
            "gateway",
            "--connect",
            ep,
            "--pads",
            str(base / "p" / "facility"),
            "--chunk-bytes",
            "16384",
            ready="serving",
        )
        try:
            bare_rt = bare(ep, N)
            t = Transport(LinkConfig.for_endpoint(ep))
            copy = open_pad_dir(base / "p" / "workstation", block=4 << 20)
            c = WorkstationClient(copy, t)
            q = "q" * (1024 - 40)  # with its metadata line the query body is ~1 KiB
            c.ask(q)
            rt, pad = [], []
            for _ in range(N):
                t0 = time.perf_counter()
                a = c.ask(q)
                rt.append(time.perf_counter() - t0)
                pad.append(a.w2f_bytes + a.f2w_bytes)
            c.outbox.durable = True  # the same, with an fdatasync of the outbox (see docs)
            rt_nd = []
            for _ in range(N // 2):
                t0 = time.perf_counter()
                c.ask(q)
                rt_nd.append(time.perf_counter() - t0)
            big = "a" * (1 << 20)
            t0 = time.perf_counter()
            total = 0
            for _ in range(8):
                total += len(c.ask(big).text)
            mbps = total / (time.perf_counter() - t0) / 1e6
            c.outbox.durable = False
            c.close()
            copy.close()
            t.close()
        finally:
            stop(gw)
            stop(router)
    res = {
        "link_median_ms": statistics.median(rt) * 1e3,
        "link_p99_ms": _pct(rt, 0.99) * 1e3,
        "bare_median_ms": statistics.median(bare_rt) * 1e3,
        "bare_p99_ms": _pct(bare_rt, 0.99) * 1e3,
        "link_durable_outbox_median_ms": statistics.median(rt_nd) * 1e3,
        "link_durable_outbox_p99_ms": _pct(rt_nd, 0.99) * 1e3,
        "throughput_MBps": mbps,
        "pad_bytes_per_query": statistics.mean(pad),
    }
    res["median_ratio"] = res["link_median_ms"] / res["bare_median_ms"]
    for k, v in res.items():
        print(f"{k:>30}: {v:.3f}")
    return res


if __name__ == "__main__":
    main()
