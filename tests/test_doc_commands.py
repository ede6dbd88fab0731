"""The commands the docs give a newcomer run as written: the README's "Command line" block and
the auditor guide's receipt check (the QR code read off the page the guide names).

Each line runs through bash with `reddoor` on PATH (this checkout's code), HOME in a temporary
directory (so `~/facility` lands there) and every `/tmp/NAME` moved there too. The only other change
is the gateway's port: the README's fixed one may be taken on a shared test machine, so a free
port replaces it everywhere it appears.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ceremony.test_ceremony_support import make_facility, run_ceremony
from tests.custody.link.fixtures import free_port

REPO = Path(__file__).resolve().parent.parent


def _block(doc: str, heading: str) -> list[str]:
    """The lines of the first fenced code block after `heading`, continuation lines joined."""
    text = (REPO / doc).read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    body = re.search(r"```(?:sh)?\n(.*?)```", section, re.S)
    assert body is not None, heading
    return [ln for ln in body.group(1).replace("\\\n", " ").splitlines() if ln.strip()]


@pytest.fixture
def shell(tmp_path: Path):
    """Run a doc line with bash as a newcomer's shell would, in a scratch HOME."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "reddoor"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m app "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k != "REDDOOR_HOME"},
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
    }

    def run(line: str, **kw) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", line], cwd=home, env=env, capture_output=True, text=True, **kw
        )

    run.env = env  # type: ignore[attr-defined]
    run.home = home  # type: ignore[attr-defined]
    return run


def test_the_readme_command_line_runs_as_written(shell, tmp_path):
    lines = _block("README.md", "## Command line")
    assert any("init --home ~/facility" in ln for ln in lines)
    assert any("--home ~/facility ledger verify" in ln for ln in lines)
    port = str(free_port())
    background: list[subprocess.Popen[str]] = []
    outputs: dict[str, str] = {}
    try:
        for raw in lines:
            line = re.sub(r"/tmp/(\w+)", lambda m: str(tmp_path / m.group(1)), raw)
            line = line.replace("7450", port)
            command = line.split("  #")[0].rstrip()
            if command.endswith("&"):  # a server: start it, wait until it says it serves
                proc = subprocess.Popen(
                    ["bash", "-c", f"exec {command[:-1]}"],
                    cwd=shell.home,
                    env=shell.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                background.append(proc)
                assert proc.stderr is not None
                said = ""
                while "serving" not in said:
                    got = proc.stderr.readline()
                    assert got, f"{raw!r} stopped: {said}"
                    said += got
                continue
            done = shell(command, timeout=120)
            assert done.returncode == 0, f"{raw!r} exited {done.returncode}: {done.stderr}"
            outputs[raw] = done.stdout
    finally:
        for proc in background:
            proc.terminate()
            proc.wait(timeout=30)
    ask = next(out for ln, out in outputs.items() if "reddoor ask" in ln)
    assert ask.strip() == "hello"  # the echo AI's answer, through the gateway
    verify = next(out for ln, out in outputs.items() if "ledger verify" in ln)
    assert verify.startswith("ledger verifies")
    init = next(out for ln, out in outputs.items() if "reddoor init" in ln)
    assert "--home" in init and "REDDOOR_HOME=" in init  # init says how to use the home
    # What the README warns about: the home is not remembered.
    forgot = shell("reddoor ledger verify")
    assert forgot.returncode == 9
    assert "--home" in forgot.stderr and "REDDOOR_HOME" in forgot.stderr
    with_env = shell("REDDOOR_HOME=~/facility reddoor ledger verify")
    assert with_env.returncode == 0 and with_env.stdout.startswith("ledger verifies")


def test_the_readme_gateway_port_is_not_the_one_make_run_holds():
    lines = [ln for ln in _block("README.md", "## Command line") if "reddoor gateway" in ln]
    assert lines and all("--listen tcp/127.0.0.1:7450" in ln for ln in lines)
    ask = [ln for ln in _block("README.md", "## Command line") if "reddoor ask" in ln]
    assert ask and all("--listen tcp/127.0.0.1:7450" in ln for ln in ask)
    from custody.link.zenoh_transport import DEFAULT_ENDPOINT  # what `make run` listens on

    assert not DEFAULT_ENDPOINT.endswith(":7450")


def test_address_in_use_says_to_choose_another_with_listen(shell):
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    router_port = free_port()
    router = subprocess.Popen(
        ["bash", "-c", f"exec reddoor router --listen tcp/127.0.0.1:{router_port}"],
        cwd=shell.home,
        env=shell.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert shell("reddoor practice-pad --size 4M --out pad").returncode == 0
        assert router.stderr is not None and "listening" in router.stderr.readline()
        for command in (
            f"reddoor router --listen tcp/127.0.0.1:{port}",
            f"reddoor gateway --pads pad/facility --listen tcp/127.0.0.1:{port}",
            f"reddoor diode receive --direction w2f --listen udp/127.0.0.1:"
            f"{udp.getsockname()[1]} --connect tcp/127.0.0.1:{router_port}",
        ):
            done = shell(command, timeout=60)
            assert done.returncode == 20, (command, done.stderr)
            error = [ln for ln in done.stderr.splitlines() if ln.startswith("reddoor: error")]
            assert len(error) == 1 and "choose another with --listen" in error[0], done.stderr
    finally:
        router.terminate()
        router.wait(timeout=30)
        held.close()
        udp.close()


def test_the_auditor_guide_reads_the_receipt_qr_code_where_it_says(shell, tmp_path):
    f = make_facility(tmp_path / "facility")
    receipt = shell.home / "receipt.pdf"
    proc = run_ceremony(f, "--receipt", str(receipt), size="1M")
    assert proc.returncode == 0, proc.stderr.decode()
    (shell.home / "ledger.vkey").write_bytes((f.home / "ledger.vkey").read_bytes())
    lines = _block("docs/auditor-guide.md", "## 1. A custody receipt")
    assert any(re.search(r"zbarimg .*receipt-\d\.png", ln) for ln in lines)
    for raw in lines:
        done = shell(raw.split("  #")[0].rstrip(), timeout=120)
        assert done.returncode == 0, f"{raw!r} exited {done.returncode}: {done.stderr}"
    payload = (shell.home / "payload.txt").read_text()
    assert payload.startswith("RDR1:")
    assert "verified: event" in done.stdout and "ceremony.closed" in done.stdout
