"""The custody acts that move a pad, each checked against its derived state and recorded:
hand-overs (with bag serial checks and exception records), activation, suspension, resumption,
compromise, retirement, the resync of a facility copy found behind the ledger, and a change of the
pad's frame policy."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.errors import (
    BagSerialMismatch,
    IllegalTransition,
    LifecycleError,
    PadFormatError,
    UsageError,
)
from custody.ledger.entry import Event
from custody.ledger.home import OpenHome
from custody.lifecycle.states import (
    ACTIVATED,
    COMPROMISED_EVENT,
    DELIVERED_EVENT,
    DESTROYED,
    EXCEPTION,
    EXHAUSTED_EVENT,
    FRAME_POLICY_EVENT,
    RESUMED,
    RESYNC_EVENT,
    RETIRED_EVENT,
    SUSPENDED_EVENT,
    TRANSFERRED,
    PadRecord,
    check_transition,
    find_pad,
)
from custody.pad import ids as pad_ids
from custody.pad.frame_policy import FramePolicy
from custody.pad.manifest import Side

log = logging.getLogger(__name__)

# -- recording steps -------------------------------------------------------------------------


def clean_text(text: str, what: str, limit: int = 200) -> str:
    value = (text or "").strip()
    if not value:
        raise UsageError(f"{what} is empty")
    if len(value) > limit or not value.isprintable():
        raise UsageError(f"{what} must be at most {limit} printable characters")
    return value


def record_two(
    oh: OpenHome,
    event_type: str,
    payload: dict[str, Any],
    approvers: Sequence[tuple[str, str]],
) -> Event:
    from custody.ledger import officers

    return officers.append_with_officers(oh.ledger, event_type, payload, approvers)


def base_payload(rec: PadRecord) -> dict[str, Any]:
    return {"pad_id": rec.pad_id, "pad_id_display": rec.display, "mark": rec.mark}


def check_serial(
    oh: OpenHome,
    rec: PadRecord,
    operation: str,
    what: str,
    expected: str,
    found: str,
    approvers: Sequence[tuple[str, str]],
    decision: str | None,
) -> None:
    """A serial that differs opens a two-officer exception record, then stops the step."""
    if found == expected:
        return
    decision = decision or f"{operation} refused: the bag is held unopened and investigated"
    event = record_two(
        oh,
        EXCEPTION,
        {
            **base_payload(rec),
            "operation": operation,
            "what": what,
            "expected": expected,
            "found": found,
            "decision": clean_text(decision, "the decision"),
            "state": rec.state,
        },
        approvers,
    )
    raise BagSerialMismatch(
        f"pad {rec.display}: {what} {found!r} differs from the recorded {expected!r}; "
        f"exception recorded as event {event.seq} (decision: {decision}); {operation} not done"
    )


def _practice_shortcut(oh: OpenHome, what: str) -> None:
    if oh.settings.practice:
        raise IllegalTransition(
            f"this is a practice home: its pads are usable from the close of their ceremony, "
            f"so there is nothing to {what}"
        )


def transfer(
    oh: OpenHome,
    pad: str,
    to: str,
    bag_serial: str,
    approvers: Sequence[tuple[str, str]],
    *,
    decision: str | None = None,
) -> Event:
    rec = find_pad(oh.ledger, pad)
    to = clean_text(to, "the recipient (--to)", 120)
    found = clean_text(bag_serial, "the bag serial", 64)
    check_transition(rec, TRANSFERRED, {"to": to})
    check_serial(oh, rec, "transfer", "bag serial", rec.bag_serial, found, approvers, decision)
    payload = {**base_payload(rec), "to": to, "bag_serial": found, "from_state": rec.state}
    payload["from_holder"] = rec.holder
    return record_two(oh, TRANSFERRED, payload, approvers)


def deliver(
    oh: OpenHome,
    pad: str,
    received_by: str,
    bag_serial: str,
    approvers: Sequence[tuple[str, str]],
    *,
    decision: str | None = None,
) -> Event:
    rec = find_pad(oh.ledger, pad)
    who = clean_text(received_by, "the recipient (--received-by)", 120)
    found = clean_text(bag_serial, "the bag serial", 64)
    check_transition(rec, DELIVERED_EVENT)
    check_serial(oh, rec, "delivery", "bag serial", rec.bag_serial, found, approvers, decision)
    payload = {**base_payload(rec), "received_by": who, "bag_serial": found, "bag_intact": True}
    payload["courier"] = rec.holder
    return record_two(oh, DELIVERED_EVENT, payload, approvers)


def activate(oh: OpenHome, pad: str, approvers: Sequence[tuple[str, str]]) -> Event:
    rec = find_pad(oh.ledger, pad)
    _practice_shortcut(oh, "activate")
    if rec.mark != "PRODUCTION":
        raise IllegalTransition(
            f"pad {rec.display} is a {rec.mark} pad: only production pads are ever activated"
        )
    check_transition(rec, ACTIVATED)
    return record_two(oh, ACTIVATED, {**base_payload(rec), "holder": rec.holder}, approvers)


def suspend(oh: OpenHome, pad: str, reason: str, reported_by: str = "") -> Event:
    rec = find_pad(oh.ledger, pad)
    check_transition(rec, SUSPENDED_EVENT)
    payload = {**base_payload(rec), "reason": clean_text(reason, "the reason (--reason)")}
    actors = (reported_by,) if reported_by else ()
    return oh.ledger.append(SUSPENDED_EVENT, payload, actors=actors)


def resume(oh: OpenHome, pad: str, approvers: Sequence[tuple[str, str]]) -> Event:
    rec = find_pad(oh.ledger, pad)
    target = check_transition(rec, RESUMED)
    return record_two(oh, RESUMED, {**base_payload(rec), "state": target}, approvers)


def compromise(oh: OpenHome, pad: str, reason: str, reported_by: str = "") -> Event:
    """One person, at once: a running gateway stops using the pad within its poll interval."""
    rec = find_pad(oh.ledger, pad)
    check_transition(rec, COMPROMISED_EVENT)
    payload = {
        **base_payload(rec),
        "reason": clean_text(reason, "the reason (--reason)"),
        "from_state": rec.state,
    }
    actors = (reported_by,) if reported_by else ()
    event = oh.ledger.append(COMPROMISED_EVENT, payload, actors=actors)
    oh.ledger.checkpoint()
    return event


def facility_consumption(oh: OpenHome, rec: PadRecord) -> dict[str, Any] | None:
    """What the facility copy's journal says is left (None when the vault holds no copy)."""
    from custody.pad import status as pad_status
    from custody.pad import vault

    directory = vault.vault_dir(oh.path, bytes.fromhex(rec.pad_id))
    if not directory.is_dir():
        return None
    try:
        return pad_status.read_status(directory).to_dict()
    except PadFormatError:
        return None


