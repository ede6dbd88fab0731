"""Warnings that junk on the link could repeat thousands of times a second, logged per reason:
the first at once, then at most one summary line every `interval` seconds with the count since.

Unauthenticated junk costs an attacker nothing, so a log line per rejected frame lets anyone who
can reach the router flood the gateway's log and a user's terminal (5,000 junk frames made 4,666
lines). The counts are kept whatever is logged: `counts()` is the total per reason since start,
for the gateway's metrics.

A summary is written when a frame of that reason arrives after the interval has passed, and by
`flush()` (the gateway and the client call it when they stop), so no count is lost at the end.
Thread-safe: frames are handled on several threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

DEFAULT_INTERVAL = 10.0  # seconds between two summary lines of one reason


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        interval: float = DEFAULT_INTERVAL,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._what = what  # e.g. "frames rejected": the subject of the summary lines
        self.interval = interval
        self._level = level
        self._clock = clock
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()  # counted since the last line of that reason
        self._last: dict[str, float] = {}  # when that reason last wrote a line

    def event(self, reason: str, message: str, *args: object) -> None:
        """Count one event of `reason`; log `message % args` if it is the first of its reason,
        else a summary if the reason's interval has passed."""
        now = self._clock()
        with self._lock:
            self._totals[reason] += 1
            last = self._last.get(reason)
            line: tuple[str, tuple[object, ...]] | None = None
            if last is None:
                self._last[reason] = now
                line = (message, args)
            else:
                self._pending[reason] += 1
                if now - last >= self.interval:
                    line = self._summary_locked(reason, now, since=now - last)
        if line is not None:
            self._log.log(self._level, line[0], *line[1])

    def _summary_locked(
        self, reason: str, now: float, *, since: float
    ) -> tuple[str, tuple[object, ...]]:
        n = self._pending.pop(reason, 0)
        self._last[reason] = now
        return (
            "%d %s (%s) in the last %.0f s; %d since start",
            (n, self._what, reason, since, self._totals[reason]),
        )

    def flush(self) -> None:
        """Log what is pending for every reason (at stop): one line each, totals included."""
        now = self._clock()
        with self._lock:
            lines = [
                self._summary_locked(reason, now, since=now - self._last[reason])
                for reason in sorted(self._pending)
                if self._pending[reason]
            ]
        for message, args in lines:
            self._log.log(self._level, message, *args)

    def counts(self) -> dict[str, int]:
        """Events per reason since start (logged or not)."""
        with self._lock:
            return dict(self._totals)
