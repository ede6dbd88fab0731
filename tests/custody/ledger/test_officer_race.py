"""Parallel enrolments: the check and the append are one write transaction (issue #11, item 3).

Real `reddoor officer add` processes against one practice home. The test holds the ledger's
write lock (as an insider with the database key would) until every process is waiting for it,
then lets them all go at once: the most hostile interleaving, made deterministic. A process that
checked the officer rules before taking the lock would act on a stale state here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from custody.ledger import database as ledger_store
from custody.ledger import home
from tests.conftest import REPO
from tests.custody.ledger.support import db_key
from tests.custody.ledger.test_home_cli import _files, _one_clean_line

pytestmark = pytest.mark.slow

WAIT_FOR_LOCK_S = 45  # the children's SQLite busy timeout is 60 s: release well before it


def _reddoor(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        cwd=REPO,
        env=dict(os.environ, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _sleeping_in_sqlite(proc: subprocess.Popen[bytes]) -> bool:
    """True once `proc` has exited or sleeps in SQLite's busy handler (our write lock)."""
    if proc.poll() is not None:
        return True
    try:
        wchan = Path(f"/proc/{proc.pid}/wchan").read_text()
    except OSError:
        return True
    return "nanosleep" in wchan


def _wait_until_all_wait_for_the_lock(procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + WAIT_FOR_LOCK_S
    settled = 0
    while settled < 5:  # five polls in a row: no process is between steps
        if time.monotonic() > deadline:
            raise AssertionError("the enrolment processes never reached the ledger's write lock")
        settled = settled + 1 if all(_sleeping_in_sqlite(p) for p in procs) else 0
        time.sleep(0.1)


class _WriteLock:
    """The ledger's SQLite write lock, held by this test through its own connection."""

    def __init__(self, home_path: Path) -> None:
        self.conn = ledger_store.open_db(home_path / home.LEDGER_DB, db_key(home_path))
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def _release_fifos(fifos: list[Path], text: str) -> None:
    """Open every FIFO, then write them all: the processes start their work together."""
    fds = [os.open(f, os.O_WRONLY) for f in fifos]
    for fd in fds:
        os.write(fd, text.encode() + b"\n")
    for fd in fds:
        os.close(fd)


def _finish(procs: list[subprocess.Popen[bytes]]) -> list[subprocess.CompletedProcess[bytes]]:
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def _verifies(cli, env: dict[str, str]) -> dict:
    proc = cli("ledger", "verify", "--json", env=env)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["ok"], report
    return report


def _enrolled(cli, env: dict[str, str]) -> list[str]:
    proc = cli("officer", "list", "--json", env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    return [o["name"] for o in json.loads(proc.stdout)]


@pytest.fixture
def fresh(tmp_path, cli):
    path = tmp_path / "home"
    assert cli("init", "--home", str(path), "--practice").returncode == 0
    return path


def test_parallel_bootstrap_enrolments_leave_one_genesis_pair(fresh, cli, tmp_path):
    """Three `officer add` at once in a fresh home: two become the genesis pair, the third is
    refused with one line (exit 11), and the ledger verifies."""
    env = {"REDDOOR_HOME": str(fresh)}
    names = ["o1", "o2", "o3"]
    fifos = []
    for name in names:
        fifo = tmp_path / f"{name}.pass"
        os.mkfifo(fifo, 0o600)
        fifos.append(fifo)
    lock = _WriteLock(fresh)
    try:
        procs = [
            _reddoor("officer", "add", n, "--passphrase-file", str(f), env=env)
            for n, f in zip(names, fifos, strict=True)
        ]
        _release_fifos(fifos, "a parallel passphrase")  # HSM logins and Argon2id at once
        _wait_until_all_wait_for_the_lock(procs)
    finally:
        lock.release()
    results = _finish(procs)

    won = [n for n, r in zip(names, results, strict=True) if r.returncode == 0]
    lost = [r for r in results if r.returncode != 0]
    assert len(won) == 2, [(r.returncode, r.stderr.decode()) for r in results]
    assert len(lost) == 1 and lost[0].returncode == 11
    line = _one_clean_line(lost[0])
    assert line.startswith("reddoor: error: ") and "genesis pair" in line
    assert sorted(_enrolled(cli, env)) == sorted(won)
    report = _verifies(cli, env)
    log = [json.loads(x) for x in cli("ledger", "log", "--json", env=env).stdout.splitlines()]
    enrolments = [e for e in log if e["type"] == "officer.enrolled"]
    assert len(enrolments) == 2 and all(e["payload"]["bootstrap"] for e in enrolments)
    refused = [e for e in log if e["type"] == "approval.refused"]
    assert [e["payload"]["reason"] for e in refused] == ["two_officers_needed"]
    assert report["size"] == len(log)


def test_parallel_approved_enrolments_same_name_once(fresh, cli, tmp_path):
    """Approved adds at once, two of them for the same name: each name is enrolled once, the
    duplicate gets one line and exit 11 (not an internal error), and the ledger verifies."""
    env = {"REDDOOR_HOME": str(fresh)}
    pw = _files(tmp_path, a="alice passphrase", b="bob passphrase!", n="new officer pass")
    assert cli("officer", "add", "alice", "--passphrase-file", pw["a"], env=env).returncode == 0
    assert cli("officer", "add", "bob", "--passphrase-file", pw["b"], env=env).returncode == 0
    approvers = ["--officer", f"alice={pw['a']}", "--officer", f"bob={pw['b']}"]
    names = ["carol", "carol", "dave"]
    lock = _WriteLock(fresh)
    try:
        procs = [
            _reddoor("officer", "add", n, "--passphrase-file", pw["n"], *approvers, env=env)
            for n in names
        ]
        _wait_until_all_wait_for_the_lock(procs)
    finally:
        lock.release()
    results = _finish(procs)

    codes = sorted(r.returncode for r in results)
    assert codes == [0, 0, 11], [(r.returncode, r.stderr.decode()) for r in results]
    loser = next(r for r in results if r.returncode == 11)
    assert "already enrolled" in _one_clean_line(loser)
    assert sorted(_enrolled(cli, env)) == ["alice", "bob", "carol", "dave"]
    _verifies(cli, env)


def test_parallel_token_logins_all_succeed(fresh, tmp_path):
    """Processes that open a practice home's SoftHSM token at the same instant all get in
    (SoftHSM2's file store fails concurrent token discovery; the home serialises logins)."""
    pin = (fresh / home.PRACTICE_DIR / home.PIN_FILE).read_text().strip()
    for rnd in range(3):
        fifos = []
        for i in range(4):
            fifo = tmp_path / f"pin-{rnd}-{i}"
            os.mkfifo(fifo, 0o600)
            fifos.append(fifo)
        procs = [
            _reddoor("ledger", "verify", "--home", str(fresh), "--pin-file", str(f), env={})
            for f in fifos
        ]
        _release_fifos(fifos, pin)
        for r in _finish(procs):
            assert r.returncode == 0, r.stderr.decode()
