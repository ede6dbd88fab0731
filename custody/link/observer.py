"""What the gateway tells its metrics, beside the counts each `Lane` keeps.

Counts (questions by outcome, cover frames, resent answer frames) are plain counters on the lane
(custody.link.lane), read when Prometheus scrapes. Timings cannot wait for a scrape: the gateway
hands each one to its `LinkObserver`. This base class does nothing, so a gateway started without
`--metrics` does exactly what it did before; custody.link.metrics has the one that records.
"""

from __future__ import annotations

# reddoor_queries_total{outcome}: what became of a question (docs/operations.md).
ANSWERED, BACKEND_ERROR, REFUSED, REPLAYED = "answered", "backend_error", "refused", "replayed"
OUTCOMES = (ANSWERED, BACKEND_ERROR, REFUSED, REPLAYED)


def query_count_key(outcome: str) -> str:
    """The lane count (`Lane.count`) of one outcome."""
    return f"query-{outcome}"


class LinkObserver:
    """Timings of the gateway's work; the default records nothing."""

    def answer_finished(self, seconds: float) -> None:
        """A question was answered: `seconds` from the question being whole to its last frame."""

    def backend_finished(self, seconds: float, *, failed: bool) -> None:
        """One backend call ended (`failed`: with a backend error) after `seconds`."""
