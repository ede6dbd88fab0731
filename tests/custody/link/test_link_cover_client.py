"""The workstation's cover sender against a transport that only counts (no network, no gateway):
timeouts, up-front pad checks and a sender that stops."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from custody.errors import LinkError, NoAnswerError, PadExhaustedError
from custody.link.workstation import WorkstationClient
from custody.pad import frame
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir


class _Sub:
    def close(self) -> None:
        pass


class _Wire:
    """Publishes nowhere; nobody ever answers. `fail` makes the next publishes raise."""

    def __init__(self) -> None:
        self.published = 0
        self.fail = 0
        self.lock = threading.Lock()

    def subscribe(self, key: str, on_data: object) -> _Sub:
        return _Sub()

    def watch_liveliness(self, key: str, on_change: object) -> _Sub:
        return _Sub()

    def alive(self, key: str, timeout: float = 1.0) -> list[str]:
        return []

    def publish(self, key: str, data: bytes, *, droppable: bool = False) -> None:
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise LinkError("cannot publish on the link: test")
            self.published += 1


def _client(tmp_path: Path, size: int = 8 << 20, **kw: object) -> tuple[WorkstationClient, _Wire]:
    make_practice_pad(tmp_path / "p", size)
    copy = open_pad_dir(tmp_path / "p" / "workstation", state_dir=tmp_path / "state")
    wire = _Wire()
    client = WorkstationClient(
        copy,
        wire,
        state_dir=tmp_path / "state",
        require_gateway=False,
        **kw,  # type: ignore[arg-type]
    )
    return client, wire


def _ask_in_thread(client: WorkstationClient, question: str, limit: float) -> BaseException | None:
    out: list[BaseException | None] = [None]

    def run() -> None:
        try:
            client.ask(question)
        except BaseException as exc:
            out[0] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"ask() still waiting after {limit} s"
    return out[0]


def test_slow_cover_with_retransmissions_still_times_out(tmp_path: Path) -> None:
    """Retransmissions refill the cover queue; they must not keep restarting the answer clock."""
    client, _wire = _client(tmp_path, answer_timeout=2.0, retransmit_interval=0.5)
    try:
        client.enable_cover(4, 256)
        question = "slow " * 150  # several 256-byte slots, queued again at every retransmission
        exc = _ask_in_thread(client, question, limit=120)
        assert isinstance(exc, NoAnswerError), exc
        assert client.stats["retransmitted-queries"] >= 1
    finally:
        client.disable_cover()
        client.copy.close()


def test_under_cover_the_whole_question_is_checked_before_any_fragment_is_sealed(
    tmp_path: Path,
) -> None:
    client, _wire = _client(tmp_path, size=1 << 20)
    copy = client.copy
    # Leave room for one cover-sized frame, not two.
    filler = copy.remaining_send() - (frame.KEY_LEN + 1024) - 100
    copy.zeroize(copy.reserve_send(filler), filler)
    try:
        cover = client.enable_cover(0.001, 1024)  # no slot comes during the test
        assert cover.frame_bytes == frame.KEY_LEN + 1024
        before = copy.remaining_send()
        with pytest.raises(PadExhaustedError, match="needs 2112 pad bytes"):
            client.ask("x" * 1500)  # two 1024-byte slots
        assert copy.remaining_send() == before  # nothing sealed, nothing spent
    finally:
        client.disable_cover()
        copy.close()


def test_a_publish_error_does_not_kill_cover_and_a_stopped_sender_is_said(tmp_path: Path) -> None:
    client, wire = _client(tmp_path, size=1 << 20, answer_timeout=1.0)
    try:
        wire.fail = 3
        client.enable_cover(200, 256)
        # Transient link errors lose their slots; the sender goes on.
        deadline = threading.Event()
        for _ in range(600):
            if wire.published >= 5:
                break
            deadline.wait(0.05)
        assert wire.published >= 5 and client.cover_enabled
        assert client.stats["cover-publish-failed"] == 3
        # Running out of pad stops it; the next question is refused before anything is sealed.
        for _ in range(1200):
            if not client.cover_enabled:
                break
            deadline.wait(0.05)
        assert not client.cover_enabled
        assert "used up" in (client.cover_stopped_because or "")
        left = client.copy.remaining_send()
        with pytest.raises(LinkError, match=r"cover traffic has stopped .*nothing was sent"):
            client.ask("q")
        assert client.copy.remaining_send() == left
    finally:
        client.disable_cover()
        client.copy.close()
