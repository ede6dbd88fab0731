"""`reddoor init`, `reddoor ledger ...` and `reddoor officer ...`: the custody ledger.

Secrets (token PIN, officer passphrases) come from files or a no-echo prompt, never from argv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from app.cli.numeric_options import MAX_SEQ, integer
from custody.bounded_read import read_file
from custody.errors import HsmPinIncorrect, LedgerIntegrityError, ProofError, UsageError
from custody.ledger import checkpoint, home, officers, proofs
from custody.ledger.verify import verify_ledger


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pin = argparse.ArgumentParser(add_help=False)
    pin.add_argument(
        "--pin-file",
        type=Path,
        default=None,
        help="file holding the HSM token PIN (production homes; default: no-echo prompt)",
    )

    init = sub.add_parser(
        "init",
        parents=[common, pin],
        help="create a facility home (ledger, HSM keys, settings)",
        description="Create a facility home. --practice initialises its own SoftHSM2 token "
        "inside the home and keeps its PIN there (0600); a production home uses an existing "
        "token by label and never stores the PIN. Refuses a home that already exists.",
    )
    init.add_argument("--practice", action="store_true", help="practice home with SoftHSM2")
    init.add_argument("--token-label", default=None, help="HSM token label (production)")
    init.add_argument("--module", default=None, help="PKCS#11 module path")
    init.add_argument("--json", action="store_true")
    init.set_defaults(handler=cmd_init)

    ledger = sub.add_parser("ledger", help="the custody ledger", parents=[common])
    lsub = ledger.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)

    verify = lsub.add_parser(
        "verify",
        parents=[common, pin],
        help="recompute chain, tree, signatures; check against checkpoints",
        description="Exit 0 only if every event, signature and checkpoint holds; otherwise name "
        "the first bad event. Checkpoints kept outside the ledger detect truncation/rollback.",
    )
    verify.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="FILE")
    verify.add_argument("--json", action="store_true")
    verify.add_argument(
        "--metrics-textfile",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the result as Prometheus metrics for node_exporter's textfile collector "
        "(PATH ending in .prom; replaced whole), also when the ledger does not verify",
    )
    verify.set_defaults(handler=cmd_verify)

    log_p = lsub.add_parser("log", parents=[common, pin], help="show the events")
    log_p.add_argument("--json", action="store_true", help="one JSON object per line")
    log_p.add_argument("--from", dest="start", type=integer(0, MAX_SEQ), default=0, metavar="SEQ")
    log_p.set_defaults(handler=cmd_log)

    cp = lsub.add_parser("checkpoint", parents=[common, pin], help="emit a signed checkpoint")
    cp.add_argument("--out", type=Path, default=None, help="write the note here (else stdout)")
    cp.set_defaults(handler=cmd_checkpoint)

    prove = lsub.add_parser("prove", parents=[common, pin], help="inclusion proof for an event")
    prove.add_argument("seq", type=integer(0, MAX_SEQ), metavar="SEQ")
    prove.add_argument("--out", type=Path, required=True)
    prove.set_defaults(handler=cmd_prove)

    cons = lsub.add_parser(
        "consistency",
        parents=[common, pin],
        help="consistency proof from an older checkpoint to a new one",
    )
    cons.add_argument("--old", type=Path, required=True, metavar="CHECKPOINT")
    cons.add_argument("--out", type=Path, required=True)
    cons.set_defaults(handler=cmd_consistency)

    vp = lsub.add_parser(
        "verify-proof",
        parents=[common],
        help="verify a proof or checkpoint offline with the public key only",
    )
    vp.add_argument("proof", type=Path, metavar="FILE")
    vp.add_argument("--vkey", type=Path, required=True, help="verifier key file (ledger.vkey)")
    vp.add_argument("--json", action="store_true")
    vp.set_defaults(handler=cmd_verify_proof)

    pub = lsub.add_parser("pubkey", parents=[common], help="print the checkpoint verifier key")
    pub.set_defaults(handler=cmd_pubkey)

    off = sub.add_parser("officer", help="enrol, list and retire officers", parents=[common])
    osub = off.add_subparsers(dest="officer_command", metavar="ACTION", required=True)
    add = osub.add_parser(
        "add",
        parents=[common, pin],
        help="enrol an officer (the first two alone; later ones with two officers' approval)",
    )
    add.add_argument("name")
    add.add_argument("--passphrase-file", type=Path, default=None)
    add.add_argument("--role", choices=officers.ROLES, default="officer")
    _approver_option(add)
    add.add_argument("--json", action="store_true")
    add.set_defaults(handler=cmd_officer_add)

    lst = osub.add_parser("list", parents=[common, pin], help="list officers")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_officer_list)

    ret = osub.add_parser("retire", parents=[common, pin], help="retire an officer (two officers)")
    ret.add_argument("name")
    _approver_option(ret)
    ret.set_defaults(handler=cmd_officer_retire)

    rec = osub.add_parser(
        "recover",
        parents=[common, pin],
        help="enrol an officer when only one is left (that officer and the HSM SO PIN)",
        description="Only after the genesis pair, while exactly one active officer remains: "
        "the remaining officer approves (--officer, once) and another person, the holder of "
        "the HSM token's Security Officer PIN, logs in to the token as its security officer. "
        "The enrolment records that login (token and time, never the PIN) and who held it. "
        'See docs/ledger.md, "Recovery".',
    )
    rec.add_argument("name")
    rec.add_argument("--passphrase-file", type=Path, default=None)
    _approver_option(rec)
    rec.add_argument(
        "--so-holder",
        required=True,
        metavar="NAME",
        help="who enters the security officer PIN (not the approving officer)",
    )
    rec.add_argument(
        "--so-pin-file",
        type=Path,
        default=None,
        help="file holding the token's SO PIN (default: no-echo prompt; a practice home's "
        "stored SO PIN)",
    )
    rec.add_argument("--reason", required=True, help="why recovery is needed (one line)")
    rec.add_argument("--json", action="store_true")
    rec.set_defaults(handler=cmd_officer_recover)


def _approver_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--officer",
        action="append",
        default=[],
        metavar="NAME=PASSFILE",
        help="an approving officer and the file holding their passphrase (give two)",
    )


def _approvers(specs: list[str]) -> list[tuple[str, str]]:
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UsageError("--officer takes NAME=PASSPHRASE_FILE")
        out.append((name, home.read_secret_file(Path(path), "passphrase")))
    return out


def _open(args: argparse.Namespace) -> home.OpenHome:
    path = home.resolve_home(args.home)
    return home.open_home(path, _token_pin(args, home.load_settings(path)))


def _token_pin(args: argparse.Namespace, settings: home.HomeSettings) -> str | None:
    """The token PIN from --pin-file or a prompt; None: a practice home's stored PIN."""
    if args.pin_file is not None:
        return home.read_secret_file(args.pin_file, "PIN")
    if not settings.practice:
        return home.prompt_secret("PIN")
    return None


