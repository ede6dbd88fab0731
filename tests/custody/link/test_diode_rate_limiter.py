"""The diode sender's rate limiter holds `--max-rate` both ways: never faster, and not slower
because `time.sleep` overshoots (it always does, by tens of µs on Linux, against the ~114 µs a
1,428-byte datagram takes at 100 Mbit/s). A fake clock makes this exact, with no timing."""

from __future__ import annotations

import pytest

from custody.link.diode import sender

OVERSLEEP = 60e-6  # what a sleep of ~100 µs overshoots by on a busy Linux host


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds) + OVERSLEEP


@pytest.mark.parametrize("rate", [100_000_000, 10_000_000])
def test_rate_limiter_sends_at_the_configured_rate_despite_oversleeping(
    monkeypatch: pytest.MonkeyPatch, rate: int
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(sender, "time", clock)
    burst = max(4 * 1400, rate // 8 // 1000)
    limiter = sender.RateLimiter(rate, burst=burst)
    start, sent, size = clock.now, 0, 1428
    for _ in range(20_000):
        limiter.take(size)
        sent += size
        # never faster than the rate (plus the one burst the bucket allows)
        assert sent <= burst + (clock.now - start) * rate / 8 + size
    achieved = sent * 8 / (clock.now - start)
    assert achieved >= 0.97 * rate, f"{achieved / 1e6:.1f} Mbit/s of {rate / 1e6:g}"
