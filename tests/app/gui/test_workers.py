"""The one worker idiom: the UI thread keeps ticking while long work runs; threads are joined."""

from __future__ import annotations

import time

from PySide6.QtCore import QElapsedTimer, QThread, QTimer
from PySide6.QtWidgets import QApplication

from app.gui.workers import WorkerRunner
from ceremony import mixer
from ceremony.entropy_sources import OsSource


class SlowOsSource(OsSource):
    """The OS CSPRNG slowed to about 4 MiB/s, like a fast hardware RNG."""

    def readinto(self, buffer: memoryview) -> None:
        time.sleep(len(buffer) / (4 << 20))
        super().readinto(buffer)


def test_ui_thread_keeps_ticking_while_a_pad_generates(qtbot):
    runner = WorkerRunner()
    size = 6 << 20
    sink_total = [0]

    def job(w):
        return mixer.generate(
            [SlowOsSource()],
            size,
            lambda view: sink_total.__setitem__(0, sink_total[0] + len(view)),
            practice=True,
            progress=w.report,
            cancel=w.cancelled,
            chunk_size=1 << 19,
        )

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    progress: list[tuple[int, int]] = []
    task = runner.run(job, "generate")
    task.progress.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignal(task.finished, timeout=60000):
        pass
    timer.stop()
    max_gap_ms = max(gaps)
    assert sink_total[0] == size
    assert progress[-1] == (size, size) and len(progress) > 5
    assert len(gaps) > 50, "the timer hardly ran"
    assert max_gap_ms < 100, f"UI thread stalled for {max_gap_ms} ms"
    runner.stop_all()


def test_signals_reach_slots_on_the_ui_thread_and_stop_all_joins(qtbot):
    runner = WorkerRunner()
    ui = QApplication.instance().thread()
    seen: list[bool] = []

    def job(w):
        for i in range(3):
            w.emit_item(i)
        while not w.cancelled():
            time.sleep(0.01)
        return "stopped"

    task = runner.run(job, "loop")
    task.item.connect(lambda _i: seen.append(QThread.currentThread() is ui))
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=5000)
    assert all(seen)
    thread = task.thread
    assert runner.stop_all(5000)
    assert thread.isFinished()


def test_failure_is_reported_not_raised(qtbot):
    runner = WorkerRunner()
    task = runner.run(lambda w: 1 / 0, "fail")
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        pass
    assert isinstance(blocker.args[0], ZeroDivisionError)
    runner.stop_all()
