"""The seed's architecture end to end: two routers with no Zenoh path between them, joined only by
two diode bridges, each through a relay that passes datagrams one way (tests/custody/link/
diode_relay.py). Real processes throughout: routers, the gateway on a facility home with its
pads in the HSM vault, the four bridges, four workstations."""

from __future__ import annotations

import json
import random
import socket
import time

import pytest

from custody.link import keys as link_keys
from custody.link.diode.status import diode_seen
from custody.link.zenoh_transport import LinkConfig, Transport
from tests.custody.link.diode_relay import Faults
from tests.custody.link.diode_site import DiodeSite, reconcile_all, results, wait_until
from tests.custody.link.fixtures import Capture

pytestmark = pytest.mark.slow


@pytest.fixture
def site(tmp_path):
    s = DiodeSite(tmp_path, pads=4)
    yield s
    s.close()


def test_four_workstations_fifty_questions_each_through_the_diodes_alone(cli, site):
    # The routers know nothing of each other: a client of the SCIF router sees no facility
    # gateway but the tokens the f2w receiver mirrors, and the receiver's word on the facility.
    scif_capture, facility_capture = Capture(site.scif), Capture(site.facility)
    try:
        t = Transport(LinkConfig.for_endpoint(site.scif))
        try:
            wait_until(lambda: t.alive(f"{link_keys.PREFIX}/gateway/*/alive", 0.5))
            seen = diode_seen(t)
        finally:
            t.close()
        assert seen is not None and seen.alive and seen.gateways == ("facility",)
        assert "via diode" in seen.render()

        rows = results(site.workstations_ask(50, "clean"))
        assert len(rows) == 200 and all(r.get("exact") for r in rows), rows[:3]
        assert site.relay["w2f"].back_packets == 0 and site.relay["f2w"].back_packets == 0
        assert site.relay["w2f"].forwarded > 0 and site.relay["f2w"].forwarded > 0
        scif_capture.assert_no_reuse()
        facility_capture.assert_no_reuse()
        # what crossed is what was published: each side saw both directions' frames
        assert scif_capture.count("w2f") >= 200 and scif_capture.count("f2w") >= 200
        assert facility_capture.count("w2f") >= 200 and facility_capture.count("f2w") >= 200
    finally:
        scif_capture.close()
        facility_capture.close()
    st = site.status("f2w")
    assert st["datagrams_lost"] == 0 and st["junk"] == 0 and st["published"] >= 200
    reconcile_all(cli, site)


def test_loss_bursts_reordering_and_duplicates_are_repaired_and_counted(cli, site):
    phases = [
        ("loss5", Faults(loss=0.05)),
        ("burst20", Faults(burst_every=150, burst_len=20)),
        ("reorder", Faults(reorder=0.2, duplicate=0.1)),
    ]
    for tag, faults in phases:
        for r in site.relay.values():
            r.set_faults(faults)
        rows = results(site.workstations_ask(10, tag))
        assert len(rows) == 40 and all(r.get("exact") for r in rows), [
            r for r in rows if not r.get("exact")
        ][:3]
    for r in site.relay.values():
        r.set_faults(Faults())
    # After a few clean heartbeats, each receiver's count of lost datagrams is exactly what its
    # relay dropped, and of duplicates what it duplicated.
    for d, relay in site.relay.items():
        wait_until(lambda d=d, relay=relay: site.status(d)["datagrams_lost"] == relay.dropped)
        st = site.status(d)
        assert relay.dropped > 20, (d, relay.dropped)  # the faults did happen
        assert st["duplicates"] == relay.duplicated
        assert relay.back_packets == 0
    assert site.status("f2w")["blocks_repaired"] > 0  # FEC did part of the work
    reconcile_all(cli, site)


