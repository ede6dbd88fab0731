"""The gateway on a facility home: pads from the HSM vault (real SoftHSM2), chronicle in the
SQLCipher ledger as `link.query` events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custody.ledger import home
from custody.link.chronicle import (
    LEDGER_EVENT,
    Chronicle,
    LedgerChronicleSink,
    QueryRecord,
    merge_ranges,
)
from custody.pad import vault
from custody.pad.practice import make_practice_pad
from custody.pad.store import PAD_NAME, read_manifest
from tests.custody.link.fixtures import free_endpoint, spawn, stop


@pytest.fixture
def facility(tmp_path: Path) -> tuple[Path, Path]:
    """A practice home whose vault holds the facility copy of a practice pad."""
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    make_practice_pad(tmp_path / "p", 1 << 20)
    fac = tmp_path / "p" / "facility"
    m = read_manifest(fac)
    data = (fac / PAD_NAME).read_bytes()
    with home.open_home(h) as oh:
        vault.write_vault(
            oh.path,
            oh.token,
            m,
            lambda i: bytearray(data[i * m.chunk_size : (i + 1) * m.chunk_size]),
        )
    return h, tmp_path / "p" / "workstation"


def _link_events(h: Path) -> list[dict]:
    with home.open_home(h) as oh:
        return [e.payload for e in oh.ledger.events() if e.type == LEDGER_EVENT]


def test_gateway_home_serves_vault_pad_and_chronicles_into_ledger(cli, facility):
    h, ws = facility
    ep = free_endpoint()
    router = spawn("router", "--listen", ep, ready="router listening")
    gw = spawn("gateway", "--home", str(h), "--connect", ep, "--echo-piece", "50", ready="serving")
    question = "which door is crimson? " * 20
    try:
        r = cli(
            "ask",
            "--pad",
            str(ws),
            "--connect",
            ep,
            "--classification",
            "CUI",
            stdin=question.encode(),
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == question + "\n"
        r = cli("ask", "--json", "--pad", str(ws), "--connect", ep, stdin=b"second")
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)
        assert summary["answer"] == "second"
    finally:
        stop(gw)
        stop(router)
    assert gw.returncode == 0
    events = _link_events(h)
    assert len(events) == 2
    first = events[0]
    assert first["classification"] == "CUI" and first["outcome"] == "answered"
    assert first["query_bytes"] > len(question) and first["answer_bytes"] == len(question)
    assert first["backend"] == "echo" and first["gateway"] == "facility"
    assert isinstance(first["total_us"], int) and first["received_at"].endswith("Z")
    assert events[1]["query_id"] == summary["query_id"]
    assert sum(n for _, n in events[1]["f2w_ranges"]) == summary["f2w_pad_bytes"]
    text = json.dumps(events)
    assert "crimson" not in text and "second" not in text  # never plaintext


def test_gateway_home_without_vault_pads_is_a_clear_error(cli, tmp_path):
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    r = cli("gateway", "--home", str(h), "--listen", free_endpoint())
    assert r.returncode != 0
    assert b"vault holds none" in r.stderr and b"Traceback" not in r.stderr


def test_ledger_sink_batches_and_retries(tmp_path):
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    failures = {"left": 1}

    class Flaky(LedgerChronicleSink):
        def write_batch(self, records):  # type: ignore[no-untyped-def]
            if failures["left"]:
                failures["left"] -= 1
                raise OSError("ledger busy")
            super().write_batch(records)

    chron = Chronicle(Flaky(lambda: home.open_home(h)), interval=0.01)
    for i in range(5):
        rec = QueryRecord(f"{i:032x}", "ab" * 16, "facility", "echo", received_at=1.5)
        rec.w2f_ranges = [(100, 10), (110, 5), (200, 1)]
        rec.total_ms = 1.2345
        chron.record_query(rec)
    chron.close()
    assert chron.written == 5 and chron.lost == 0
    events = _link_events(h)
    assert [e["query_id"] for e in events] == [f"{i:032x}" for i in range(5)]
    assert events[0]["w2f_ranges"] == [[100, 15], [200, 1]] and events[0]["total_us"] == 1234


def test_merge_ranges():
    assert merge_ranges([(10, 5), (0, 10), (20, 1)]) == [[0, 15], [20, 1]]
    assert merge_ranges([]) == []


def test_ledger_sink_open_failure_stops_the_gateway_start(tmp_path):
    def bad_opener():  # type: ignore[no-untyped-def]
        raise home.HomeError("no facility home here")

    with pytest.raises(home.HomeError):
        Chronicle(LedgerChronicleSink(bad_opener))


def test_export_consumption_from_the_ledger(cli, tmp_path):
    h = tmp_path / "home"
    home.init_home(h, practice=True)
    chron = Chronicle(LedgerChronicleSink(lambda: home.open_home(h)))
    rec = QueryRecord("11" * 16, "ab" * 16, "facility", "echo")
    rec.w2f_ranges, rec.f2w_ranges = [(0, 288), (288, 288)], [(1000, 544)]
    chron.record_query(rec)
    chron.close()
    r = cli("pad", "export-consumption", "--ledger", "--home", str(h))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["source"] == "gateway-ledger"
    regions = doc["pads"][0]["regions"]
    assert regions["w2f"]["consumed"] == [[0, 576]] and regions["f2w"]["consumed"] == [[1000, 1544]]
