"""Report layout and wording: whole pad-id groups and headers in the consumption table,
plurals, the checkpoint's relation to the ledger, and problems past the last event."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from custody.documents.reports import builders, consumption, inventory, shared, verification
from custody.ledger import home
from custody.lifecycle import states
from tests.custody.documents.fixtures import build_synthetic_home


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = tmp_path_factory.mktemp("wording") / "home"
    build_synthetic_home(path, pads=2, events=40)
    with home.open_home(path) as oh:
        state = shared.ledger_state(oh.ledger, practice=True)
        pads = states.scan(oh.ledger)
        return {
            "state": state,
            "inventory": inventory.inventory_data(state, pads),
            "consumption": consumption.consumption_data(oh.ledger, state, pads),
            "verification": verification.verification_data(oh.ledger, state),
        }


def _lines(data: dict, tmp_path: Path, *, layout: bool = False) -> list[str]:
    path = tmp_path / "r.pdf"
    path.write_bytes(builders.render(data))
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    out = subprocess.run(args, capture_output=True, check=True).stdout.decode()
    return [line.strip() for line in out.splitlines()]


def test_consumption_table_keeps_pad_id_groups_and_headers_whole(synthetic, tmp_path):
    lines = _lines(synthetic["consumption"], tmp_path, layout=True)
    header = next(line for line in lines if line.startswith("Pad ") and "State" in line)
    assert "Queries" in header.split()
    for p in synthetic["consumption"]["pads"]:
        display = p["pad_id_display"]  # 6 groups of 5; printed as 3 + 3 groups
        first = next(line for line in lines if line.startswith(display[:5]))
        assert first.split()[0] == display[:18], first
        assert any(line.split()[:1] == [display[18:]] for line in lines), display


def test_one_pad_is_not_one_pads(synthetic, tmp_path):
    data = dict(synthetic["inventory"])
    data["pads"] = data["pads"][:1]
    text = " ".join(_lines(data, tmp_path))
    assert "1 pad ·" in text and "1 pads" not in text
    text = " ".join(_lines(synthetic["inventory"], tmp_path))
    assert "2 pads ·" in text


def test_checkpoint_wording_follows_the_ledger(synthetic, tmp_path):
    state = synthetic["state"]
    assert state.checkpoint_is_current
    text = " ".join(_lines(synthetic["verification"], tmp_path))
    assert "NOT current" not in text and "(current: covers every event)" in text
    older = dataclasses.replace(state, checkpoint_size=state.size - 3)
    data = {**synthetic["verification"], "ledger": older.to_dict()}
    text = " ".join(_lines(data, tmp_path))
    assert f"covers the first {state.size - 3} events of {state.size}, not the newest" in text
    broken = dataclasses.replace(state, verified=False, problems=["x"])
    data = {**synthetic["verification"], "ledger": broken.to_dict()}
    text = " ".join(_lines(data, tmp_path))
    assert "covers every event, but the ledger does not verify" in text


def test_a_problem_past_the_last_event_names_the_last_event():
    # A checkpoint signed at size 32 over a ledger of 31 events (#0 … #30).
    text = shared._problem_text(31, "truncated or rolled back", 31)
    assert text == "after the last event, #30: truncated or rolled back"
    assert shared._problem_text(7, "bad hash", 31) == "event 7: bad hash"
    assert shared._problem_text(None, "key", 31) == "key"
