"""A whole practice ceremony through the wizard: passphrases typed, steps confirmed."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from app.gui.ceremony_wizard import CeremonyStation
from app.gui.workers import WorkerRunner
from ceremony.state_machine import ceremony_status
from ceremony.steps import STEPS


def drive(qtbot, station, passphrases, *, same_officer_first=False, bag=("BAG-0042", "BAG-0042")):
    """Answer every question the state machine asks, as the officers would."""
    names = list(passphrases)
    bag_answers = list(bag)
    seen = {"same_officer_refused": False, "fingerprint": "", "summaries": {}}

    def answer_one():
        q = station.question
        if q is None:
            return False
        if q.kind == "credentials":
            index = q.args["index"]
            if index == 1 and same_officer_first and not seen["same_officer_refused"]:
                station.officer_combo.setCurrentText(names[0])
                station.passphrase_edit.setText(passphrases[names[0]])
                station.answer(True)
                assert "cannot count twice" in station.prompt_error.text()
                seen["same_officer_refused"] = True
            name = names[index]
            station.officer_combo.setCurrentText(name)
            qtbot.keyClicks(station.passphrase_edit, passphrases[name])
            station.answer(True)
        elif q.kind == "fingerprint":
            seen["fingerprint"] = station.fingerprint.words.text()
            station.answer(True)
        elif q.kind == "bag_serial":
            station.text_edit.setText(bag_answers[1 if q.args["second"] else 0])
            station.answer(True)
        elif q.kind == "exception":
            station.text_edit.setText("resume")
            station.answer(True)
        else:
            if q.kind == "confirm" and q.args.get("fingerprint"):
                seen["fingerprint"] = station.fingerprint.words.text()
                seen["fingerprint_questions"] = seen.get("fingerprint_questions", 0) + 1
            if q.kind == "confirm" and q.step is not None:
                seen["questions"] = [*seen.get("questions", []), q.step.id]
                seen["summaries"][q.step.id] = (
                    station.summary.text(),
                    station.summary.details.isVisible(),
                    station.summary.details.toPlainText(),
                )
            station.answer(True)
        return True

    def step():
        answer_one()
        return station.task is not None and station.task.ended

    qtbot.waitUntil(step, timeout=120000)
    return seen


def test_whole_practice_ceremony_through_the_wizard(qtbot, facility, practice_home, tmp_path):
    _home, first = practice_home
    runner = WorkerRunner()
    made = []
    prom = tmp_path / "textfile" / "reddoor-entropy.prom"  # app.json's metrics_textfile
    prom.parent.mkdir()
    station = CeremonyStation(
        runner, facility, on_pad_made=lambda: made.append(1), metrics_textfile=str(prom)
    )
    qtbot.addWidget(station)
    station.show()
    qtbot.waitUntil(lambda: station._names_cache is not None, timeout=10000)
    assert station.step_list.count() == len(STEPS)
    assert station.step_list.item(0).text().endswith(STEPS[0].title)
    combo = station.plan_page.policy_combo
    assert combo.currentData() == "otp-only"  # the default
    combo.setCurrentIndex(combo.findData("otp-preferred"))
    station.start()
    seen = drive(qtbot, station, first.passphrases, same_officer_first=True)
    assert station.task.error is None, station.banner.label.text()
    out = station.outcome
    assert out is not None and out.mark == "PRACTICE" and out.bag_serial == "BAG-0042"
    assert seen["same_officer_refused"]
    assert seen["fingerprint"] == out.merkle_root_words.upper()
    # Step 4 asks once: the words and the generation summary in one question.
    assert seen["fingerprint_questions"] == 1 and seen["questions"].count("generate") == 1
    assert made == [1]
    check_metrics(prom, out.size)
    check_summaries(seen["summaries"])
    check_history(qtbot, facility, out)
    assert station.receipt is not None and station.receipt.is_file()
    assert station.preview_layout.count() >= 1
    assert all(s == "done" for s in station.step_states.values())
    report = facility.verify()
    assert report.ok
    types = [e.type for e in facility.events()]
    for s in STEPS:
        if s.event:
            assert s.event in types
    # The frame policy chosen on the plan page: signed with the plan, in pad.generated.
    generated = [e for e in facility.events() if e.type == "pad.generated"][-1]
    assert generated.payload["frame_policy"]["mode"] == "otp-preferred"
    started = [e for e in facility.events() if e.type == "ceremony.started"][-1]
    assert started.payload["plan"]["frame_policy"]["mode"] == "otp-preferred"
    runner.stop_all()
    station.shutdown()


def test_cancel_during_the_ceremony_fails_closed(qtbot, facility, practice_home):
    _home, _first = practice_home
    runner = WorkerRunner()
    station = CeremonyStation(runner, facility)
    qtbot.addWidget(station)
    qtbot.waitUntil(lambda: station._names_cache is not None, timeout=10000)
    station.start()
    qtbot.waitUntil(lambda: station.question is not None, timeout=30000)
    station.cancel()
    qtbot.waitUntil(lambda: station.task.ended, timeout=30000)
    assert station.task.error is not None
    assert "stopped" in station.banner.label.text()
    assert facility.verify().ok
    runner.stop_all()
    station.shutdown()


def check_metrics(prom, size):
    """The wizard's ceremony wrote the entropy textfile, as `ceremony run --metrics-textfile`."""
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(prom.read_text())
        for s in family.samples
    }
    assert samples[("reddoor_entropy_pad_bytes", ())] == size
    alarms = [v for (name, _), v in samples.items() if name.endswith("_alarms_total")]
    assert alarms and not any(alarms)
    assert sorted(p.name for p in prom.parent.iterdir()) == [prom.name]


