"""Read-only status of a pad copy: what is used and left per direction and what it buys.

The one definition of a pad's figures: `pad status`, the workstation's pad line, footer and
cover-traffic dialog, the custody view's bytes used and state, the gateway's metrics and the
lifecycle's records all take them from `status_of`:

* **used**: bytes of a region below the copy's durable mark (sent or reserved for sending;
  received or passed over), never the region's reserve: a new pad has used 0;
* **left**: bytes between that mark and the reserve, i.e. what ordinary frames can still use
  (the last `reserve` bytes of each region are kept for the final pad-exhausted frame), so
  used + left + reserve = the region's length;
* **queries left**: the tighter direction's bytes left divided by the bytes one query costs:
  a typical 1 KiB question with a 4 KiB answer until this host observed queries on the pad,
  then the observed mean weighted with `PRIOR_QUERIES` typical ones, so that one small echo
  answer does not multiply the estimate (it moves smoothly towards what is observed);
* **in service**: some bytes used.

Reads the manifest and journal without taking the copy's lock, so it works while a client is
running (the figures are then a snapshot: a running sender may hold a reserved block, which
counts as used until it gives the unused tail back at a clean close).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custody.pad import frame
from custody.pad import usage as pad_usage
from custody.pad.frame_policy import PolicyMode
from custody.pad.journal import JournalState, read_journal
from custody.pad.manifest import Direction, Manifest
from custody.pad.pad_copy import WARN_FRACTIONS
from custody.pad.store import JOURNAL_NAME, read_manifest


def typical_query_cost(question: int = 1024, answer: int = 4096) -> tuple[int, int]:
    """Pad bytes (w2f, f2w) of one query round trip with these plaintext sizes."""

    def cost(n: int) -> int:
        total = 0
        while True:
            part = min(n, frame.MAX_PAYLOAD)
            total += frame.KEY_LEN + frame.bucket_for(frame.INNER_LEN + part)
            n -= part
            if n <= 0:
                return total

    # The answer stream closes with an end-of-answer frame.
    return cost(question), cost(answer) + frame.KEY_LEN + frame.BUCKETS[0]


# Typical queries the observed mean is weighted with (see the module docstring).
PRIOR_QUERIES = 10


@dataclass(frozen=True)
class PadStatus:
    manifest: Manifest
    side: str
    remaining: dict[Direction, int]  # bytes left for ordinary frames (the reserve excluded)
    length: dict[Direction, int]
    queries_left: int
    queries_per_day: float
    basis: str  # how the estimate was made, in words
    used: dict[Direction, int] = field(default_factory=dict)  # the reserve never counts

    @property
    def reserve(self) -> int:
        """Bytes at the end of each region kept for the final pad-exhausted frame."""
        return self.manifest.reserve

    @property
    def in_service(self) -> bool:
        """Some bytes of the pad were used (a sealed or issued pad that carries queries)."""
        return any(n > 0 for n in self.used.values())

    @property
    def days_left(self) -> float:
        return self.queries_left / self.queries_per_day if self.queries_per_day else 0.0

    def warnings(self) -> list[str]:
        out = []
        for d, left in self.remaining.items():
            if left <= self.length[d] * WARN_FRACTIONS[1]:
                out.append(f"{d.label}: pad critically low")
            elif left <= self.length[d] * WARN_FRACTIONS[0]:
                out.append(f"{d.label}: pad low")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "pad_id": self.manifest.pad_id.hex(),
            "pad_id_display": self.manifest.pad_id_display,
            "mark": self.manifest.mark.value,
            "side": self.side,
            "remaining": {d.value: n for d, n in self.remaining.items()},
            "used": {d.value: n for d, n in self.used.items()},
            "reserve": self.reserve,
            "length": {d.value: n for d, n in self.length.items()},
            "queries_left": self.queries_left,
            "queries_per_day": self.queries_per_day,
            "days_left": int(self.days_left),
            "estimate_basis": self.basis,
            "warnings": self.warnings(),
            "frame_policy": self.manifest.policy.to_dict(),
        }

    def render(self) -> str:
        lines = [
            f"Pad {self.manifest.pad_id_display}  [{self.manifest.mark.value}]  ({self.side} copy)"
        ]
        for d in Direction:
            pct = 100 * self.remaining[d] / self.length[d] if self.length[d] else 0
            lines.append(
                f"  {d.label:<22} {self.remaining[d]:>14,} bytes left ({pct:5.1f}%), "
                f"{self.used.get(d, 0):,} used"
            )
        lines.append(f"  (each region also keeps {self.reserve:,} bytes for its last frame)")
        lines.append(
            f"  about {self.queries_left:,} queries left "
            f"(approximately {int(self.days_left):,} days at {self.queries_per_day:,.0f}/day)"
        )
        lines.append(f"  estimate: {self.basis}")
        lines.append(f"  frame policy (manifest): {self.manifest.policy.describe()}")
        lines += [f"  warning: {w}" for w in self.warnings()]
        return "\n".join(lines)


def read_status(
    directory: Path,
    *,
    bytes_per_query: int | None = None,
    queries_per_day: float | None = None,
    state_dir: Path | None = None,
) -> PadStatus:
    """What is left, and what it buys at the rate observed on this host (or the given one)."""
    return status_of(
        read_manifest(directory),
        read_journal(directory / JOURNAL_NAME),
        bytes_per_query=bytes_per_query,
        queries_per_day=queries_per_day,
        state_dir=state_dir,
    )


def status_of(
    manifest: Manifest,
    journal: JournalState,
    *,
    bytes_per_query: int | None = None,
    queries_per_day: float | None = None,
    state_dir: Path | None = None,
) -> PadStatus:
    """`read_status` of a manifest and a journal already in hand: a running gateway's metrics
    (custody.link.metrics) give the same figures as `pad status` from its open copies' journals
    (the durable marks, so never finer than a reservation block)."""
    send = manifest.region(journal.side.sends)
    recv = manifest.region(journal.side.receives)
    used_recv = max([journal.recv_mark, *(b for _, b in journal.recv_seen)])
    remaining = {
        send.direction: max(0, send.usable_end - journal.send_reserved),
        recv.direction: max(0, recv.usable_end - used_recv),
    }
    used = {
        send.direction: max(0, min(journal.send_reserved, send.usable_end) - send.start),
        recv.direction: max(0, min(used_recv, recv.usable_end) - recv.start),
    }
    seen = pad_usage.observed(manifest.pad_id, state_dir=state_dir)
    w2f_cost, f2w_cost = typical_query_cost()
    basis_cost = "a typical 1 KiB question with a 4 KiB answer"
    if manifest.policy.mode is PolicyMode.PAD_KEYED:
        # One 32-byte key a message (the end frame goes under the answer's key).
        w2f_cost, f2w_cost = frame.KEY_LEN, frame.KEY_LEN
        basis_cost += ", pad-keyed (32 pad bytes a message)"
    if bytes_per_query:
        # Split a caller-given round-trip cost in the same proportion as the typical one.
        share = w2f_cost / (w2f_cost + f2w_cost)
        w2f_cost = max(1, int(bytes_per_query * share))
        f2w_cost = max(1, bytes_per_query - w2f_cost)
        basis_cost = f"{bytes_per_query:,} pad bytes per query (given)"
    elif seen is not None:
        n, prior = seen.queries, PRIOR_QUERIES
        w2f_cost = max(1, round((prior * w2f_cost + n * seen.w2f_per_query) / (prior + n)))
        f2w_cost = max(1, round((prior * f2w_cost + n * seen.f2w_per_query) / (prior + n)))
        basis_cost = (
            f"{w2f_cost + f2w_cost:,} pad bytes per query (observed over {n:,} queries, "
            f"weighted with {prior} typical ones)"
        )
    if queries_per_day is not None:
        per_day, basis_rate = max(0.0, queries_per_day), f"{queries_per_day:g}/day (given)"
    elif seen is not None:
        per_day = seen.queries_per_day
        basis_rate = f"{seen.queries:,} queries over {seen.days} day(s) observed on this host"
    else:
        per_day, basis_rate = 100.0, "100/day assumed (no usage observed on this host yet)"
    queries = min(remaining[Direction.W2F] // w2f_cost, remaining[Direction.F2W] // f2w_cost)
    return PadStatus(
        manifest=manifest,
        side=journal.side.value,
        remaining=remaining,
        length={send.direction: send.length, recv.direction: recv.length},
        queries_left=queries,
        queries_per_day=per_day,
        basis=f"{basis_cost}; {basis_rate}",
        used=used,
    )
