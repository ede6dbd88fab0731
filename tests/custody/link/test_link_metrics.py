"""`--metrics` (issue 15): Prometheus text from real gateway, router and diode processes.

Questions go over a real router through `reddoor ask`; junk frames come from another process on
the router; `/metrics` is read with urllib, as Prometheus would. The figures must be the ones the
rest of Red Door gives (`pad status --json`, the bridges' status replies), the counters must move
by exactly what was done, and no question or answer text may appear in a scrape.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from custody.link import keys as link_keys
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.manifest import Direction
from custody.pad.store import read_manifest
from tests.custody.link.diode_site import DiodeSite, results, wait_until
from tests.custody.link.fixtures import free_endpoint, free_port, spawn, stop

MARKER = "zqx-MARKER-7e1f"  # in every question, and so (echo) in every answer


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return str(r.read().decode())


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of a scrape."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


def total(text: str, name: str) -> float:
    return sum(v for (n, _), v in samples(text).items() if n == name)


@pytest.fixture
def router():
    ep = free_endpoint()
    proc = spawn("router", "--listen", ep, ready="router listening")
    yield ep
    stop(proc)


def test_gateway_metrics_count_exactly_and_show_no_text(cli, pads, router):
    port = free_port()
    fac = pads / "fac" / "p1"
    pad = read_manifest(fac).pad_id.hex()
    gw = spawn(
        "gateway", "--connect", router, "--pads", str(pads / "fac"),
        "--metrics", f"tcp/127.0.0.1:{port}", ready="serving",
    )  # fmt: skip
    try:
        before = scrape(port)
        assert value(before, "reddoor_gateway_up") == 1
        assert value(before, "reddoor_queries_total", pad=pad, outcome="answered") == 0
        asked = 3
        for i in range(asked):
            r = cli(
                "ask", "--json", "--pad", str(pads / "p1" / "workstation"), "--connect", router,
                stdin=f"{MARKER} question {i}: what lies behind the red door?".encode(),
            )  # fmt: skip
            assert r.returncode == 0, r.stderr
            assert MARKER in json.loads(r.stdout)["answer"]  # echo: the answer holds it too

        text = scrape(port)
        assert value(text, "reddoor_queries_total", pad=pad, outcome="answered") == asked
        for outcome in ("backend_error", "refused"):
            assert value(text, "reddoor_queries_total", pad=pad, outcome=outcome) == 0
        assert value(text, "reddoor_answer_latency_seconds_count") == asked
        assert value(text, "reddoor_backend_latency_seconds_count") == asked
        assert value(text, "reddoor_backend_errors_total") == 0
        assert value(text, "reddoor_cover_frames_sent_total", pad=pad) == 0

        # The pad figures are `pad status`'s, for the facility copy the gateway holds open.
        r = cli("pad", "status", "--pad", str(fac), "--json")
        assert r.returncode == 0, r.stderr
        status = json.loads(r.stdout)
        for d in ("w2f", "f2w"):
            left = value(text, "reddoor_pad_bytes_left", pad=pad, direction=d)
            assert left == status["remaining"][d]
            assert (
                value(text, "reddoor_pad_bytes_total", pad=pad, direction=d)
                == (status["length"][d])
            )
        assert value(text, "reddoor_pad_bytes_left", pad=pad, direction="w2f") < (
            value(before, "reddoor_pad_bytes_left", pad=pad, direction="w2f")
        )
        assert value(text, "reddoor_pad_queries_left", pad=pad) == status["queries_left"]

        # Nothing of the questions or the answers, in any form.
        for t in (before, text):
            assert MARKER not in t and MARKER.lower() not in t.lower()
            assert MARKER.encode().hex() not in t and "red door" not in t

        # Junk from another client of the router: counted by reason, exactly.
        key = link_keys.frame_key(bytes.fromhex(pad), Direction.W2F)
        with Transport(LinkConfig.for_endpoint(router)) as attacker:
            for _ in range(10):
                attacker.publish(key, os.urandom(600))  # no frame magic
            for _ in range(10):
                attacker.publish(key, os.urandom(5))  # shorter than any header
        wait_until(lambda: total(scrape(port), "reddoor_frames_refused_total") >= 20)
        text = scrape(port)
        assert value(text, "reddoor_frames_refused_total", reason="bad-magic") == 10
        assert value(text, "reddoor_frames_refused_total", reason="truncated") == 10
        assert value(text, "reddoor_queries_total", pad=pad, outcome="answered") == asked
    finally:
        stop(gw)


def test_router_metrics(router):
    port = free_port()
    ep = free_endpoint()
    proc = spawn("router", "--listen", ep, "--metrics", f"tcp/127.0.0.1:{port}", ready="listening")
    try:
        assert value(scrape(port), "reddoor_router_up") == 1
        with Transport(LinkConfig.for_endpoint(ep)):
            wait_until(lambda: value(scrape(port), "reddoor_router_sessions") >= 1)
    finally:
        stop(proc)


@pytest.mark.parametrize("command", ["gateway", "router", "diode-receive"])
def test_non_loopback_metrics_refused_without_metrics_public(cli, pads, command):
    base = {
        "gateway": ["gateway", "--pads", str(pads / "fac"), "--listen", free_endpoint()],
        "router": ["router", "--listen", free_endpoint()],
        "diode-receive": [
            "diode", "receive", "--direction", "w2f", "--connect", free_endpoint(),
            "--listen", "udp/127.0.0.1:9",
        ],
    }[command]  # fmt: skip
    r = cli(*base, "--metrics", "tcp/0.0.0.0:9464")
    assert r.returncode == 2
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("reddoor: error: ")
    assert "--metrics-public" in lines[0] and "Traceback" not in r.stderr.decode()
    r = cli(*base, "--metrics", "tcp/0.0.0.0:9464", "--check-config")
    assert r.returncode == 2 and b"--metrics-public" in r.stderr
    r = cli(*base, "--metrics", "tcp/0.0.0.0:9464", "--metrics-public", "--check-config")
    assert r.returncode == 0, r.stderr
    r = cli(*base, "--metrics", "http://127.0.0.1:9464", "--check-config")
    assert r.returncode == 2 and b"tcp/HOST:PORT" in r.stderr


@pytest.mark.slow
def test_diode_bridges_metrics_match_their_status(cli, tmp_path: Path):
    ports = {name: free_port() for name in ("gateway", "send-w2f", "receive-w2f", "receive-f2w")}
    site = DiodeSite(
        tmp_path,
        pads=1,
        extra={name: ["--metrics", f"tcp/127.0.0.1:{p}"] for name, p in ports.items()},
    )
    try:
        wait_until(lambda: site.status("f2w")["gateways"], limit=60)
        rows = results(site.workstations_ask(2, "m"))
        assert len(rows) == 2
        # Counters only grow: a scrape before and one after the status reply bracket it.
        for d, name, key_of in (
            ("w2f", "receive-w2f", lambda: site.status("w2f")),
            ("f2w", "receive-f2w", lambda: site.status("f2w")),
        ):
            first = scrape(ports[name])
            status = key_of()
            last = scrape(ports[name])
            for metric, key in (
                ("reddoor_diode_datagrams_received_total", "datagrams_received"),
                ("reddoor_diode_datagrams_lost_total", "datagrams_lost"),
                ("reddoor_diode_duplicates_total", "duplicates"),
                ("reddoor_diode_junk_total", "junk"),
                ("reddoor_diode_fec_repaired_blocks_total", "blocks_repaired"),
                ("reddoor_diode_blocks_lost_total", "blocks_lost"),
                ("reddoor_diode_published_total", "published"),
            ):
                lo, hi = value(first, metric, direction=d), value(last, metric, direction=d)
                assert lo <= status[key] <= hi, (d, metric)
            assert value(last, "reddoor_diode_published_total", direction=d) > 0
            age = value(last, "reddoor_diode_heartbeat_age_seconds", direction=d)
            assert not math.isinf(age) and age >= 0
        with Transport(LinkConfig.for_endpoint(site.scif)) as t:
            first = scrape(ports["send-w2f"])
            sender = json.loads(t.query(link_keys.diode_sender_key(Direction.W2F), 2.0)[0])
            last = scrape(ports["send-w2f"])
        for metric, key in (
            ("reddoor_diode_datagrams_sent_total", "datagrams_sent"),
            ("reddoor_diode_bytes_sent_total", "bytes_sent"),
            ("reddoor_diode_blocks_sent_total", "blocks_sent"),
            ("reddoor_diode_dropped_total", "dropped"),
        ):
            lo, hi = value(first, metric, direction="w2f"), value(last, metric, direction="w2f")
            assert lo <= sender[key] <= hi, metric
        # The gateway behind the diode (a home gateway): its questions and its ledger events.
        pad = read_manifest(site.workstations[0]).pad_id.hex()
        gw = scrape(ports["gateway"])
        assert value(gw, "reddoor_queries_total", pad=pad, outcome="answered") == 2
        events = "reddoor_ledger_events_appended_total"
        wait_until(lambda: value(scrape(ports["gateway"]), events) >= 2)
        assert value(scrape(ports["gateway"]), events) == 2
        # Its home's ledger, verified by the gateway on a thread of its own at start.
        verified = ("reddoor_ledger_last_verify_success", ())
        wait_until(lambda: verified in samples(scrape(ports["gateway"])))
        gw = scrape(ports["gateway"])
        assert value(gw, "reddoor_ledger_last_verify_success") == 1
        now = time.time()
        assert 0 <= now - value(gw, "reddoor_ledger_last_verify_timestamp_seconds") < 600
        assert 0 <= now - value(gw, "reddoor_ledger_last_checkpoint_timestamp_seconds") < 3600
        assert value(gw, "reddoor_ledger_events") >= 1
    finally:
        site.close()