@dataclass(frozen=True)
class Resync:
    event: Event | None  # None: the copy was not behind, nothing recorded or changed
    forgone: tuple[int, int]  # bytes skipped (sent direction, received direction)
    display: str


def resync(
    oh: OpenHome,
    pad: str,
    approvers: Sequence[tuple[str, str]],
    *,
    pads_dir: Path | None = None,
) -> Resync:
    """Move a facility copy found behind the ledger up to the ledger's marks (two officers).

    The copy is the home's vault copy, or the one in `pads_dir` (a `--pads` directory). It is
    opened without its own rollback checks (they are what refused it) and only ever moved up:
    to the ledger's marks, and to the host witness's if the witness saw a later journal. The
    approved `pad.resynced` event records both marks and the bytes forgone before the journal
    is written; a crash in between leaves a copy that is still behind: run it again.
    """
    from custody.lifecycle import marks as ledger_marks
    from custody.link.pad_providers import DirectoryPadProvider
    from custody.pad import vault
    from custody.pad.store import open_pad_dir

    raw = pad_ids.parse(pad)
    display = pad_ids.display(raw)
    if pads_dir is not None:
        try:
            directory = DirectoryPadProvider(pads_dir).directory(raw)
        except KeyError:
            raise LifecycleError(f"{pads_dir} holds no copy of pad {display}") from None
        copy = open_pad_dir(directory, verify=False)
    else:
        copy = vault.open_vault_copy(oh.path, oh.token, raw, verify=False)
    try:
        if copy.side is not Side.FACILITY:
            raise LifecycleError(f"that copy of pad {display} is not a facility copy")
        witness = copy.witness.read() if copy.witness is not None else None
        plan = ledger_marks.plan_resync(oh.ledger, copy, witness)
        if not plan.gap and (witness is None or witness.generation <= copy.generation):
            copy.close()
            return Resync(None, (0, 0), display)
        event = record_two(oh, RESYNC_EVENT, plan.payload(), approvers)
        forgone = ledger_marks.apply_resync(copy, plan, oh.ledger, actor="pad resync")
        copy.close()
    except BaseException:
        copy.abandon()
        raise
    return Resync(event, forgone, display)


def retire(
    oh: OpenHome, pad: str, approvers: Sequence[tuple[str, str]], reason: str | None = None
) -> Event:
    """`pad.exhausted` when the facility copy has no typical query left, else `pad.retired`."""
    rec = find_pad(oh.ledger, pad)
    status = facility_consumption(oh, rec)
    exhausted = status is not None and int(status["queries_left"]) == 0
    event_type = EXHAUSTED_EVENT if exhausted else RETIRED_EVENT
    check_transition(rec, event_type)
    payload: dict[str, Any] = {**base_payload(rec)}
    if status is not None:
        payload["remaining"] = status["remaining"]
        payload["queries_left"] = status["queries_left"]
    if exhausted:
        payload["reason"] = reason.strip() if reason else "pad exhausted"
    else:
        payload["reason"] = clean_text(
            reason or "", "the reason (--reason; the pad is not exhausted)"
        )
    return record_two(oh, event_type, payload, approvers)


def change_frame_policy(
    oh: OpenHome,
    pad: str,
    policy: FramePolicy,
    approvers: Sequence[tuple[str, str]],
    reason: str,
) -> Event:
    """Record a new frame policy for a pad (two officers): `pad.frame_policy`.

    Never looser than the pad's manifest: the workstation copy knows only its manifest, so a
    looser policy could not take effect there (a new pad is made for that). A running gateway
    of this home enforces the new policy within its poll and announces it to workstations.
    """
    rec = find_pad(oh.ledger, pad)
    why = clean_text(reason, "the reason (--reason)")
    if rec.state == DESTROYED:
        raise IllegalTransition(f"pad {rec.display} is destroyed: it has no frame policy to change")
    manifest = rec.manifest_frame_policy
    if not policy.at_least_as_strict_as(manifest):
        raise LifecycleError(
            f"pad {rec.display}: a frame policy can be made stricter than the pad's manifest "
            f"({manifest.describe()}), never looser: the workstation copy knows only its "
            "manifest. Make a new pad for a looser policy"
        )
    current = rec.policy
    if policy == current:
        raise LifecycleError(f"pad {rec.display} already has frame policy {current.describe()}")
    payload = {
        **base_payload(rec),
        "from": current.to_dict(),
        "to": policy.to_dict(),
        "manifest": manifest.to_dict(),
        "reason": why,
    }
    return record_two(oh, FRAME_POLICY_EVENT, payload, approvers)