def check_summaries(summaries):
    """Each confirmed step shows words and tables, never the JSON (that is under Details)."""
    expected = {
        "sources": ("Measured rate", "Independent", "kernel CSPRNG", "/s", "takes about"),
        "generate": ("Monobit", "chi-square", "Min-entropy", "longest run", "pass", "Verdict"),
        "customer_copy": ("Customer copy written to", "Files: pad.bin"),
        "facility_copy": ("HSM SoftHSM v2", "key reddoor-pad-", "AES-256-GCM"),
        "verify": ("Customer USB", "Facility HSM", "Merkle roots MATCH"),
        "seal": ("Bag serial: BAG-0042",),
    }
    for step_id, needles in expected.items():
        text, details_open, details = summaries[step_id]
        for needle in needles:
            assert needle in text, (step_id, needle, text)
        assert "{" not in text and "}" not in text and '"ceremony_id"' not in text, text
        assert not details_open  # the JSON is collapsed by default
        assert '"ceremony_id"' in details  # and there for auditors


def check_history(qtbot, facility, out):
    """The custody view's pad history: one readable line per event, payload on expansion."""
    from app.gui.custody_view import CustodyView

    runner = WorkerRunner()
    view = CustodyView(runner, facility)
    qtbot.addWidget(view)
    view.refresh()
    qtbot.waitUntil(lambda: view.pads_table.rowCount() >= 2, timeout=15000)
    row = next(i for i, r in enumerate(view.rows) if r.pad_id == out.pad_id)
    assert view.pads_table.item(row, 0).text().startswith(out.pad_id_display)
    view.pads_table.selectRow(row)
    lines = view.history_lines()
    joined = "\n".join(lines)
    assert any("Facility copy written — HSM SoftHSM v2 serial" in x for x in lines), joined
    assert any("Both copies verified — Merkle roots match" in x for x in lines), joined
    assert any("Customer drive sealed — bag BAG-0042" in x for x in lines), joined
    assert all(x.startswith("#") for x in lines[: len(view.rows[row].events)])
    assert "approved by" in joined and "{" not in joined
    first = view.pad_history.topLevelItem(0)
    assert first.childCount() > 0 and '"ceremony_id"' in first.child(1).text(0)
    runner.stop_all()


def test_a_metrics_textfile_that_cannot_work_stops_before_the_ceremony_begins(
    qtbot, facility, practice_home, tmp_path
):
    home, _first = practice_home
    runner = WorkerRunner()
    station = CeremonyStation(runner, facility, metrics_textfile=tmp_path / "gone" / "r.prom")
    qtbot.addWidget(station)
    qtbot.waitUntil(lambda: station._names_cache is not None, timeout=10000)
    station.start()
    qtbot.waitUntil(lambda: station.task is not None and station.task.ended, timeout=30000)
    assert station.task.error is not None
    assert "metrics_textfile setting" in station.banner.label.text()
    assert "does not exist" in station.banner.label.text()
    assert ceremony_status(home)["ceremony_id"] is None  # nothing was begun
    runner.stop_all()
    station.shutdown()
