"""The wizard's progress bar and label belong to the step that reported them: generation's
are gone at step 5, verification's at steps 8 to 10."""

from __future__ import annotations

from app.gui.workers import WorkerRunner
from ceremony.steps import STEPS
from tests.app.gui.conftest import shown_station


def test_progress_of_an_earlier_step_is_not_shown_in_a_later_one(qtbot, facility, practice_home):
    _home, first = practice_home
    names = list(first.passphrases)
    runner = WorkerRunner()
    station = shown_station(qtbot, facility, runner)
    station.start()
    titles = {s.id: s.title for s in STEPS}
    shown: list[tuple[str, bool, str]] = []  # (active step, label visible, label text)

    def step() -> bool:
        q = station.question
        if q is not None:
            active = next(s for s, st in station.step_states.items() if st == "active")
            label = station.progress_label
            shown.append((active, label.isVisible(), label.text()))
            if q.kind == "credentials":
                name = names[q.args["index"]]
                station.officer_combo.setCurrentText(name)
                station.passphrase_edit.setText(first.passphrases[name])
            elif q.kind == "bag_serial":
                station.text_edit.setText("BAG-7")
            station.answer(True)
        return station.task is not None and station.task.ended

    try:
        qtbot.waitUntil(step, timeout=120000)
    finally:
        runner.stop_all()
        station.shutdown()
    assert station.task.error is None, station.banner.label.text()
    asked = {active for active, _v, _t in shown}
    assert {"generate", "customer_copy", "verify", "seal", "receipt", "close"} <= asked
    for active, visible, text in shown:
        if visible:  # a label on screen names the step on screen
            assert text.startswith(titles[active] + ":"), (active, text)
    # the steps that report progress still show theirs at their own question
    assert any(a == "generate" and v for a, v, _t in shown)
    assert any(a == "verify" and v for a, v, _t in shown)
    assert not any(a in ("customer_copy", "seal", "receipt", "close") and v for a, v, _t in shown)
    assert not station.progress.isVisible()
