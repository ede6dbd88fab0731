"""`make bench`: run every tests/benchmarks/bench_*.py `main()` and report its figures.

Each benchmark measures its own baseline in the same run and reports the ratio. Results are
printed and written to bench-results/<UTC timestamp>.json with the machine description, for
docs/benchmarks.md. `make bench BENCH=frames,ledger` runs a subset.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def main() -> int:
    wanted = {w.strip() for w in os.environ.get("BENCH", "").split(",") if w.strip()}
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if wanted:
        names = [n for n in names if n.removeprefix("bench_") in wanted or n in wanted]
    report: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": {},
    }
    failed = 0
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            figures = importlib.import_module(f"tests.benchmarks.{name}").main()
        except Exception:
            failed += 1
            traceback.print_exc()
            figures = {"error": traceback.format_exc(limit=3)}
        wall = round(time.perf_counter() - t0, 1)
        report["results"][name] = {"figures": figures, "wall_s": wall}  # type: ignore[index]
        print(json.dumps(figures, indent=2, default=str), flush=True)
    out_dir = REPO / "bench-results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out_dir / f"{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"results written to bench-results/{stamp}.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
