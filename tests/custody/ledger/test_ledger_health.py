"""The ledger as operators watch it (issue 15): checkpoint freshness and the last verification,
from a real practice home (SoftHSM2 token, SQLCipher file), through `ledger verify
--metrics-textfile` and `LedgerWatch`, and after an insider's edit."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from custody.ledger import database as ledger_store
from custody.ledger import home
from custody.ledger.health import LedgerWatch, checkpoint_state, event_time
from custody.link.metrics import LedgerCollector, write_textfile
from tests.custody.ledger.support import db_key


@pytest.fixture
def practice(tmp_path, cli):
    path = tmp_path / "home"
    proc = cli("init", "--home", str(path), "--practice", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    return path


def _read_prom(path: Path) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            assert not s.labels, s
            out[s.name] = s.value
    return out


def _genesis_time(conn) -> float:
    return event_time(conn.execute("SELECT time FROM events WHERE seq = 0").fetchone()[0])


def test_checkpoint_state_from_creation_to_emission_to_legacy(practice, cli):
    env = {"REDDOOR_HOME": str(practice)}
    conn = ledger_store.open_db(practice / "ledger.db", db_key(practice))
    try:
        # `init` stores a first checkpoint of the genesis event.
        st = checkpoint_state(conn)
        assert st.covered == st.events == 1 and st.since_checkpoint == 0
        assert st.last_checkpoint >= _genesis_time(conn)
    finally:
        conn.close()

    before = time.time()
    time.sleep(0.01)  # the genesis time and the emission time must differ
    assert cli("ledger", "checkpoint", env=env).returncode == 0
    after = time.time()
    conn = ledger_store.open_db(practice / "ledger.db", db_key(practice))
    try:
        st = checkpoint_state(conn)
        assert st.since_checkpoint == 0 and st.covered == st.events
        assert before <= st.last_checkpoint <= after
        # An event after it is not covered; the checkpoint's time stays.
        emitted = st.last_checkpoint
    finally:
        conn.close()
    # An event appended without a checkpoint (as the gateway's link.query events are).
    with home.open_home(practice, home.practice_pin(practice)) as oh:
        oh.ledger.append("link.query", {"test": "uncovered"})
    conn = ledger_store.open_db(practice / "ledger.db", db_key(practice))
    try:
        st = checkpoint_state(conn)
        assert st.since_checkpoint == 1 and st.last_checkpoint == emitted
        # A ledger whose checkpoints predate emission times: the newest covered event's time.
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='checkpoint_times'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE checkpoint_times")
        newest = conn.execute(
            "SELECT time FROM events WHERE seq = ?", (st.covered - 1,)
        ).fetchone()[0]
        legacy = checkpoint_state(conn)
        assert legacy.last_checkpoint == event_time(newest) <= emitted
        # A ledger without any checkpoint: the clock runs from its creation.
        conn.execute("DROP TRIGGER checkpoints_no_delete")
        conn.execute("DELETE FROM checkpoints")
        none = checkpoint_state(conn)
        assert none.covered == 0 and none.since_checkpoint == none.events
        assert none.last_checkpoint == _genesis_time(conn)
    finally:
        conn.close()
    # The next checkpoint brings the table back, with its time.
    assert cli("ledger", "checkpoint", env=env).returncode == 0
    conn = ledger_store.open_db(practice / "ledger.db", db_key(practice))
    try:
        assert checkpoint_state(conn).last_checkpoint >= emitted
        with pytest.raises(Exception, match="append-only"):
            conn.execute("UPDATE checkpoint_times SET time = '2000-01-01T00:00:00.000000Z'")
    finally:
        conn.close()


def test_verify_textfile_says_success_then_failure(practice, cli, tmp_path):
    env = {"REDDOOR_HOME": str(practice)}
    prom = tmp_path / "textfile" / "reddoor-ledger.prom"
    prom.parent.mkdir()
    assert cli("ledger", "checkpoint", env=env).returncode == 0
    proc = cli("ledger", "verify", "--metrics-textfile", str(prom), env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    m = _read_prom(prom)
    assert m["reddoor_ledger_last_verify_success"] == 1
    assert abs(m["reddoor_ledger_last_verify_timestamp_seconds"] - time.time()) < 600
    assert m["reddoor_ledger_events_since_checkpoint"] == 0
    size = json.loads(cli("ledger", "verify", "--json", env=env).stdout)["size"]
    assert m["reddoor_ledger_events"] == size
    assert sorted(p.name for p in prom.parent.iterdir()) == [prom.name]  # no temporary left
    # node_exporter runs as its own user: readable by all although the CLI's umask is 077.
    assert stat.S_IMODE(prom.stat().st_mode) == 0o644

    # An insider with the database key rewrites event 0: the next verify writes 0 and exits 10.
    conn = ledger_store.open_db(practice / "ledger.db", db_key(practice))
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("UPDATE events SET time = '2000-01-01T00:00:00.000000Z' WHERE seq = 0")
    conn.close()
    proc = cli("ledger", "verify", "--metrics-textfile", str(prom), env=env)
    assert proc.returncode == 10
    assert _read_prom(prom)["reddoor_ledger_last_verify_success"] == 0


def test_ledger_watch_verifies_on_its_own_thread(practice, tmp_path):
    settings = home.load_settings(practice)
    with home.open_home(practice, home.practice_pin(practice)) as oh:
        led = oh.ledger
        watch = LedgerWatch(
            lambda: home.open_ledger_db(practice, settings, oh.token),
            origin=led.origin,
            key_name=led.key_name,
            public_key=led.public_key,
            verify_every=3600,
            poll=0.05,
        )
        collector = LedgerCollector(watch.snapshot)
        assert list(collector.collect()) == []  # nothing before the first look
        watch.start()
        try:
            deadline = time.monotonic() + 60
            while watch.snapshot().verify is None and time.monotonic() < deadline:
                time.sleep(0.05)
            snap = watch.snapshot()
            assert snap.verify is not None and snap.verify.ok and snap.verify.problem is None
            assert snap.checkpoint is not None and snap.checkpoint.since_checkpoint == 0

            def polled(since: int) -> bool:
                cp = watch.snapshot().checkpoint
                return cp is not None and cp.since_checkpoint == since

            # Events appended elsewhere show at the next poll, without another verification.
            led.append("link.query", {"test": "uncovered"})
            while not polled(1) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert polled(1)
            led.checkpoint()
            while not polled(0) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert polled(0)
            events = watch.snapshot().checkpoint.events
            assert events == snap.checkpoint.events + 1
            assert watch.snapshot().verify is snap.verify
        finally:
            watch.close()
        prom = tmp_path / "watch.prom"
        write_textfile(str(prom), [collector])
        m = _read_prom(prom)
        assert m["reddoor_ledger_last_verify_success"] == 1
        assert m["reddoor_ledger_events"] == events
