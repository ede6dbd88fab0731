"""The UI thread keeps ticking while the wizard's ceremony generates a pad (issue 7 §1/§6)."""

from __future__ import annotations

import itertools
import time

from PySide6.QtCore import QElapsedTimer, QTimer

from app.gui.ceremony_wizard import CeremonyStation
from app.gui.workers import WorkerRunner
from ceremony.entropy_sources import OsSource

GEN_BYTES = 64 << 20  # the wizard's largest size
SLOW_RATE = 32 << 20  # bytes/s: the OS CSPRNG slowed like a fast hardware RNG (~2 s of reads)


def test_ui_thread_keeps_ticking_while_the_wizard_generates_a_pad(
    qtbot, facility, practice_home, monkeypatch
):
    """A 64 MiB practice pad from a slowed OS source: the mixing, health tests and writes
    still run at full speed, so generation lasts a few seconds with real work on the CPU."""
    real_readinto = OsSource.readinto

    def slow_readinto(self, buffer):
        time.sleep(len(buffer) / SLOW_RATE)
        real_readinto(self, buffer)

    monkeypatch.setattr(OsSource, "readinto", slow_readinto)
    _home, first = practice_home
    runner = WorkerRunner()
    station = CeremonyStation(runner, facility)
    qtbot.addWidget(station)
    station.show()
    qtbot.waitUntil(lambda: station._names_cache is not None, timeout=10000)
    station.size_combo.setCurrentIndex(station.size_combo.findData(GEN_BYTES))
    assert int(station.size_combo.currentData()) == GEN_BYTES
    station.start()

    clock = QElapsedTimer()
    clock.start()
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(clock.elapsed()))
    # progress of the generate step, with the tick count seen when each report arrived
    progress: list[tuple[int, int, int]] = []
    station.handler.signals.progressed.connect(
        lambda step, done, total: (
            progress.append((done, total, len(ticks))) if step.id == "generate" else None
        )
    )
    window: dict[str, int] = {}
    names = list(first.passphrases)

    def answer_one() -> None:
        q = station.question
        if q is None:
            return
        if q.kind == "credentials":
            name = names[q.args["index"]]
            station.officer_combo.setCurrentText(name)
            station.passphrase_edit.setText(first.passphrases[name])
        elif q.kind == "bag_serial":
            station.text_edit.setText("BAG-0064")
        elif (
            q.kind == "confirm" and q.step is not None and q.step.id == "generate"
        ) and "end" not in window:  # generation is over: the fingerprint is asked
            timer.stop()
            window["end"] = clock.elapsed()
        station.answer(True)
        if q.kind == "confirm" and q.step is not None and q.step.id == "sources":
            # the generate step starts as soon as the sources are confirmed
            window["start"] = clock.elapsed()
            ticks.append(window["start"])
            timer.start()

    def step() -> bool:
        answer_one()
        return station.task is not None and station.task.ended

    qtbot.waitUntil(step, timeout=240000)
    timer.stop()
    assert station.task.error is None, station.banner.label.text()
    assert station.outcome is not None and station.outcome.size == GEN_BYTES

    assert "start" in window and "end" in window
    measured = [t for t in ticks if window["start"] <= t <= window["end"]] + [window["end"]]
    max_gap_ms = max(b - a for a, b in itertools.pairwise(measured))
    window_ms = window["end"] - window["start"]
    print(f"generate window {window_ms} ms, {len(measured)} ticks, max_gap_ms={max_gap_ms}")
    # the generation really happened while the timer ran: progress in between, to the end
    assert progress and progress[-1][:2] == (GEN_BYTES, GEN_BYTES)
    during = [p for p in progress if 0 < p[2] < len(measured)]
    assert len({p[0] for p in during}) > 5, progress
    assert window_ms >= 1000, f"generation window too short to prove anything ({window_ms} ms)"
    assert len(measured) > window_ms / 100, "the timer hardly ran"
    assert max_gap_ms < 100, f"UI thread stalled for {max_gap_ms} ms during generation"
    types = [e.type for e in facility.events()]
    assert types.count("pad.generated") == 1
    assert facility.verify().ok
    runner.stop_all()
    station.shutdown()
