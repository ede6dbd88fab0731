"""GUI tests run offscreen with pytest-qt; each gets its own practice facility when it asks."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

from app.gui.facility import Facility, FirstRun, create_practice_facility
from app.gui.install_settings import InstallSettings


@pytest.fixture
def practice_home(tmp_path: Path) -> tuple[Path, FirstRun]:
    """A fresh practice facility for one test."""
    first = create_practice_facility(tmp_path / "home")
    return tmp_path / "home", first


@pytest.fixture
def facility(practice_home):
    home, _first = practice_home
    f = Facility(home)
    yield f
    f.close()


@pytest.fixture
def settings() -> InstallSettings:
    return InstallSettings(idle_lock_seconds=10)


def shown_station(qtbot, facility: Facility, runner):
    """A ceremony station shown as a person first sees it: its officers' names loaded."""
    from app.gui.ceremony_wizard import CeremonyStation

    station = CeremonyStation(runner, facility)
    qtbot.addWidget(station)
    station.show()
    qtbot.waitUntil(lambda: station._names_cache is not None, timeout=10000)
    return station
