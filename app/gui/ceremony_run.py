"""The ceremony station's worker side: running the state machine, its status, the receipt files.

`CeremonyJob` runs a ceremony body (`begin`, `resume`, `abort`) on the facility home's thread
(the ledger's SQLCipher connection lives there) inside a worker from `app.gui.workers`; the state
machine asks the officers through the job's `QtCeremonyHandler`, whose signals
`app.gui.ceremony_wizard.CeremonyStation` renders. The rest is Qt-free: the interrupted
ceremony's status, the customer directory a new plan suggests, and the receipt PDF's page images
and printing through poppler and CUPS.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.gui.ceremony_handler import QtCeremonyHandler
from app.gui.facility import USB_DIR, Facility
from app.gui.workers import Task, Worker, WorkerRunner
from ceremony import entropy_metrics, state_machine
from ceremony.ceremony_plan import CeremonyOutcome, CeremonyPlan
from ceremony.entropy_metrics import EntropyMetrics
from custody.errors import UsageError
from custody.ledger import officers

log = logging.getLogger(__name__)

# What a job runs on the home's thread: the open home and the handler in, the result out.
Body = Callable[[Any, QtCeremonyHandler], Any]


def _metrics(path: Path | None) -> EntropyMetrics | None:
    """The install's `metrics_textfile` (app.json), checked as `--metrics-textfile` is: a path
    that cannot work stops the ceremony before it begins, with the same one-line message."""
    if path is None:
        return None
    return EntropyMetrics(entropy_metrics.check_path(path, "the metrics_textfile setting"))


def begin(plan: CeremonyPlan, metrics_textfile: Path | None = None) -> Body:
    return lambda oh, h: state_machine.Ceremony.begin(
        oh, plan, h, metrics=_metrics(metrics_textfile)
    ).run()


def resume(metrics_textfile: Path | None = None) -> Body:
    return lambda oh, h: state_machine.Ceremony.resume(
        oh, h, metrics=_metrics(metrics_textfile)
    ).run()


def abort(reason: str) -> Body:
    return lambda oh, h: state_machine.abort(oh, h, reason)


def officer_check(facility: Facility) -> Callable[[str, str], bool]:
    """Runs on the ceremony thread (the home's): the same approval path as every action."""

    def check(name: str, passphrase: str) -> bool:
        oh = facility._home
        if oh is None:
            return False
        req = oh.ledger.request_approval("ceremony.officer_check", {"officer": name}, (name,))
        try:
            officers.approve(oh.ledger, req, name, passphrase)
        except Exception:
            return False
        return True

    return check


class CeremonyJob:
    """One run of a ceremony body. Connect `handler.signals` before `start`: the state machine
    asks at once, and a signal emitted before its slot is connected reaches no one."""

    def __init__(self, facility: Facility, body: Body) -> None:
        self.facility = facility
        self.body = body
        self.worker: Worker | None = None
        self.handler = QtCeremonyHandler(self._cancelled, officer_check(facility))

    def _cancelled(self) -> bool:
        assert self.worker is not None  # asked only by the body, which runs after `start`
        return self.worker.cancelled()

    def start(self, runner: WorkerRunner, name: str) -> Task:
        handler = self.handler

        def job(w: Worker) -> Any:
            self.worker = w
            return self.facility.call(lambda oh: self.body(oh, handler))

        return runner.run(job, name)


def ceremony_status(home: Path) -> dict[str, Any]:
    """The interrupted ceremony, from the journals alone (no token); `{"active": False}` if
    there is none or its status cannot be read."""
    try:
        return state_machine.ceremony_status(home)
    except Exception as exc:
        log.info("ceremony status unreadable (%s)", type(exc).__name__)
        return {"active": False}


def status_text(st: dict[str, Any]) -> str:
    """The plan page's line: what the interrupted ceremony did, or who is needed."""
    if st.get("active") and st.get("next_step") == "close":
        return (
            f"Ceremony {st.get('ceremony_id')} waits at step 10: its pad is made and sealed, "
            "and both officers still have to confirm the printed receipt is signed. Resume it "
            "once they have (it cannot be aborted: a made pad is destroyed through custody)."
        )
    if st.get("active"):
        done = ", ".join(st.get("completed_steps", [])) or "none"
        return (
            f"Ceremony {st.get('ceremony_id')} was interrupted. Completed steps: {done}. "
            f"Next: {st.get('next_step')}. Resume it (both officers authenticate again) or "
            "abort it (its material is destroyed)."
        )
    return "Two officers are needed. The station asks each for their own passphrase."


def new_customer_dir(facility: Facility) -> Path:
    """Practice: a new directory in the home's "USB"; production: where drives are mounted."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    if facility.practice:
        return facility.path / USB_DIR / f"ceremony-{stamp}"
    return Path("/media")


def closed_text(result: CeremonyOutcome) -> str:
    return (
        f"Pad {result.pad_id_display} [{result.mark}], {result.size:,} bytes, split "
        f"{result.split}, bag {result.bag_serial}, signed by "
        f"{' and '.join(result.officers)}."
    )


def receipt_problem(path: Path | None, sha256_hex: str) -> str:
    """Why step 10 cannot be confirmed yet ("" when it can): the receipt must be on disk with
    the SHA-256 the step records."""
    if path is None:
        return "The station has not written a receipt for this ceremony."
    try:
        data = path.read_bytes()
    except OSError:
        return f"The receipt {path} is missing."
    if sha256_hex and hashlib.sha256(data).hexdigest() != sha256_hex:
        return f"The receipt {path} is not the one this ceremony wrote (its SHA-256 differs)."
    return ""


def render_pdf_pages(pdf: Path, out_dir: Path, dpi: int = 60) -> list[Path]:
    """Page images of `pdf` through poppler's pdftoppm (QtPdf is not in PySide6-Essentials)."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        return []
    subprocess.run(
        [exe, "-r", str(dpi), "-png", str(pdf), str(out_dir / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return sorted(out_dir.glob("page*.png"))


def print_pdf(pdf: Path, printer: str) -> None:
    """Send the vector PDF to CUPS (a rasterised job of the same receipt is 250x larger)."""
    subprocess.run(
        ["lp", "-d", printer, "--", str(pdf)], check=True, capture_output=True, timeout=60
    )


@dataclass(frozen=True)
class PrintTarget:
    """What the print dialog chose: a CUPS printer by name, or a PDF file (Qt's "Print to File
    (PDF)", offered on a desktop install only: a kiosk confines files to its folders)."""

    printer: str = ""
    pdf_file: Path | None = None

    def describe(self) -> str:
        return f"file {self.pdf_file}" if self.pdf_file else f"printer {self.printer}"


def print_receipt(pdf: Path, target: PrintTarget) -> str:
    """Print the receipt to `target`; returns where it went, in words.

    A PDF file target gets the receipt's own bytes (the SHA-256 recorded at step 10 stays
    true of the file, and nothing is rasterised); a printer gets the vector PDF through CUPS."""
    if target.pdf_file is not None:
        if target.pdf_file.resolve() != pdf.resolve():
            try:
                shutil.copyfile(pdf, target.pdf_file)
            except OSError as exc:
                raise UsageError(
                    f"could not write {target.pdf_file}: {exc.strerror or type(exc).__name__}"
                ) from None
        return target.describe()
    if not target.printer:
        raise UsageError("no printer was chosen")
    try:
        print_pdf(pdf, target.printer)
    except (OSError, subprocess.SubprocessError) as exc:
        raise UsageError(f"CUPS did not take the job ({type(exc).__name__})") from None
    return target.describe()
