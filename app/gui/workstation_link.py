"""The workstation's open link and the workers that drive it, for `app.gui.workstation_view`.

No widgets. `WorkstationLink` holds the state behind the view: the open `WorkstationSession`
(pad copy, Zenoh session, client), whether a question is on its way, whether a presence check is
running. Every blocking call (USB scan, liveliness probe, opening and closing the session,
presence, pad status, a question, stopping cover traffic) runs on a worker of the view's
`WorkerRunner` (`app.gui.workers`), and the returned `Task` brings its result back on the UI
thread. The link's own bookkeeping is connected to each task before the view's slots, so the
view always reads the state after the result. Starting cover traffic and pricing a question do
not block and are called directly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from app.gui.usb_detect import detect
from app.gui.workers import Task, Worker, WorkerRunner
from app.gui.workstation_session import WorkstationSession, probe_gateways
from custody.link.carrier import DEFAULT_KEY_PERIOD
from custody.link.messages import CoverCost
from custody.link.workstation import Answer
from custody.pad.frame_policy import FrameMode

log = logging.getLogger(__name__)


class WorkstationLink:
    def __init__(
        self,
        runner: WorkerRunner,
        *,
        queries_per_day: float | None = None,
        cover_rate: float = 1.0,
        cover_bucket: int = 1024,
    ) -> None:
        self.runner = runner
        self.queries_per_day = queries_per_day
        self.cover_rate = cover_rate
        self.cover_bucket = cover_bucket
        self.session: WorkstationSession | None = None
        self.asking = False  # a question is on its way
        self.presence_busy = False

    # -- before connecting --------------------------------------------------------------------
    def detect(self, roots: list[Path]) -> Task:
        """Pad USBs under `roots`: finished(list[DetectedPad])."""
        per_day = self.queries_per_day
        return self.runner.run(lambda w: detect(roots, queries_per_day=per_day), "usb-detect")

    def probe(self, endpoint: str) -> Task:
        """Gateways alive behind `endpoint`, by liveliness only: finished(list[str])."""
        return self.runner.run(lambda w: probe_gateways(endpoint), "test-connection")

    # -- the session --------------------------------------------------------------------------
    def open(self, pad_dir: Path, endpoint: str) -> Task:
        """Open the session: finished(WorkstationSession), by then `self.session`."""
        per_day = self.queries_per_day
        task = self.runner.run(
            lambda w: WorkstationSession(pad_dir, endpoint, queries_per_day=per_day), "connect"
        )
        task.finished.connect(self._opened)
        return task

    def _opened(self, session: WorkstationSession) -> None:
        self.session = session

    def disconnect(self) -> None:
        """Forget the session at once and close it on a worker (closing stops cover traffic)."""
        session, self.session = self.session, None
        if session is not None:
            self.runner.run(lambda w: session.close(), "disconnect")

    def close(self) -> None:
        """Close the session synchronously (at shutdown, once the workers are stopped)."""
        if self.session is not None:
            self.session.close()
            self.session = None

    def presence(self) -> Task | None:
        """Is a gateway serving this pad: finished(Presence). None when not connected or a
        check is still running."""
        session = self.session
        if session is None or self.presence_busy:
            return None
        self.presence_busy = True
        task = self.runner.run(lambda w: session.presence(), "presence")
        task.finished.connect(self._presence_done)
        task.failed.connect(self._presence_done)
        return task

    def _presence_done(self, _result: Any) -> None:
        self.presence_busy = False

    def pad_status(self) -> Task | None:
        """The pad's status read afresh: finished(PadStatus). None when not connected."""
        session = self.session
        if session is None:
            return None
        return self.runner.run(lambda w: session.status(), "pad-status")

    # -- questions ----------------------------------------------------------------------------
    def query_cost(self, question: str, classification: str) -> int | None:
        """Pad bytes sending `question` takes; None when not connected or not computable."""
        if self.session is None:
            return None
        try:
            return self.session.client.query_cost(question, classification)
        except Exception:
            return None

    def frame_modes(self, question: str, classification: str) -> tuple[FrameMode, FrameMode] | None:
        """The modes `question` and its answer would go in under the policy in force (the
        guarantee shown beside the cost); None when not connected."""
        if self.session is None:
            return None
        client = self.session.client
        label = classification or None
        try:
            return client.question_mode(question, label), client.policy.answer_mode(label)
        except Exception:
            return None

    def ask(self, question: str, classification: str | None) -> Task:
        """Send `question`: item(str) for each authenticated chunk of the answer, then
        finished(Answer). `asking` is true until it ends."""
        session = self.session
        assert session is not None
        self.asking = True

        def job(w: Worker) -> Answer:
            return session.client.ask(question, w.emit_item, classification=classification)

        task = self.runner.run(job, "ask")
        task.finished.connect(self._asked)
        task.failed.connect(self._asked)
        return task

    def _asked(self, _result: Any) -> None:
        self.asking = False

    # -- cover traffic ------------------------------------------------------------------------
    def cover_cost(self) -> CoverCost:
        assert self.session is not None
        return self.session.client.cover_cost(self.cover_rate, self.cover_bucket)  # mode: policy

    def enable_cover(self, cost: CoverCost) -> None:
        """Start the cover sender at `cost`'s rate (it starts its own thread: no wait)."""
        assert self.session is not None
        self.session.client.enable_cover(
            cost.rate, cost.bucket, cost.key_period or DEFAULT_KEY_PERIOD
        )

    def cover_running(self) -> bool:
        return self.session is not None and self.session.client.cover_enabled

    def reap_stopped_cover(self) -> str:
        """Why the cover sender stopped by itself (pad used up, medium failed), once it has; its
        thread has ended, so this does not wait."""
        assert self.session is not None
        client = self.session.client
        why = client.cover_stopped_because or "it stopped"
        client.disable_cover()
        return why

    def cover_off(self) -> Task | None:
        """Stop cover traffic: joining its thread takes up to one slot, so on a worker. None
        when not connected."""
        session = self.session
        if session is None:
            return None
        return self.runner.run(lambda w: session.client.disable_cover(), "cover-off")
