"""Workstation chat over a real embedded router and echo gateway started by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.gui.facility import FACILITY_PADS, USB_DIR, add_practice_pad
from app.gui.practice_link import PracticeLink, free_local_endpoint
from app.gui.workers import WorkerRunner
from app.gui.workstation_view import WorkstationView


@pytest.fixture
def link(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    add_practice_pad(home, 1 << 20)
    lk = PracticeLink(home / FACILITY_PADS, endpoint=free_local_endpoint())
    endpoint = lk.start()
    yield home, endpoint, lk
    lk.stop()


def connected_view(qtbot, home: Path, endpoint: str) -> tuple[WorkstationView, WorkerRunner]:
    runner = WorkerRunner()
    view = WorkstationView(runner, endpoint=endpoint, usb_roots=[home / USB_DIR])
    qtbot.addWidget(view)
    view.show()
    view.rescan()
    qtbot.waitUntil(lambda: view.pad_combo.count() == 1, timeout=10000)
    assert "OTP Pad" in view.usb_label.text() and "queries" in view.usb_label.text()
    view.test_connection()
    qtbot.waitUntil(lambda: "gateway alive" in view.connection_label.text(), timeout=15000)
    view.connect_link()
    qtbot.waitUntil(lambda: view.session is not None, timeout=15000)
    qtbot.waitUntil(lambda: view.pad_status is not None, timeout=10000)
    return view, runner


def cover_view(
    qtbot, home: Path, endpoint: str, rate: float
) -> tuple[WorkstationView, WorkerRunner]:
    """A view with cover traffic at `rate` available, connected to the practice link."""
    runner = WorkerRunner()
    view = WorkstationView(runner, endpoint=endpoint, usb_roots=[home / USB_DIR], cover_rate=rate)
    qtbot.addWidget(view)
    view.show()
    assert not view.cover_check.isEnabled()  # nothing to cover before connecting
    view.rescan()
    qtbot.waitUntil(lambda: view.pad_combo.count() == 1, timeout=10000)
    view.connect_link()
    qtbot.waitUntil(lambda: view.session is not None, timeout=15000)
    return view, runner


def test_chat_streams_the_echo_answer_with_details(qtbot, link):
    home, endpoint, _lk = link
    view, runner = connected_view(qtbot, home, endpoint)
    question = "How do I make this function UNCLASSIFIED without losing functionality? " * 3
    view.question_edit.setPlainText(question)
    view.classification_combo.setCurrentText("SECRET")
    assert "pad bytes" in view.cost_label.text()
    assert "one-time pad (information-theoretic)" in view.cost_label.text()
    pieces: list[str] = []
    view.send()
    card = view.cards[-1]
    view.runner._tasks[-1].item.connect(pieces.append)
    qtbot.waitUntil(lambda: "Query ID" in card.details.text(), timeout=30000)
    assert card.answer_text == question.strip()
    assert len(pieces) > 1, "the answer arrived in one piece; expected streaming"
    assert "Pad consumed" in card.details.text() and "Chronicle" in card.details.text()
    # Every message says which guarantee it had (an otp-only practice pad: one-time pad).
    assert "Both ways: one-time pad (information-theoretic)" in card.details.text()
    assert card.tag.text() == "SECRET"
    qtbot.waitUntil(lambda: "queries left" in view.pad_label.text(), timeout=10000)
    runner.stop_all()
    view.shutdown()


def test_markup_in_an_answer_shows_literally(qtbot, link):
    home, endpoint, _lk = link
    view, runner = connected_view(qtbot, home, endpoint)
    hostile = '<b>x</b><img src="file:///etc/passwd"><a href="http://e">link</a>'
    view.question_edit.setPlainText(hostile)
    view.send()
    card = view.cards[-1]
    qtbot.waitUntil(lambda: "Query ID" in card.details.text(), timeout=30000)
    assert card.answer.text() == hostile
    from PySide6.QtCore import Qt

    for label in (card.answer, card.question, card.details):
        assert label.textFormat() == Qt.TextFormat.PlainText
    runner.stop_all()
    view.shutdown()


def test_gateway_absent_banner(qtbot, link):
    home, endpoint, lk = link
    view, runner = connected_view(qtbot, home, endpoint)
    lk.gateway.stop()
    lk.gateway = None
    view.check_presence()
    qtbot.waitUntil(lambda: "Gateway absent" in view.gateway_banner.label.text(), timeout=15000)
    assert view.gateway_banner.isVisible()
    runner.stop_all()
    view.shutdown()


def test_cover_toggle_shows_the_cost_first_and_puts_cover_on_the_wire(qtbot, link):
    from PySide6.QtWidgets import QMessageBox

    from custody.pad import frame
    from tests.custody.link.fixtures import Capture

    home, endpoint, _lk = link
    view, runner = cover_view(qtbot, home, endpoint, 20)
    client = view.session.client
    cap = Capture(endpoint)
    try:
        # 1. Turning it on asks first, with the cost; Cancel leaves it off.
        view.cover_check.click()
        dialog = view.cover_dialog
        assert dialog is not None and dialog.isVisible()
        text = dialog.text()
        assert "1,056 pad bytes" in text and "per minute" in text and "per day" in text
        assert "workstation→facility" in text and "last about" in text
        assert not view.cover_check.isChecked() and not client.cover_enabled
        dialog.button(QMessageBox.StandardButton.Cancel).click()
        qtbot.waitUntil(lambda: view.cover_dialog is None, timeout=5000)
        assert not view.cover_check.isChecked() and not client.cover_enabled
        assert cap.count("w2f") == 0
        # 2. Confirmed: on, and concealed frames of one size go out to the facility.
        view.cover_check.click()
        dialog = view.cover_dialog
        assert dialog is not None
        dialog.button(QMessageBox.StandardButton.Yes).click()
        assert view.cover_check.isChecked() and client.cover_enabled
        qtbot.waitUntil(lambda: cap.count("w2f") >= 3, timeout=30000)
        w2f = [d for k, d in list(cap.frames) if k.endswith("/w2f")]
        assert {len(d) for d in w2f} == {frame.HEADER_LEN + 1024 + frame.TAG_LEN}
        assert {frame.parse_header(d).kind for d in w2f} == {frame.Kind.OPAQUE}
        # 3. A question still gets its answer, in the cover slots.
        view.question_edit.setPlainText("covered question")
        view.send()
        card = view.cards[-1]
        qtbot.waitUntil(lambda: "Query ID" in card.details.text(), timeout=30000)
        assert card.answer_text == "covered question"
        # 4. Turning it off stops it (no dialog needed).
        qtbot.waitUntil(view.cover_check.isEnabled, timeout=10000)
        view.cover_check.click()
        qtbot.waitUntil(lambda: not client.cover_enabled, timeout=10000)
        assert not view.cover_check.isChecked() and view.cover_dialog is None
    finally:
        cap.close()
        runner.stop_all()
        view.shutdown()


def test_cover_switch_turns_off_when_the_pad_runs_out(qtbot, link):
    """The cover sender stops by itself when the w2f region is used up; the switch says so."""
    from PySide6.QtWidgets import QMessageBox

    home, endpoint, _lk = link
    view, runner = cover_view(qtbot, home, endpoint, 500)
    client = view.session.client
    try:
        view.cover_check.click()
        assert view.cover_dialog is not None
        view.cover_dialog.button(QMessageBox.StandardButton.Yes).click()
        assert view.cover_check.isChecked() and client.cover_enabled
        # 1 MiB practice pad: its 256 KiB w2f region is about 250 cover frames.
        qtbot.waitUntil(lambda: not client.cover_enabled, timeout=60000)
        qtbot.waitUntil(lambda: not view.cover_check.isChecked(), timeout=15000)
        assert "Cover traffic stopped" in view.pad_banner.label.text()
        assert client.copy.remaining_send() < 1056
    finally:
        runner.stop_all()
        view.shutdown()


def test_a_pad_keyed_pad_shows_its_guarantee_before_and_after(qtbot, tmp_path):
    """A pad made with the pad-keyed policy: the ask box says the question goes pad-keyed
    (computational) beside its cost, the card says so of both halves, a SECRET question (kept
    one-time pad by the pad's policy) says one-time pad, and the cover dialog prices keys."""
    from custody.pad.frame_policy import FramePolicy, PolicyMode

    home = tmp_path / "home"
    home.mkdir()
    policy = FramePolicy(PolicyMode.PAD_KEYED, otp_only_classifications=("SECRET",))
    add_practice_pad(home, 1 << 20, frame_policy=policy)
    lk = PracticeLink(home / FACILITY_PADS, endpoint=free_local_endpoint())
    endpoint = lk.start()
    view, runner = connected_view(qtbot, home, endpoint)
    try:
        view.classification_combo.setCurrentText("UNCLASSIFIED")
        view.question_edit.setPlainText("How long is a pad-keyed question? " * 40)
        assert view.cost_label.text() == (
            "This question will consume 32 pad bytes to send, pad-keyed ChaCha20-Poly1305 "
            "(computational)."
        )
        view.send()
        card = view.cards[-1]
        qtbot.waitUntil(lambda: "Query ID" in card.details.text(), timeout=30000)
        assert "(32 out, 32 back)" in card.details.text()
        assert "Both ways: pad-keyed ChaCha20-Poly1305 (computational)" in card.details.text()
        view.classification_combo.setCurrentText("SECRET")
        view.question_edit.setPlainText("A secret question")
        assert "one-time pad (information-theoretic)" in view.cost_label.text()
        assert "pad-keyed" not in view.cost_label.text()
        view.send()
        card = view.cards[-1]
        qtbot.waitUntil(lambda: "Query ID" in card.details.text(), timeout=30000)
        assert "Both ways: one-time pad (information-theoretic)" in card.details.text()
        view.question_edit.setPlainText("Next question")
        view.classification_combo.setCurrentText("CUI")  # the label alone changes the mode
        assert "pad-keyed ChaCha20-Poly1305 (computational)" in view.cost_label.text()
        from app.gui.workstation_model import cover_confirmation_text

        text = cover_confirmation_text(view.session.client.cover_cost(20, 1024))
        assert "pad-keyed ChaCha20-Poly1305 (computational)" in text and "32-byte key" in text
    finally:
        runner.stop_all()
        view.shutdown()
        lk.stop()