def test_bridges_killed_mid_traffic_come_back_without_reusing_pad(cli, site):
    scif_capture, facility_capture = Capture(site.scif), Capture(site.facility)
    try:
        stop_file = site.tmp / "stop-asking"
        procs = site.workstations_ask(10_000, "kill", stop_file)
        for name in ("send-w2f", "receive-w2f", "send-f2w", "receive-f2w"):
            time.sleep(0.7)
            assert all(p.poll() is None for p in procs), "traffic ended before the kills"
            site.kill(name)
            time.sleep(0.7)
            kind, direction = name.split("-")
            (site.start_sender if kind == "send" else site.start_receiver)(direction)
        time.sleep(1.0)
        stop_file.touch()
        rows = results(procs)
        assert len(rows) > 40
        # the kills hit questions in flight: they were retransmitted, or failed
        assert (
            sum(r.get("retransmissions", 0) for r in rows) + sum(1 for r in rows if "exit" in r) > 0
        )
        # each question is answered byte-exact, or fails with the documented "no answer" codes
        failed = [r for r in rows if not r.get("exact")]
        assert all(r.get("exit") in (22, 24, 26) for r in failed), failed
        assert len(failed) < len(rows) // 2, failed
        retx = sum(r.get("retransmissions", 0) for r in rows)
        print(f"kills: {len(rows)} questions, {len(failed)} failed, {retx} retransmissions")
        scif_capture.assert_no_reuse()
        facility_capture.assert_no_reuse()
    finally:
        scif_capture.close()
        facility_capture.close()
    # each receiver was restarted after its sender: it has seen one sender session since
    assert site.status("f2w")["sender_restarts"] == 0
    assert site.status("w2f")["sender_restarts"] == 0
    reconcile_all(cli, site)


def test_a_junk_flood_publishes_nothing_and_leaves_the_receiver_running(site):
    capture = Capture(site.scif)
    try:
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = random.Random(7)
        valid_head = b"RDDG\x01\x01\x02\x00" + bytes(16)
        for i in range(50_000):
            if i % 2:
                data = rng.randbytes(rng.randrange(1, 1500))
            else:  # our header, a plausible body, a wrong CRC
                data = valid_head + rng.randbytes(rng.randrange(20, 1400))
            junk.sendto(data, site.f2w_listen)
            if i % 500 == 0:
                time.sleep(0.005)  # stay within the receiver's socket buffer
        junk.close()
        wait_until(lambda: site.status("f2w")["junk"] >= 45_000, limit=60)
        assert site.procs["receive-f2w"].poll() is None
        before = len(capture.frames)
        time.sleep(1.0)
        assert len(capture.frames) == before == 0
    finally:
        capture.close()
    # and the link still works through it
    rows = results(site.workstations_ask(2, "after"))
    assert all(r.get("exact") for r in rows)


def test_the_scif_side_sees_when_the_facility_was_last_heard_through_the_diode(cli, site):
    ws = str(site.workstations[0])
    r = cli("ask", "--pad", ws, "--connect", site.scif, stdin=b"is anyone there?")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "is anyone there?\n"
    assert b"facility seen" in r.stderr and b"(via diode)" in r.stderr
    r = cli("pad", "status", "--pad", ws, "--connect", site.scif)
    assert r.returncode == 0, r.stderr
    assert "Link: gateway facility serves this pad; facility seen" in r.stdout.decode()

    site.kill("send-f2w")  # the answer diode goes dark
    wait_until(lambda: not site.status("f2w")["alive"])
    r = cli("ask", "--pad", ws, "--connect", site.scif, stdin=b"still there?")
    assert r.returncode == 22
    err = r.stderr.decode()
    assert "no facility gateway" in err and "facility last seen" in err and "(via diode)" in err
    assert "no pad was spent" in err and "Traceback" not in err
    r = cli("pad", "status", "--json", "--pad", ws, "--connect", site.scif)
    link = json.loads(r.stdout)["link"]
    assert link["gateways"] == [] and link["via_diode"]["alive"] is False
    assert link["via_diode"]["heard_s_ago"] >= 3
