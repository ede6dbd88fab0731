"""Helpers for tests that need practice pads."""

from __future__ import annotations

from pathlib import Path

from custody.pad.pad_copy import PadCopy
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir


def practice_pair(base: Path, size: int = 1 << 20, **kw: object) -> tuple[PadCopy, PadCopy]:
    make_practice_pad(base, size)
    return open_pad_dir(base / "workstation", **kw), open_pad_dir(base / "facility", **kw)  # type: ignore[arg-type]
