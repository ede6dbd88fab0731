"""The practice default without --connect, cover traffic from `reddoor ask`, and a gateway that
says when its router goes and comes back: real processes and Zenoh sessions on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from custody.pad import frame
from tests.custody.link.fixtures import Capture, free_endpoint, popen_ask, spawn, stop

BUCKET = 1024
WAIT_LONG = ("--gateway-wait", "120", "--timeout", "120")  # generous: a loaded machine


def _lines(proc: subprocess.Popen[bytes]) -> str:
    return b"".join(list(proc.captured)).decode(errors="replace")  # type: ignore[attr-defined]


def _wait_for_line(proc: subprocess.Popen[bytes], text: str, limit: float = 60.0) -> None:
    """Poll the process's stderr for `text` (a generous deadline, not a timing assertion)."""
    end = time.monotonic() + limit
    while text not in _lines(proc):
        if proc.poll() is not None:
            time.sleep(0.2)  # the drain thread's last lines
            if text in _lines(proc):
                return
            raise AssertionError(f"exited {proc.returncode} without {text!r}: {_lines(proc)}")
        if time.monotonic() > end:
            raise AssertionError(f"no {text!r} in: {_lines(proc)}")
        time.sleep(0.05)


def test_ask_without_connect_joins_the_gateways_embedded_router(cli, pads):
    ep = free_endpoint()
    gw = spawn("gateway", "--listen", ep, "--pads", str(pads / "fac"), ready="serving")
    try:
        ws = str(pads / "p1" / "workstation")
        r = cli("-v", "ask", "--pad", ws, "--listen", ep, stdin=b"joined?")
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == "joined?\n"
        assert f"joined the router already listening at {ep}".encode() in r.stderr
        assert b"started an embedded router" not in r.stderr
    finally:
        stop(gw)


def test_ask_without_connect_hosts_a_router_a_gateway_connects_to(pads):
    ep = free_endpoint()
    ws = str(pads / "p1" / "workstation")
    asker = popen_ask(["--pad", ws, "--listen", ep, *WAIT_LONG], b"hosted?")
    gw = None
    try:
        assert asker.stderr is not None
        first = asker.stderr.readline()  # printed once the router listens, before waiting
        assert b"started an embedded router listening there" in first, first
        assert ep.encode() in first
        gw = spawn("gateway", "--connect", ep, "--pads", str(pads / "fac"), ready="serving")
        out, err = asker.communicate(timeout=240)
        assert asker.returncode == 0, first + err
        assert out.decode() == "hosted?\n"
    finally:
        if asker.poll() is None:
            asker.kill()
            asker.wait()
        if gw is not None:
            stop(gw)


def test_ask_with_cover_prints_the_cost_first_and_gets_its_answer(cli, pads):
    ep = free_endpoint()
    gw = spawn("gateway", "--listen", ep, "--pads", str(pads / "fac"), ready="serving")
    cap = Capture(ep)
    try:
        ws = str(pads / "p1" / "workstation")
        question = "under cover " * 200  # 2.4 KB: several fragments, each in a cover slot
        r = cli("ask", "--pad", ws, "--cover-rate", "25", "--listen", ep, stdin=question.encode())
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == question + "\n"
        err = r.stderr.decode()
        cost_line = err.splitlines()[0]
        assert cost_line.startswith("reddoor: cover traffic: 25 frames/s of 1,056 pad bytes")
        assert "pad bytes/min" in cost_line and "pad bytes/day" in cost_line
        assert "left in the workstation→facility region last about" in cost_line
        cap.wait_for(lambda: cap.count("w2f") >= 3)
    finally:
        stop(gw)
    w2f = [d for k, d in cap.frames if k.endswith("/w2f")]
    cap.close()
    # On the wire every workstation frame is one size and shows no kind: question or cover.
    assert {len(d) for d in w2f} == {frame.HEADER_LEN + BUCKET + frame.TAG_LEN}
    assert {frame.parse_header(d).kind for d in w2f} == {frame.Kind.OPAQUE}


def test_ask_option_errors_are_one_line_usage_errors(cli, pads):
    ws = str(pads / "p1" / "workstation")
    ep = free_endpoint()
    for args, text in (
        (["--connect", ep, "--listen", ep], b"not both"),
        (["--cover-rate", "0"], b"cover rate must be"),
        (["--cover-rate", "nan"], b"cover rate must be"),
        (["--cover-rate", "1", "--cover-bucket", "1000"], b"cover bucket must be one of"),
        (["--gateway-wait", "-1"], b"--gateway-wait"),
    ):
        r = cli("ask", "--pad", ws, *args, stdin=b"q")
        assert r.returncode == 2, (args, r.stderr)
        assert text in r.stderr and b"Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.decode().strip().splitlines()) == 1, r.stderr


