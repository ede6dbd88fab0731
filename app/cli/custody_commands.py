"""`reddoor custody transfer|deliver|state` and the lifecycle actions of the `pad` group
(`pad activate|suspend|resume|compromise|resync|retire|destroy|reconcile`), hooked in by
pad_commands.

Every step's state comes from the ledger (custody/lifecycle/states.py); two-officer steps take
`--officer NAME=PASSFILE` twice. Secrets come from files, never from argv.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.cli import frame_policy_options
from custody.errors import ReconcileDiscrepancy, ReconcileOverlap, RedDoorError, UsageError


def _pin(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pin-file", type=Path, default=None, help="HSM token PIN file (production)")


def _officers(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--officer",
        action="append",
        default=[],
        metavar="NAME=PASSFILE",
        help="an approving officer and the file holding their passphrase (give two)",
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    cus = sub.add_parser("custody", help="hand-overs of a sealed pad", parents=[common])
    csub = cus.add_subparsers(dest="custody_command", metavar="ACTION", required=True)
    tr = csub.add_parser(
        "transfer",
        parents=[common],
        help="hand the sealed pad to a courier or the customer (two officers)",
        description="Check the bag serial against the one recorded at sealing (or the last "
        "hand-over). A different serial records an exception (expected / found / decision) "
        "and stops: the bag is not handed over.",
    )
    tr.add_argument("pad_id", metavar="PADID")
    tr.add_argument("--to", required=True, help="who receives it (courier, customer)")
    tr.add_argument("--bag-serial", required=True, help="the serial read off the bag now")
    tr.add_argument("--decision", default=None, help="the officers' decision if it differs")
    _officers(tr)
    _pin(tr)
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(handler=cmd_transfer)

    dv = csub.add_parser(
        "deliver",
        parents=[common],
        help="record the sealed pad's delivery, bag intact (two officers)",
    )
    dv.add_argument("pad_id", metavar="PADID")
    dv.add_argument("--received-by", required=True, help="who received it")
    dv.add_argument("--bag-serial", required=True, help="the serial read off the bag on arrival")
    dv.add_argument("--decision", default=None, help="the officers' decision if it differs")
    _officers(dv)
    _pin(dv)
    dv.add_argument("--json", action="store_true")
    dv.set_defaults(handler=cmd_deliver)

    st = csub.add_parser("state", parents=[common], help="a pad's state and history")
    st.add_argument("pad_id", metavar="PADID", nargs="?", help="omit for every pad")
    _pin(st)
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=cmd_state)


def register_pad_actions(psub: Any, common: argparse.ArgumentParser) -> None:
    ac = psub.add_parser(
        "activate",
        parents=[common],
        help="activate a delivered production pad (two officers; production homes)",
        description="Only a delivered, PRODUCTION-marked pad in a production home. A practice "
        "home's pads are usable from the close of their ceremony.",
    )
    ac.add_argument("pad_id", metavar="PADID")
    _officers(ac)
    _pin(ac)
    ac.add_argument("--json", action="store_true")
    ac.set_defaults(handler=cmd_activate)

    for name, helptext in (
        ("compromise", "record a compromise: running gateways stop using the pad at once"),
        ("suspend", "stop using a pad for now (one person; resume takes two officers)"),
    ):
        p = psub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("pad_id", metavar="PADID")
        p.add_argument("--reason", required=True)
        p.add_argument("--by", default="", help="who reports it (recorded as the actor)")
        _pin(p)
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=cmd_compromise if name == "compromise" else cmd_suspend)

    rs = psub.add_parser("resume", parents=[common], help="resume a suspended pad (two officers)")
    rs.add_argument("pad_id", metavar="PADID")
    _officers(rs)
    _pin(rs)
    rs.add_argument("--json", action="store_true")
    rs.set_defaults(handler=cmd_resume)

    ry = psub.add_parser(
        "resync",
        parents=[common],
        help="move a facility copy found behind the ledger up to its marks (two officers)",
        description="A facility copy restored from a backup (or copied) is behind the facility "
        "ledger, and the gateway refuses it (exit 5): serving it would use pad bytes again. "
        "This moves it up to the ledger's marks — every byte the ledger records as used, or "
        "possibly used, is skipped — and records pad.resynced with both officers' approval. It "
        "never moves a copy down, and wastes the skipped pad; nothing is reused.",
    )
    ry.add_argument("pad_id", metavar="PADID")
    ry.add_argument(
        "--pads",
        type=Path,
        default=None,
        help="the --pads directory holding the copy (default: the home's HSM vault)",
    )
    _officers(ry)
    _pin(ry)
    ry.add_argument("--json", action="store_true")
    ry.set_defaults(handler=cmd_resync)

    fp = psub.add_parser(
        "frame-policy",
        parents=[common],
        help="change a pad's frame policy, never looser than its manifest (two officers)",
        description="Record pad.frame_policy: the policy a gateway of this home enforces on "
        "the pad from its next poll, and announces to workstations (docs/protocol.md, "
        "Pad-keyed frames). It can be made stricter than the pad's manifest (e.g. otp-only "
        "after a concern about ChaCha20-Poly1305), or back up to the manifest's, never looser.",
    )
    fp.add_argument("pad_id", metavar="PADID")
    frame_policy_options.add_args(fp, default=None)
    fp.add_argument("--reason", required=True, help="why (recorded)")
    _officers(fp)
    _pin(fp)
    fp.add_argument("--json", action="store_true")
    fp.set_defaults(handler=cmd_frame_policy)

    rt = psub.add_parser(
        "retire",
        parents=[common],
        help="end a pad's use: exhausted (from the facility journal) or retired (two officers)",
    )
    rt.add_argument("pad_id", metavar="PADID")
    rt.add_argument("--reason", default=None, help="why (required unless exhausted)")
    _officers(rt)
    _pin(rt)
    rt.add_argument("--json", action="store_true")
    rt.set_defaults(handler=cmd_retire)

    de = psub.add_parser(
        "destroy",
        parents=[common],
        help="destroy a copy of a pad and print the destruction certificate (two officers)",
        description="crypto-erase: destroy the per-pad HSM key (the facility copy), then check "
        "the token no longer lists it and a kept chunk no longer decrypts. overwrite: zeroize "
        "the customer copy in --usb DIR (best effort on flash). physical: record the witnessed "
        "destruction of the medium (--medium-serial, --physical-method, --witness twice).",
    )
    de.add_argument("pad_id", metavar="PADID")
    de.add_argument("--method", required=True, choices=["crypto-erase", "overwrite", "physical"])
    de.add_argument("--usb", type=Path, default=None, help="customer copy directory (overwrite)")
    de.add_argument("--medium-serial", default=None, help="the medium's serial (physical)")
    de.add_argument("--physical-method", default=None, help="e.g. shredded to 2 mm (physical)")
    de.add_argument("--witness", action="append", default=[], help="a witness (physical)")
    de.add_argument("--certificate", type=Path, default=None, help="certificate PDF path")
    de.add_argument("--archival", action="store_true", help="certificate as PDF/A-2b")
    _officers(de)
    _pin(de)
    de.add_argument("--json", action="store_true")
    de.set_defaults(handler=cmd_destroy)

    rc = psub.add_parser(
        "reconcile",
        parents=[common],
        help="compare the gateway's record of a pad with a workstation's journal export",
        description="Exit 0 when both sides agree; 55 when a range was used twice (overlap: "
        "must never happen); 56 when ranges were used by one side and never seen by the other.",
    )
    rc.add_argument("pad_id", metavar="PADID")
    rc.add_argument(
        "--workstation-journal",
        type=Path,
        required=True,
        metavar="FILE",
        help="reddoor-consumption/1 export of the workstation copy",
    )
    rc.add_argument(
        "--chronicle", type=Path, default=None, help="the gateway's JSONL chronicle (no home)"
    )
    _pin(rc)
    rc.add_argument("--json", action="store_true")
    rc.set_defaults(handler=cmd_reconcile)


# -- helpers ----------------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> Any:
    from app.cli.ledger_commands import _open as open_home

    return open_home(args)


def _approvers(args: argparse.Namespace) -> list[tuple[str, str]]:
    from app.cli.ledger_commands import _approvers as read

    if len(args.officer) != 2:
        raise UsageError("this step needs two officers: --officer NAME=PASSFILE twice")
    return read(args.officer)


def _done(args: argparse.Namespace, event: Any, text: str) -> int:
    if args.json:
        print(json.dumps(event.to_dict(), sort_keys=True))
    else:
        print(f"{text} (event {event.seq})")
    return 0


def _state_text(state: str) -> str:
    return state.replace("_", " ")


# -- handlers ---------------------------------------------------------------------------------


def cmd_transfer(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts

    approvers = _approvers(args)
    with _open(args) as h:
        e = acts.transfer(
            h, args.pad_id, args.to, args.bag_serial, approvers, decision=args.decision
        )
    return _done(args, e, f"pad {e.payload['pad_id_display']} in transit to {e.payload['to']}")


def cmd_deliver(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts

    approvers = _approvers(args)
    with _open(args) as h:
        e = acts.deliver(
            h, args.pad_id, args.received_by, args.bag_serial, approvers, decision=args.decision
        )
    return _done(
        args, e, f"pad {e.payload['pad_id_display']} delivered to {e.payload['received_by']}"
    )


def cmd_state(args: argparse.Namespace) -> int:
    from custody.lifecycle import states

    with _open(args) as h:
        if args.pad_id:
            recs = [states.find_pad(h.ledger, args.pad_id)]
        else:
            recs = [r for r in states.scan(h.ledger).values() if r.ceremony_id]
    if args.json:
        print(json.dumps([r.to_dict() for r in recs], sort_keys=True))
        return 0
    for r in recs:
        print(f"{r.display}  {r.mark:<10} {_state_text(r.state):<12} holder: {r.holder}")
        if args.pad_id:
            for item in r.history:
                who = "+".join(item.approvers) or ",".join(item.actors) or "-"
                print(f"  #{item.seq:<5} {item.time[:19]} {item.type:<26} {who:<16} {item.summary}")
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts

    approvers = _approvers(args)
    with _open(args) as h:
        e = acts.activate(h, args.pad_id, approvers)
    return _done(args, e, f"pad {e.payload['pad_id_display']} is active")


def cmd_compromise(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts

    with _open(args) as h:
        e = acts.compromise(h, args.pad_id, args.reason, args.by)
    return _done(
        args,
        e,
        f"pad {e.payload['pad_id_display']} marked COMPROMISED; running gateways of this home "
        "stop using it within a second",
    )


def cmd_suspend(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts

    with _open(args) as h:
        e = acts.suspend(h, args.pad_id, args.reason, args.by)
    return _done(args, e, f"pad {e.payload['pad_id_display']} suspended")


def cmd_resume(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts

    approvers = _approvers(args)
    with _open(args) as h:
        e = acts.resume(h, args.pad_id, approvers)
    return _done(
        args, e, f"pad {e.payload['pad_id_display']} resumed ({_state_text(e.payload['state'])})"
    )


def cmd_frame_policy(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts
    from custody.pad.frame_policy import FramePolicy

    policy = frame_policy_options.policy_from(args)
    if policy is None:
        raise UsageError("give the new policy: --frame-policy otp-only|otp-preferred|pad-keyed")
    approvers = _approvers(args)
    with _open(args) as h:
        e = acts.change_frame_policy(h, args.pad_id, policy, approvers, args.reason)
    to = FramePolicy.from_dict(e.payload["to"])
    return _done(args, e, f"pad {e.payload['pad_id_display']}: frame policy now {to.describe()}")


def cmd_retire(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts, states

    approvers = _approvers(args)
    with _open(args) as h:
        e = acts.retire(h, args.pad_id, approvers, args.reason)
    word = "exhausted" if e.type == states.EXHAUSTED_EVENT else "retired"
    return _done(args, e, f"pad {e.payload['pad_id_display']} {word}")


def cmd_resync(args: argparse.Namespace) -> int:
    from custody.lifecycle import acts

    approvers = _approvers(args)
    with _open(args) as h:
        done = acts.resync(h, args.pad_id, approvers, pads_dir=args.pads)
    if done.event is None:
        if args.json:
            print(json.dumps({"pad_id_display": done.display, "resynced": False}))
        else:
            print(f"pad {done.display}: the facility copy is not behind the ledger; nothing to do")
        return 0
    sent, received = done.forgone
    return _done(
        args,
        done.event,
        f"pad {done.display}: facility copy moved up to the ledger's marks "
        f"({sent:,} facility→workstation and {received:,} workstation→facility bytes forgone)",
    )


def _check_writable(out: Path) -> None:
    """Refuse, before anything is destroyed, a certificate path that cannot be written."""
    if out.is_dir():
        raise UsageError(f"--certificate {out} is a directory; give a file path")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write the certificate: directory {parent} does not exist")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"cannot write the certificate: {out} is not writable")
    # write_atomic writes a temporary file next to it, then renames: the directory must be
    # writable (os.access also sees read-only mounts).
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write the certificate: directory {parent} is not writable")


def cmd_destroy(args: argparse.Namespace) -> int:
    from ceremony import usb_media
    from custody.documents.reports import destruction_certificate, shared
    from custody.lifecycle import destruction

    approvers = _approvers(args)
    # Where the certificate goes is checked before anything is destroyed or recorded.
    _check_writable(args.certificate if args.certificate else Path.cwd() / "destruction.pdf")
    if args.archival:
        from custody.documents.pdf import archival

        archival.icc_profile()  # PDF/A needs it: a missing profile stops us here, not later
    tools = destruction.MediumTools(usb_media.identify, usb_media.remove_customer_pad)
    with _open(args) as h:
        done = destruction.destroy(
            h,
            args.pad_id,
            args.method,
            approvers,
            usb_dir=args.usb,
            medium_serial=args.medium_serial,
            physical_method=args.physical_method,
            witnesses=args.witness,
            medium_tools=tools,
        )
        state = shared.ledger_state(h.ledger, practice=h.settings.practice)
        data = destruction_certificate.certificate_data(
            h.ledger, state, done.record, done.event.seq
        )
    out = args.certificate or Path(f"destruction-{done.record.pad_id[:12]}-{done.event.seq}.pdf")
    try:
        destruction_certificate.certificate_pdf(data).write(out, archival=args.archival)
    except RedDoorError as exc:
        exc.message = (
            f"{exc.message}; the destruction IS recorded (event {done.event.seq}): "
            f"reddoor report pad {done.record.pad_id} shows it"
        )
        raise
    if args.json:
        print(json.dumps({**data, "certificate": str(out)}, sort_keys=True))
    else:
        print(
            f"pad {done.record.display}: {args.method} of the {done.details['copy']} copy "
            f"recorded (event {done.event.seq}); certificate {out}"
        )
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from custody.lifecycle import reconcile, states
    from custody.pad import ids as pad_ids

    raw = pad_ids.parse(args.pad_id)
    ws = reconcile.load_workstation_export(args.workstation_journal, raw.hex())
    if args.chronicle is not None:
        records = reconcile.gateway_records_from_chronicle(args.chronicle, raw.hex())
        source = str(args.chronicle)
    else:
        with _open(args) as h:
            records = reconcile.gateway_records_from_ledger(h.ledger, raw.hex())
            if not records:  # a pad the gateway never served here: is it known at all?
                states.find_pad(h.ledger, args.pad_id)
        source = "ledger"
    result = reconcile.reconcile(raw.hex(), records, ws, gateway_source=source)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(reconcile.render(result, pad_ids.display(raw)))
    sys.stdout.flush()
    if result["overlaps"]:
        raise ReconcileOverlap(
            f"{result['overlaps']} pad range(s) were used twice: the one-time rule was broken; "
            "suspend the pad (reddoor pad compromise) and investigate"
        )
    if result["one_side"]:
        raise ReconcileDiscrepancy(
            f"{result['one_side']} range(s) were used by one side and never seen by the other"
        )
    return 0
