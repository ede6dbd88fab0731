"""SP 800-90B health tests: cutoffs, stuck and biased sources, state across read boundaries."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ceremony.errors import HealthTestFailure
from ceremony.health_tests import (
    APT_NAME,
    RCT_NAME,
    STARTUP_SAMPLES,
    HealthMonitor,
    HealthTestParameters,
    apt_cutoff,
    apt_false_alarm_probability,
    critbinom,
    rct_cutoff,
    rct_false_alarm_probability,
)


def reference_first_alarm(samples: bytes, rct_c: int, apt_c: int, window: int):
    """The tests exactly as SP 800-90B 4.4.1 and 4.4.2 state them, one sample at a time."""
    a, b = None, 0
    apt_first, apt_count, apt_pos = 0, 0, 0
    for i, x in enumerate(samples):
        if x == a:
            b += 1
        else:
            a, b = x, 1
        if apt_pos == 0:
            apt_first, apt_count = x, 1
        elif x == apt_first:
            apt_count += 1
        apt_pos = (apt_pos + 1) % window
        if b >= rct_c:
            return i, RCT_NAME
        if apt_count >= apt_c:
            return i, APT_NAME
    return None


def first_alarm(monitor: HealthMonitor, pieces: list[bytes]):
    try:
        for piece in pieces:
            monitor.check(piece)
    except HealthTestFailure as exc:
        return exc.sample_index, exc.test.split(" ", 1)[1]
    return None


# -- cutoffs --------------------------------------------------------------------------------


def test_cutoffs_match_field_notes_at_alpha_2_pow_minus_40():
    assert rct_cutoff(2.0**-40, 8.0) == 6
    assert apt_cutoff(2.0**-40, 8.0, 1024) == 26


def test_cutoffs_at_alpha_2_pow_minus_20():
    # SP 800-90B's own RCT example: H = 7.3, alpha = 2^-20 gives C = 4.
    assert rct_cutoff(2.0**-20, 7.3) == 4
    assert rct_cutoff(2.0**-20, 8.0) == 4
    assert apt_cutoff(2.0**-20, 8.0) == 18


def test_errata_form_is_one_higher_at_h8():
    from fractions import Fraction

    errata = 2 + critbinom(1023, Fraction(1, 256), 1 - Fraction(1, 2**40))
    assert errata == apt_cutoff() + 1 == 27


def test_false_alarm_rates_are_tiny_per_gib():
    samples_per_gib = 2**30
    windows_per_gib = samples_per_gib // 1024
    rct_rate = rct_false_alarm_probability(6) * samples_per_gib
    apt_rate = apt_false_alarm_probability(26) * windows_per_gib
    assert rct_rate < 0.002
    assert apt_rate < 1e-5
    # The exact per-window rate for C = 26 is 2^-39.54: just above alpha, documented.
    assert 2.0**-40 < apt_false_alarm_probability(26) < 2.0**-39


def test_critbinom_small_case_by_hand():
    from fractions import Fraction

    # Binomial(2, 1/2): P(<=0) = 1/4, P(<=1) = 3/4, P(<=2) = 1.
    assert critbinom(2, Fraction(1, 2), Fraction(1, 4)) == 0
    assert critbinom(2, Fraction(1, 2), Fraction(1, 2)) == 1
    assert critbinom(2, Fraction(1, 2), Fraction(9, 10)) == 2


def test_parameters_are_checked():
    with pytest.raises(ValueError):
        rct_cutoff(0.0, 8.0)
    with pytest.raises(ValueError):
        apt_cutoff(2.0**-40, 9.0)


# -- stuck, repeating and biased sources ----------------------------------------------------


@pytest.mark.parametrize("value", [0x00, 0xFF, 0x5A])
def test_stuck_source_fails_start_up_rct(value):
    monitor = HealthMonitor("stuck")
    with pytest.raises(HealthTestFailure) as info:
        monitor.check(bytes([value]) * 4096)
    assert info.value.test == "start-up " + RCT_NAME
    assert info.value.sample_index == 5  # the sixth equal sample reaches C = 6
    assert info.value.source == "stuck"
    assert "stuck" in str(info.value) and RCT_NAME in str(info.value)


def test_failure_message_names_source_and_test_never_data():
    monitor = HealthMonitor("hwrng")
    with pytest.raises(HealthTestFailure) as info:
        monitor.check(b"\xab" * 100)
    text = str(info.value)
    assert "hwrng" in text and RCT_NAME in text
    assert "ab" not in text.lower().replace("abort", "") and "171" not in text


def test_short_repeating_pattern_fails_apt_not_rct():
    # 0,1,0,1,...: no runs, but each window's first value fills half the window.
    monitor = HealthMonitor("pattern")
    with pytest.raises(HealthTestFailure) as info:
        monitor.check(bytes([0, 1]) * 2048)
    assert info.value.test == "start-up " + APT_NAME
    assert info.value.sample_index == 2 * 25  # the 26th zero of the first window


def test_biased_source_fails():
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, size=1 << 20, dtype=np.uint8)
    data[rng.random(data.size) < 0.05] = 0
    monitor = HealthMonitor("biased")
    with pytest.raises(HealthTestFailure) as info:
        monitor.check(data)
    assert APT_NAME in info.value.test


def test_healthy_data_passes_and_summary_is_plain():
    monitor = HealthMonitor("os")
    for _ in range(8):
        monitor.check(os.urandom(1 << 20))
    summary = monitor.summary()
    assert summary["startup_passed"] is True
    assert summary["samples_tested"] == 8 << 20
    assert summary["rct_cutoff"] == 6 and summary["apt_cutoff"] == 26
    assert summary["longest_run"] < 6 and summary["highest_apt_count"] < 26
    assert summary["apt_windows_completed"] == (8 << 20) // 1024
    assert summary["failed"] is None
    assert all(isinstance(v, (int, float, str, bool, type(None))) for v in summary.values())


def test_continuous_failure_after_start_up_is_named_continuous():
    monitor = HealthMonitor("late")
    monitor.check(os.urandom(STARTUP_SAMPLES + 4000))
    with pytest.raises(HealthTestFailure) as info:
        monitor.check(b"\x00" * 64)
    assert info.value.test == "continuous " + RCT_NAME


def test_monitor_stays_failed():
    monitor = HealthMonitor("x")
    with pytest.raises(HealthTestFailure):
        monitor.check(b"\x00" * 10)
    with pytest.raises(HealthTestFailure):
        monitor.check(os.urandom(100))


# -- state across read boundaries -----------------------------------------------------------


def test_run_split_across_reads_is_caught():
    healthy = bytearray(os.urandom(5000))
    # Make sure the bytes around the boundary do not extend the run by accident.
    healthy[-4] = 1
    run_tail, run_head = b"\x07" * 3, b"\x07" * 3
    first = bytes(healthy[:-3]) + run_tail
    second = run_head + b"\x01\x02\x03"
    monitor = HealthMonitor("split")
    monitor.check(first)
    with pytest.raises(HealthTestFailure) as info:
        monitor.check(second)
    assert info.value.test == "continuous " + RCT_NAME
    assert info.value.sample_index == len(first) + 2
    # The same samples in one call give the same alarm.
    whole = HealthMonitor("whole")
    with pytest.raises(HealthTestFailure) as again:
        whole.check(first + second)
    assert again.value.sample_index == info.value.sample_index


def test_apt_window_split_across_reads_is_caught():
    # A window starting with 0x42 that holds 0x42 26 times, spread over three reads.
    window = bytearray(os.urandom(1024))
    for i in range(1024):
        if window[i] == 0x42:
            window[i] = 0x43
    for i in range(0, 26 * 39, 39):
        window[i] = 0x42
    data = os.urandom(STARTUP_SAMPLES) + bytes(window)
    pieces = [data[:1500], data[1500:1800], data[1800:]]
    expected = reference_first_alarm(data, 6, 26, 1024)
    assert expected is not None and expected[1] == APT_NAME
    assert first_alarm(HealthMonitor("w"), pieces) == expected


small_params = HealthTestParameters(alpha=2.0**-8, min_entropy=2.0, window=16)


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=400).map(lambda b: bytes(x % 4 for x in b)),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_any_split_matches_the_reference(data, cuts):
    monitor = HealthMonitor("prop", small_params)
    points = sorted({c for c in cuts if c < len(data)})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    expected = reference_first_alarm(data, monitor.rct_cutoff, monitor.apt_cutoff, 16)
    assert first_alarm(monitor, pieces) == expected


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(1, 3000))
def test_default_parameters_match_reference_on_low_entropy_data(seed, cut):
    rng = np.random.default_rng(seed)
    data = rng.choice(np.array([0, 1, 2], dtype=np.uint8), size=4096, p=[0.6, 0.3, 0.1]).tobytes()
    expected = reference_first_alarm(data, 6, 26, 1024)
    assert first_alarm(HealthMonitor("p"), [data[:cut], data[cut:]]) == expected
