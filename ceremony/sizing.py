"""Pad sizing: how long generation takes, and how big a pad the expected usage needs.

Pure functions. ``bytes_per_query`` means every pad byte one query consumes, in both
directions (question and answer), frame overhead and one-time MAC keys included.
"""

from __future__ import annotations

import math
from typing import Any

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def eta_seconds(size: int, rate: float) -> float:
    """Seconds to generate `size` bytes at `rate` bytes/s (the slowest source's rate)."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if rate <= 0:
        raise ValueError("rate must be > 0")
    return size / rate


def size_for_usage(queries_per_day: float, bytes_per_query: int, days: float) -> int:
    """Pad bytes needed for `days` of use at `queries_per_day`, rounded up to a whole MiB."""
    if queries_per_day < 0 or bytes_per_query <= 0 or days < 0:
        raise ValueError("usage figures must be positive")
    raw = math.ceil(queries_per_day * days) * bytes_per_query
    return math.ceil(raw / MIB) * MIB


def usage_for_size(size: int, bytes_per_query: int, queries_per_day: float) -> dict[str, Any]:
    """How many queries a pad of `size` bytes holds and how many days that lasts."""
    if bytes_per_query <= 0 or queries_per_day <= 0:
        raise ValueError("usage figures must be positive")
    queries = size // bytes_per_query
    days = queries / queries_per_day
    return {
        "queries": queries,
        "days": days,
        "text": f"{queries:,} queries, about {math.floor(days):,} days at {queries_per_day:,g}/day",
    }


def largest_size_within(rate: float, seconds: float, granularity: int = MIB) -> int:
    """The largest size, in whole `granularity` units, generated in at most `seconds`."""
    if rate <= 0 or seconds < 0:
        raise ValueError("rate must be > 0 and seconds >= 0")
    return int(rate * seconds) // granularity * granularity


def suggest_sizes(
    rate: float,
    queries_per_day: float,
    bytes_per_query: int,
    days_options: tuple[float, ...] = (30, 90, 180, 365),
) -> list[dict[str, Any]]:
    """One row per usage period: the size it needs and how long that takes to generate."""
    rows = []
    for days in days_options:
        size = size_for_usage(queries_per_day, bytes_per_query, days)
        eta = eta_seconds(size, rate)
        rows.append(
            {
                "days": days,
                "size": size,
                "size_text": format_size(size),
                "eta_seconds": eta,
                "eta_text": format_duration(eta),
            }
        )
    return rows


def format_size(size: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} B"


def format_duration(seconds: float) -> str:
    """'31 h 23 min', '4 min 10 s', '12 s'."""
    s = max(0, math.ceil(seconds))
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
