"""Auditor reports over a ledger of 10,000 events and 200 pads: time to PDF (inventory and
consumption; target under 5 s each on the 2-vCPU reference machine) against a baseline of
the same report data to JSON. Phases: verifying the ledger (every report verifies first),
deriving pad states and consumption, and laying out the PDF."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from custody.documents.reports import builders, consumption, inventory, shared
from custody.ledger import home
from custody.lifecycle import states
from tests.custody.documents.fixtures import build_synthetic_home

EVENTS = 10_000
PADS = 200
TARGET_S = 5.0


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "home"
        _, build_s = _timed(lambda: build_synthetic_home(path, pads=PADS, events=EVENTS))
        out: dict[str, Any] = {"events": EVENTS, "pads": PADS, "build_ledger_s": round(build_s, 2)}
        with home.open_home(path) as oh:
            led = oh.ledger
            state, verify_s = _timed(lambda: shared.ledger_state(led, practice=True))
            assert state.verified, state.problems[:1]
            _pads, scan_s = _timed(lambda: states.scan(led))
            out["verify_s"] = round(verify_s, 3)
            out["derive_states_s"] = round(scan_s, 3)
            for name in ("inventory", "consumption"):

                def data(name: str = name) -> dict[str, Any]:
                    st = shared.ledger_state(led, practice=True)
                    ps = states.scan(led)
                    if name == "inventory":
                        return inventory.inventory_data(st, ps)
                    return consumption.consumption_data(led, st, ps)

                d, data_s = _timed(data)
                _, json_s = _timed(lambda d=d: json.dumps(d, sort_keys=True).encode())
                pdf_bytes, layout_s = _timed(lambda d=d: builders.render(d))
                total = data_s + layout_s
                out[name] = {
                    "data_s": round(data_s, 3),
                    "json_baseline_s": round(data_s + json_s, 3),
                    "pdf_layout_s": round(layout_s, 3),
                    "time_to_pdf_s": round(total, 3),
                    "pdf_bytes": len(pdf_bytes),
                    "within_target": total < TARGET_S,
                }
    print(json.dumps(out, indent=1, sort_keys=True))
    return out


if __name__ == "__main__":
    main()
