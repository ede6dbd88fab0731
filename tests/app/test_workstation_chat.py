"""Workstation chat over a real embedded router and echo gateway started by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.facility import FACILITY_PADS, USB_DIR, add_practice_pad
from app.practice_link import PracticeLink, free_local_endpoint
from app.workers import WorkerRunner
from app.workstation_view import WorkstationView


@pytest.fixture
def link(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    add_practice_pad(home, 1 << 20)
    lk = PracticeLink(
        home / FACILITY_PADS, tmp_path / "chronicle.jsonl", endpoint=free_local_endpoint()
    )
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


def test_chat_streams_the_echo_answer_with_details(qtbot, link):
    home, endpoint, _lk = link
    view, runner = connected_view(qtbot, home, endpoint)
    question = "How do I make this function UNCLASSIFIED without losing functionality? " * 3
    view.question_edit.setPlainText(question)
    view.classification_combo.setCurrentText("SECRET")
    assert "pad bytes" in view.cost_label.text()
    pieces: list[str] = []
    view.send()
    card = view.cards[-1]
    view.runner._tasks[-1].item.connect(pieces.append)
    qtbot.waitUntil(lambda: "Query ID" in card.details.text(), timeout=30000)
    assert card.answer_text == question.strip()
    assert len(pieces) > 1, "the answer arrived in one piece; expected streaming"
    assert "OTP consumed" in card.details.text() and "Chronicle" in card.details.text()
    assert "SECRET" in card.header.text()
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
