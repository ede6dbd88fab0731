"""Diode benchmark: the link through two one-way UDP bridges, against the same link on one router.

Topology (all on loopback, each box its own process except the relays and the clients):

    router S ── diode send w2f ─→ relay ─→ diode receive w2f ── router F ── gateway (echo)
    router S ── diode receive f2w ←─ relay ←─ diode send f2w ── router F

There is no Zenoh path between S and F; the workstation client of the diode path asks on S. The
baseline is a second pad, served by the same gateway, asked by a workstation client on F (one
router, no bridge) in the same run, interleaved with the diode questions.

Phases (the senders are restarted between them with other options; receivers stay up):
1. latency: 1 KiB questions, senders straight to the receivers (a loss-free wire; the relays are a
   Python thread in this process and would add their own GIL wait to the figure);
2. delivery vs loss: 4 KiB questions through the relays (OneWayRelay, faults on both directions),
   for each FEC overhead and each loss setting; the client retransmits after `RETX` s and gives
   up after `TIMEOUT` s;
3. goodput: 1 MiB questions echoed back at --max-rate 100M, senders straight to the receivers,
   with the CPU time of each bridge process from /proc/<pid>/stat.

Run: `make bench BENCH=diode` (also writes docs/images/diode-delivery.png).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from custody.errors import RedDoorError
from custody.link import keys as link_keys
from custody.link.diode.sender import BLOCK_FILL, DiodeSender
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.manifest import Direction
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir
from tests.custody.link.diode_relay import Faults, OneWayRelay
from tests.custody.link.fixtures import REPO, free_endpoint, spawn, stop

MAX_RATE = "100M"
N_LATENCY = 300  # per path, interleaved
N_DELIVERY = 100  # questions per (FEC setting, loss setting) cell
N_GOODPUT = 8  # 1 MiB questions (and answers)
RETX = 0.5  # s: the client's retransmit interval in the delivery phase
TIMEOUT = 6.0  # s: the client's answer timeout in the delivery phase (≈ 11 retransmissions)
FEC_SETTINGS = (0.0, 0.25, 0.5, 1.0)
LOSSES: tuple[tuple[str, Faults], ...] = (
    ("0%", Faults()),
    ("1%", Faults(loss=0.01)),
    ("5%", Faults(loss=0.05)),
    ("10%", Faults(loss=0.10)),
    ("20%", Faults(loss=0.20)),
    ("bursts", Faults(burst_every=200, burst_len=20)),  # 10% of datagrams, 20 in a row
)
PLOT = REPO / "docs" / "images" / "diode-delivery.png"


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def free_udp() -> tuple[str, int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    addr = s.getsockname()
    s.close()
    return str(addr[0]), int(addr[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bridges:
    """The four bridge processes; senders restarted per phase, receivers kept."""

    def __init__(self, ep_s: str, ep_f: str) -> None:
        self.ep = {"w2f": (ep_s, ep_f), "f2w": (ep_f, ep_s)}  # (sender's router, receiver's)
        self.rx_addr = {d: free_udp() for d in self.ep}
        self.receivers = {
            d: spawn(
                "diode",
                "receive",
                "--direction",
                d,
                "--connect",
                self.ep[d][1],
                "--listen",
                f"udp/{h}:{p}",
                ready="listening on",
            )
            for d, (h, p) in self.rx_addr.items()
        }
        self.relays = {d: OneWayRelay(self.rx_addr[d], seed=13) for d in self.ep}
        self.senders: dict[str, subprocess.Popen[bytes]] = {}

    def start_senders(self, *, fec: float, via_relay: bool) -> None:
        self.stop_senders()
        for d in self.ep:
            h, p = self.relays[d].listen if via_relay else self.rx_addr[d]
            self.senders[d] = spawn(
                "diode",
                "send",
                "--direction",
                d,
                "--connect",
                self.ep[d][0],
                "--to",
                f"udp/{h}:{p}",
                "--max-rate",
                MAX_RATE,
                "--fec-overhead",
                str(fec),
                ready="sending",
            )

    def stop_senders(self) -> None:
        for p in self.senders.values():
            stop(p)
        self.senders.clear()

    def set_faults(self, faults: Faults) -> None:
        for r in self.relays.values():
            r.set_faults(faults)

    def pids(self) -> dict[str, int]:
        out = {f"send_{d}": p.pid for d, p in self.senders.items()}
        out.update({f"receive_{d}": p.pid for d, p in self.receivers.items()})
        return out

    def close(self) -> None:
        self.stop_senders()
        for p in self.receivers.values():
            stop(p)
        for r in self.relays.values():
            r.close()


def receiver_status(t: Transport, direction: str) -> dict[str, Any]:
    for raw in t.query(link_keys.diode_status_key(Direction(direction)), 2.0):
        return dict(json.loads(raw))
    return {}


def warm_up(c: WorkstationClient, limit: float = 60.0) -> None:
    """Ask until an answer comes (the gateway's mirrored presence and the senders'
    subscriptions take a moment to propagate); no timing is measured here."""
    end = time.monotonic() + limit
    while True:
        try:
            c.ask("warm up", timeout=3.0)
            return
        except RedDoorError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def block_wait(t: Transport, fec: float) -> dict[str, float]:
    """How long the sender takes to put one block on the wire at MAX_RATE (FEC encoding and
    pacing), measured with the sender's own code into a UDP sink that is never read: a frame
    arriving while a block is leaving waits at most this long (one full block), a lone question
    only its own small block."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    s = DiodeSender(
        t, Direction.W2F, sink.getsockname(), max_rate=100_000_000, overhead=fec, heartbeat=1.0
    )
    out = {}
    try:
        for name, size in (("full_block", BLOCK_FILL), ("question_block", 1100)):
            xs = []
            for _ in range(7):
                block = os.urandom(size)
                time.sleep(0.02)  # let the rate limiter's bucket refill, as between questions
                t0 = time.perf_counter()
                s._send_block(block)
                xs.append(time.perf_counter() - t0)
            out[f"block_wait_{name}_ms"] = statistics.median(xs) * 1e3
    finally:
        s.close()
        sink.close()
    return out


