"""The lifecycle state machine (derived from events), reconciliation, and the gateway's poll."""

from __future__ import annotations

import pytest

from custody.errors import AlreadyDestroyed, IllegalTransition
from custody.ledger import home, officers
from custody.ledger.chain import EventDraft
from custody.ledger.entry import TWO_PERSON_TYPES, Event
from custody.lifecycle import acts, reconcile, serving, states

PAD = "ab" * 16


def _event(seq: int, etype: str, payload: dict) -> Event:
    approvals = ({"officer": "alice"}, {"officer": "bob"})
    return Event(seq, f"2026-01-01T00:00:{seq:02d}Z", etype, (), payload, approvals, b"", b"")


def _ceremony(mark: str = "PRODUCTION") -> list[Event]:
    base = {"ceremony_id": "C-1", "pad_id": PAD, "mark": mark}
    return [
        _event(1, "pad.generated", {**base, "size": 65536, "split": "1:1", "merkle_root": "00"}),
        _event(2, "pad.sealed", {**base, "bag_serial": "RD-1"}),
        _event(3, "ceremony.closed", base),
    ]


def _derive(*events: Event) -> states.PadRecord:
    d = states.Deriver()
    d.feed(events)
    return d.pads[PAD]


def test_the_full_path_is_derived_from_events():
    p = {"pad_id": PAD}
    steps = [
        ("custody.transferred", {**p, "to": "courier", "bag_serial": "RD-1"}, "in_transit"),
        ("custody.delivered", {**p, "received_by": "Eve", "bag_serial": "RD-1"}, "delivered"),
        ("pad.activated", p, "active"),
        ("pad.suspended", {**p, "reason": "audit"}, "suspended"),
        ("pad.resumed", p, "active"),
        ("pad.exhausted", p, "exhausted"),
        ("pad.destroyed", {**p, "method": "crypto-erase"}, "facility_copy_destroyed"),
        ("pad.destroyed", {**p, "method": "physical", "medium_serial": "S"}, "destroyed"),
    ]
    events = _ceremony()
    assert _derive(*events).state == "sealed"
    for i, (etype, payload, want) in enumerate(steps, 10):
        events.append(_event(i, etype, payload))
        rec = _derive(*events)
        assert rec.state == want, etype
    assert rec.destroyed_copies == {"facility": 16, "customer": 17}
    assert rec.holder == "Eve" and not rec.anomalies
    assert [h.type for h in rec.history][-1] == "pad.destroyed"


@pytest.mark.parametrize(
    "etype,payload,message",
    [
        ("pad.activated", {}, "is sealed: it cannot be activated"),
        ("custody.delivered", {}, "cannot be delivered"),
        ("pad.destroyed", {"method": "crypto-erase"}, "retire it first"),
        ("pad.resumed", {}, "only a suspended pad"),
    ],
)
def test_illegal_transitions_are_refused_with_a_reason(etype, payload, message):
    rec = _derive(*_ceremony())
    with pytest.raises(IllegalTransition, match=message):
        states.check_transition(rec, etype, {"pad_id": PAD, **payload})


def test_destroying_the_same_copy_twice():
    events = [
        *_ceremony(),
        _event(5, "pad.compromised", {"pad_id": PAD, "reason": "lost"}),
        _event(6, "pad.destroyed", {"pad_id": PAD, "method": "overwrite"}),
    ]
    rec = _derive(*events)
    with pytest.raises(AlreadyDestroyed, match="customer copy was already destroyed"):
        states.check_transition(rec, "pad.destroyed", {"method": "physical"})
    assert states.check_transition(rec, "pad.destroyed", {"method": "crypto-erase"})


def test_destroyed_only_once_both_copies_are():
    events = [
        *_ceremony(),
        _event(5, "pad.retired", {"pad_id": PAD, "reason": "end of project"}),
        _event(6, "pad.destroyed", {"pad_id": PAD, "method": "crypto-erase"}),
    ]
    rec = _derive(*events)
    assert rec.state == "facility_copy_destroyed"  # the customer USB copy still exists
    assert states.check_transition(rec, "pad.destroyed", {"method": "overwrite"}) == ("destroyed")
    assert not serving.servable(rec, practice=True)
    other = _derive(
        *events[:-1], _event(6, "pad.destroyed", {"pad_id": PAD, "method": "overwrite"})
    )
    assert other.state == "customer_copy_destroyed"
    rec = _derive(*events, _event(7, "pad.destroyed", {"pad_id": PAD, "method": "overwrite"}))
    assert rec.state == "destroyed" and not rec.anomalies


def test_a_failed_destruction_changes_no_state():
    events = [
        *_ceremony(),
        _event(5, "pad.retired", {"pad_id": PAD, "reason": "end"}),
        _event(
            6,
            "pad.destroy_failed",
            {"pad_id": PAD, "method": "crypto-erase", "copy": "facility", "error": "HsmError"},
        ),
    ]
    rec = _derive(*events)
    assert rec.state == "retired" and rec.destroyed_copies == {} and not rec.anomalies
    assert "FAILED" in rec.history[-1].summary


