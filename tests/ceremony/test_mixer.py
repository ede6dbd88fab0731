"""Generation: per-source health tests before XOR mixing, progress, cancel, zeroization."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ceremony.entropy_doubles import BiasedSource, ReplaySource, StuckSource, seeded_bytes
from ceremony.entropy_sources import OsSource
from ceremony.errors import CeremonyCancelled, EntropyPolicyError, HealthTestFailure
from ceremony.health_tests import RCT_NAME, STARTUP_SAMPLES
from ceremony.mixer import generate
from ceremony.pad_statistics import PadStatistics


class Collect:
    def __init__(self) -> None:
        self.data = bytearray()

    def __call__(self, chunk: memoryview) -> None:
        self.data += chunk


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def test_single_os_source_in_practice():
    out = Collect()
    result = generate([OsSource()], 300_000, out, practice=True)
    assert len(out.data) == 300_000
    assert result.size == 300_000
    assert result.mixing["mixing"] == "none"
    assert result.health[0]["startup_passed"] and result.health[0]["failed"] is None
    assert result.health[0]["samples_tested"] == 300_000 + STARTUP_SAMPLES
    assert result.statistics["bytes"] == 300_000
    assert result.statistics["consistent_with_uniform"]
    assert result.sources[0]["kind"] == "os"


def test_os_alone_refused_in_production_before_reading():
    class Counting(OsSource):
        reads = 0

        def readinto(self, buffer: memoryview) -> None:
            Counting.reads += 1
            super().readinto(buffer)

    with pytest.raises(EntropyPolicyError):
        generate([Counting()], 1000, Collect(), practice=False)
    assert Counting.reads == 0


def test_output_is_xor_of_sources_after_start_up_samples():
    size = 200_000
    a_stream, b_stream = seeded_bytes(1), seeded_bytes(2)
    a_all = a_stream(STARTUP_SAMPLES + size)
    b_all = b_stream(STARTUP_SAMPLES + size)
    a = ReplaySource(a_all, name="a")
    b = ReplaySource(b_all, name="b")
    out = Collect()
    result = generate([a, b], size, out, practice=False)
    assert bytes(out.data) == xor(a_all[STARTUP_SAMPLES:], b_all[STARTUP_SAMPLES:])
    assert result.mixing["mixing"] == "xor"
    assert [h["source"] for h in result.health] == ["a", "b"]


@pytest.mark.parametrize("value", [0x00, 0x37])
def test_healthy_xor_stuck_is_still_caught(value):
    # The XOR of os.urandom and a stuck source looks perfect; testing before mixing catches it.
    with pytest.raises(HealthTestFailure) as info:
        generate([OsSource(), StuckSource(value, name="qrng")], 100_000, Collect(), practice=True)
    assert info.value.source == "qrng"
    assert info.value.test == "start-up " + RCT_NAME


def test_source_that_gets_stuck_later_is_caught_and_buffers_wiped():
    good = seeded_bytes(3)
    calls = {"n": 0}

    def degrading(n: int) -> bytes:
        calls["n"] += n
        return good(n) if calls["n"] < 150_000 else b"\x00" * n

    kept: list[memoryview] = []
    out = Collect()

    def sink(chunk: memoryview) -> None:
        kept.append(chunk)  # a careless sink that keeps a view into our buffer
        out(chunk)

    with pytest.raises(HealthTestFailure) as info:
        generate(
            [ReplaySource(degrading, name="hwrng"), OsSource()], 1_000_000, sink, practice=False
        )
    assert info.value.source == "hwrng"
    assert info.value.test == "continuous " + RCT_NAME
    assert 0 < len(out.data) < 1_000_000
    assert kept and all(not any(view) for view in kept)


def test_biased_source_fails_before_mixing():
    with pytest.raises(HealthTestFailure) as info:
        generate(
            [BiasedSource(p=0.05, name="biased"), OsSource()], 1 << 20, Collect(), practice=False
        )
    assert info.value.source == "biased"


def test_progress_is_monotonic_and_complete():
    seen: list[tuple[int, int]] = []
    generate(
        [OsSource()],
        3_000_000,
        Collect(),
        practice=True,
        progress=lambda d, t: seen.append((d, t)),
        chunk_size=1 << 18,
    )
    dones = [d for d, _ in seen]
    assert seen[0] == (0, 3_000_000) and seen[-1] == (3_000_000, 3_000_000)
    assert dones == sorted(dones)
    assert {t for _, t in seen} == {3_000_000}


def test_cancel_stops_and_wipes():
    kept: list[memoryview] = []
    progress_calls = []

    def cancel() -> bool:
        return len(progress_calls) >= 3

    with pytest.raises(CeremonyCancelled):
        generate(
            [OsSource()],
            10_000_000,
            kept.append,
            practice=True,
            progress=lambda d, t: progress_calls.append(d),
            cancel=cancel,
        )
    assert len(progress_calls) == 3
    assert kept and all(not any(view) for view in kept)


def test_zero_size():
    out = Collect()
    result = generate([OsSource()], 0, out, practice=True)
    assert out.data == b"" and result.statistics == {"bytes": 0}


@settings(max_examples=25, deadline=None)
@given(size=st.integers(0, 70_000), chunk=st.sampled_from([4096, 10_000, 65536]))
def test_statistics_match_the_output_for_any_size(size, chunk):
    out = Collect()
    result = generate([OsSource()], size, out, practice=True, chunk_size=chunk)
    assert len(out.data) == size
    stats = PadStatistics()
    stats.update(bytes(out.data))
    assert stats.result() == result.statistics


def test_result_is_plain_json():
    import json

    result = generate([OsSource()], 10_000, Collect(), practice=True)
    text = json.dumps(result.to_dict())
    assert json.loads(text)["size"] == 10_000


def test_fifo_hardware_source_xor_os_in_production(tmp_path):
    import os
    import threading

    from ceremony.entropy_devices import DeviceSource

    fifo = tmp_path / "qrng.fifo"
    os.mkfifo(fifo)
    size = 500_000

    def writer() -> None:
        with open(fifo, "wb") as f:
            f.write(os.urandom(STARTUP_SAMPLES + size))

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    with DeviceSource(fifo, name="qrng") as qrng:
        out = Collect()
        result = generate([qrng, OsSource()], size, out, practice=False)
    t.join(5)
    assert len(out.data) == size
    assert result.mixing["hardware_sources"] == ["qrng"]
    assert result.sources[0]["kind"] == "fifo"
    assert result.statistics["consistent_with_uniform"]