def latency(direct: WorkstationClient, diode: WorkstationClient) -> dict[str, float]:
    q = "q" * (1024 - 40)  # with its metadata line the query body is ~1 KiB (as bench_link)
    d_rt, b_rt = [], []
    for _ in range(N_LATENCY):
        t0 = time.perf_counter()
        direct.ask(q)
        d_rt.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        diode.ask(q)
        b_rt.append(time.perf_counter() - t0)
    return {
        "direct_median_ms": statistics.median(d_rt) * 1e3,
        "direct_p99_ms": _pct(d_rt, 0.99) * 1e3,
        "diode_median_ms": statistics.median(b_rt) * 1e3,
        "diode_p99_ms": _pct(b_rt, 0.99) * 1e3,
    }


def delivery_cell(c: WorkstationClient, n: int) -> dict[str, float]:
    """n 4 KiB questions; how many were answered at the first try, and at all."""
    q = "d" * 4096
    first = answered = retx = 0
    for _ in range(n):
        before = c.stats["retransmitted-queries"]  # for a question that fails
        try:
            a = c.ask(q)
        except RedDoorError:
            retx += c.stats["retransmitted-queries"] - before
            continue
        if a.text != q:
            raise AssertionError("an answer through the diode was not byte-exact")
        answered += 1
        n_retx = a.retransmissions  # this question's
        retx += n_retx
        first += n_retx == 0
    return {"first_try": first / n, "answered": answered / n, "retransmissions": retx}


def delivery(
    bridges: Bridges, c: WorkstationClient, t_f: Transport, t_s: Transport
) -> list[dict[str, Any]]:
    rows = []
    c.retransmit_interval, c.answer_timeout = RETX, TIMEOUT
    for fec in FEC_SETTINGS:
        bridges.start_senders(fec=fec, via_relay=True)
        warm_up(c)
        for label, faults in LOSSES:
            bridges.set_faults(faults)
            relay_before = {d: r.dropped for d, r in bridges.relays.items()}
            rx_before = {"w2f": receiver_status(t_f, "w2f"), "f2w": receiver_status(t_s, "f2w")}
            t0 = time.perf_counter()
            row: dict[str, Any] = {"fec": fec, "loss": label}
            row.update(delivery_cell(c, N_DELIVERY))
            row["wall_s"] = time.perf_counter() - t0
            bridges.set_faults(Faults())
            time.sleep(0.3)  # late retransmissions settle before the counters are read
            rx_after = {"w2f": receiver_status(t_f, "w2f"), "f2w": receiver_status(t_s, "f2w")}
            for d in ("w2f", "f2w"):
                row[f"relay_dropped_{d}"] = bridges.relays[d].dropped - relay_before[d]
                for k in ("datagrams_lost", "blocks_repaired", "blocks_lost"):
                    row[f"{k}_{d}"] = rx_after[d].get(k, 0) - rx_before[d].get(k, 0)
            print(
                f"  fec {fec:<4} loss {label:<6} first try {row['first_try']:6.1%} "
                f"answered {row['answered']:6.1%}  ({row['wall_s']:.1f} s)",
                flush=True,
            )
            rows.append(row)
    c.retransmit_interval, c.answer_timeout = 1.0, 60.0
    return rows