def test_a_transfer_in_transit_to_the_same_holder_again_is_refused():
    p = {"pad_id": PAD}
    rec = _derive(
        *_ceremony(),
        _event(5, "custody.transferred", {**p, "to": "courier Dana", "bag_serial": "RD-1"}),
    )
    with pytest.raises(IllegalTransition, match="already in transit to courier Dana"):
        states.check_transition(rec, "custody.transferred", {"to": "courier Dana"})
    # A hand-over to another courier in transit is still allowed.
    assert states.check_transition(rec, "custody.transferred", {"to": "courier Sam"})


def test_an_illegal_step_found_in_the_ledger_is_an_anomaly_not_a_crash():
    rec = _derive(*_ceremony(), _event(5, "pad.activated", {"pad_id": PAD}))
    assert rec.anomalies and "event 5" in rec.anomalies[0]


def test_aborted_ceremony_leaves_a_destroyed_pad():
    ev = [*_ceremony()[:1], _event(4, "ceremony.aborted", {"ceremony_id": "C-1", "step": "seal"})]
    assert _derive(*ev).state == "destroyed"


def test_servable_by_home_kind():
    sealed = _derive(*_ceremony())
    assert serving.servable(sealed, practice=True)
    assert not serving.servable(sealed, practice=False)
    active = _derive(
        *_ceremony(),
        _event(5, "custody.transferred", {"pad_id": PAD, "to": "c", "bag_serial": "RD-1"}),
        _event(6, "custody.delivered", {"pad_id": PAD, "received_by": "c", "bag_serial": "RD-1"}),
        _event(7, "pad.activated", {"pad_id": PAD}),
    )
    assert serving.servable(active, practice=False)
    assert serving.servable(None, practice=True) and not serving.servable(None, practice=False)


def test_two_person_types_registered():
    assert states.TWO_PERSON_CUSTODY <= TWO_PERSON_TYPES
    assert "pad.compromised" not in TWO_PERSON_TYPES  # stopping a pad never waits


# -- reconciliation --------------------------------------------------------------------------


def _ws(w2f, f2w, start=(0, 1000)):
    return {
        "pad_id": PAD,
        "side": "workstation",
        "regions": {
            "w2f": {"start": start[0], "end": 1000, "consumed": [list(r) for r in w2f]},
            "f2w": {"start": start[1], "end": 2000, "consumed": [list(r) for r in f2w]},
        },
    }


def _gw(owner, w2f=(), f2w=()):
    return {"owner": owner, "w2f_ranges": [list(r) for r in w2f], "f2w_ranges": list(f2w)}


def test_reconcile_consistent_sides():
    records = [_gw("q1", [(0, 100)], [[1000, 200]]), _gw("q2", [(100, 50)], [[1200, 100]])]
    result = reconcile.reconcile(PAD, records, _ws([(0, 400)], [(1000, 1300)]))
    assert result["ok"]
    assert result["directions"]["w2f"]["sender_tail"] == [[150, 400]]  # a reservation block


def test_reconcile_finds_a_range_the_gateway_never_saw():
    records = [_gw("q1", [(0, 100)]), _gw("q3", [(300, 100)])]
    result = reconcile.reconcile(PAD, records, _ws([(0, 400)], []))
    assert not result["ok"] and result["overlaps"] == 0
    assert result["directions"]["w2f"]["sender_only"] == [[100, 300]]
    assert "used by the workstation only: [100, 300)" in reconcile.render(result, "X")


def test_reconcile_finds_a_planted_overlap():
    records = [_gw("q1", f2w=[[1000, 100]]), _gw("q2", f2w=[[1050, 100]])]
    result = reconcile.reconcile(PAD, records, _ws([], [(1000, 1150)]))
    assert result["overlaps"] == 1
    assert result["directions"]["f2w"]["overlaps"] == [
        {"range": [1050, 1100], "between": ["q1", "q2"]}
    ]
    assert "OVERLAP" in reconcile.render(result, "X")


def test_reconcile_receiver_only_and_gaps():
    records = [_gw("q1", f2w=[[1000, 100]]), _gw("q2", f2w=[[1500, 100]])]
    result = reconcile.reconcile(PAD, records, _ws([], [(1000, 1100), (1300, 1400), (1500, 1600)]))
    f2w = result["directions"]["f2w"]
    assert f2w["receiver_only"] == [[1300, 1400]]
    assert f2w["gaps"] == [[1100, 1300], [1400, 1500]]


def test_interval_helpers():
    assert reconcile.union([(5, 7), (0, 3), (3, 4)]) == [(0, 4), (5, 7)]
    assert reconcile.subtract([(0, 10)], [(2, 3), (5, 12)]) == [(0, 2), (3, 5)]
    assert reconcile.intersect([(0, 10)], [(5, 20)]) == [(5, 10)]


# -- the gateway's poll over a real home ---------------------------------------------------------