def _warn(text: str | None) -> None:
    if text:
        print(f"reddoor: warning: {text}", file=sys.stderr)


def _write(path: Path, data: bytes) -> None:
    from custody.durable_file import write_atomic

    write_atomic(path, data, mode=0o644)


def cmd_init(args: argparse.Namespace) -> int:
    path = home.resolve_home(args.home)
    pin = None
    if not args.practice:
        pin = (
            home.read_secret_file(args.pin_file, "PIN")
            if args.pin_file
            else home.prompt_secret("PIN")
        )
    settings = home.init_home(
        path,
        practice=args.practice,
        pin=pin,
        token_label=args.token_label,
        module_path=args.module or home.hsm.DEFAULT_MODULE,
    )
    if args.json:
        out = home.describe(settings)
        out["home"] = str(path)
        out["vkey"] = checkpoint.read_vkey_file(path / home.VKEY)
        print(json.dumps(out, sort_keys=True))
    else:
        kind = "PRACTICE home" if settings.practice else "facility home"
        print(f"{kind} created at {path}")
        print(f"  ledger origin: {settings.origin}")
        print(f"  HSM token:     {settings.token_label}")
        print(f"  verifier key:  {path / home.VKEY}")
        # Nothing remembers the home: every later command is told where it is.
        print(f"  use it with:   reddoor --home {path} COMMAND, or export REDDOOR_HOME={path}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    external = [(str(p), checkpoint.read_note_file(p)) for p in args.checkpoint]
    with _open(args) as h:
        led = h.ledger
        started = time.monotonic()
        report = verify_ledger(
            led.conn,
            origin=led.origin,
            key_name=led.key_name,
            public_key=led.public_key,
            external=external,
        )
        if args.metrics_textfile is not None:
            _write_verify_metrics(args.metrics_textfile, led.conn, report, started)
    if args.json:
        print(json.dumps(report.to_dict(), sort_keys=True))
    elif report.ok:
        print(
            f"ledger verifies: {report.size} events, root {report.root.hex()}, "
            f"{len(report.checkpoints)} checkpoints hold"
        )
    first = report.first_problem
    if first is not None:
        where = f"event {first.seq}: " if first.seq is not None else ""
        more = len(report.problems) - 1
        suffix = f" (and {more} more problems)" if more else ""
        raise LedgerIntegrityError(f"ledger does not verify: {where}{first.what}{suffix}")
    return 0


def _write_verify_metrics(path: Path, conn: Any, report: Any, started: float) -> None:
    """`ledger verify --metrics-textfile`: the same ledger metrics a gateway serves."""
    from custody.ledger.health import LedgerSnapshot, VerifyOutcome, checkpoint_state
    from custody.link.metrics import LedgerCollector, write_textfile

    first = report.first_problem
    outcome = VerifyOutcome(
        report.ok,
        time.time(),
        time.monotonic() - started,
        report.size,
        None if first is None else first.what,
    )
    snap = LedgerSnapshot(checkpoint_state(conn), outcome)
    write_textfile(str(path), [LedgerCollector(lambda: snap)])


def cmd_log(args: argparse.Namespace) -> int:
    with _open(args) as h:
        for event in h.ledger.events(args.start):
            if args.json:
                sys.stdout.write(json.dumps(event.to_dict(), sort_keys=True) + "\n")
            else:
                actors = ",".join(event.actors) or "-"
                signed = (
                    f" approved-by={'+'.join(a['officer'] for a in event.approvals)}"
                    if (event.approvals)
                    else ""
                )
                payload = json.dumps(event.payload, sort_keys=True, ensure_ascii=True)
                sys.stdout.write(
                    f"{event.seq:>6} {event.time} {event.type} actors={actors}{signed} {payload}\n"
                )
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    with _open(args) as h:
        note = h.ledger.checkpoint()
    if args.out:
        _write(args.out, note.encode())
    else:
        sys.stdout.write(note)
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    with _open(args) as h:
        bundle = h.ledger.inclusion_bundle(args.seq)
    _write(args.out, proofs.dumps(bundle))
    return 0


def cmd_consistency(args: argparse.Namespace) -> int:
    old = checkpoint.read_note_file(args.old)
    with _open(args) as h:
        bundle = h.ledger.consistency_bundle(old)
    _write(args.out, proofs.dumps(bundle))
    return 0


def cmd_verify_proof(args: argparse.Namespace) -> int:
    vkey = checkpoint.read_vkey_file(args.vkey)
    try:
        # A proof bundle or a checkpoint: both fit the bundle limit (checkpoints are smaller).
        data = read_file(args.proof, proofs.MAX_BUNDLE_BYTES, "proof file", error=ProofError)
    except OSError as exc:
        raise UsageError(f"cannot read {exc.filename or args.proof}") from None
    result: dict[str, Any]
    if data.lstrip().startswith(b"{"):
        bundle = proofs.loads(data)
        if bundle.get("format") == proofs.CONSISTENCY_FORMAT:
            old, new = proofs.verify_consistency_bundle(bundle, vkey)
            result = {"kind": "consistency", "old_size": old.size, "new_size": new.size}
            text = f"consistent: the ledger at size {new.size} extends size {old.size}"
        else:
            entry = proofs.verify_inclusion_bundle(bundle, vkey)
            result = {
                "kind": "inclusion",
                "seq": entry["seq"],
                "type": entry["type"],
                "entry": entry,
            }
            text = f"included: event {entry['seq']} ({entry['type']}) is in the signed tree"
    else:
        name, public_key = checkpoint.parse_vkey(vkey)
        try:
            cp = checkpoint.verify(data.decode("utf-8"), name, public_key)
        except UnicodeDecodeError:
            raise ProofError("the checkpoint is not UTF-8 text") from None
        result = {"kind": "checkpoint", "origin": cp.origin, "size": cp.size, "root": cp.root.hex()}
        text = f"checkpoint signature holds: {cp.origin} size {cp.size}"
    result["ok"] = True
    print(json.dumps(result, sort_keys=True) if args.json else text)
    return 0


def cmd_pubkey(args: argparse.Namespace) -> int:
    path = home.resolve_home(args.home)
    home.load_settings(path)
    print(checkpoint.read_vkey_file(path / home.VKEY))
    return 0


def cmd_officer_add(args: argparse.Namespace) -> int:
    passphrase = home.secret_from(args.passphrase_file, "passphrase", confirm=True)
    approvers = _approvers(args.officer)
    with _open(args) as h:
        event = officers.enroll(h.ledger, args.name, passphrase, args.role, approvers)
        h.ledger.checkpoint()
    if args.json:
        print(json.dumps(event.to_dict(), sort_keys=True))
    else:
        print(
            f"enrolled {args.role} {args.name} ({event.payload['fingerprint']}), event {event.seq}"
        )
    return 0


def cmd_officer_list(args: argparse.Namespace) -> int:
    with _open(args) as h:
        found = officers.list_officers(h.ledger)
        warning = officers.quorum_warning(h.ledger)
    if args.json:
        print(json.dumps([o.to_dict() for o in found], sort_keys=True))
    elif not found:
        print(
            "no officers yet: enrol the first two with reddoor officer add NAME "
            "--passphrase-file FILE (each their own passphrase)"
        )
    else:
        for o in found:
            state = "active" if o.active else f"retired (event {o.retired_seq})"
            print(f"{o.name}\t{o.role}\t{o.fingerprint}\t{state}")
    _warn(warning)
    return 0


def cmd_officer_retire(args: argparse.Namespace) -> int:
    approvers = _approvers(args.officer)
    with _open(args) as h:
        event = officers.retire(h.ledger, args.name, approvers)
        h.ledger.checkpoint()
        warning = officers.quorum_warning(h.ledger)
    print(f"retired officer {args.name}, event {event.seq}")
    _warn(warning)
    return 0


def cmd_officer_recover(args: argparse.Namespace) -> int:
    """Check the rules first (before anyone types a secret), then the SO login with the home
    closed (PKCS#11 allows one user type per process), then the enrolment."""
    approvers = _approvers(args.officer)
    if len(approvers) != 1:
        raise UsageError("a recovery names the one remaining officer: give --officer once")
    (approver, _) = approvers[0]
    path = home.resolve_home(args.home)
    settings = home.load_settings(path)
    pin = _token_pin(args, settings)
    with home.open_home(path, pin) as h:
        officers.check_recovery(h.ledger, args.name, approver, args.so_holder, args.reason)
    passphrase = home.secret_from(args.passphrase_file, "passphrase", confirm=True)
    so_pin = None
    if args.so_pin_file is not None:
        so_pin = home.read_secret_file(args.so_pin_file, "SO PIN")
    elif not settings.practice:
        so_pin = home.prompt_secret("SO PIN")
    try:
        so_login = home.prove_so_login(path, so_pin)
    except HsmPinIncorrect as exc:
        with home.open_home(path, pin) as h:
            raise officers.so_login_refused(h.ledger, args.name, approver, exc.message) from None
    with home.open_home(path, pin) as h:
        event = officers.recover(
            h.ledger,
            args.name,
            passphrase,
            approvers[0],
            so_login,
            args.so_holder,
            args.reason,
        )
        h.ledger.checkpoint()
    if args.json:
        print(json.dumps(event.to_dict(), sort_keys=True))
    else:
        print(
            f"enrolled officer {args.name} by recovery ({event.payload['fingerprint']}), "
            f"event {event.seq}: approved by {approver}, SO login by {args.so_holder}"
        )
    return 0