def goodput(c: WorkstationClient, n: int) -> tuple[float, float, int]:
    """Answer bytes per second over whole round trips and over the answer's own streaming
    (first authenticated chunk to the last), and the answer bytes."""
    big = "a" * (1 << 20)
    total = 0
    rt = stream = 0.0
    for _ in range(n):
        first: list[float] = []
        t0 = time.perf_counter()
        a = c.ask(big, lambda _p, f=first: f.append(time.perf_counter()))
        t1 = time.perf_counter()
        if a.text != big:
            raise AssertionError("a 1 MiB answer through the diode was not byte-exact")
        total += len(a.text)
        rt += t1 - t0
        stream += t1 - first[0]
    return total / rt, total / stream, total


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Grouped bars: per loss setting, one bar per FEC setting, its height the share answered
    without a retransmission; a black tick marks the share answered in total."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _ in LOSSES]
    width = 0.8 / len(FEC_SETTINGS)
    fig, ax = plt.subplots(figsize=(11, 4.6))
    for i, fec in enumerate(FEC_SETTINGS):
        cells = [r for r in rows if r["fec"] == fec]
        xs = [j + (i - (len(FEC_SETTINGS) - 1) / 2) * width for j in range(len(labels))]
        first = [100 * r["first_try"] for r in cells]
        bars = ax.bar(xs, first, width * 0.92, label=f"FEC overhead {fec:g} (+2 symbols)")
        ax.scatter(
            xs,
            [100 * r["answered"] for r in cells],
            marker="_",
            s=120,
            color="black",
            zorder=3,
            label="answered in total" if i == 0 else None,
        )
        for bar, y in zip(bars, first, strict=True):
            if y < 99.5:
                ax.annotate(
                    f"{y:.0f}",
                    (bar.get_x() + bar.get_width() / 2, y),
                    xytext=(0, -12),
                    textcoords="offset points",
                    ha="center",
                    fontsize=8,
                    color="white",
                    fontweight="bold",
                )
    ax.axvline(len(labels) - 1.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(labels)), [*labels[:-1], "bursts of 20\nevery 200"])
    ax.set_xlabel("random datagram loss on each of the two diodes")
    ax.set_ylabel(f"% of {N_DELIVERY} questions (4 KiB, echoed)")
    ax.set_ylim(0, 108)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    ax.set_title(
        "Answered without a retransmission (bars) and in total within "
        f"{TIMEOUT:g} s (ticks),\nthrough two one-way UDP bridges; the client retransmits "
        f"after {RETX:g} s"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["REDDOOR_STATE_DIR"] = str(base / "state")
        (base / "fac").mkdir()
        for name, size in (("direct", 64 << 20), ("diode", 128 << 20)):
            make_practice_pad(base / name, size)
            (base / name / "facility").rename(base / "fac" / name)
        ep_f, ep_s = free_endpoint(), free_endpoint()
        procs = [spawn("router", "--listen", ep, ready="router listening") for ep in (ep_f, ep_s)]
        procs.append(
            spawn(
                "gateway",
                "--connect",
                ep_f,
                "--pads",
                str(base / "fac"),
                "--chunk-bytes",
                "16384",
                ready="serving",
            )
        )
        bridges = Bridges(ep_s, ep_f)
        t_f = Transport(LinkConfig.for_endpoint(ep_f))
        t_s = Transport(LinkConfig.for_endpoint(ep_s))
        copies = [
            open_pad_dir(base / n / "workstation", block=4 << 20) for n in ("direct", "diode")
        ]
        direct = WorkstationClient(copies[0], t_f)
        diode = WorkstationClient(copies[1], t_s)
        res: dict[str, Any] = {}
        try:
            # 1. latency, senders straight to the receivers
            bridges.start_senders(fec=0.25, via_relay=False)
            warm_up(direct)
            warm_up(diode)
            res.update(latency(direct, diode))
            res["diode_over_direct_median"] = res["diode_median_ms"] / res["direct_median_ms"]
            res.update(block_wait(t_s, 0.25))
            # a lone question waits only for its own block, once per crossing (w2f, f2w)
            res["target_median_ms"] = (
                2 * res["direct_median_ms"] + 2 * res["block_wait_question_block_ms"]
            )
            res["target_met"] = res["diode_median_ms"] <= res["target_median_ms"]
            # 2. delivery vs loss, through the relays
            rows = delivery(bridges, diode, t_f, t_s)
            res["delivery"] = rows
            res["back_packets"] = sum(r.back_packets for r in bridges.relays.values())
            # 3. goodput and CPU per MB, senders straight to the receivers
            bridges.start_senders(fec=0.25, via_relay=False)
            warm_up(diode)
            pids = bridges.pids()
            cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
            rt_bps, stream_bps, total = goodput(diode, N_GOODPUT)
            cpu1 = {k: cpu_seconds(p) for k, p in pids.items()}
            res["diode_goodput_roundtrip_MBps"] = rt_bps / 1e6
            res["diode_goodput_answer_stream_MBps"] = stream_bps / 1e6
            for k in pids:
                # each bridge carried `total` bytes of text: w2f the questions, f2w the answers
                res[f"cpu_s_per_MB_{k}"] = (cpu1[k] - cpu0[k]) / (total / 1e6)
            d_bps, d_stream, _ = goodput(direct, N_GOODPUT)
            res["direct_goodput_roundtrip_MBps"] = d_bps / 1e6
            res["direct_goodput_answer_stream_MBps"] = d_stream / 1e6
        finally:
            direct.close()
            diode.close()
            for c in copies:
                c.close()
            t_f.close()
            t_s.close()
            bridges.close()
            for p in reversed(procs):
                stop(p)
    plot(rows, PLOT)
    res["plot"] = str(PLOT.relative_to(REPO))
    for k, v in res.items():
        if k != "delivery":
            print(f"{k:>40}: {v:.3f}" if isinstance(v, float) else f"{k:>40}: {v}")
    return res


if __name__ == "__main__":
    main()