def test_ledger_state_poll_reads_new_events_only(tmp_path):
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    with home.open_home(h) as oh:
        officers.enroll(oh.ledger, "alice", "alice passphrase")
        officers.enroll(oh.ledger, "bob", "bob passphrase!!")
        approvers = [("alice", "alice passphrase"), ("bob", "bob passphrase!!")]
        base = {"ceremony_id": "C-1", "pad_id": PAD, "mark": "PRACTICE"}
        for etype, extra in (("pad.generated", {"size": 1}), ("ceremony.closed", {})):
            officers.append_with_officers(oh.ledger, etype, {**base, **extra}, approvers)
        unknown = bytes(16)
        poll = serving.LedgerStatePoll(oh, lambda: [bytes.fromhex(PAD), unknown])
        try:
            assert poll() == []  # practice: a closed pad and an unknown pad are served
            oh.ledger.append_many(
                [EventDraft("link.query", {"pad_id": PAD, "w2f_ranges": []})] * 50
            )
            assert poll() == []
            acts.compromise(oh, PAD, "lost")
            assert poll() == [bytes.fromhex(PAD)]
        finally:
            poll.close()


# -- what the gateway logs and the workstation says after a compromise ----------------------


def test_gateway_log_and_workstation_message_after_a_compromise(tmp_path, caplog):
    import logging
    import threading
    import types

    from custody.errors import WrongPadError
    from custody.link.gateway import Gateway
    from custody.link.presence import Presence
    from custody.link.workstation import WorkstationClient

    h = tmp_path / "home"
    home.init_home(h, practice=True)
    with home.open_home(h) as oh:
        officers.enroll(oh.ledger, "alice", "alice passphrase")
        officers.enroll(oh.ledger, "bob", "bob passphrase!!")
        approvers = [("alice", "alice passphrase"), ("bob", "bob passphrase!!")]
        base = {"ceremony_id": "C-1", "pad_id": PAD, "mark": "PRACTICE"}
        for etype, extra in (("pad.generated", {"size": 1}), ("ceremony.closed", {})):
            officers.append_with_officers(oh.ledger, etype, {**base, **extra}, approvers)
        acts.compromise(oh, PAD, "USB left unattended")
        poll = serving.LedgerStatePoll(oh, lambda: [bytes.fromhex(PAD)])
        try:
            assert poll() == [bytes.fromhex(PAD)]
            assert poll.reason(bytes.fromhex(PAD)) == "compromised"
            # The running gateway's poll loop, on a stand-in gateway with one lane.
            gw = types.SimpleNamespace(
                _lanes={
                    bytes.fromhex(PAD): types.SimpleNamespace(
                        suspended=False, subs=[], policy_token=None
                    )
                },
                _stopping=threading.Event(),
                _spawn=lambda fn, _name: threading.Thread(target=fn, daemon=True).start(),
                set_policy=lambda pid, policy: False,  # the poll also reports policies
            )
            gw.suspend_pad = lambda pid, reason=None: Gateway.suspend_pad(gw, pid, reason)
            with caplog.at_level(logging.WARNING, logger="custody.link.gateway"):
                Gateway.watch_suspensions(gw, poll, interval=0.01)
                for _ in range(200):
                    if gw._lanes[bytes.fromhex(PAD)].suspended:
                        break
                    threading.Event().wait(0.01)
                gw._stopping.set()
        finally:
            poll.close()
    assert f"pad {PAD} no longer served (compromised)" in caplog.text
    assert "suspended" not in caplog.text
    # The workstation says what the gateway's absence may mean, and no more.
    ws = types.SimpleNamespace(
        presence=lambda: Presence(("gw-1",), ()),
        copy=types.SimpleNamespace(manifest=types.SimpleNamespace(pad_id_display="AAAAA-BBBBB")),
    )
    with pytest.raises(WrongPadError) as err:
        WorkstationClient.check_gateway(ws)  # type: ignore[arg-type]
    assert err.value.message == (
        "the facility gateway (gw-1) does not serve pad AAAAA-BBBBB (wrong pad for this "
        "facility, or the pad was suspended, compromised or destroyed at the facility); "
        "no pad was spent"
    )


def test_events_that_do_not_move_a_pad_are_passed_over_quietly(caplog):
    """The custody view feeds every event: a verified-copies or receipt event names the pad but
    changes no state, and is neither an anomaly nor an 'unexpected payload'."""
    base = {"ceremony_id": "C-1", "pad_id": PAD}
    events = [
        *_ceremony()[:2],
        _event(4, "pad.copies_verified", {**base, "copies_verified": True}),
        _event(5, "ceremony.receipt_signed", {**base, "receipt_sha256": "00" * 32}),
        _ceremony()[2],
    ]
    with caplog.at_level("WARNING", logger="custody.lifecycle.states"):
        rec = _derive(*events)
    assert rec.state == "sealed" and not rec.anomalies
    assert not [r for r in caplog.records if "unexpected payload" in r.getMessage()]
    # An unknown pad event is not silently dropped: it is an anomaly on the pad's record.
    odd = _derive(*events, _event(6, "pad.teleported", {"pad_id": PAD}))
    assert odd.state == "sealed"
    assert odd.anomalies == ["event 6: unknown pad event type 'pad.teleported'"]
