"""The facility home and the ledger CLI, through real `python -m app` subprocesses."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from custody import hsm
from custody.ledger import database as ledger_store
from tests.custody.ledger.support import db_key

TOKEN_PIN = "production-pin-42"


def _one_clean_line(proc) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def practice(tmp_path, cli):
    home = tmp_path / "home"
    proc = cli("init", "--home", str(home), "--practice", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    info = json.loads(proc.stdout)
    assert info["practice"] is True
    return home


def _files(tmp_path: Path, **secrets: str) -> dict[str, str]:
    out = {}
    for name, value in secrets.items():
        p = tmp_path / name
        p.write_text(value + "\n")
        p.chmod(0o600)
        out[name] = str(p)
    return out


def test_practice_home_layout_and_modes(practice):
    assert stat.S_IMODE((practice / "practice" / "token-pin").stat().st_mode) == 0o600
    assert stat.S_IMODE((practice / "ledger.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((practice / "ledger-key.sealed").stat().st_mode) == 0o600
    pin = (practice / "practice" / "token-pin").read_text().strip()
    for name in ("settings.json", "ledger.vkey", "ledger-key.sealed", "ledger.db"):
        assert pin.encode() not in (practice / name).read_bytes()
    settings = json.loads((practice / "settings.json").read_text())
    assert settings["practice"] is True and "pin" not in json.dumps(settings).lower()


def test_init_twice_refused(practice, cli):
    before = (practice / "ledger.db").read_bytes()
    proc = cli("init", "--home", str(practice), "--practice")
    assert proc.returncode == 9
    assert "refusing to overwrite" in _one_clean_line(proc)
    assert (practice / "ledger.db").read_bytes() == before


def test_full_cli_flow(practice, cli, tmp_path):
    env = {"REDDOOR_HOME": str(practice)}
    pw = _files(tmp_path, a="alice passphrase", b="bob passphrase!", c="carol passphrase")
    assert cli("officer", "add", "alice", "--passphrase-file", pw["a"], env=env).returncode == 0
    assert cli("officer", "add", "bob", "--passphrase-file", pw["b"], env=env).returncode == 0
    proc = cli("officer", "add", "carol", "--passphrase-file", pw["c"], env=env)
    assert proc.returncode == 11 and "two approving officers" in _one_clean_line(proc)
    proc = cli(
        "officer",
        "add",
        "carol",
        "--passphrase-file",
        pw["c"],
        "--officer",
        f"alice={pw['a']}",
        "--officer",
        f"bob={pw['b']}",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    cp1 = tmp_path / "cp1.txt"
    assert cli("ledger", "checkpoint", "--out", str(cp1), env=env).returncode == 0
    proc = cli(
        "officer",
        "retire",
        "carol",
        "--officer",
        f"alice={pw['a']}",
        "--officer",
        f"alice={pw['a']}",
        env=env,
    )
    assert proc.returncode == 11 and "cannot approve twice" in _one_clean_line(proc)
    proc = cli(
        "officer",
        "retire",
        "carol",
        "--officer",
        f"alice={pw['a']}",
        "--officer",
        f"bob={pw['c']}",
        env=env,
    )
    assert proc.returncode == 11 and "wrong passphrase for officer 'bob'" in _one_clean_line(proc)

    proc = cli("officer", "list", "--json", env=env)
    assert [o["name"] for o in json.loads(proc.stdout)] == ["alice", "bob", "carol"]

    proc = cli("ledger", "log", "--json", env=env)
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [e["seq"] for e in events] == list(range(len(events)))
    types = [e["type"] for e in events]
    assert types[0] == "ledger.created"
    assert types.count("approval.refused") == 3
    assert set(events[0]) == {
        "seq",
        "time",
        "type",
        "actors",
        "payload",
        "approvals",
        "prev_hash",
        "hash",
    }

    proof = tmp_path / "proof.json"
    assert cli("ledger", "prove", "3", "--out", str(proof), env=env).returncode == 0
    vkey = practice / "ledger.vkey"
    # Offline: no home, only the proof and the verifier key.
    proc = cli("ledger", "verify-proof", str(proof), "--vkey", str(vkey), "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["seq"] == 3
    cons = tmp_path / "cons.json"
    assert (
        cli("ledger", "consistency", "--old", str(cp1), "--out", str(cons), env=env).returncode == 0
    )
    proc = cli("ledger", "verify-proof", str(cons), "--vkey", str(vkey))
    assert proc.returncode == 0 and b"consistent" in proc.stdout
    proc = cli("ledger", "verify-proof", str(cp1), "--vkey", str(vkey))
    assert proc.returncode == 0 and b"signature holds" in proc.stdout

    proc = cli("ledger", "verify", "--checkpoint", str(cp1), "--json", env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["first_bad_seq"] is None

    # The database file holds no plaintext: no event types, officer names or origin.
    raw = b"".join(p.read_bytes() for p in practice.glob("ledger.db*"))
    for word in (b"officer.enrolled", b"ledger.created", b"alice", b"carol", b"reddoor.ledger"):
        assert word not in raw

    # An insider with the key edits event 2 and truncates the tail (and its checkpoints).
    conn = ledger_store.open_db(practice / "ledger.db", db_key(practice))
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("UPDATE events SET payload = ? WHERE seq = 2", (b'{"name":"mallory"}',))
    conn.close()
    proc = cli("ledger", "verify", env=env)
    assert proc.returncode == 10
    assert "event 2: content does not match its hash" in _one_clean_line(proc)


def test_truncation_found_with_outside_checkpoint(practice, cli, tmp_path):
    env = {"REDDOOR_HOME": str(practice)}
    pw = _files(tmp_path, a="alice passphrase", b="bob passphrase!")
    cli("officer", "add", "alice", "--passphrase-file", pw["a"], env=env)
    cli("officer", "add", "bob", "--passphrase-file", pw["b"], env=env)
    cp = tmp_path / "receipt-checkpoint.txt"
    assert cli("ledger", "checkpoint", "--out", str(cp), env=env).returncode == 0
    conn = ledger_store.open_db(practice / "ledger.db", db_key(practice))
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DELETE FROM events WHERE seq >= 2")
    conn.execute("DELETE FROM checkpoints WHERE size > 2")
    conn.execute("DELETE FROM officer_keys WHERE name = 'bob'")
    conn.close()
    assert cli("ledger", "verify", env=env).returncode == 0  # alone, a clean prefix
    proc = cli("ledger", "verify", "--checkpoint", str(cp), "--json", env=env)
    assert proc.returncode == 10
    report = json.loads(proc.stdout)
    assert report["first_bad_seq"] == 2
    assert "truncated or rolled back" in report["first_problem"]


def test_wrong_ledger_key_is_one_line(practice, cli, tmp_path):
    other = tmp_path / "other"
    assert cli("init", "--home", str(other), "--practice").returncode == 0
    shutil.copyfile(other / "ledger.db", practice / "ledger.db")
    proc = cli("ledger", "log", "--home", str(practice))
    assert proc.returncode == 9
    assert "does not open with this key" in _one_clean_line(proc)


def test_no_home_is_a_clear_error(cli):
    proc = cli("ledger", "verify")
    assert proc.returncode == 9 and "--home" in _one_clean_line(proc)


@pytest.fixture
def production_token(tmp_path):
    conf = tmp_path / "hsm" / "softhsm2.conf"
    conf.parent.mkdir()
    hsm.write_softhsm_conf(conf, tmp_path / "hsm" / "tokens")
    hsm.init_softhsm_token(conf, "facility-hsm", TOKEN_PIN)
    return {"SOFTHSM2_CONF": str(conf)}


def test_production_home_pin_handling(production_token, cli, tmp_path):
    env = production_token
    home = tmp_path / "prod"
    pins = _files(tmp_path, good=TOKEN_PIN, bad="not-the-pin")
    proc = cli(
        "init", "--home", str(home), "--token-label", "nope", "--pin-file", pins["good"], env=env
    )
    assert proc.returncode == 8 and "no HSM token labelled 'nope'" in _one_clean_line(proc)
    proc = cli(
        "init",
        "--home",
        str(home),
        "--token-label",
        "facility-hsm",
        "--pin-file",
        pins["good"],
        "--module",
        "/nonexistent/pkcs11.so",
        env=env,
    )
    assert proc.returncode == 8 and "module not found" in _one_clean_line(proc)
    proc = cli(
        "init",
        "--home",
        str(home),
        "--token-label",
        "facility-hsm",
        "--pin-file",
        pins["bad"],
        env=env,
    )
    assert proc.returncode == 8 and "refused the PIN" in _one_clean_line(proc)
    assert not (home / "settings.json").exists()
    proc = cli(
        "init",
        "--home",
        str(home),
        "--token-label",
        "facility-hsm",
        "--pin-file",
        pins["good"],
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert not (home / "practice").exists()
    for p in home.iterdir():
        assert TOKEN_PIN.encode() not in p.read_bytes()
    proc = cli("ledger", "verify", "--home", str(home), env=env)
    assert proc.returncode == 2 and "--pin-file" in _one_clean_line(proc)  # no tty to prompt
    proc = cli("ledger", "verify", "--home", str(home), "--pin-file", pins["bad"], env=env)
    assert proc.returncode == 8 and "refused the PIN" in _one_clean_line(proc)
    proc = cli("ledger", "verify", "--home", str(home), "--pin-file", pins["good"], env=env)
    assert proc.returncode == 0, proc.stderr.decode()
