"""The per-reason log limiter (issue #11, item 7): first line at once, then counted summaries."""

from __future__ import annotations

import logging
import threading

import pytest

from custody.rate_limited_log import RateLimitedLog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limiter(caplog: pytest.LogCaptureFixture) -> tuple[RateLimitedLog, Clock]:
    caplog.set_level(logging.INFO)
    clock = Clock()
    return RateLimitedLog(logging.getLogger("t"), "frames rejected", clock=clock), clock


def test_first_of_each_reason_then_one_summary_per_interval(
    limiter: tuple[RateLimitedLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    log, clock = limiter
    for _ in range(1000):
        log.event("bad-magic", "rejected a frame: %s", "bad-magic")
        log.event("bad-mac", "rejected a frame: %s", "bad-mac")
    assert [r.getMessage() for r in caplog.records] == [
        "rejected a frame: bad-magic",
        "rejected a frame: bad-mac",
    ]
    clock.now += 10.0
    log.event("bad-magic", "rejected a frame: %s", "bad-magic")
    assert caplog.records[-1].getMessage() == (
        "1000 frames rejected (bad-magic) in the last 10 s; 1001 since start"
    )
    clock.now += 3.0
    log.event("bad-magic", "x")  # within the interval: counted, not logged
    assert len(caplog.records) == 3
    log.flush()
    messages = [r.getMessage() for r in caplog.records[3:]]
    assert messages == [
        "999 frames rejected (bad-mac) in the last 13 s; 1000 since start",
        "1 frames rejected (bad-magic) in the last 3 s; 1002 since start",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert log.counts() == {"bad-magic": 1002, "bad-mac": 1000}
    log.flush()  # nothing pending: nothing more
    assert len(caplog.records) == 5


def test_counts_are_exact_across_threads(limiter: tuple[RateLimitedLog, Clock]) -> None:
    log, _ = limiter

    def burst() -> None:
        for _ in range(5000):
            log.event("truncated", "t")

    threads = [threading.Thread(target=burst) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.counts() == {"truncated": 20000}
