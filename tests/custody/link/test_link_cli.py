"""The link through real processes: router, gateway and `reddoor ask` on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from custody.pad.practice import make_practice_pad
from tests.custody.link.fake_openai_server import FakeOpenAI
from tests.custody.link.fixtures import Capture, free_endpoint, popen_ask, spawn, stop


@pytest.fixture
def router():
    ep = free_endpoint()
    proc = spawn("router", "--listen", ep, ready="router listening")
    yield ep
    stop(proc)


def test_end_to_end_echo_streams_and_chronicles(cli, pads, router):
    chron = pads / "chronicle.jsonl"
    gw = spawn(
        "gateway",
        "--connect",
        router,
        "--pads",
        str(pads / "fac"),
        "--chronicle",
        str(chron),
        "--echo-piece",
        "100",
        "--chunk-bytes",
        "256",
        ready="serving",
    )
    try:
        question = "what is in the red door? " * 40
        r = cli(
            "ask",
            "--pad",
            str(pads / "p1" / "workstation"),
            "--connect",
            router,
            "--classification",
            "SECRET",
            stdin=question.encode(),
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == question + "\n"
        r = cli(
            "ask",
            "--json",
            "--pad",
            str(pads / "p1" / "workstation"),
            "--connect",
            router,
            "-",
            stdin="héllo ✓".encode(),
        )
        out = json.loads(r.stdout)
        assert out["answer"] == "héllo ✓" and out["answer_frames"] == 1
    finally:
        stop(gw)
    records = [json.loads(x) for x in chron.read_text().splitlines()]
    assert len(records) == 2 and records[0]["classification"] == "SECRET"
    assert records[0]["answer_frames"] > 1 and records[0]["outcome"] == "answered"
    assert "red door" not in chron.read_text()  # never plaintext
    # export of both sides' consumption
    for args in (["--pad", str(pads / "p1" / "workstation")], ["--chronicle", str(chron)]):
        r = cli("pad", "export-consumption", *args)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["format"] == "reddoor-consumption/1" and doc["pads"]


def test_end_to_end_openai_backend(cli, pads, router):
    with FakeOpenAI() as srv:
        gw = spawn(
            "gateway",
            "--connect",
            router,
            "--pads",
            str(pads / "fac"),
            "--backend",
            "openai",
            "--openai-url",
            srv.url,
            "--model",
            "m1",
            ready="serving",
        )
        try:
            r = cli(
                "ask",
                "--pad",
                str(pads / "p1" / "workstation"),
                "--connect",
                router,
                stdin=b"how many pads?",
            )
            assert r.returncode == 0, r.stderr
            assert r.stdout.decode() == "You asked: how many pads?\n"
            assert srv.requests[0]["stream"] is True and srv.requests[0]["model"] == "m1"
            srv.mode = "http500"
            r = cli(
                "ask", "--pad", str(pads / "p1" / "workstation"), "--connect", router, stdin=b"q"
            )
            assert r.returncode == 25
            assert b"HTTP 500" in r.stderr and b"Traceback" not in r.stderr
        finally:
            stop(gw)


def test_failures_give_one_line_and_exit_codes(cli, pads, router, tmp_path):
    ws = str(pads / "p1" / "workstation")
    # router down
    r = cli("ask", "--pad", ws, "--connect", free_endpoint(), stdin=b"q")
    assert r.returncode == 21 and b"cannot reach the Zenoh router" in r.stderr
    # gateway down
    r = cli("ask", "--pad", ws, "--connect", router, stdin=b"q")
    assert r.returncode == 22 and b"no facility gateway" in r.stderr
    # wrong pad: the gateway serves another pad
    make_practice_pad(tmp_path / "other", 1 << 20)
    (tmp_path / "ofac").mkdir()
    (tmp_path / "other" / "facility").rename(tmp_path / "ofac" / "x")
    with FakeOpenAI() as srv:
        srv.server.server_close()  # backend down: nothing listens at its URL
        gw = spawn(
            "gateway",
            "--connect",
            router,
            "--pads",
            str(pads / "fac"),
            "--backend",
            "openai",
            "--openai-url",
            srv.url,
            "--model",
            "m",
            "--name",
            "gw2",
            ready="serving",
        )
        try:
            r = cli(
                "ask",
                "--pad",
                str(tmp_path / "other" / "workstation"),
                "--connect",
                router,
                stdin=b"q",
            )
            assert r.returncode == 23 and b"does not serve pad" in r.stderr
            r = cli("ask", "--pad", ws, "--connect", router, stdin=b"q")
            assert r.returncode == 25 and b"not reachable" in r.stderr
        finally:
            stop(gw)


def test_pad_exhausted_both_directions(cli, tmp_path, router):
    make_practice_pad(tmp_path / "p", 64 * 1024, split="1:1")
    (tmp_path / "fac").mkdir()
    (tmp_path / "p" / "facility").rename(tmp_path / "fac" / "p")
    ws = str(tmp_path / "p" / "workstation")
    gw = spawn(
        "gateway",
        "--connect",
        router,
        "--pads",
        str(tmp_path / "fac"),
        "--echo-piece",
        "1000",
        "--chunk-bytes",
        "1000",
        ready="serving",
    )
    try:
        # ~24 KiB answers: the 31 KiB facility→workstation region runs out on the second
        r = cli("ask", "--pad", ws, "--connect", router, stdin=b"x" * 12000)
        assert r.returncode == 0, r.stderr
        r = cli("ask", "--pad", ws, "--connect", router, stdin=b"y" * 12000)
        if r.returncode == 0:
            r = cli("ask", "--pad", ws, "--connect", router, stdin=b"z" * 12000)
        assert r.returncode == 4 and b"pad exhausted" in r.stderr, r.stderr
        # the workstation's own region: refused before anything is sent
        r = cli("ask", "--pad", ws, "--connect", router, stdin=b"q" * 40000)
        assert r.returncode == 4 and b"pad exhausted" in r.stderr
    finally:
        stop(gw)


def _ask_proc(ws: str, ep: str, question: str) -> subprocess.Popen[bytes]:
    return popen_ask(["--pad", ws, "--connect", ep, "--timeout", "20"], question.encode())


@pytest.mark.slow
def test_kill_9_mid_answer_never_reuses_pad(cli, pads, router):
    ws = str(pads / "p1" / "workstation")
    cap = Capture(router)
    args = (
        "gateway",
        "--connect",
        router,
        "--pads",
        str(pads / "fac"),
        "--echo-piece",
        "200",
        "--chunk-bytes",
        "200",
        "--echo-delay",
        "0.05",
    )
    gw = spawn(*args, ready="serving")
    try:
        # 1. the gateway dies mid-answer and comes back: the waiting workstation gets a clear
        #    outcome (the facility lost the answer) and the next question works.
        asker = _ask_proc(ws, router, "a" * 6000)
        cap.wait_for(lambda: cap.count("f2w") >= 3)
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        gw = spawn(*args, ready="serving")
        _out, err = asker.communicate(timeout=60)
        assert asker.returncode == 26 and b"restarted while answering" in err, err
        r = cli("ask", "--pad", ws, "--connect", router, stdin=b"after gateway restart")
        assert r.returncode == 0 and r.stdout.decode() == "after gateway restart\n", r.stderr
        # 2. the workstation dies mid-answer and is started again
        before = cap.count("f2w")
        asker = _ask_proc(ws, router, "b" * 6000)
        cap.wait_for(lambda: cap.count("f2w") >= before + 3)
        asker.send_signal(signal.SIGKILL)
        asker.wait()
        r = cli("ask", "--pad", ws, "--connect", router, stdin=b"after workstation restart")
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == "after workstation restart\n"
        assert b"was interrupted" in r.stderr
    finally:
        stop(gw)
    assert cap.assert_no_reuse() > 10
    cap.close()
