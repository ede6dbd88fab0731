"""Officers and the two-person rule: every refusal is clear and itself recorded."""

from __future__ import annotations

import pytest

from custody.errors import ApprovalRefused, OfficerError
from custody.ledger import home, officers
from custody.ledger.chain import Approval
from tests.custody.ledger.support import ALICE, BOB, CAROL, make_home, verify_conn


@pytest.fixture
def led(tmp_path):
    make_home(tmp_path / "h")
    with home.open_home(tmp_path / "h") as h:
        officers.enroll(h.ledger, *ALICE)
        officers.enroll(h.ledger, *BOB)
        officers.enroll(h.ledger, *CAROL, approvers=[ALICE, BOB])
        yield h.ledger


def _last(led):
    return list(led.events())[-1]


def _refused(led, reason):
    event = _last(led)
    assert event.type == "approval.refused"
    assert event.payload["reason"] == reason
    return event


def _verifies(led):
    report = verify_conn(led.conn, (led.origin, led.key_name, led.public_key), [])
    assert report.ok, report.to_dict()


def test_two_officers_approve_an_operation(led):
    event = officers.append_with_officers(led, "pad.generated", {"pad_id": "p1"}, [ALICE, BOB])
    assert [a["officer"] for a in event.approvals] == ["alice", "bob"]
    assert len({a["nonce"] for a in event.approvals}) == 1
    _verifies(led)


def test_step_by_step_api(led):
    req = led.request_approval("pad.sealed", {"pad_id": "p1", "bag_serial": "B-1"})
    a = officers.approve(led, req, *ALICE)
    b = officers.approve(led, req, *CAROL)
    event = officers.append_approved(led, req, [a, b])
    assert event.type == "pad.sealed"
    _verifies(led)


def test_same_officer_twice_refused_and_recorded(led):
    with pytest.raises(ApprovalRefused, match="cannot approve twice") as exc:
        officers.append_with_officers(led, "pad.generated", {"pad_id": "p"}, [ALICE, ALICE])
    assert exc.value.reason == "same_officer"
    _refused(led, "same_officer")
    # The same signature presented twice through the low-level API is refused too.
    req = led.request_approval("pad.generated", {"pad_id": "p"})
    a = officers.approve(led, req, *ALICE)
    with pytest.raises(ApprovalRefused, match="twice"):
        officers.append_approved(led, req, [a, a])
    _refused(led, "same_officer")
    _verifies(led)


def test_wrong_passphrase_refused_and_recorded(led):
    with pytest.raises(ApprovalRefused, match="wrong passphrase for officer 'bob'") as exc:
        officers.append_with_officers(
            led, "pad.generated", {"pad_id": "p"}, [ALICE, ("bob", "not bob's passphrase")]
        )
    assert exc.value.reason == "wrong_passphrase"
    event = _refused(led, "wrong_passphrase")
    assert "not bob" not in str(event.payload)
    _verifies(led)


def test_retired_officer_refused_and_recorded(led):
    officers.retire(led, "carol", [ALICE, BOB])
    with pytest.raises(ApprovalRefused, match="retired") as exc:
        officers.append_with_officers(led, "pad.generated", {"pad_id": "p"}, [ALICE, CAROL])
    assert exc.value.reason == "retired_officer"
    _refused(led, "retired_officer")
    with pytest.raises(OfficerError, match="already retired"):
        officers.retire(led, "carol", [ALICE, BOB])
    _verifies(led)


def test_signature_replayed_from_another_operation_refused(led):
    req1 = led.request_approval("pad.generated", {"pad_id": "p1"})
    a1, b1 = officers.approve(led, req1, *ALICE), officers.approve(led, req1, *BOB)
    req2 = led.request_approval("pad.destroyed", {"pad_id": "p1", "method": "crypto-erase"})
    # Replay under the new nonce: the signature covers other content.
    forged = [Approval(a.officer, req2.nonce, a.signature) for a in (a1, b1)]
    with pytest.raises(ApprovalRefused, match="does not cover this operation") as exc:
        officers.append_approved(led, req2, forged)
    assert exc.value.reason == "bad_signature"
    _refused(led, "bad_signature")
    # Replay with the old nonce: made for another operation.
    with pytest.raises(ApprovalRefused, match="another operation"):
        officers.append_approved(led, req2, [a1, b1])
    _refused(led, "replayed")
    # The genuine approvals work once, and never twice.
    officers.append_approved(led, req1, [a1, b1])
    with pytest.raises(ApprovalRefused, match="already used") as exc:
        officers.append_approved(led, req1, [a1, b1])
    assert exc.value.reason == "replayed"
    _refused(led, "replayed")
    _verifies(led)


def test_unknown_and_auditor_cannot_approve(led):
    officers.enroll(led, "dave", "dave passphrase", role="auditor", approvers=[ALICE, BOB])
    with pytest.raises(ApprovalRefused, match="not an officer"):
        officers.append_with_officers(
            led, "pad.generated", {"pad_id": "p"}, [ALICE, ("dave", "dave passphrase")]
        )
    with pytest.raises(ApprovalRefused, match="no officer named 'eve'"):
        officers.append_with_officers(led, "pad.generated", {"pad_id": "p"}, [ALICE, ("eve", "x")])
    _refused(led, "unknown_officer")
    _verifies(led)


def test_two_person_types_need_approval(led):
    with pytest.raises(ApprovalRefused, match="two officers"):
        led.append("officer.retired", {"name": "carol"})


def test_third_officer_needs_two_approvals(led):
    with pytest.raises(ApprovalRefused, match="exactly two"):
        officers.enroll(led, "frank", "frank passphrase", approvers=[ALICE])
    with pytest.raises(OfficerError, match="already enrolled"):
        officers.enroll(led, "alice", "another passphrase", approvers=[ALICE, BOB])
    names = [o.name for o in officers.list_officers(led)]
    assert names == ["alice", "bob", "carol"]


def test_officer_key_is_encrypted_and_verify_catches_forged_approvals(led):
    row = led.conn.execute("SELECT sealed_key, kdf FROM officer_keys WHERE name='alice'").fetchone()
    assert '"alg": "argon2id"' in row[1]
    assert len(row[0]) == 32 + 16  # raw Ed25519 seed + GCM tag, never in the clear
    event = officers.append_with_officers(led, "pad.generated", {"pad_id": "p"}, [ALICE, BOB])
    for name in [
        n[0] for n in led.conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
    ]:
        led.conn.execute(f"DROP TRIGGER {name}")
    # An insider swaps bob's approval for carol's name: signature no longer matches the key.
    forged = event.approvals[1] | {"officer": "carol"}
    import json

    approvals = json.dumps([event.approvals[0], forged], sort_keys=True, separators=(",", ":"))
    led.conn.execute(
        "UPDATE events SET approvals = ? WHERE seq = ?", (approvals.encode(), event.seq)
    )
    report = verify_conn(led.conn, (led.origin, led.key_name, led.public_key), [])
    assert not report.ok
    assert report.first_problem.seq == event.seq