@pytest.mark.slow
def test_gateway_logs_losing_its_router_and_getting_it_back(cli, pads):
    ep = free_endpoint()
    router = spawn("router", "--listen", ep, ready="router listening")
    gw = spawn("-v", "gateway", "--connect", ep, "--pads", str(pads / "fac"), ready="pad(s) on")
    try:
        router.send_signal(signal.SIGKILL)
        router.wait()
        _wait_for_line(gw, "lost the Zenoh router")
        warning = [x for x in _lines(gw).splitlines() if "lost the Zenoh router" in x]
        assert len(warning) == 1 and warning[0].startswith("reddoor: WARNING: "), warning
        assert ep in warning[0]
        router = spawn("router", "--listen", ep, ready="router listening")
        _wait_for_line(gw, "is back; serving again")
        back = [x for x in _lines(gw).splitlines() if "is back; serving again" in x]
        assert len(back) == 1 and back[0].startswith("reddoor: WARNING: "), back
        assert gw.poll() is None
        # Zenoh re-declared the gateway's subscriptions and tokens: it answers again.
        ws = str(pads / "p1" / "workstation")
        r = cli("ask", "--pad", ws, "--connect", ep, "--gateway-wait", "30", stdin=b"still there?")
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == "still there?\n"
    finally:
        stop(gw)
        stop(router)


def test_ask_without_connect_when_another_program_holds_the_port(cli, pads):
    import socket

    holder = socket.socket()  # bound, not listening: no Zenoh there and no room for a router
    holder.bind(("127.0.0.1", 0))
    ep = f"tcp/127.0.0.1:{holder.getsockname()[1]}"
    try:
        r = cli("ask", "--pad", str(pads / "p1" / "workstation"), "--listen", ep, stdin=b"q")
    finally:
        holder.close()
    assert r.returncode == 21, r.stderr
    line = r.stderr.decode().strip()
    assert len(line.splitlines()) == 1 and "nothing answers as a Zenoh router" in line
    assert "cannot start a Zenoh router" in line and "Traceback" not in line


def test_ask_with_cover_and_no_gateway_spends_no_pad(cli, pads):
    ws = pads / "p1" / "workstation"
    router = spawn("router", "--listen", (ep := free_endpoint()), ready="router listening")
    try:
        before = cli("pad", "status", "--pad", str(ws), "--json")
        r = cli("ask", "--pad", str(ws), "--connect", ep, "--cover-rate", "50", stdin=b"q")
        after = cli("pad", "status", "--pad", str(ws), "--json")
    finally:
        stop(router)
    assert r.returncode == 22 and b"no pad was spent" in r.stderr, r.stderr
    assert b"cover traffic" not in r.stderr  # refused before the cost line and the traffic
    assert before.returncode == 0 and after.returncode == 0
    assert json.loads(before.stdout)["remaining"] == json.loads(after.stdout)["remaining"]


def test_under_slow_cover_the_answer_wait_starts_when_the_question_has_left(cli, pads):
    """Four fragments at 2 slots/s take about 2 s to leave; a 1 s answer timeout counts from
    there, not from the moment the question was queued."""
    ep = free_endpoint()
    gw = spawn("gateway", "--listen", ep, "--pads", str(pads / "fac"), ready="serving")
    try:
        ws = str(pads / "p1" / "workstation")
        question = "slow cover " * 80  # 880 bytes: four 256-byte cover buckets
        r = cli(
            "ask", "--pad", ws, "--connect", ep, "--cover-rate", "2", "--cover-bucket", "256",
            "--timeout", "1", stdin=question.encode(),
        )  # fmt: skip
    finally:
        stop(gw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == question + "\n"


def test_workstation_cover_pauses_while_no_gateway_serves_the_pad(pads):
    from custody.link.workstation import WorkstationClient
    from custody.link.zenoh_transport import LinkConfig, Transport
    from custody.pad.store import open_pad_dir

    ep = free_endpoint()
    router = spawn("router", "--listen", ep, ready="router listening")
    gw = None
    transport = Transport(LinkConfig.for_endpoint(ep))
    copy = open_pad_dir(pads / "p1" / "workstation")
    client = WorkstationClient(copy, transport, presence_timeout=0.2)
    try:
        before = copy.remaining_send()
        client.enable_cover(50, BUCKET)
        deadline = time.monotonic() + 60
        while client.stats["cover-paused-slots"] < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.stats["cover-paused-slots"] >= 10  # slots came and went ...
        assert client.stats["cover-sent"] == 0 and copy.remaining_send() == before  # ... free
        gw = spawn("gateway", "--connect", ep, "--pads", str(pads / "fac"), ready="serving")
        while client.stats["cover-sent"] < 5 and time.monotonic() < deadline + 60:
            time.sleep(0.05)
        assert client.stats["cover-sent"] >= 5 and copy.remaining_send() < before
    finally:
        client.close()
        copy.close()
        transport.close()
        if gw is not None:
            stop(gw)
        stop(router)
