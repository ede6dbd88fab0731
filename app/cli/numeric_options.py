"""argparse types for every numeric option: a value outside its range is a usage error (exit 2).

`type=int` and `type=float` accept NaN, infinities, negatives and numbers so large that the
code using them overflows far from the command line (`ask --cover-rate 1e308` was exit 70).
Each numeric option names its range here instead; tests/app/cli/test_numeric_options.py drives
random values into every one of them and checks that no command has a bare `type=int|float`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_SECONDS = 7 * 86_400.0  # no wait or timeout of Red Door needs more than a week
MAX_SEQ = 2**63 - 1  # ledger sequence numbers are SQLite integers
MAX_PAD_BYTES = 1 << 50  # a byte count about a pad: far beyond any pad (1 PiB)
MAX_QUERIES_PER_DAY = 1e9  # an estimate's rate: more than ten thousand a second
MIN_QUERIES_PER_DAY = 1e-3  # one query in three years: slower makes "days left" meaningless


def integer(lo: int, hi: int, what: str = "a whole number") -> Callable[[str], int]:
    """A whole number from `lo` to `hi` (inclusive)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:  # also: more than 4,300 digits
            raise argparse.ArgumentTypeError(
                f"expected {what} from {lo:,} to {hi:,}, not {text[:40]!r}"
            ) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{value} is out of range: {what} from {lo:,} to {hi:,}"
            )
        return value

    parse.__name__ = "integer"
    return parse


def real(lo: float, hi: float, what: str, *, above: bool = True) -> Callable[[str], float]:
    """A finite number above `lo` (or from `lo`, with above=False) and at most `hi`."""
    bound = f"above {lo:g}" if above else f"from {lo:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not (lo < value if above else lo <= value) or value > hi:
            raise argparse.ArgumentTypeError(
                f"expected {what} {bound} and at most {hi:g}, not {text[:40]!r}"
            )
        return value

    parse.__name__ = "number"
    return parse


def seconds(*, zero: bool = False) -> Callable[[str], float]:
    """A duration in seconds: positive (or zero, with zero=True), at most a week."""
    return real(0.0, MAX_SECONDS, "a number of seconds", above=not zero)


def cover_rate(text: str) -> float:
    """Cover frames per second: positive, at most custody.link.messages.MAX_COVER_RATE."""
    from custody.link.messages import MAX_COVER_RATE

    try:
        return real(0.0, MAX_COVER_RATE, "frames per second")(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"cover rate must be a positive number of frames per second, at most "
            f"{MAX_COVER_RATE:g}, not {text[:40]!r}"
        ) from None


def cover_bucket(text: str) -> int:
    """A frame body size: one of the frame buckets (custody.pad.frame.BUCKETS)."""
    from custody.pad import frame

    try:
        value = int(text.strip(), 10)
    except ValueError:
        value = -1
    if value not in frame.BUCKETS:
        raise argparse.ArgumentTypeError(
            f"cover bucket must be one of {', '.join(map(str, frame.BUCKETS))}, not {text[:40]!r}"
        )
    return value


# The parse functions that mark an option as numeric (for the test that walks every option).
NUMERIC_TYPES: tuple[str, ...] = ("integer", "number", "cover_rate", "cover_bucket")


_RATE_UNITS = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}
MIN_BIT_RATE = 64_000  # below this a 1,400-byte datagram takes longer than a heartbeat
MAX_BIT_RATE = 100 * 10**9


def bit_rate(text: str) -> int:
    """Bits per second, with an optional k, M or G (decimal, as link speeds are written)."""
    t = text.strip()
    unit = t[-1:] if t[-1:] in _RATE_UNITS and t[-1:] else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _RATE_UNITS[unit]
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not MIN_BIT_RATE <= value <= MAX_BIT_RATE:
        raise argparse.ArgumentTypeError(
            f"expected a rate in bits per second from 64k to 100G (e.g. 100M), not {text[:40]!r}"
        )
    return int(value)
