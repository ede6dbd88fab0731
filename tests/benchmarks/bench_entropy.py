"""Entropy benchmark: each available source's rate, health-test + statistics throughput, and
`generate` with and without the metrics textfile observer (`--metrics-textfile`), in the same run.

Run: ``python -m tests.benchmarks.bench_entropy`` (``make bench`` calls `main()`). Figures go
into docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ceremony.entropy_devices import DeviceSource, hwrng_sysfs
from ceremony.entropy_metrics import EntropyMetrics
from ceremony.entropy_sources import EntropySource, OsSource
from ceremony.errors import CeremonyError
from ceremony.health_tests import HealthMonitor
from ceremony.mixer import generate
from ceremony.pad_statistics import PadStatistics

MIB = 1 << 20
SIZE = 256 * MIB
CHUNK = MIB
RATE_SECONDS = 2.5


def source_rates() -> dict[str, Any]:
    rates: dict[str, Any] = {}
    candidates: list[tuple[str, Any]] = [
        ("hwrng", lambda: DeviceSource("/dev/hwrng")),
        ("os", OsSource),
        ("/dev/urandom (device path)", lambda: DeviceSource("/dev/urandom")),
    ]
    for label, make in candidates:
        try:
            source: EntropySource = make()
        except CeremonyError as exc:
            rates[label] = {"available": False, "reason": str(exc)}
            continue
        with source:
            rate = source.measure_rate(RATE_SECONDS)
            rates[label] = {"available": True, "bytes_per_s": round(rate, 1), **source.identity()}
    return rates


def read_baseline(size: int) -> float:
    """Seconds to just read `size` bytes from the OS CSPRNG into one reused buffer."""
    src = OsSource()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    t0 = time.perf_counter()
    for _ in range(size // CHUNK):
        src.readinto(view)
    return time.perf_counter() - t0


def tests_only(data: np.ndarray) -> dict[str, float]:
    """Seconds for health tests, statistics, and both, over data already in memory."""
    out: dict[str, float] = {}
    monitor = HealthMonitor("bench")
    t0 = time.perf_counter()
    for pos in range(0, data.size, CHUNK):
        monitor.check(data[pos : pos + CHUNK])
    out["health_s"] = time.perf_counter() - t0
    stats = PadStatistics()
    t0 = time.perf_counter()
    for pos in range(0, data.size, CHUNK):
        stats.update(data[pos : pos + CHUNK])
    out["statistics_s"] = time.perf_counter() - t0
    return out


def metrics_overhead(size: int, rounds: int = 3) -> dict[str, float]:
    """Median seconds of `generate` without and with the metrics textfile observer, alternated
    so that both see the same machine; the observer writes its file at most once a second."""
    plain: list[float] = []
    observed: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(rounds):
            t0 = time.perf_counter()
            generate([OsSource()], size, lambda chunk: None, practice=True, chunk_size=CHUNK)
            plain.append(time.perf_counter() - t0)
            metrics = EntropyMetrics(Path(d) / "reddoor-entropy.prom")
            t0 = time.perf_counter()
            metrics.started(size)
            generate(
                [OsSource()],
                size,
                lambda chunk: None,
                practice=True,
                chunk_size=CHUNK,
                observe=metrics.observe,
            )
            metrics.stopped()
            observed.append(time.perf_counter() - t0)
    without, with_ = statistics.median(plain), statistics.median(observed)
    return {
        "without_s": round(without, 3),
        "with_s": round(with_, 3),
        "ratio": round(with_ / without, 3),
    }


def main() -> dict[str, Any]:
    result: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}, numpy {np.__version__}",
        "date": time.strftime("%Y-%m-%d"),
        "hw_random": hwrng_sysfs(),
    }
    result["source_rates"] = source_rates()

    size_mib = SIZE // MIB
    baseline = read_baseline(SIZE)
    t0 = time.perf_counter()
    generate([OsSource()], SIZE, lambda chunk: None, practice=True, chunk_size=CHUNK)
    full = time.perf_counter() - t0
    data = np.frombuffer(os.urandom(SIZE), dtype=np.uint8)
    parts = tests_only(data)
    both = parts["health_s"] + parts["statistics_s"]
    result["throughput"] = {
        "size_mib": size_mib,
        "read_only_s": round(baseline, 3),
        "read_only_mib_per_s": round(size_mib / baseline, 1),
        "generate_s": round(full, 3),
        "generate_mib_per_s": round(size_mib / full, 1),
        "generate_vs_read_ratio": round(full / baseline, 2),
        "health_tests_mib_per_s": round(size_mib / parts["health_s"], 1),
        "statistics_mib_per_s": round(size_mib / parts["statistics_s"], 1),
        "health_plus_statistics_mib_per_s": round(size_mib / both, 1),
        "health_plus_statistics_s_per_gib": round(both * 1024 / size_mib, 2),
    }
    result["metrics_textfile"] = metrics_overhead(SIZE)
    print_figures(result)
    return result


def print_figures(result: dict[str, Any]) -> None:
    print(f"# entropy benchmark — {result['machine']} — {result['date']}")
    for label, info in result["source_rates"].items():
        if info.get("available"):
            rate = info["bytes_per_s"]
            print(f"source {label:28s} {rate / 1024:12,.1f} KiB/s  ({rate / MIB:,.2f} MiB/s)")
        else:
            print(f"source {label:28s} unavailable: {info['reason']}")
    t = result["throughput"]
    print(
        f"read only        {t['size_mib']} MiB in {t['read_only_s']:.2f} s "
        f"({t['read_only_mib_per_s']:,.0f} MiB/s)"
    )
    print(
        f"generate (read + health + stats) {t['generate_s']:.2f} s "
        f"({t['generate_mib_per_s']:,.0f} MiB/s), ratio {t['generate_vs_read_ratio']:.2f}x"
    )
    print(
        f"health tests {t['health_tests_mib_per_s']:,.0f} MiB/s, statistics "
        f"{t['statistics_mib_per_s']:,.0f} MiB/s, both {t['health_plus_statistics_mib_per_s']:,.0f}"
        f" MiB/s = {t['health_plus_statistics_s_per_gib']:.2f} s/GiB"
    )
    m = result["metrics_textfile"]
    print(
        f"generate {t['size_mib']} MiB without / with --metrics-textfile (median of 3): "
        f"{m['without_s']:.2f} s / {m['with_s']:.2f} s, ratio {m['ratio']:.3f}"
    )


if __name__ == "__main__":
    out = main()
    Path(os.environ.get("BENCH_JSON", os.devnull)).write_text(json.dumps(out, indent=2))
