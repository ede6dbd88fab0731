"""`pad status` estimates from the usage observed on this host."""

from __future__ import annotations

import json
from pathlib import Path

from custody.pad import usage as pad_usage
from custody.pad.practice import make_practice_pad
from custody.pad.status import PRIOR_QUERIES, read_status, typical_query_cost


def test_estimate_uses_observed_rate_and_cost(tmp_path: Path, isolated_state: Path) -> None:
    m = make_practice_pad(tmp_path / "p", 4 << 20)
    ws = tmp_path / "p" / "workstation"
    fresh = read_status(ws)
    assert "assumed" in fresh.basis and fresh.queries_per_day == 100
    for _ in range(30):
        pad_usage.record_query(m.pad_id, 600, 3000)
    st = read_status(ws)
    assert "observed" in st.basis
    assert st.queries_per_day == 30  # 30 queries, all today
    left_w2f = st.remaining[next(d for d in st.remaining if d.value == "w2f")]
    left_f2w = st.remaining[next(d for d in st.remaining if d.value == "f2w")]
    # The observed mean, weighted with PRIOR_QUERIES typical queries (no jump on the first).
    typ_w2f, typ_f2w = typical_query_cost()
    w2f = round((PRIOR_QUERIES * typ_w2f + 30 * 600) / (PRIOR_QUERIES + 30))
    f2w = round((PRIOR_QUERIES * typ_f2w + 30 * 3000) / (PRIOR_QUERIES + 30))
    assert st.queries_left == min(left_w2f // w2f, left_f2w // f2w)
    assert int(st.days_left) == st.queries_left // 30
    # Explicit figures still win over what was observed.
    given = read_status(ws, queries_per_day=5, bytes_per_query=10_000)
    assert given.queries_per_day == 5 and "given" in given.basis


def test_usage_file_has_sizes_only_and_survives_a_torn_line(tmp_path: Path) -> None:
    m = make_practice_pad(tmp_path / "p", 1 << 20)
    pad_usage.record_query(m.pad_id, 288, 576)
    path = pad_usage.usage_path(m.pad_id)
    with open(path, "a") as f:
        f.write('{"day": "2026-')  # a crash mid-append
    assert path.stat().st_mode & 0o777 == 0o600
    first = json.loads(path.read_text().splitlines()[0])
    assert set(first) == {"day", "w2f", "f2w"}
    seen = pad_usage.observed(m.pad_id)
    assert seen is not None and seen.queries == 1


def test_status_cli_says_what_the_estimate_rests_on(tmp_path: Path, cli) -> None:
    cli("practice-pad", "--size", "1M", "--out", str(tmp_path / "p"))
    proc = cli("pad", "status", "--pad", str(tmp_path / "p" / "workstation"))
    assert proc.returncode == 0
    assert b"estimate:" in proc.stdout and b"100/day assumed" in proc.stdout
