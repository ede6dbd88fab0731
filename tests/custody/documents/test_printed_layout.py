"""The printed documents of a real pad's life (practice home, SoftHSM2, the CLI): identifiers
never wrap, a signature line per officer and one for whoever receives the pad, the destruction
certificate's signatures on the page of its proof, a run-sheet exception table with room, and a
pad report that lists every event the custody view shows."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import pytest
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Table

from app.cli.report_commands import ceremony_script
from app.gui.custody_model import pad_rows
from custody.documents.reports import runsheet
from custody.ledger import home
from tests.ceremony.test_ceremony_support import make_facility, run_ceremony, run_cli

BAG = "TEB-2026-000123"  # the serial the issue saw printed as "TEB-2026-000 / 123"


def _ok(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def _lines(pdf: Path, page: int | None = None) -> list[str]:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run(["pdftotext", *pages, str(pdf), "-"], capture_output=True, check=True)
    return [ln.strip() for ln in out.stdout.decode().splitlines()]


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, check=True).stdout.decode()
    return int(next(ln.split()[-1] for ln in info.splitlines() if ln.startswith("Pages:")))


@pytest.fixture(scope="module")
def life(tmp_path_factory):
    """Ceremony, a refused and a real hand-over, delivery, retirement, crypto-erase; then
    every document."""
    tmp = tmp_path_factory.mktemp("life")
    f = make_facility(tmp)
    docs = tmp / "docs"
    docs.mkdir()
    proc = run_ceremony(f, "--split", "1:1", "--receipt", str(docs / "receipt.pdf"), size="64K")
    out = json.loads(_ok(proc))
    pad = out["pad_id"]
    # The bag was sealed as RD-000123 (run_ceremony); a hand-over reading BAG is refused
    # and recorded as an exception, then the real one goes through.
    officers = f.officer_args()
    run_cli("custody", "transfer", pad, "--to", "courier Dana", "--bag-serial", BAG,
            *officers, env=f.env())  # fmt: skip
    _ok(run_cli("custody", "transfer", pad, "--to", "courier Dana", "--bag-serial",
                "RD-000123", *officers, env=f.env()))  # fmt: skip
    _ok(run_cli("custody", "deliver", pad, "--received-by", "customer Eve", "--bag-serial",
                "RD-000123", *officers, env=f.env()))  # fmt: skip
    _ok(run_cli("pad", "retire", pad, "--reason", "end of trial", *officers, env=f.env()))
    _ok(run_cli("pad", "destroy", pad, "--method", "crypto-erase", *officers, "--certificate",
                str(docs / "certificate.pdf"), env=f.env()))  # fmt: skip
    for name in ("inventory", "runsheet"):
        _ok(run_cli("report", name, "--out", str(docs / f"{name}.pdf"), env=f.env()))
    _ok(run_cli("report", "pad", pad, "--out", str(docs / "pad.pdf"), env=f.env()))
    report = json.loads(_ok(run_cli("report", "pad", pad, "--json", env=f.env())))
    return f, pad, docs, report


@pytest.mark.slow
def test_identifiers_are_never_wrapped(life):
    f, _pad, docs, _report = life
    with home.open_home(f.home) as oh:
        vkey = (oh.path / home.VKEY).read_text().strip()
    key_fields = vkey.split("+")  # origin and key id, then the base64 key itself
    for name in ("receipt", "pad", "inventory", "certificate"):
        lines = _lines(docs / f"{name}.pdf")
        if name != "certificate":  # which names no bag
            assert any("RD-000123" in ln for ln in lines), name
        assert any(key_fields[-1] in ln for ln in lines), (name, "the verifier key's body")
    pad_lines = _lines(docs / "pad.pdf")
    for event in (
        "pad.customer_copy_written",
        "pad.facility_copy_written",
        "ceremony.receipt_signed",
        "custody.transferred",
    ):
        assert event in pad_lines, event  # one cell, one line
    assert any(BAG in ln for ln in pad_lines)  # the refused serial, in the exception's details
    runsheet_lines = _lines(docs / "runsheet.pdf")
    assert "10" in runsheet_lines and not any(
        a == "1" and b == "0" for a, b in itertools.pairwise(runsheet_lines)
    )


@pytest.mark.slow
def test_a_signature_line_per_officer_and_one_for_the_receiver(life):
    _f, _pad, docs, _report = life
    receipt = " ".join(_lines(docs / "receipt.pdf"))
    assert receipt.count("date and time:") == 3  # alice, bob and the receiver
    assert "Received by (courier or customer)" in receipt and "bag serial:" in receipt
    sheet = " ".join(_lines(docs / "runsheet.pdf"))
    for who in ("Officer A", "Officer B", "Received by (courier or customer)"):
        assert who in sheet


@pytest.mark.slow
def test_the_certificate_keeps_its_signatures_with_its_proof(life):
    _f, _pad, docs, _report = life
    cert = docs / "certificate.pdf"
    pages = [" ".join(_lines(cert, n)) for n in range(1, _pages(cert) + 1)]
    signed = [p for p in pages if "Signatures" in p]
    assert len(signed) == 1
    page = signed[0]
    assert "Inclusion proof of the destruction event" in page
    assert "Signed checkpoint" in page and "date and time:" in page


def test_the_runsheet_exception_table_has_room():
    data = runsheet.runsheet_data(None, ceremony_script())
    doc = runsheet.runsheet_pdf(data)
    flowables = []
    for f in doc.story:
        flowables += f._content if isinstance(f, KeepTogether) else [f]
    tables = [t for t in flowables if isinstance(t, Table)]
    grid = next(t for t in tables if "Expected" in str(t._cellvalues[0][1].text))
    rows = grid._argH[1:]
    assert len(rows) >= 6 and all(h >= 14 * mm for h in rows)


@pytest.mark.slow
def test_the_pad_report_lists_every_event_the_custody_view_shows(life):
    f, pad, _docs, report = life
    with home.open_home(f.home) as oh:
        events = list(oh.ledger.events())
    [row] = [r for r in pad_rows(events) if r.pad_id == pad]
    shown = {e.seq for e in row.events}
    listed = {c["seq"] for c in report["pad"]["chain"]}
    assert shown <= listed, sorted(shown - listed)
    types = {c["type"] for c in report["pad"]["chain"]}
    assert {"pad.copies_verified", "ceremony.receipt_signed", "custody.exception"} <= types


def test_a_verifier_key_breaks_only_between_its_fields(tmp_path):
    """A key whose base64 holds '+' and '/' still keeps that base64 on one line."""
    from custody.documents.pdf.document import Document, DocumentInfo
    from custody.documents.pdf.text import Ident

    body = "AWs6Jr+0Txc/mqioFUez2K8c+JvbwT/kYpnYKajCzDyXhX"
    vkey = f"reddoor.ledger/cdb4acd561047938+1e24a25d+{body}"
    doc = Document(DocumentInfo(title="t", created="2026-01-01T00:00:00Z"))
    doc.key_values([("Verifier key", Ident.split_at(vkey, "+", 2)), ("Bag serial", Ident(BAG))])
    doc.table(
        ["#", "Event"], [[Ident("10"), Ident("pad.customer_copy_written")]], col_widths=[0.3, 1]
    )
    out = doc.write(tmp_path / "k.pdf")
    lines = _lines(out)
    assert any(body in ln for ln in lines) and any(BAG in ln for ln in lines)
    assert "10" in lines and "pad.customer_copy_written" in lines
