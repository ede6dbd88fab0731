"""The custody receipt: text, determinism, escaping, and its QR proof verified offline."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest

from custody.documents import receipt, receipt_payload
from custody.errors import ProofError
from custody.fingerprint_words import phrase
from custody.ledger import home, officers
from tests.custody.documents.test_pdf_document import validate_pdfa2b

REPO = Path(__file__).resolve().parents[3]


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    return out.stdout.decode()


def scan_qr(pdf: Path, tmp_path: Path) -> str:
    """Render every page at 150 dpi and decode the QR codes with zbarimg (zbar-tools)."""
    prefix = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(pdf), str(prefix)], check=True)
    found = []
    for png in sorted(tmp_path.glob("page*.png")):
        proc = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True)
        if proc.returncode == 0:
            found += [ln for ln in proc.stdout.decode().splitlines() if ln]
    assert len(found) == 1, found
    return found[0]


def test_receipt_text_holds_fingerprints_serials_and_officers(tmp_path):
    data = receipt.sample_data()
    out = receipt.write_receipt(data, tmp_path / "r.pdf")
    text = pdf_text(out)
    flat = re.sub(r"\s+", "", text)
    assert data.merkle_root.hex() in flat and data.pad_sha256.hex() in flat
    words_text = re.sub(r"\s+", " ", text)
    assert phrase(data.merkle_root) in words_text and phrase(data.pad_sha256) in words_text
    for value in (data.usb["serial"], data.usb["vendor"], data.usb["model"], data.bag_serial):
        assert value in text
    assert data.hsm["token"] in text and data.hsm["key_label"] in text
    for o in data.officers:
        assert o["name"] in text and o["key_fingerprint"] in text
    assert data.pad_id.hex() in flat and data.pad_id_display in text
    assert "PRACTICE" in text and "Page 1 of 2" in text and "Page 2 of 2" in text
    assert "unbreakable" not in text.lower()
    prod = receipt.write_receipt(receipt.sample_data(practice=False), tmp_path / "p.pdf")
    assert "PRACTICE" not in pdf_text(prod)


def test_same_data_same_bytes(tmp_path):
    a = receipt.write_receipt(receipt.sample_data(), tmp_path / "a.pdf").read_bytes()
    b = receipt.write_receipt(receipt.sample_data(), tmp_path / "b.pdf").read_bytes()
    assert a == b
    other = dataclasses.replace(receipt.sample_data(), bag_serial="TEB-OTHER")
    assert receipt.write_receipt(other, tmp_path / "c.pdf").read_bytes() != a


def test_officer_names_are_plain_text(tmp_path):
    data = receipt.sample_data()
    hostile = [
        {"name": '<img src="/etc/passwd"/>', "role": "<font>", "key_fingerprint": "SHA256:1"},
        {"name": "<font name='Helvetica'>bob</font>", "role": "officer", "key_fingerprint": "x"},
    ]
    out = receipt.write_receipt(dataclasses.replace(data, officers=hostile), tmp_path / "h.pdf")
    text = pdf_text(out)
    assert '<img src="/etc/passwd"/>' in text and "<font name='Helvetica'>bob</font>" in text


def test_secret_looking_fields_are_refused(tmp_path):
    data = dataclasses.replace(receipt.sample_data(), hsm={"token": "t", "pin": "1234"})
    with pytest.raises(ValueError, match="secret"):
        receipt.write_receipt(data, tmp_path / "s.pdf")
    data = dataclasses.replace(receipt.sample_data(), usb={"serial": b"\x00raw"})
    with pytest.raises(ValueError, match="raw bytes"):
        receipt.write_receipt(data, tmp_path / "s.pdf")
    assert not (tmp_path / "s.pdf").exists()


def test_qr_payload_scans_and_verifies_offline(tmp_path):
    data = receipt.sample_data()
    out = receipt.write_receipt(data, tmp_path / "r.pdf")
    payload = scan_qr(out, tmp_path)
    assert payload == receipt_payload.encode_payload(data.inclusion_bundle)
    result = receipt_payload.verify_receipt_bundle(payload, data.ledger_public_key)
    assert result.event_type == "ceremony.closed" and result.seq == 40
    assert result.payload["pad_id"] == data.pad_id.hex()
    assert result.payload["merkle_root"] == data.merkle_root.hex()


def _tampered(bundle: dict, **changes) -> str:
    return receipt_payload.encode_payload({**bundle, **changes})


def test_modified_or_foreign_payloads_fail():
    data = receipt.sample_data()
    bundle = data.inclusion_bundle
    import base64

    entry = json.loads(base64.b64decode(bundle["entry"]))
    entry["payload"]["bag_serial"] = "TEB-FORGED"
    forged_entry = base64.b64encode(json.dumps(entry, sort_keys=True).encode()).decode()
    bad = [
        _tampered(bundle, entry=forged_entry),
        _tampered(bundle, seq=bundle["seq"] - 1),
        _tampered(bundle, proof=list(reversed(bundle["proof"]))),
        _tampered(bundle, checkpoint=bundle["checkpoint"].replace("\n41\n", "\n42\n")),
        receipt_payload.encode_payload(bundle)[:-9],
        receipt_payload.encode_payload(bundle).lower(),
        "RDR1:" + receipt_payload.b45encode(b"not zlib"),
        "hello",
    ]
    for payload in bad:
        with pytest.raises(ProofError):
            receipt_payload.verify_receipt_bundle(payload, data.ledger_public_key)
    with pytest.raises(ProofError):
        receipt_payload.verify_receipt_bundle(receipt_payload.encode_payload(bundle), bytes(32))
    with pytest.raises(ProofError, match="not"):
        receipt_payload.verify_receipt_bundle(
            receipt_payload.encode_payload(bundle),
            data.ledger_public_key,
            origin="reddoor.ledger/x",
        )


def test_base45_round_trip_and_rfc_vectors():
    assert receipt_payload.b45encode(b"AB") == "BB8"
    assert receipt_payload.b45encode(b"Hello!!") == "%69 VD92EX0"
    assert receipt_payload.b45encode(b"base-45") == "UJCLQE7W581"
    assert receipt_payload.b45decode("QED8WEX0") == b"ietf!"
    for n in range(0, 40):
        blob = bytes(range(n))
        assert receipt_payload.b45decode(receipt_payload.b45encode(blob)) == blob
    with pytest.raises(ProofError):
        receipt_payload.b45decode("GGW")  # 65536+: out of range


def test_archival_receipt(tmp_path):
    out = receipt.write_receipt(receipt.sample_data(), tmp_path / "a.pdf", archival=True)
    validate_pdfa2b(out.read_bytes())
    assert receipt.sample_data().pad_id_display in pdf_text(out)


def test_real_ledger_receipt_verifies_through_the_cli(tmp_path, cli):
    """A practice home (SoftHSM2, SQLCipher): the closing event of a ceremony, two officers."""
    path = tmp_path / "home"
    home.init_home(path, practice=True)
    a, b = ("alice", "alice passphrase 1"), ("bob", "bob passphrase 22")
    with home.open_home(path) as h:
        led = h.ledger
        officers.enroll(led, *a)
        officers.enroll(led, *b)
        for i in range(200):
            led.append("pad.note", {"pad_id": f"p{i}", "offset": i}, actors=("gateway",))
        sample = receipt.sample_data()
        event = officers.append_with_officers(
            led,
            "ceremony.closed",
            {"pad_id": sample.pad_id.hex(), "bag_serial": sample.bag_serial},
            [a, b],
        )
        bundle = led.inclusion_bundle(event.seq)
        enrolled = [
            {
                "name": o.name,
                "role": o.role,
                "key_fingerprint": officers.key_fingerprint(o.public_key),
            }
            for o in officers.list_officers(led)
        ]
        data = dataclasses.replace(
            sample,
            officers=enrolled,
            checkpoint_note=bundle["checkpoint"],
            inclusion_bundle=bundle,
            ledger_public_key=led.public_key,
            ledger_origin=led.origin,
        )
        vkey = h.vkey
    out = receipt.write_receipt(data, tmp_path / "receipt.pdf")
    text = pdf_text(out)
    for o in enrolled:
        assert o["key_fingerprint"] in text
    payload_file = tmp_path / "payload.txt"
    payload_file.write_text(scan_qr(out, tmp_path))
    proc = cli(
        "receipt",
        "verify",
        "--qr-payload",
        str(payload_file),
        "--pubkey",
        str(path / home.VKEY),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    result = json.loads(proc.stdout)
    assert result["ok"] and result["seq"] == event.seq and result["type"] == "ceremony.closed"
    assert vkey.startswith(result["origin"])
    (tmp_path / "raw.key").write_bytes(data.ledger_public_key)
    ok = cli(
        "receipt",
        "verify",
        "--qr-payload",
        str(payload_file),
        "--pubkey",
        str(tmp_path / "raw.key"),
    )
    assert ok.returncode == 0 and b"verified" in ok.stdout
    payload_file.write_text(payload_file.read_text().replace("RDR1:", "RDR1:A"))
    bad = cli(
        "receipt", "verify", "--qr-payload", str(payload_file), "--pubkey", str(path / home.VKEY)
    )
    assert bad.returncode == 10 and b"Traceback" not in bad.stderr
    assert len(bad.stderr.decode().strip().splitlines()) == 1


def test_sample_cli_and_module(tmp_path, cli):
    proc = cli("receipt", "sample", "--out", str(tmp_path / "s.pdf"), "--archival")
    assert proc.returncode == 0, proc.stderr.decode()
    validate_pdfa2b((tmp_path / "s.pdf").read_bytes())
    proc = cli("receipt", "PAD1", "--out", str(tmp_path / "x.pdf"))
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr
