"""Pad-keyed frames through real processes: `practice-pad --frame-policy`, `frame seal
--pad-keyed`, and `reddoor ask` printing each half's pad cost and guarantee (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.custody.link.fixtures import free_endpoint, spawn, stop

OTP = "one-time pad (information-theoretic)"
KEYED = "pad-keyed ChaCha20-Poly1305 (computational)"


def _pad(cli, out: Path, *policy: str) -> dict:  # type: ignore[no-untyped-def]
    r = cli("practice-pad", "--size", "1M", "--out", str(out), "--json", *policy)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_frame_cli_pad_keyed_and_its_refusal_on_an_otp_only_pad(cli, tmp_path: Path) -> None:
    info = _pad(cli, tmp_path / "k", "--frame-policy", "pad-keyed")
    assert info["frame_policy"]["mode"] == "pad-keyed"
    ws, fac = str(tmp_path / "k" / "workstation"), str(tmp_path / "k" / "facility")
    sealed = cli("frame", "seal", "--pad", ws, "--pad-keyed", stdin=b"what is 2+2?")
    assert sealed.returncode == 0, sealed.stderr
    h = json.loads(cli("frame", "inspect", stdin=sealed.stdout).stdout)
    assert (h["mode"], h["key_index"], h["range_len"]) == ("pad-keyed", 0, 32)
    opened = cli("frame", "open", "--pad", fac, "--json", stdin=sealed.stdout)
    assert opened.returncode == 0, opened.stderr
    out = json.loads(opened.stdout)
    assert (out["mode"], out["guarantee"], out["range_len"]) == ("pad-keyed", KEYED, 32)
    again = cli("frame", "open", "--pad", fac, stdin=sealed.stdout)
    assert again.returncode == 7 and b"already consumed" in again.stderr
    # An otp-only pad (no policy given: a manifest without the field) refuses to seal one.
    info = _pad(cli, tmp_path / "o")
    assert info["frame_policy"]["mode"] == "otp-only"
    refused = cli(
        "frame", "seal", "--pad", str(tmp_path / "o" / "workstation"), "--pad-keyed", stdin=b"x"
    )
    assert refused.returncode == 7 and refused.stdout == b""
    assert b"pad-keyed frame refused by policy" in refused.stderr
    bad = cli(
        "practice-pad", "--size", "1M", "--out", str(tmp_path / "b"), "--pad-keyed-threshold", "9"
    )
    assert bad.returncode == 2 and b"need --frame-policy" in bad.stderr


def test_ask_prints_each_half_s_cost_and_guarantee(cli, tmp_path: Path) -> None:
    _pad(cli, tmp_path / "k", "--frame-policy", "pad-keyed", "--otp-only-classification", "SECRET")
    ep = free_endpoint()
    gw = spawn(
        "gateway",
        "--pads",
        str(tmp_path / "k" / "facility"),
        "--listen",
        ep,
        "--chronicle",
        str(tmp_path / "chronicle.jsonl"),
        ready="serving",
    )
    try:
        ws = str(tmp_path / "k" / "workstation")
        r = cli("ask", "--pad", ws, "--connect", ep, stdin=b"a question " * 500)
        assert r.returncode == 0, r.stderr
        last = r.stderr.decode().strip().splitlines()[-1]
        assert last == (f"reddoor: question 32 pad bytes, {KEYED}; answer 32 pad bytes, {KEYED}")
        r = cli(
            "ask", "--pad", ws, "--connect", ep, "--classification", "secret", "--json",
            stdin=b"a secret question",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert (out["question_mode"], out["answer_mode"]) == ("otp", "otp")
        assert (out["question_guarantee"], out["answer_guarantee"]) == (OTP, OTP)
        assert out["w2f_pad_bytes"] == 32 + 256
    finally:
        stop(gw)
    records = [json.loads(x) for x in (tmp_path / "chronicle.jsonl").read_text().splitlines()]
    assert [(r["question_mode"], r["answer_mode"]) for r in records] == [
        ("pad-keyed", "pad-keyed"),
        ("otp", "otp"),
    ]
