"""The durable ceremony journal: which steps of a ceremony are done, kept in the facility home.

    HOME/ceremonies/<ceremony id>/journal.json   this file (0600, atomic + fsync on every change)
    HOME/ceremonies/<ceremony id>/manifest.json  the pad's manifest once generated
    HOME/ceremonies/active                       the id of the ceremony in progress, if any
    HOME/ceremonies/.lock                        flock held by the process driving a ceremony

A step moves ``pending → worked → done``: *worked* means its work is complete and durable (its
result, which never holds a secret, is in the journal); *done* means its two-officer ledger event
exists too. After a crash, `reddoor ceremony resume` skips done steps, redoes the ledger event of
a worked step (the event is looked up first, so it is never recorded twice) and redoes the work
of any other step from scratch. ``material`` turns true just before the first pad byte is
written anywhere: from then on an abort or a fault must zeroize.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from pathlib import Path
from typing import Any

from ceremony.errors import CeremonyStateError
from custody.bounded_read import read_file
from custody.durable_file import write_atomic
from custody.ledger.chain import utc_now

FORMAT = "reddoor-ceremony-journal/1"
CEREMONIES = "ceremonies"
ACTIVE = "active"
LOCK = ".lock"
MAX_JOURNAL_BYTES = 1 << 20  # a journal is a few KiB: steps, their results, the plan
MAX_ACTIVE_BYTES = 4096  # one ceremony id


def ceremonies_dir(home: Path) -> Path:
    return home / CEREMONIES


def active_id(home: Path) -> str | None:
    try:
        data = read_file(
            ceremonies_dir(home) / ACTIVE,
            MAX_ACTIVE_BYTES,
            "ceremony id file",
            error=CeremonyStateError,
        )
        text = data.decode("utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        raise CeremonyStateError(f"{ceremonies_dir(home) / ACTIVE} is damaged") from None
    return text or None


class CeremonyLock:
    """One process drives the ceremonies of a home at a time."""

    def __init__(self, home: Path) -> None:
        d = ceremonies_dir(home)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._fd = os.open(d / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise CeremonyStateError(
                "another Red Door process is running a ceremony in this home"
            ) from None

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> CeremonyLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class CeremonyJournal:
    def __init__(self, home: Path, data: dict[str, Any]) -> None:
        self.home = home
        self.data = data

    # -- files ------------------------------------------------------------------------------
    @property
    def ceremony_id(self) -> str:
        return str(self.data["ceremony_id"])

    @property
    def directory(self) -> Path:
        return ceremonies_dir(self.home) / self.ceremony_id

    @property
    def path(self) -> Path:
        return self.directory / "journal.json"

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @classmethod
    def create(cls, home: Path, plan: dict[str, Any]) -> CeremonyJournal:
        current = active_id(home)
        if current is not None:
            raise CeremonyStateError(
                f"ceremony {current} is in progress: run `reddoor ceremony resume` or "
                "`reddoor ceremony abort --reason ...` first"
            )
        cid = "C-" + utc_now()[:10].replace("-", "") + "-" + secrets.token_hex(4)
        journal = cls(
            home,
            {
                "format": FORMAT,
                "ceremony_id": cid,
                "created": utc_now(),
                "state": "active",
                "plan": plan,
                "material": False,
                "interruptions": 0,
                "steps": {},
            },
        )
        journal.directory.mkdir(mode=0o700, parents=True)
        journal.save()
        write_atomic(ceremonies_dir(home) / ACTIVE, cid.encode() + b"\n")
        return journal

    @classmethod
    def load(cls, home: Path, ceremony_id: str) -> CeremonyJournal:
        path = ceremonies_dir(home) / ceremony_id / "journal.json"
        try:
            data = json.loads(
                read_file(path, MAX_JOURNAL_BYTES, "ceremony journal", error=CeremonyStateError)
            )
        except FileNotFoundError:
            raise CeremonyStateError(f"no ceremony {ceremony_id} in this home") from None
        except (OSError, ValueError):
            raise CeremonyStateError(f"the ceremony journal {path} is damaged") from None
        if data.get("format") != FORMAT:
            raise CeremonyStateError(f"{path} is not a ceremony journal")
        return cls(home, data)

    @classmethod
    def load_active(cls, home: Path) -> CeremonyJournal:
        cid = active_id(home)
        if cid is None:
            raise CeremonyStateError("no ceremony is in progress in this home")
        return cls.load(home, cid)

    def save(self) -> None:
        write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode() + b"\n")

    # -- steps ------------------------------------------------------------------------------
    def step_state(self, step_id: str) -> str:
        return str(self.data["steps"].get(step_id, {}).get("state", "pending"))

    def result(self, step_id: str) -> dict[str, Any]:
        return dict(self.data["steps"].get(step_id, {}).get("result", {}))

    def mark_worked(self, step_id: str, result: dict[str, Any]) -> None:
        self.data["steps"][step_id] = {"state": "worked", "result": result, "worked": utc_now()}
        self.save()

    def mark_done(self, step_id: str, seq: int | None, extra: dict[str, Any] | None = None) -> None:
        entry = self.data["steps"].setdefault(step_id, {"result": {}})
        entry.update({"state": "done", "event_seq": seq, "done": utc_now()})
        if extra:
            entry["result"].update(extra)
        self.save()

    def reset_step(self, step_id: str) -> None:
        self.data["steps"].pop(step_id, None)
        self.save()

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def finish(self, state: str, **extra: Any) -> None:
        self.data["state"] = state
        self.data["finished"] = utc_now()
        self.data.update(extra)
        self.save()
        if active_id(self.home) == self.ceremony_id:
            with contextlib.suppress(FileNotFoundError):
                (ceremonies_dir(self.home) / ACTIVE).unlink()

    def completed_steps(self) -> list[str]:
        return [k for k, v in self.data["steps"].items() if v.get("state") == "done"]
