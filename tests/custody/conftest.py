"""Fixtures shared by the custody tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from custody.pad.practice import make_practice_pad


@pytest.fixture
def pads(tmp_path: Path) -> Path:
    """A 1 MiB practice pad: the workstation copy in `p1/workstation`, the facility copy moved
    into `fac/p1` (a gateway's --pads directory)."""
    make_practice_pad(tmp_path / "p1", 1 << 20)
    (tmp_path / "fac").mkdir()
    (tmp_path / "p1" / "facility").rename(tmp_path / "fac" / "p1")
    return tmp_path
