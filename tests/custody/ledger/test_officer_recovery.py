"""The two-person rule after a retirement: the genesis pair, and recovery (issue #11, item 2).

Real practice homes (SoftHSM2 token, SQLCipher ledger) and real `reddoor` processes. Forgeries
are appended by an insider through the Python API (as someone with the token PIN and an
officer's passphrase could), and `ledger verify` must name them.
"""

from __future__ import annotations

import json

import pytest

from custody.ledger import home, officers
from custody.ledger.chain import EventDraft
from tests.custody.ledger.support import ALICE, BOB, CAROL, make_home, verify_conn
from tests.custody.ledger.test_home_cli import _files, _one_clean_line


@pytest.fixture
def solo(tmp_path, cli):
    """A practice home whose genesis pair was alice and bob; bob is retired: alice is alone."""
    path = tmp_path / "home"
    assert cli("init", "--home", str(path), "--practice").returncode == 0
    env = {"REDDOOR_HOME": str(path)}
    pw = _files(tmp_path, a=ALICE[1], b=BOB[1], m="mallory passphrase", c=CAROL[1])
    assert cli("officer", "add", "alice", "--passphrase-file", pw["a"], env=env).returncode == 0
    assert cli("officer", "add", "bob", "--passphrase-file", pw["b"], env=env).returncode == 0
    proc = cli(
        "officer", "retire", "bob", "--officer", f"alice={pw['a']}", "--officer",
        f"bob={pw['b']}", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    return path, env, pw, proc


def _log(cli, env):
    proc = cli("ledger", "log", "--json", env=env)
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _verify(cli, env):
    return cli("ledger", "verify", env=env)


def _recover(cli, env, pw, *extra, name="carol", approver="alice", holder="Sam Custodian"):
    return cli(
        "officer", "recover", name, "--passphrase-file", pw["c"],
        "--officer", f"{approver}={pw['a']}", "--so-holder", holder,
        "--reason", "bob left the facility", *extra, env=env,
    )  # fmt: skip


# -- the genesis pair ----------------------------------------------------------------------


def test_enrolment_after_a_retirement_needs_two_officers(solo, cli):
    _, env, pw, retired = solo
    proc = cli("officer", "add", "mallory", "--passphrase-file", pw["m"], env=env)
    assert proc.returncode == 11
    line = _one_clean_line(proc)
    assert "only one active officer" in line and "officer recover" in line
    assert "docs/ledger.md" in line
    names = [o["name"] for o in json.loads(cli("officer", "list", "--json", env=env).stdout)]
    assert names == ["alice", "bob"]
    last = _log(cli, env)[-1]
    assert last["type"] == "approval.refused"
    assert last["payload"]["reason"] == "two_officers_needed"
    assert _verify(cli, env).returncode == 0
    # The home says so: at the retirement, and whenever the officers are listed.
    warning = _one_clean_line(retired)
    assert warning.startswith("reddoor: warning: ") and "officer recover" in warning
    assert "officer recover" in _one_clean_line(cli("officer", "list", env=env))


def test_verify_rejects_a_bootstrap_enrolment_after_the_genesis_pair(solo, cli):
    """What today's code wrote for `officer add mallory` after bob's retirement: an insider
    appends it directly, and an auditor's verify refuses it."""
    path, env, _, _ = solo
    with home.open_home(path) as h:
        forged = h.ledger.append_many(
            [EventDraft("officer.enrolled", _enrolment("mallory", bootstrap=True), ("mallory",))]
        )[0]
    proc = _verify(cli, env)
    assert proc.returncode == 10
    line = _one_clean_line(proc)
    assert f"event {forged.seq}: " in line and "genesis pair" in line


def test_auditors_do_not_open_or_close_the_genesis_pair(tmp_path):
    """Only signing officers form the genesis pair: an auditor never enrols alone, and one
    officer plus an auditor leave the pair open for the second officer."""
    make_home(tmp_path / "h")
    with home.open_home(tmp_path / "h") as h:
        led = h.ledger
        officers.enroll(led, *ALICE)
        with pytest.raises(Exception, match="auditor") as exc:
            officers.enroll(led, "dave", "dave passphrase", role="auditor")
        assert getattr(exc.value, "exit_code", None) == 11
        # An insider writes the bootstrap auditor anyway: verify names it.
        led.append_many(
            [EventDraft("officer.enrolled", _enrolment("dave", "auditor", True), ("dave",))]
        )
        report = verify_conn(led.conn, (led.origin, led.key_name, led.public_key), [])
        assert not report.ok and "auditor" in report.first_problem.what


# -- recovery ------------------------------------------------------------------------------


@pytest.mark.slow
def test_recovery_needs_the_so_pin_and_the_remaining_officer(solo, cli, tmp_path):
    path, env, pw, _ = solo
    so_pin_file = path / home.PRACTICE_DIR / home.SO_PIN_FILE
    assert oct(so_pin_file.stat().st_mode & 0o777) == "0o600"

    # A wrong SO PIN: refused, one line, recorded; nobody enrolled.
    bad = _files(tmp_path, so="not-the-so-pin")
    proc = _recover(cli, env, pw, "--so-pin-file", bad["so"])
    assert proc.returncode == 11
    assert "security officer" in _one_clean_line(proc)
    last = _log(cli, env)[-1]
    assert last["type"] == "approval.refused"
    assert last["payload"]["reason"] == "so_login_failed"
    assert "not-the-so-pin" not in json.dumps(last)

    # The SO PIN holder must be someone other than the remaining officer.
    proc = _recover(cli, env, pw, holder="alice")
    assert proc.returncode == 11 and "cannot count twice" in _one_clean_line(proc)

    # Only the remaining officer can be the officer half (bob is retired).
    proc = _recover(cli, env, pw, approver="bob")
    assert proc.returncode == 11 and "alice" in _one_clean_line(proc)

    proc = _recover(cli, env, pw, "--json")  # the practice home's stored SO PIN
    assert proc.returncode == 0, proc.stderr.decode()
    event = json.loads(proc.stdout)
    rec = event["payload"]["recovery"]
    assert rec["method"] == "hsm-so-login+officer"
    assert rec["so_holder"] == "Sam Custodian" and rec["reason"] == "bob left the facility"
    genesis = _log(cli, env)[0]["payload"]["hsm"]
    assert rec["so_login"]["token"] == genesis
    assert [a["officer"] for a in event["approvals"]] == ["alice"]
    assert "bootstrap" not in event["payload"]
    so_pin = so_pin_file.read_text().strip()
    assert so_pin not in json.dumps(_log(cli, env))
    assert _verify(cli, env).returncode == 0

    # Two officers again: the ordinary rule applies, and recovery is refused.
    proc = cli(
        "officer", "add", "dave", "--passphrase-file", pw["m"],
        "--officer", f"alice={pw['a']}", "--officer", f"carol={pw['c']}", env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    proc = _recover(cli, env, pw, name="erin")
    assert proc.returncode == 11 and "officer add" in _one_clean_line(proc)
    assert _verify(cli, env).returncode == 0


def test_recovery_before_the_genesis_pair_is_refused(tmp_path, cli):
    path = tmp_path / "home"
    assert cli("init", "--home", str(path), "--practice").returncode == 0
    env = {"REDDOOR_HOME": str(path)}
    pw = _files(tmp_path, a=ALICE[1], c=CAROL[1])
    assert cli("officer", "add", "alice", "--passphrase-file", pw["a"], env=env).returncode == 0
    proc = _recover(cli, env, pw)
    assert proc.returncode == 11 and "genesis pair" in _one_clean_line(proc)


def test_verify_rejects_forged_recoveries(tmp_path):
    """Each forgery an insider holding alice's passphrase and the database could append."""
    make_home(tmp_path / "h")
    with home.open_home(tmp_path / "h") as h:
        led = h.ledger
        officers.enroll(led, *ALICE)
        officers.enroll(led, *BOB)
        genesis_token = led.event(0).payload["hsm"]
        evidence = {
            "method": "hsm-so-login+officer",
            "so_login": {"token": genesis_token, "time": "2026-01-01T00:00:00.000000Z"},
            "so_holder": "Sam Custodian",
            "reason": "test",
        }

        def sign(name, signer, recovery, role="officer"):
            payload = _enrolment(name, role) | {"recovery": recovery}
            req = led.request_approval("officer.enrolled", payload, (name,))
            return req, [officers.approve(led, req, *signer)] if signer else []

        def append(req, sigs):
            draft = EventDraft(req.type, req.payload, req.actors, tuple(a.to_dict() for a in sigs))
            return led.append_many([draft])[0]

        def forge(name, signer, recovery, role="officer"):
            return append(*sign(name, signer, recovery, role))

        def problem(event):
            report = verify_conn(led.conn, (led.origin, led.key_name, led.public_key), [])
            found = [p.what for p in report.problems if p.seq == event.seq]
            assert found, report.to_dict()
            return found[0]

        # Two officers are active: recovery is not for them.
        assert "2 officers were active" in problem(forge("m1", ALICE, evidence))
        by_bob = sign("m2", BOB, evidence)  # signed while bob was still active
        officers.retire(led, "bob", [ALICE, BOB])
        # A retired officer cannot be the officer half.
        assert "bob" in problem(append(*by_bob))
        # The SO login must be on this ledger's own token.
        other = evidence | {"so_login": {"token": genesis_token | {"serial": "0"}, "time": "t"}}
        assert "another HSM token" in problem(forge("m3", ALICE, other))
        # One person cannot be both halves.
        assert "cannot count twice" in problem(
            forge("m4", ALICE, evidence | {"so_holder": "alice"})
        )
        # No officer signature at all.
        assert "approved by" in problem(forge("m5", None, evidence))
        # An auditor is never enrolled by recovery.
        assert "auditor" in problem(forge("m6", ALICE, evidence, role="auditor"))
        # Malformed evidence.
        assert "evidence" in problem(forge("m7", ALICE, {"method": "trust-me"}))
        # The genuine shape verifies, and restores the pair.
        good = forge("carol", ALICE, evidence)
        report = verify_conn(led.conn, (led.origin, led.key_name, led.public_key), [])
        assert not [p for p in report.problems if p.seq == good.seq], report.to_dict()
        assert [o.name for o in officers.list_officers(led) if o.active] == ["alice", "carol"]


def _enrolment(name: str, role: str = "officer", bootstrap: bool = False) -> dict:
    """An enrolment payload with a fresh key (what officers.enroll writes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    payload = {
        "name": name,
        "role": role,
        "public_key": pub.hex(),
        "fingerprint": officers.key_fingerprint(pub),
    }
    if bootstrap:
        payload["bootstrap"] = True
    return payload


@pytest.mark.slow
def test_production_recovery_takes_the_so_pin_from_its_holder(tmp_path, cli):
    """A production home stores neither PIN: the SO PIN comes from --so-pin-file (or a prompt,
    which needs a terminal), and never lands in the home."""
    from custody import hsm

    conf = tmp_path / "hsm" / "softhsm2.conf"
    conf.parent.mkdir()
    hsm.write_softhsm_conf(conf, tmp_path / "hsm" / "tokens")
    pins = _files(tmp_path, pin="production-pin-42", so="production-so-pin-7")
    hsm.init_softhsm_token(conf, "facility-hsm", "production-pin-42", so_pin="production-so-pin-7")
    path = tmp_path / "prod"
    env = {"SOFTHSM2_CONF": str(conf), "REDDOOR_HOME": str(path)}
    base = ("--pin-file", pins["pin"])
    init = cli("init", "--token-label", "facility-hsm", *base, env=env)
    assert init.returncode == 0, init.stderr.decode()
    pw = _files(tmp_path, a=ALICE[1], b=BOB[1], c=CAROL[1])
    for who in ("alice", "bob"):
        proc = cli("officer", "add", who, "--passphrase-file", pw[who[0]], *base, env=env)
        assert proc.returncode == 0, proc.stderr.decode()
    proc = cli(
        "officer", "retire", "bob", "--officer", f"alice={pw['a']}",
        "--officer", f"bob={pw['b']}", *base, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    proc = _recover(cli, env, pw, *base)  # no SO PIN file, no terminal to prompt on
    assert proc.returncode == 2 and "--so-pin-file" in _one_clean_line(proc)
    proc = _recover(cli, env, pw, *base, "--so-pin-file", pins["pin"])  # the user PIN: refused
    assert proc.returncode == 11 and "security officer" in _one_clean_line(proc)
    proc = _recover(cli, env, pw, *base, "--so-pin-file", pins["so"])
    assert proc.returncode == 0, proc.stderr.decode()
    for f in path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert b"production-so-pin-7" not in data and b"production-pin-42" not in data
    assert cli("ledger", "verify", *base, env=env).returncode == 0
