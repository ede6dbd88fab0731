"""The one worker idiom for long work: a QObject worker moved to a QThread.

    task = runner.run(lambda w: mixer.generate(..., progress=w.report, cancel=w.cancelled))
    task.progress.connect(bar_update)     # (done, total), on the UI thread
    task.item.connect(show_piece)         # anything the job hands to w.emit_item(...)
    task.finished.connect(on_done)        # the job's return value
    task.failed.connect(on_error)         # the exception it raised

The job runs on the worker thread and must never touch a widget; it reports through the worker's
signals. `Task` lives on the UI thread and re-emits them, so whatever is connected to a `Task`
runs on the UI thread whatever it is (a lambda included). `WorkerRunner.stop_all()` cancels every
job and quits and joins every thread; the main window calls it on shutdown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


class Worker(QObject):
    """Runs `job(worker)` once on its thread. Signals are emitted from that thread."""

    progress = Signal(object, object)
    item = Signal(object)
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, job: Callable[[Worker], Any], name: str = "work") -> None:
        super().__init__()
        self._job = job
        self.name = name
        self._cancel = threading.Event()

    # -- for the job ------------------------------------------------------------------------
    def report(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    def emit_item(self, obj: Any) -> None:
        self.item.emit(obj)

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- for the UI -------------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self)
        except Exception as exc:  # reported to the UI, which shows a message
            log.info("%s failed (%s)", self.name, type(exc).__name__)
            self.failed.emit(exc)
        else:
            self.finished.emit(result)


class Task(QObject):
    """The UI-thread face of a running worker."""

    progress = Signal(object, object)
    item = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    done = Signal()  # after finished or failed, once the thread has stopped

    def __init__(self, worker: Worker, thread: QThread, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.thread = thread
        self.result: Any = None
        self.error: BaseException | None = None
        self.ended = False
        # Signal-to-signal connections to an object on the UI thread: queued, so every slot
        # connected to this Task runs on the UI thread.
        worker.progress.connect(self.progress)
        worker.item.connect(self.item)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        thread.finished.connect(self._on_thread_finished)

    @Slot()
    def _on_thread_finished(self) -> None:
        self.done.emit()

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self.result = result
        self.ended = True
        self.finished.emit(result)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        self.error = exc
        self.ended = True
        self.failed.emit(exc)

    def cancel(self) -> None:
        self.worker.cancel()


class WorkerRunner(QObject):
    """Starts workers on their own threads and stops and joins them all on shutdown."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: list[Task] = []
        self._stopping = False

    def run(self, job: Callable[[Worker], Any], name: str = "work") -> Task:
        if self._stopping:
            raise RuntimeError("the application is shutting down")
        worker = Worker(job, name)
        thread = QThread()
        thread.setObjectName(name)
        worker.moveToThread(thread)
        task = Task(worker, thread, self)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        worker.failed.connect(thread.quit)
        task.done.connect(lambda t=task: self._reap(t))
        self._tasks.append(task)
        thread.start()
        return task

    def _reap(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        task.worker.deleteLater()
        task.thread.deleteLater()

    @property
    def active(self) -> int:
        return len(self._tasks)

    def stop_all(self, timeout_ms: int = 15000) -> bool:
        """Cancel every job, quit and join every thread. True if all stopped in time."""
        self._stopping = True
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        ok = True
        for t in tasks:
            t.thread.quit()
            if not t.thread.wait(timeout_ms):
                log.error("worker %s did not stop in time", t.worker.name)
                ok = False
        self._tasks.clear()
        return ok
