"""How fast a workstation uses its pad: the observed rate behind `pad status` estimates.

After every answered query the workstation appends one line to
`$REDDOOR_STATE_DIR/usage/<pad id>.jsonl`: the UTC day and the pad bytes the round trip used in
each direction. No question, answer, query id or pad byte is recorded: sizes and days only.
The file is advisory (it only feeds estimates); losing it loses nothing.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from custody.bounded_read import iter_lines
from custody.errors import InputTooLarge
from custody.pad.store import default_state_dir

log = logging.getLogger(__name__)

MAX_USAGE_BYTES = 64 << 20  # about a million queries at ~60 bytes a line
MAX_USAGE_LINE = 4096


def usage_path(pad_id: bytes, state_dir: Path | None = None) -> Path:
    return (state_dir or default_state_dir()) / "usage" / f"{pad_id.hex()}.jsonl"


def record_query(
    pad_id: bytes,
    w2f_bytes: int,
    f2w_bytes: int,
    *,
    state_dir: Path | None = None,
    path: Path | None = None,
) -> None:
    """Append one query's pad use; `path` (from `usage_path`) saves resolving it per query."""
    path = path or usage_path(pad_id, state_dir)
    day = datetime.now(UTC).date().isoformat()
    line = f'{{"day": "{day}", "f2w": {int(f2w_bytes)}, "w2f": {int(w2f_bytes)}}}'  # sorted keys
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except FileNotFoundError:  # first use on this host: make the directory
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError as exc:
        log.warning("could not record pad usage (%s); estimates use defaults", exc.strerror)


@dataclass(frozen=True)
class ObservedUsage:
    queries: int
    days: int  # calendar days from the first recorded query to today, at least 1
    w2f_per_query: float
    f2w_per_query: float

    @property
    def queries_per_day(self) -> float:
        return self.queries / self.days


def observed(pad_id: bytes, *, state_dir: Path | None = None) -> ObservedUsage | None:
    """The usage recorded for this pad on this host, or None if there is none."""
    path = usage_path(pad_id, state_dir)
    queries = w2f = f2w = 0
    first: str | None = None
    try:
        for line in iter_lines(path, MAX_USAGE_BYTES, MAX_USAGE_LINE, "pad usage file"):
            try:
                rec = json.loads(line)
                day, a, b = str(rec["day"]), int(rec["w2f"]), int(rec["f2w"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash
            queries += 1
            w2f += a
            f2w += b
            first = min(first or day, day)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("could not read pad usage (%s)", exc.strerror)
        return None
    except InputTooLarge as exc:
        log.warning("pad usage not used for the estimate: %s", exc.message)
        return None
    if not queries or first is None:
        return None
    try:
        start = datetime.fromisoformat(first).date()
    except ValueError:
        return None
    days = max(1, (datetime.now(UTC).date() - start).days + 1)
    return ObservedUsage(queries, days, w2f / queries, f2w / queries)
