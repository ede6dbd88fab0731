"""`reddoor report inventory|pad|consumption|verification|runsheet`: auditor reports as PDF
(through custody.documents.pdf) or JSON. Every report carries the checkpoint it reflects; a
ledger that does not verify is said so on the first page, and the command then exits 10."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from custody.errors import LedgerIntegrityError, UsageError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--out", type=Path, default=None, help="PDF to write (default: REPORT.pdf)")
    out.add_argument("--json", action="store_true", help="print the report's data as JSON")
    out.add_argument("--archival", action="store_true", help="PDF/A-2b for long-term archives")
    out.add_argument("--pin-file", type=Path, default=None, help="HSM token PIN (production)")
    out.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint kept outside the ledger to verify against (repeat)",
    )

    rep = sub.add_parser("report", help="auditor reports (PDF or JSON)", parents=[common])
    rsub = rep.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    inv = rsub.add_parser(
        "inventory", parents=[common, out], help="every pad: state, copies, consumption"
    )
    inv.set_defaults(handler=cmd_report, report="inventory")
    pad = rsub.add_parser(
        "pad", parents=[common, out], help="one pad's chain of custody with ledger proofs"
    )
    pad.add_argument("pad_id", metavar="PADID")
    pad.set_defaults(handler=cmd_report, report="pad")
    con = rsub.add_parser(
        "consumption", parents=[common, out], help="per pad and per direction, with a chart"
    )
    con.add_argument("--since", default=None, metavar="YYYY-MM-DD")
    con.set_defaults(handler=cmd_report, report="consumption")
    ver = rsub.add_parser(
        "verification",
        parents=[common, out],
        help="ledger verify against the checkpoints given; officers and their keys",
    )
    ver.set_defaults(handler=cmd_report, report="verification")
    run = rsub.add_parser(
        "runsheet",
        parents=[common, out],
        help="the printed ceremony run-sheet (from ceremony/steps.py)",
        description="Needs no home; with --home the run-sheet also carries the ledger's "
        "current checkpoint.",
    )
    run.set_defaults(handler=cmd_report, report="runsheet")


def _since(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise UsageError(f"--since takes a date YYYY-MM-DD, not {text!r}") from None


def _external(paths: list[Path]) -> list[tuple[str, str]]:
    from custody.ledger.checkpoint import read_note_file

    return [(str(p), read_note_file(p)) for p in paths]


def ceremony_script() -> dict[str, Any]:
    """The run-sheet's content, from the same step definitions the station runs."""
    from ceremony import steps

    return {
        "sha256": steps.script_sha256().hex(),
        "words": steps.script_words(),
        "steps": [
            {
                "n": i,
                "id": s.id,
                "title": s.title,
                "activity": s.activity,
                "confirms": s.confirms,
                "event": s.event,
            }
            for i, s in enumerate(steps.STEPS, 1)
        ],
    }


def build(args: argparse.Namespace) -> dict[str, Any]:
    from app.cli.ledger_commands import _open
    from custody.documents.reports import builders, runsheet, shared

    kind = args.report
    if kind == "runsheet" and args.home is None:
        return runsheet.runsheet_data(None, ceremony_script())
    since = _since(getattr(args, "since", None))
    external = _external(args.checkpoint)
    with _open(args) as h:
        if kind == "runsheet":
            state = shared.ledger_state(h.ledger, practice=h.settings.practice, external=external)
            return runsheet.runsheet_data(state, ceremony_script())
        return builders.ledger_report_data(
            h.ledger,
            kind,
            practice=h.settings.practice,
            pad_id=getattr(args, "pad_id", None),
            since=since,
            external=external,
        )


def cmd_report(args: argparse.Namespace) -> int:
    from custody.documents.reports.builders import BUILDERS

    data = build(args)
    if args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        out = args.out or Path(f"{args.report}.pdf")
        BUILDERS[data["report"]](data).write(out, archival=args.archival)
        print(out)
    ledger = data.get("ledger")
    if ledger is not None and not ledger["verified"]:
        sys.stdout.flush()
        first = ledger["problems"][0] if ledger["problems"] else "unknown problem"
        raise LedgerIntegrityError(
            f"the report was written, marked on its first page: the ledger does not verify "
            f"({first})"
        )
    return 0
