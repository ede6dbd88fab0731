"""Sizing: ETA and sizes from expected usage (seed 000's "15,234 queries, about 152 days")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ceremony.sizing import (
    GIB,
    MIB,
    eta_seconds,
    format_duration,
    format_size,
    largest_size_within,
    size_for_usage,
    suggest_sizes,
    usage_for_size,
)


def test_seed_000_example():
    usage = usage_for_size(15_234 * 4096, 4096, 100)
    assert usage["queries"] == 15_234
    assert usage["text"] == "15,234 queries, about 152 days at 100/day"


def test_one_gib_from_this_machines_hwrng_takes_more_than_a_day():
    eta = eta_seconds(GIB, 9.5 * 1024)
    assert 30 * 3600 < eta < 32 * 3600
    assert format_duration(eta) == "1 d 6 h"


def test_size_for_usage_rounds_up_to_mib():
    assert size_for_usage(100, 4096, 152) == 60 * MIB
    assert size_for_usage(0, 4096, 10) == 0


@given(q=st.integers(1, 10_000), b=st.integers(1, 1 << 20), d=st.integers(1, 3650))
def test_suggested_size_covers_the_usage(q, b, d):
    size = size_for_usage(q, b, d)
    assert size >= q * d * b and size % MIB == 0
    assert usage_for_size(size, b, q)["days"] >= d


def test_suggest_sizes_rows():
    rows = suggest_sizes(10_000, 100, 4096, days_options=(30, 365))
    assert [r["days"] for r in rows] == [30, 365]
    assert rows[0]["size"] == 12 * MIB
    assert rows[1]["eta_seconds"] == pytest.approx(rows[1]["size"] / 10_000)


def test_largest_size_within():
    assert largest_size_within(10 * MIB, 60) == 600 * MIB


def test_formatting():
    assert format_size(GIB) == "1 GiB"
    assert format_size(1536 * 1024) == "1.5 MiB"
    assert format_size(10) == "10 B"
    assert format_duration(12.2) == "13 s"
    assert format_duration(250) == "4 min 10 s"
    assert format_duration(3 * 3600 + 60) == "3 h 1 min"


def test_bad_input():
    with pytest.raises(ValueError):
        eta_seconds(10, 0)
    with pytest.raises(ValueError):
        usage_for_size(10, 0, 1)
