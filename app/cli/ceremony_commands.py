"""`reddoor ceremony run|resume|abort|status|drives`, and the ledger side of `reddoor receipt`.

The command line is the officers' script: passing `--officer NAME=PASSFILE` twice and
`--bag-serial` is their confirmation of each step (the Qt wizard asks on screen instead; both
implement ceremony.handler.CeremonyHandler), except step 10: the printed receipt signed by both
officers is asked on a terminal, or stated afterwards with `ceremony resume --receipt-signed`;
until then the ceremony waits at step 10, its pad made and sealed. Progress and ETA go to
stderr on a terminal; `--json` prints one stable object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.cli import frame_policy_options
from app.cli.numeric_options import MAX_QUERIES_PER_DAY, integer
from ceremony import entropy_metrics, sizing, state_machine, usb_media
from ceremony.ceremony_plan import CeremonyOutcome, CeremonyPlan
from ceremony.entropy_metrics import EntropyMetrics
from ceremony.errors import CeremonyInputNeeded
from ceremony.handler import CeremonyHandler
from ceremony.state_machine import Ceremony
from ceremony.steps import Step
from custody.errors import UsageError
from custody.ledger import home
from custody.pad import ids as pad_id
from custody.pad.manifest import parse_size, parse_split


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pin = argparse.ArgumentParser(add_help=False)
    pin.add_argument("--pin-file", type=Path, default=None, help="HSM token PIN file (production)")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument(
        "--officer",
        action="append",
        default=[],
        metavar="NAME=PASSFILE",
        help="an officer and the file holding their passphrase (give two)",
    )

    textfile = argparse.ArgumentParser(add_help=False)
    textfile.add_argument(
        "--metrics-textfile",
        type=Path,
        default=None,
        metavar="PATH.prom",
        help="write entropy metrics (source rates, health-test values and cutoffs, alarms, pad "
        "statistics) to this file in node_exporter's textfile directory, replaced atomically "
        "while the ceremony runs (default: off; docs/entropy.md, Metrics)",
    )

    cer = sub.add_parser("ceremony", help="the two-person pad ceremony", parents=[common])
    csub = cer.add_subparsers(dest="ceremony_command", metavar="ACTION", required=True)

    run = csub.add_parser(
        "run",
        parents=[common, pin, who, textfile],
        help="generate a pad: customer USB copy, HSM facility copy, receipt",
        description="Run a whole ceremony (docs/ceremony.md). A crash leaves it resumable; a "
        "fault (health alarm, bad statistics, copy mismatch, medium or HSM error) zeroizes "
        "what was generated and records why.",
    )
    run.add_argument("--size", required=True, help="pad size, e.g. 64M, 1G")
    run.add_argument("--customer-dir", type=Path, required=True, help="the USB drive's mount")
    run.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="hwrng|pkcs11|os|PATH",
        help="entropy source (repeat to XOR several; os alone only in practice homes)",
    )
    run.add_argument("--split", default="1:3", help="workstation→facility : facility→workstation")
    run.add_argument("--bag-serial", default=None, help="tamper-evident bag serial")
    run.add_argument("--receipt", type=Path, default=None, help="where to write the receipt PDF")
    run.add_argument(
        "--queries-per-day",
        type=integer(1, int(MAX_QUERIES_PER_DAY), "a number of queries"),
        default=100,
        help="for size suggestions",
    )
    frame_policy_options.add_args(run, default="otp-only")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=cmd_run)

    res = csub.add_parser(
        "resume", parents=[common, pin, who, textfile], help="continue after a crash"
    )
    res.add_argument("--bag-serial", default=None)
    res.add_argument(
        "--receipt-signed",
        action="store_true",
        help="both officers have signed the printed receipt (step 10; asked on a terminal)",
    )
    res.add_argument("--json", action="store_true")
    res.set_defaults(handler=cmd_resume)

    ab = csub.add_parser(
        "abort",
        parents=[common, pin, who],
        help="abort the ceremony in progress: zeroize partial material, record why",
    )
    ab.add_argument("--reason", required=True)
    ab.add_argument("--json", action="store_true")
    ab.set_defaults(handler=cmd_abort)

    st = csub.add_parser("status", parents=[common], help="the ceremony in progress (or last)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(handler=cmd_status)

    dr = csub.add_parser("drives", parents=[common], help="list removable drives")
    dr.add_argument("--json", action="store_true")
    dr.set_defaults(handler=cmd_drives)

    # `reddoor receipt PADID --out FILE` lives in receipt_commands.py; it asks its
    # `load_receipt_data` hook for the pad's ReceiptData, which the ceremony provides here.
    from app.cli import receipt_commands

    receipt_commands.load_receipt_data = load_receipt_data  # type: ignore[assignment]


# -- the command-line handler ----------------------------------------------------------------


class CliHandler(CeremonyHandler):
    """Answers from the command line; progress and facts on stderr."""

    def __init__(
        self,
        officer_specs: Sequence[str],
        bag_serial: str | None,
        *,
        decision: str = "resume",
        receipt_signed: bool = False,
    ) -> None:
        self._specs = list(officer_specs)
        self._bag = bag_serial
        self._decision = decision
        self._receipt_signed = receipt_signed
        self._receipt = ""
        self._tty = sys.stderr.isatty()
        self._started: dict[str, float] = {}
        self._last = 0.0

    def _say(self, text: str) -> None:
        print(f"reddoor: {text}", file=sys.stderr, flush=True)

    def officer_credentials(self, index: int, exclude: Sequence[str]) -> tuple[str, str]:
        if len(self._specs) != 2:
            raise UsageError("a ceremony needs two officers: --officer NAME=PASSFILE twice")
        name, sep, path = self._specs[index].partition("=")
        if not sep or not name or not path:
            raise UsageError("--officer takes NAME=PASSPHRASE_FILE")
        return name, home.read_secret_file(Path(path), "passphrase")

    def confirm(self, step: Step, facts: dict[str, Any]) -> bool:
        # Passing both --officer options is the officers' confirmation; it is reported only
        # once their approval has been checked and recorded (`confirmed`). Step 10 is the
        # exception: no option given before the receipt existed can say it is signed.
        if step.id == "close":
            return self._receipt_is_signed(step)
        return True

    def _receipt_is_signed(self, step: Step) -> bool:
        """`resume --receipt-signed`, or "yes" typed on a terminal; otherwise the ceremony
        waits at step 10 (the state machine destroys nothing after the ceremony closed)."""
        if self._receipt_signed:
            return True
        if not sys.stdin.isatty():
            return False
        self._finish_line()
        self._say(f"the receipt is {self._receipt}: print it; both officers sign it")
        sys.stderr.write(f"{step.question} Type yes (anything else: sign later): ")
        sys.stderr.flush()
        return sys.stdin.readline().strip().lower() == "yes"

    def confirmed(self, step: Step, seq: int) -> None:
        self._finish_line()
        self._say(f"step {step.id}: {step.title} — confirmed by both officers (event {seq})")

    def confirm_fingerprint(self, step: Step, what: str, hex_digest: str, words: str) -> bool:
        self._finish_line()
        self._say(f"{what}: {hex_digest}")
        self._say(f"read aloud: {words}")
        return True

    def bag_serial(self, attempt: int, second: bool) -> str:
        if self._bag is not None:
            return self._bag
        if not sys.stdin.isatty():
            raise CeremonyInputNeeded(
                "no bag serial given and no terminal to type it on; nothing was destroyed and "
                "the ceremony is kept: continue with reddoor ceremony resume --bag-serial S "
                "--officer NAME=PASSFILE --officer NAME=PASSFILE"
            )
        return input("bag serial (again): " if second else "bag serial: ")

    def exception(self, step_id: str, expected: str, happened: str) -> str:
        self._say(f"exception at step {step_id}: expected {expected}; {happened}")
        return self._decision

    def info(self, step: Step, text: str, facts: dict[str, Any] | None = None) -> None:
        facts = facts or {}
        if text == "sources":
            for ident, rate in zip(facts["sources"], facts["rates_bytes_per_second"], strict=True):
                self._say(
                    f"source {ident['name']} ({ident['kind']}): "
                    f"{sizing.format_size(int(rate))}/s measured"
                )
            self._say(
                f"estimated generation time for {facts['size_text']}: {facts['eta_text']}"
                + (" (slow source: consider a smaller pad)" if facts["eta_seconds"] > 3600 else "")
            )
            rows = ", ".join(
                f"{r['days']:g} days → {r['size_text']} ({r['eta_text']})"
                for r in facts["suggestions"]
            )
            self._say(f"sizes for expected usage: {rows}")
        elif text == "customer medium":
            self._say(
                f"customer medium: {facts.get('kind')} {facts.get('vendor', '')} "
                f"{facts.get('model', '')} serial {facts.get('serial') or '-'} at {facts['path']}"
            )
        elif text == "facility copy":
            self._say(f"facility copy: HSM key {facts['key_label']} on token {facts['token']}")
        elif text == "receipt":
            if facts["path"] != self._receipt:  # step 10 names it again
                self._say(f"receipt: {facts['path']}")
            self._receipt = str(facts["path"])
        else:
            self._say(text)

    def progress(self, step: Step, done: int, total: int) -> None:
        if not self._tty or total <= 0:
            return
        now = time.monotonic()
        start = self._started.setdefault(step.id, now)
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        elapsed = max(now - start, 1e-6)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0.0
        sys.stderr.write(
            f"\r  {step.title}: {100 * done / total:5.1f}%  "
            f"{sizing.format_size(int(rate))}/s  ETA {sizing.format_duration(eta)}   "
        )
        sys.stderr.flush()
        if done >= total:
            sys.stderr.write("\n")

    def _finish_line(self) -> None:
        if self._tty:
            sys.stderr.write("\r\033[K")


# -- commands --------------------------------------------------------------------------------


def _open(args: argparse.Namespace) -> home.OpenHome:
    path = home.resolve_home(args.home)
    settings = home.load_settings(path)
    pin = None
    if getattr(args, "pin_file", None) is not None:
        pin = home.read_secret_file(args.pin_file, "PIN")
    elif not settings.practice:
        pin = home.prompt_secret("PIN")
    return home.open_home(path, pin)


def _print_outcome(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(out, sort_keys=True))
        return
    fp = out["fingerprints"]
    print(
        f"{out['mark']} pad {out['pad_id_display']} ({out['size']:,} bytes, split {out['split']})"
    )
    print(f"  Merkle root: {fp['merkle_root']}")
    print(f"               {fp['merkle_root_words']}")
    print(f"  SHA-256:     {fp['pad_sha256']}")
    print(f"  customer:    {out['usb'].get('path')} serial {out['usb'].get('serial') or '-'}")
    print(f"  facility:    HSM key {out['hsm'].get('key_label')} on {out['hsm'].get('token')}")
    print(f"  bag serial:  {out['bag_serial']}")
    print(f"  receipt:     {out['receipt']}")
    if not out["receipt_signed"]:
        print("  waiting:     step 10, the printed receipt signed by both officers")


def _run_to_outcome(ceremony: Ceremony) -> dict[str, Any]:
    """Run the ceremony; after step 9 (the receipt written) a step 10 that cannot be confirmed
    yet is an outcome too: the pad is made, the ceremony waits for the signed paper."""
    try:
        outcome = ceremony.run()
    except CeremonyInputNeeded as exc:
        if ceremony.journal.step_state("receipt") != "done":
            raise
        out = CeremonyOutcome.from_journal(ceremony.journal, ceremony.context.mark).to_dict()
        out["receipt_signed"] = False
        print(f"reddoor: {exc.message}:", file=sys.stderr)
        print(
            "reddoor:   reddoor ceremony resume --receipt-signed --officer NAME=PASSFILE "
            "--officer NAME=PASSFILE",
            file=sys.stderr,
        )
        return out
    out = outcome.to_dict()
    out["receipt_signed"] = True
    return out


def _check_bag_serial(bag_serial: str | None) -> None:
    """A bag serial is needed at the seal step: without --bag-serial it is typed on a terminal.
    Checked before anything starts, not after hours of generation."""
    if bag_serial is None:
        if not sys.stdin.isatty():
            raise UsageError(
                "no --bag-serial given and no terminal to type it on: pass --bag-serial S"
            )
        return
    serial = bag_serial.strip()
    if not serial or len(serial) > 64 or not serial.isprintable():
        raise UsageError("--bag-serial must be 1 to 64 printable characters")


def _check_officer_specs(specs: Sequence[str], what: str) -> None:
    if len(specs) != 2:
        raise UsageError(f"{what} needs two officers: --officer NAME=PASSFILE twice")
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UsageError("--officer takes NAME=PASSPHRASE_FILE")
        # Read now (and again when the step asks), so a bad file stops us before generation.
        home.read_secret_file(Path(path), "passphrase")


def _check_receipt_path(out: Path | None) -> None:
    if out is None:
        return
    parent = out.resolve().parent
    if out.is_dir():
        raise UsageError(f"--receipt {out} is a directory; give a file path")
    if not parent.is_dir():
        raise UsageError(f"--receipt: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--receipt: directory {parent} is not writable")


def _metrics(args: argparse.Namespace) -> EntropyMetrics | None:
    """The --metrics-textfile writer, its path checked before anything starts."""
    if args.metrics_textfile is None:
        return None
    return EntropyMetrics(entropy_metrics.check_path(args.metrics_textfile))


def cmd_run(args: argparse.Namespace) -> int:
    # Every input the ceremony needs is checked here, before anything starts.
    size = parse_size(args.size)
    parse_split(args.split)
    if not args.source:
        raise UsageError("choose at least one entropy source: --source hwrng|pkcs11|os|PATH")
    _check_officer_specs(args.officer, "a ceremony")
    _check_bag_serial(args.bag_serial)
    _check_receipt_path(args.receipt)
    metrics = _metrics(args)
    handler = CliHandler(args.officer, args.bag_serial)
    plan = CeremonyPlan(
        size=size,
        customer_dir=args.customer_dir,
        sources=list(args.source),
        split=args.split,
        receipt_out=args.receipt.resolve() if args.receipt else None,
        queries_per_day=args.queries_per_day,
    )
    with _open(args) as oh:
        # The facility's settings name the classifications kept one-time pad (docs/ledger.md).
        plan.frame_policy = frame_policy_options.policy_from(
            args, oh.settings.otp_only_classifications
        )
        out = _run_to_outcome(Ceremony.begin(oh, plan, handler, metrics=metrics))
        out["home"] = str(oh.path)
    _print_outcome(out, args.json)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    _check_officer_specs(args.officer, "resuming")
    status = state_machine.ceremony_status(home.resolve_home(args.home))
    if status.get("active") and "seal" not in status.get("completed_steps", []):
        _check_bag_serial(args.bag_serial)
    metrics = _metrics(args)
    handler = CliHandler(
        args.officer, args.bag_serial, decision="resume", receipt_signed=args.receipt_signed
    )
    with _open(args) as oh:
        out = _run_to_outcome(Ceremony.resume(oh, handler, metrics=metrics))
        out["home"] = str(oh.path)
    _print_outcome(out, args.json)
    return 0


def cmd_abort(args: argparse.Namespace) -> int:
    _check_officer_specs(args.officer, "aborting")
    handler = CliHandler(args.officer, None, decision=f"abort: {args.reason}")
    with _open(args) as oh:
        out = state_machine.abort(oh, handler, args.reason)
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        print(f"ceremony {out['ceremony_id']} aborted at step {out['step']}; event {out['event']}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    path = home.resolve_home(args.home)
    home.load_settings(path)
    out = state_machine.ceremony_status(path)
    if args.json:
        print(json.dumps(out, sort_keys=True))
    elif out["ceremony_id"] is None:
        print("no ceremony has run in this home")
    else:
        done = ", ".join(out["completed_steps"]) or "none"
        print(f"ceremony {out['ceremony_id']}: {out['state']}; steps done: {done}")
        if out["active"] and out["next_step"] == "close":
            print(
                "  next step: close, the printed receipt signed by both officers "
                "(ceremony resume --receipt-signed; the pad is made, so no abort)"
            )
        elif out["active"]:
            print(f"  next step: {out['next_step']} (resume or abort)")
    return 0


def cmd_drives(args: argparse.Namespace) -> int:
    drives = [d.to_dict() for d in usb_media.list_removable()]
    if args.json:
        print(json.dumps(drives, sort_keys=True))
    elif not drives:
        print("no removable drive with a medium is present")
    for d in drives if not args.json else []:
        print(f"{d['device']}\t{d['vendor']} {d['model']}\tserial {d['serial']}\t{d['size']:,} B")
    return 0


def load_receipt_data(args: argparse.Namespace) -> Any:
    """The ReceiptData of `args.pad_id`, rebuilt from the facility home's ledger."""
    from ceremony import receipt_data

    raw = pad_id.parse(args.pad_id)
    with _open(args) as oh:
        return receipt_data.receipt_data(oh.ledger, raw)
