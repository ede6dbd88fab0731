"""A pad's whole life through the CLI: ceremony, transfer, delivery, use over the link,
exhaustion, destruction, and the reports that show it (practice home, SoftHSM2, real Zenoh)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from custody.errors import HsmError
from custody.ledger import database as ledger_store
from custody.ledger import home
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad import vault
from custody.pad.manifest import Manifest
from custody.pad.store import open_pad_dir
from tests.ceremony.test_ceremony_support import (
    Facility,
    ledger_verifies,
    make_facility,
    one_line,
    run_ceremony,
    run_cli,
)
from tests.custody.link.fixtures import free_endpoint, spawn, stop

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def _pdftext(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout
    return " ".join(out.decode().split())


def _first_page(path: Path) -> str:
    out = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(path), "-"], capture_output=True, check=True
    ).stdout
    return " ".join(out.decode().split())


def _ok(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def _step(f: Facility, *args: str) -> str:
    """Run one lifecycle step, then check the ledger still verifies."""
    out = _ok(run_cli(*args, env=f.env()))
    ledger_verifies(f)
    return out


def _token_objects(f: Facility) -> str:
    """`pkcs11-tool --list-objects`, independently of Red Door (PIN through the environment)."""
    settings = home.load_settings(f.home)
    env = dict(
        os.environ,
        SOFTHSM2_CONF=str(f.home / home.PRACTICE_DIR / home.SOFTHSM_CONF),
        RD_TEST_PIN=home.practice_pin(f.home),
    )
    proc = subprocess.run(
        [
            "pkcs11-tool",
            "--module",
            MODULE,
            "--token-label",
            settings.token_label,
            "--login",
            "--pin",
            "env:RD_TEST_PIN",
            "--list-objects",
        ],
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def _ceremony(f: Facility, size: str = "64K") -> dict:
    proc = run_ceremony(f, "--split", "1:1", size=size)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_a_pads_whole_life(tmp_path):
    f = make_facility(tmp_path)
    out = _ceremony(f)
    pad, display = out["pad_id"], out["pad_id_display"]
    label = f"reddoor-pad-{pad}"
    ledger_verifies(f)
    state = json.loads(_step(f, "custody", "state", pad, "--json"))[0]
    assert state["state"] == "sealed" and state["bag_serial"] == "RD-000123"

    # A wrong bag serial opens an exception record and hands nothing over.
    proc = run_cli(
        "custody", "transfer", display, "--to", "courier Dana", "--bag-serial", "RD-999999",
        *f.officer_args(), env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 52
    line = one_line(proc)
    assert "RD-999999" in line and "RD-000123" in line and "exception recorded" in line
    ledger_verifies(f)
    # Delivering what was never handed over is an illegal transition.
    proc = run_cli(
        "custody", "deliver", pad, "--received-by", "Eve", "--bag-serial", "RD-000123",
        *f.officer_args(), env=f.env(),
    )  # fmt: skip
    assert proc.returncode == 51 and "is sealed: it cannot be delivered" in one_line(proc)

    _step(f, "custody", "transfer", display, "--to", "courier Dana", "--bag-serial",
          "RD-000123", *f.officer_args())  # fmt: skip
    _step(f, "custody", "deliver", pad, "--received-by", "customer Eve", "--bag-serial",
          "RD-000123", *f.officer_args())  # fmt: skip
    # Activation is for production pads in production homes only.
    proc = run_cli("pad", "activate", pad, *f.officer_args(), env=f.env())
    assert proc.returncode == 51 and "practice home" in one_line(proc)
    # An active (usable) pad cannot be destroyed before it is retired.
    proc = run_cli("pad", "destroy", pad, "--method", "crypto-erase", *f.officer_args(),
                   env=f.env())  # fmt: skip
    assert proc.returncode == 51 and "retire it first" in one_line(proc)

    # Consumption over the link until the pad is exhausted.
    ep = free_endpoint()
    router = spawn("router", "--listen", ep, ready="router listening")
    gw = spawn("gateway", "--home", str(f.home), "--connect", ep, ready="serving 1 pad")
    try:
        question = "q" * 20_000
        r = run_cli(
            "ask",
            "--json",
            "--pad",
            str(f.usb),
            "--connect",
            ep,
            stdin=question.encode(),
            env=f.env(),
        )
        assert json.loads(_ok(r))["answer"] == question
        r = run_cli(
            "ask", "--pad", str(f.usb), "--connect", ep, stdin=question.encode(), env=f.env()
        )
        assert r.returncode == 4 and "pad exhausted" in one_line(r)
    finally:
        stop(gw)
        stop(router)
    ledger_verifies(f)

    # Reconcile the gateway's ledger record with the workstation's journal: they agree.
    export = tmp_path / "ws.json"
    _ok(run_cli("pad", "export-consumption", "--pad", str(f.usb), "--out", str(export)))
    rec = json.loads(
        _step(f, "pad", "reconcile", pad, "--workstation-journal", str(export), "--json")
    )
    assert rec["ok"] and rec["gateway_records"] == 1
    assert rec["directions"]["w2f"]["both_bytes"] > 20_000

    out_ret = json.loads(_step(f, "pad", "retire", pad, *f.officer_args(), "--json"))
    assert out_ret["type"] == "pad.exhausted" and out_ret["payload"]["queries_left"] == 0

    # Crypto-erase: the key goes, the token (pkcs11-tool) no longer lists it, a chunk kept
    # from before no longer decrypts.
    assert label in _token_objects(f)
    manifest = Manifest.from_bytes((f.usb / "manifest.json").read_bytes())
    kept = (vault.vault_dir(f.home, manifest.pad_id) / "chunks" / "000000.gcm").read_bytes()
    cert = tmp_path / "certificate.pdf"
    out_d = json.loads(
        _step(
            f,
            "pad",
            "destroy",
            display,
            "--method",
            "crypto-erase",
            *f.officer_args(),
            "--certificate",
            str(cert),
            "--json",
        )
    )
    payload = out_d["event"]["payload"]
    assert payload["keys_destroyed"] == 1 and payload["token_lists_key_after"] is False
    assert label not in _token_objects(f)
    assert not vault.vault_dir(f.home, manifest.pad_id).exists()
    with home.open_home(f.home) as oh:
        assert not oh.token.has_key(label)
        with pytest.raises(HsmError):
            vault.decrypt_chunk(oh.token, label, manifest.pad_id, 0, kept)
    # The certificate's fingerprints match the ledger's.
    text = _pdftext(cert)
    assert "Certificate of destruction" in text and display in text
    assert out["fingerprints"]["merkle_root_words"] in text
    assert f"#{out_d['event']['seq']} pad.destroyed" in text
    # Destroying the same copy twice: a clear refusal.
    proc = run_cli("pad", "destroy", pad, "--method", "crypto-erase", *f.officer_args(),
                   env=f.env())  # fmt: skip
    assert proc.returncode == 53 and "already destroyed" in one_line(proc)
    # The customer copy: overwrite the USB copy that is present.
    assert (f.usb / "pad.bin").exists()
    _step(f, "pad", "destroy", pad, "--method", "overwrite", "--usb", str(f.usb),
          *f.officer_args(), "--certificate", str(tmp_path / "cert2.pdf"))  # fmt: skip
    assert not (f.usb / "pad.bin").exists()

    # The reports show every step.
    pad_pdf = tmp_path / "pad.pdf"
    _step(f, "report", "pad", pad, "--out", str(pad_pdf))
    text = _pdftext(pad_pdf)
    for step in (
        "pad.generated", "pad.sealed", "ceremony.closed", "custody.exception",
        "custody.transferred", "custody.delivered", "pad.exhausted", "pad.destroyed",
        "courier Dana", "customer Eve", "RD-999999", "crypto-erase", "overwrite",
    ):  # fmt: skip
        assert step in text, step
    assert "verifies:" in text and "Signed checkpoint" in text
    inv = tmp_path / "inventory.pdf"
    _step(f, "report", "inventory", "--out", str(inv))
    text = _pdftext(inv)
    assert "destroyed" in text and "RD-000123" in text and "customer Eve" in text
    con = tmp_path / "consumption.pdf"
    _step(f, "report", "consumption", "--out", str(con))
    text = _pdftext(con)
    assert "Queries 1" in text and "per day" in text
    data = json.loads(_step(f, "report", "consumption", "--json"))
    assert data["pads"][0]["queries"] == 1 and data["days"]
    assert (
        json.loads(_step(f, "report", "consumption", "--since", "2999-01-01", "--json"))["days"]
        == []
    )
    ver = tmp_path / "verification.pdf"
    _step(f, "report", "verification", "--out", str(ver), "--checkpoint", str(cp_file(f, tmp_path)))
    text = _pdftext(ver)
    assert "VERIFIES" in text and "alice" in text and "SHA256:" in text
    # Same ledger state, same bytes.
    again = tmp_path / "pad2.pdf"
    _ok(run_cli("report", "pad", pad, "--out", str(again), env=f.env()))
    assert again.read_bytes() == pad_pdf.read_bytes()
    # Secrets never reach reports or the ledger log.
    log = run_cli("ledger", "log", "--json", env=f.env()).stdout
    # PDF page streams are compressed: look in the extracted text, not the raw bytes.
    texts = {p: _pdftext(p) for p in (pad_pdf, inv, con, ver, cert)}
    for secret in ("alice passphrase", "bob passphrase!!", home.practice_pin(f.home)):
        assert secret.encode() not in log
        for p, text in texts.items():
            assert secret not in text, p
            assert secret.encode() not in p.read_bytes()


def cp_file(f: Facility, tmp_path: Path) -> Path:
    path = tmp_path / "outside-checkpoint.txt"
    _ok(run_cli("ledger", "checkpoint", "--out", str(path), env=f.env()))
    return path


@pytest.mark.slow
def test_compromised_pad_is_refused_by_the_running_gateway_within_a_second(tmp_path):
    f = make_facility(tmp_path)
    out = _ceremony(f)
    ep = free_endpoint()
    router = spawn("router", "--listen", ep, ready="router listening")
    gw = spawn("gateway", "--home", str(f.home), "--connect", ep, ready="serving 1 pad")
    try:
        with (
            open_pad_dir(f.usb) as copy,
            Transport(LinkConfig.for_endpoint(ep)) as transport,
        ):
            client = WorkstationClient(copy, transport, presence_timeout=1.0)
            try:
                assert client.presence(2.0).serving_pad
                assert client.ask("before", lambda _s: None).text == "before"
                proc = run_cli("pad", "compromise", out["pad_id"], "--reason",
                               "USB left unattended", "--by", "alice", env=f.env())  # fmt: skip
                _ok(proc)
                recorded = time.monotonic()
                deadline = recorded + 2.0
                refused = False
                while time.monotonic() < deadline:
                    if not client.presence(0.2).serving_pad:
                        refused = True
                        break
                    time.sleep(0.02)
                assert refused, "the gateway still served the pad 2 s after the compromise"
            finally:
                client.close()
        r = run_cli("ask", "--pad", str(f.usb), "--connect", ep, stdin=b"after", env=f.env())
        assert r.returncode == 23 and "does not serve pad" in one_line(r)
    finally:
        stop(gw)
        stop(router)
    ledger_verifies(f)
    state = json.loads(_ok(run_cli("custody", "state", out["pad_id"], "--json", env=f.env())))
    assert state[0]["state"] == "compromised"
    # A compromised pad can be destroyed (no retirement needed), never resumed.
    proc = run_cli("pad", "resume", out["pad_id"], *f.officer_args(), env=f.env())
    assert proc.returncode == 51 and "only a suspended pad" in one_line(proc)


def _tamper(f: Facility) -> None:
    with home.open_home(f.home) as oh:
        key = oh.token.unseal_secret(
            oh.settings.db_key_label,
            (f.home / home.SEALED_KEY).read_bytes(),
            home._db_key_aad(oh.settings.origin),
        )
    conn = ledger_store.open_db(f.home / home.LEDGER_DB, key)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(
        "UPDATE events SET payload = ? WHERE type = 'pad.sealed'", (b'{"bag_serial":"RD-666"}',)
    )
    conn.close()


def test_report_on_an_unverifiable_ledger_says_so_on_its_first_page(tmp_path):
    f = make_facility(tmp_path)
    _ceremony(f)
    _tamper(f)
    for report in ("inventory", "verification", "consumption"):
        out = tmp_path / f"{report}.pdf"
        proc = run_cli("report", report, "--out", str(out), env=f.env())
        assert proc.returncode == 10, proc.stderr.decode()
        assert "does not verify" in one_line(proc)
        first = _first_page(out)
        assert "LEDGER DID NOT VERIFY" in first
        assert "content does not match its hash" in first
    data = json.loads(run_cli("report", "inventory", "--json", env=f.env()).stdout)
    assert data["ledger"]["verified"] is False and not data["ledger"]["checkpoint_is_current"]
