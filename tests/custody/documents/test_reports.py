"""Reports over a synthetic ledger: content, determinism, archival PDF/A-2b, run-sheet."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.cli.report_commands import ceremony_script
from ceremony import steps
from custody.documents.reports import (
    builders,
    consumption,
    inventory,
    pad_custody,
    runsheet,
    shared,
    verification,
)
from custody.ledger import home
from custody.lifecycle import states
from tests.custody.documents.fixtures import build_synthetic_home
from tests.custody.documents.test_pdf_document import _fonts, validate_pdfa2b


def _text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout
    return " ".join(out.decode().split())


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = tmp_path_factory.mktemp("reports") / "home"
    ids = build_synthetic_home(path, pads=12, events=400)
    return path, ids


def _all(path: Path) -> dict[str, dict]:
    with home.open_home(path) as oh:
        state = shared.ledger_state(oh.ledger, practice=True)
        pads = states.scan(oh.ledger)
        first = sorted(pads)[0]
        return {
            "inventory": inventory.inventory_data(state, pads),
            "consumption": consumption.consumption_data(oh.ledger, state, pads, "2026-02-10"),
            "verification": verification.verification_data(oh.ledger, state),
            "pad": pad_custody.pad_data(oh.ledger, state, pads[first]),
            "runsheet": runsheet.runsheet_data(state, ceremony_script()),
        }


def test_every_report_carries_its_checkpoint_and_is_deterministic(synthetic, tmp_path):
    path, _ids = synthetic
    first, second = _all(path), _all(path)
    for name, data in first.items():
        state = data["ledger"]
        assert state["verified"] and state["checkpoint_is_current"], name
        pdf_a = builders.render(data)
        assert pdf_a == builders.render(second[name]), name
        text = _text(pdf_a, tmp_path)
        assert f"size {state['checkpoint_size']}" in text, name
        assert state["origin"] in text, name
        fonts = _fonts(pdf_a)
        assert fonts and all("DejaVu" in f for f in fonts) and all(fonts.values())


def test_report_contents(synthetic, tmp_path):
    path, _ids = synthetic
    data = _all(path)
    inv = _text(builders.render(data["inventory"]), tmp_path)
    assert inv.count("PRACTICE") >= 12 and "RD-000011" in inv and "Pads by state" in inv
    assert data["inventory"]["counts"] == {"sealed": 12}
    con = data["consumption"]
    assert con["days"] and all(d["day"] >= "2026-02-10" for d in con["days"])
    assert sum(p["queries"] for p in con["pads"]) == sum(d["queries"] for d in con["days"])
    pad = data["pad"]["pad"]
    assert [h["type"] for h in pad["history"]] == ["pad.generated", "pad.sealed", "ceremony.closed"]
    assert all(h["proof"] for h in pad["history"])
    assert data["pad"]["last_event_bundle"]["seq"] == pad["history"][-1]["seq"]
    ver = _text(builders.render(data["verification"]), tmp_path)
    assert "VERIFIES" in ver and "alice" in ver and "bob" in ver


def test_receipt_tool_verifies_the_pad_reports_qr_payload(synthetic):
    from custody.documents import receipt_payload

    path, _ids = synthetic
    data = _all(path)["pad"]
    payload = receipt_payload.encode_payload(data["last_event_bundle"])
    with home.open_home(path) as oh:
        result = receipt_payload.verify_receipt_bundle(payload, oh.ledger.public_key)
    assert result.event_type == "ceremony.closed"


def test_runsheet_is_generated_from_the_step_definitions(tmp_path):
    data = runsheet.runsheet_data(None, ceremony_script())
    text = _text(builders.render(data), tmp_path)
    assert steps.script_words() in text
    for s in steps.STEPS:
        assert s.title in text
    assert "Initials A" in text and "Bag serial, read by A" in text and "Decision" in text


@pytest.mark.parametrize("name", ["inventory", "pad", "runsheet"])
def test_archival_output_is_pdfa2b(synthetic, name):
    validate_pdfa2b(builders.render(_all(synthetic[0])[name], archival=True))
