"""Pad statistics: sane on os.urandom, clearly off on biased data, streaming-invariant."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ceremony.pad_statistics import (
    PadStatistics,
    byte_histogram,
    chi_square_p_value,
    mcv_min_entropy,
)


def stats_of(*chunks: bytes) -> dict:
    s = PadStatistics()
    for c in chunks:
        s.update(c)
    return s.result()


def test_urandom_looks_uniform():
    r = stats_of(os.urandom(1 << 22))
    assert r["bytes"] == 1 << 22
    assert r["consistent_with_uniform"] and r["concerns"] == []
    assert abs(r["monobit"]["ones_fraction"] - 0.5) < 0.001
    assert r["monobit"]["p_value"] > 1e-6
    assert r["byte_chi_square"]["valid"] and r["byte_chi_square"]["p_value"] > 1e-6
    assert 7.9 < r["mcv_min_entropy"]["bits_per_byte"] <= 8.0


def test_biased_data_is_clearly_off():
    # 1% extra zeros: passes the coarse health tests most of the time, not the statistics.
    rng = np.random.default_rng(5)
    data = rng.integers(0, 256, size=1 << 22, dtype=np.uint8)
    data[rng.random(data.size) < 0.01] = 0
    r = stats_of(data.tobytes())
    assert not r["consistent_with_uniform"]
    assert set(r["concerns"]) == {"monobit", "byte chi-square"}
    assert r["monobit"]["p_value"] < 1e-12 and r["byte_chi_square"]["p_value"] < 1e-12
    assert r["mcv_min_entropy"]["bits_per_byte"] < 6.2  # -log2(0.0139) = 6.17


def test_stuck_data():
    r = stats_of(b"\x00" * 100_000)
    assert r["monobit"]["ones_fraction"] == 0.0
    assert r["mcv_min_entropy"]["bits_per_byte"] == 0.0
    assert not r["consistent_with_uniform"]


def test_chunking_does_not_change_the_result():
    data = os.urandom(300_001)
    assert stats_of(data) == stats_of(data[:7], data[7:150_000], data[150_000:])


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=5000))
def test_histogram_matches_a_plain_count(data):
    hist = byte_histogram(np.frombuffer(data, dtype=np.uint8))
    expected = [0] * 256
    for b in data:
        expected[b] += 1
    assert hist.tolist() == expected


@pytest.mark.parametrize(
    ("statistic", "p"),
    [(293.248, 0.05), (310.457, 0.01), (330.519, 0.001), (254.335, 0.5), (219.025, 0.95)],
)
def test_wilson_hilferty_matches_chi_square_tables(statistic, p):
    assert chi_square_p_value(statistic, 255) == pytest.approx(p, rel=0.02)


def test_mcv_formula():
    # SP 800-90B 6.3.1 by hand: p̂ = 0.5, n = 10000.
    expected = -math.log2(0.5 + 2.576 * math.sqrt(0.25 / 9999))
    assert mcv_min_entropy(5000, 10000) == pytest.approx(expected)
    assert mcv_min_entropy(1, 1) == 0.0


def test_empty_and_tiny():
    assert stats_of() == {"bytes": 0}
    r = stats_of(b"\x01\x02\x03")
    assert r["byte_chi_square"]["valid"] is False
