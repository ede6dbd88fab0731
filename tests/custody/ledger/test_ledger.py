"""The ledger: chain, tree, checkpoints, proofs, tamper detection, concurrent appends."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody import merkle
from custody.errors import LedgerKeyError, ProofError, UsageError
from custody.ledger import checkpoint, home, proofs
from custody.ledger import database as ledger_store
from custody.ledger.entry import entry_bytes, event_hash
from tests.custody.ledger.support import db_key, make_home, open_copy, populate, verify_conn

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """A populated practice home A, a second home B (another ledger), keys and checkpoints."""
    root = tmp_path_factory.mktemp("ledgers")
    a, b = root / "a", root / "b"
    make_home(a)
    make_home(b)
    with home.open_home(a) as h:
        populate(h.ledger)
        note = h.ledger.latest_checkpoint()
        meta = (h.ledger.origin, h.ledger.key_name, h.ledger.public_key)
        vkey = h.vkey
        size = h.ledger.size()
    with home.open_home(b) as h:
        populate(h.ledger)
    return {
        "a": a,
        "b": b,
        "key_a": db_key(a),
        "key_b": db_key(b),
        "note": note,
        "meta": meta,
        "vkey": vkey,
        "size": size,
    }


def test_clean_ledger_verifies_with_its_checkpoints(built, tmp_path):
    conn = open_copy(built["a"], built["key_a"], tmp_path / "c.db")
    report = verify_conn(conn, built["meta"], [("external", built["note"])])
    assert report.ok, report.to_dict()
    assert report.size == built["size"]
    assert all(c["ok"] for c in report.checkpoints)
    assert report.events_signed == 3


def test_triggers_refuse_update_and_delete(built, tmp_path):
    conn = open_copy(built["a"], built["key_a"], tmp_path / "c.db")
    for sql in (
        "UPDATE events SET type = 'x.y' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 1",
        "DELETE FROM checkpoints",
        "UPDATE officer_keys SET name = 'mallory'",
    ):
        with pytest.raises(ledger_store.DatabaseError, match="append-only"):
            conn.execute(sql)


def test_wrong_key_is_a_clear_error(built):
    with pytest.raises(LedgerKeyError, match="does not open with this key"):
        ledger_store.open_db(built["a"] / home.LEDGER_DB, bytes(32))


def test_forbidden_payload_keys_and_floats_refused(tmp_path):
    make_home(tmp_path / "h")
    with home.open_home(tmp_path / "h") as h:
        with pytest.raises(UsageError, match="secrets never go into the ledger"):
            h.ledger.append("pad.note", {"meta": {"passphrase": "x"}})
        with pytest.raises(UsageError, match="canonical JSON"):
            h.ledger.append("pad.note", {"ratio": 0.5})
        with pytest.raises(UsageError, match="dotted"):
            h.ledger.append("Bad Type", {})


def _drop_triggers(conn) -> None:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")]
    for name in names:
        conn.execute(f"DROP TRIGGER {name}")


COLUMNS = ("time", "type", "actors", "payload", "approvals", "prev_hash", "hash")


def _mutate(conn, other_conn, kind: str, seq: int, seq2: int, column: str, blob: bytes) -> None:
    size = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    seq, seq2 = seq % size, seq2 % size
    if kind == "field":
        old = conn.execute(f"SELECT {column} FROM events WHERE seq = ?", (seq,)).fetchone()[0]
        old_b = old.encode() if isinstance(old, str) else bytes(old)
        new = blob if blob != old_b else blob + b"!"
        value: object = new.decode("latin-1") if column in ("time", "type") else new
        conn.execute(f"UPDATE events SET {column} = ? WHERE seq = ?", (value, seq))
    elif kind == "delete":
        conn.execute("DELETE FROM events WHERE seq = ?", (seq,))
    elif kind == "reorder":
        if seq == seq2:
            seq2 = (seq + 1) % size
        conn.execute("UPDATE events SET seq = -1 WHERE seq = ?", (seq,))
        conn.execute("UPDATE events SET seq = ? WHERE seq = ?", (seq, seq2))
        conn.execute("UPDATE events SET seq = ? WHERE seq = -1", (seq2,))
    elif kind == "truncate":
        keep = max(seq, 1)
        conn.execute("DELETE FROM events WHERE seq >= ?", (keep,))
        conn.execute("DELETE FROM checkpoints WHERE size > ?", (keep,))
    elif kind == "foreign":
        row = other_conn.execute(
            "SELECT time, type, actors, payload, approvals, prev_hash, hash FROM events "
            "WHERE seq = ?",
            (seq,),
        ).fetchone()
        conn.execute(
            "UPDATE events SET time=?, type=?, actors=?, payload=?, approvals=?, prev_hash=?, "
            "hash=? WHERE seq = ?",
            (*row, seq),
        )
    elif kind == "rewrite":
        _rewrite_from(conn, max(seq, 1), blob)
    else:  # pragma: no cover
        raise AssertionError(kind)


def _rewrite_from(conn, seq: int, blob: bytes) -> None:
    """An insider who edits a payload and recomputes every later hash (a consistent fork)."""
    origin = conn.execute("SELECT value FROM meta WHERE name = 'origin'").fetchone()[0]
    payload = b'{"forged":"' + base64.b16encode(blob[:8]) + b'"}'
    conn.execute("UPDATE events SET payload = ? WHERE seq = ?", (payload, seq))
    prev = bytes(conn.execute("SELECT hash FROM events WHERE seq = ?", (seq - 1,)).fetchone()[0])
    rows = conn.execute(
        "SELECT seq, time, type, actors, payload, approvals FROM events WHERE seq >= ? "
        "ORDER BY seq",
        (seq,),
    ).fetchall()
    for s, t, ty, ac, pl, ap in rows:
        h = event_hash(entry_bytes(origin, s, t, ty, bytes(ac), bytes(pl), bytes(ap), prev))
        conn.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, s))
        prev = h


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["field", "delete", "reorder", "truncate", "foreign", "rewrite"]),
    seq=st.integers(0, 10_000),
    seq2=st.integers(0, 10_000),
    column=st.sampled_from(COLUMNS),
    blob=st.binary(min_size=1, max_size=40),
)
def test_any_insider_mutation_is_detected(built, tmp_path, kind, seq, seq2, column, blob):
    dest = tmp_path / f"m-{kind}-{seq}-{seq2}.db"
    dest.unlink(missing_ok=True)
    conn = open_copy(built["a"], built["key_a"], dest)
    other = ledger_store.open_db(built["b"] / home.LEDGER_DB, built["key_b"])
    try:
        _drop_triggers(conn)
        _mutate(conn, other, kind, seq, seq2, column, blob)
        report = verify_conn(conn, built["meta"], [("auditor copy", built["note"])])
        assert not report.ok, (kind, seq, seq2, column)
        assert report.first_problem is not None
    finally:
        conn.close()
        other.close()
        dest.unlink(missing_ok=True)


def test_named_first_bad_event(built, tmp_path):
    conn = open_copy(built["a"], built["key_a"], tmp_path / "c.db")
    _drop_triggers(conn)
    conn.execute("UPDATE events SET payload = ? WHERE seq = 5", (b'{"pad_id":"evil"}',))
    report = verify_conn(conn, built["meta"], [])
    assert report.first_problem.seq == 5
    assert "does not match its hash" in report.first_problem.what


def test_truncation_needs_and_finds_an_outside_checkpoint(built, tmp_path):
    conn = open_copy(built["a"], built["key_a"], tmp_path / "c.db")
    _drop_triggers(conn)
    size = built["size"]
    conn.execute("DELETE FROM events WHERE seq >= ?", (size - 3,))
    conn.execute("DELETE FROM checkpoints WHERE size > ?", (size - 3,))
    assert verify_conn(conn, built["meta"], []).ok  # indistinguishable without a checkpoint
    report = verify_conn(conn, built["meta"], [("receipt", built["note"])])
    assert not report.ok
    assert report.first_problem.seq == size - 3
    assert "truncated or rolled back" in report.first_problem.what


def test_rewritten_history_is_caught_by_signed_checkpoint(built, tmp_path):
    conn = open_copy(built["a"], built["key_a"], tmp_path / "c.db")
    _drop_triggers(conn)
    _rewrite_from(conn, 4, b"forged")
    report = verify_conn(conn, built["meta"], [])
    assert not report.ok
    assert any("differ from those" in p.what for p in report.problems)


def test_forged_checkpoint_signature_refused(built, tmp_path):
    lines = built["note"].split("\n")
    lines[1] = "999"  # the tree size; a plain str.replace could hit the origin line instead
    bad = "\n".join(lines)
    conn = open_copy(built["a"], built["key_a"], tmp_path / "c.db")
    report = verify_conn(conn, built["meta"], [("forged", bad)])
    assert not report.ok
    assert "signature does not verify" in report.first_problem.what


# -- proofs, offline --------------------------------------------------------------------------


def test_inclusion_and_consistency_proofs_verify_offline(tmp_path):
    make_home(tmp_path / "h")
    with home.open_home(tmp_path / "h") as h:
        led = h.ledger
        old = led.checkpoint()
        for i in range(12):
            led.append("pad.note", {"i": i})
        bundles = [led.inclusion_bundle(seq) for seq in range(led.size())]
        cons = led.consistency_bundle(old)
        vkey = h.vkey
    # Offline: only the bundle and the verifier key.
    for seq, bundle in enumerate(bundles):
        data = proofs.dumps(bundle)
        assert proofs.verify_inclusion_bundle(proofs.loads(data), vkey)["seq"] == seq
    old_cp, new_cp = proofs.verify_consistency_bundle(proofs.loads(proofs.dumps(cons)), vkey)
    assert (old_cp.size, new_cp.size) == (1, 13)


def test_proofs_fail_for_modified_event_or_other_key(tmp_path):
    make_home(tmp_path / "h")
    make_home(tmp_path / "other")
    with home.open_home(tmp_path / "other") as h:
        other_vkey = h.vkey
    with home.open_home(tmp_path / "h") as h:
        led = h.ledger
        old = led.checkpoint()
        for i in range(5):
            led.append("pad.note", {"i": i})
        bundle = led.inclusion_bundle(3)
        cons = led.consistency_bundle(old)
        vkey = h.vkey
    entry = base64.b64decode(bundle["entry"]).replace(b'"i":2', b'"i":7')
    forged = dict(bundle, entry=base64.b64encode(entry).decode())
    with pytest.raises(ProofError, match="not in the tree"):
        proofs.verify_inclusion_bundle(forged, vkey)
    with pytest.raises(ProofError, match="no signature by key"):
        proofs.verify_inclusion_bundle(bundle, other_vkey)
    moved = dict(bundle, seq=2)
    with pytest.raises(ProofError):
        proofs.verify_inclusion_bundle(moved, vkey)
    bad_cons = dict(cons, proof=[base64.b64encode(bytes(32)).decode()] * len(cons["proof"]))
    with pytest.raises(ProofError, match="not an extension"):
        proofs.verify_consistency_bundle(bad_cons, vkey)


def test_checkpoint_note_format(tmp_path):
    make_home(tmp_path / "h")
    with home.open_home(tmp_path / "h") as h:
        note = h.ledger.checkpoint()
        led = h.ledger
        lines = note.split("\n")
        assert lines[0] == led.origin
        assert lines[1] == str(led.size())
        assert base64.b64decode(lines[2]) == merkle.root_from_leaf_hashes(led.leaf_hashes())
        assert lines[3] == ""
        assert lines[4].startswith("\u2014 " + led.key_name + " ")
        assert note.endswith("\n")
        blob = base64.b64decode(lines[4].split(" ")[2])
        assert blob[:4] == checkpoint.key_id(led.key_name, led.public_key)
        name, pub = checkpoint.parse_vkey(h.vkey)
        assert checkpoint.verify(note, name, pub).size == led.size()


# -- concurrency ------------------------------------------------------------------------------

_APPENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from custody.ledger import home
    path, tag, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with home.open_home(path) as h:
        for i in range(n):
            h.ledger.append("pad.note", {"writer": tag, "i": i})
    """
)


@pytest.mark.slow
def test_two_processes_append_without_forking(tmp_path):
    make_home(tmp_path / "h")
    n = 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPENDER, str(tmp_path / "h"), tag, str(n)],
            cwd=REPO,
            stderr=subprocess.PIPE,
        )
        for tag in ("p1", "p2")
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    with home.open_home(tmp_path / "h") as h:
        led = h.ledger
        events = list(led.events())
        assert len(events) == 1 + 2 * n
        for tag in ("p1", "p2"):
            mine = [e.payload["i"] for e in events if e.payload.get("writer") == tag]
            assert mine == list(range(n))
        report = verify_conn(led.conn, (led.origin, led.key_name, led.public_key), [])
        assert report.ok, report.to_dict()


def test_append_many_is_one_batch(tmp_path):
    make_home(tmp_path / "h")
    from custody.ledger.chain import EventDraft

    with home.open_home(tmp_path / "h") as h:
        events = h.ledger.append_many(EventDraft("pad.note", {"i": i}) for i in range(500))
        assert [e.seq for e in events] == list(range(1, 501))
        assert events[1].prev_hash == events[0].hash
        led = h.ledger
        assert verify_conn(led.conn, (led.origin, led.key_name, led.public_key), []).ok
