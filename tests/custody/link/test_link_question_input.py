"""The question never travels in argv: every local user can read /proc/PID/cmdline.

`reddoor ask` takes it from stdin, `--question-file` or a terminal prompt, and refuses one given
as an argument (before anything is opened, connected or spent); the docs and `--help` show only
those forms.
"""

from __future__ import annotations

import json
import os
import pty
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.question_source import MAX_QUESTION_BYTES
from custody.link import messages as link_messages
from tests.custody.link.fixtures import REPO, free_endpoint, popen_ask, spawn, stop


@pytest.fixture
def router():
    ep = free_endpoint()
    proc = spawn("router", "--listen", ep, ready="router listening")
    yield ep
    stop(proc)


def _cmdlines_holding(marker: bytes) -> list[str]:
    """The pids whose command line contains `marker` (every process this test can read)."""
    hits = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if marker in cmdline:
            hits.append(f"{entry.name}: {cmdline[:200]!r}")
    return hits


def _watch(proc: subprocess.Popen[bytes], marker: bytes) -> tuple[bytes, int]:
    """Once the answer streams, read every process's command line until `proc` ends; the
    answer so far and how many scans were made while `proc` was still running."""
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 1)  # unbuffered: communicate() reads the rest
    assert first, "the answer never started: " + proc.stderr.read().decode()  # type: ignore[union-attr]
    scans_while_running = 0
    while proc.poll() is None:
        hits = _cmdlines_holding(marker)
        assert not hits, f"the question is readable in a command line: {hits}"
        if proc.poll() is None:
            scans_while_running += 1
    return first, scans_while_running


def _ask_on_terminal(router: str, ws: Path, terminal: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "ask", "--pad", str(ws), "--connect", router],
        cwd=REPO,
        env=dict(os.environ),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_no_question_in_any_command_line_during_a_slow_answer(pads, router, tmp_path):
    marker = f"crimson-{secrets.token_hex(8)}"
    question = "".join(f"{marker} line {i}\n" for i in range(16))  # ~500 bytes, short lines
    # A slow echo: pieces of 40 bytes 0.1 s apart, so the answer streams for over a second.
    gw = spawn(
        "gateway", "--connect", router, "--pads", str(pads / "fac"),
        "--echo-delay", "0.1", "--echo-piece", "40", "--chunk-bytes", "64",
        ready="serving",
    )  # fmt: skip
    ws = pads / "p1" / "workstation"
    qfile = tmp_path / "q.txt"
    qfile.write_text(question)
    try:
        for form in ("stdin", "dash", "file", "terminal"):
            master = None
            args = ["--pad", str(ws), "--connect", router]
            if form == "terminal":
                master, slave = pty.openpty()
                proc = _ask_on_terminal(router, ws, slave)
                os.close(slave)
                os.write(master, question.encode() + b"\x04")  # typed, then Ctrl-D
            elif form == "file":
                proc = popen_ask([*args, "--question-file", str(qfile)], b"")
            else:
                proc = popen_ask([*args, "-"] if form == "dash" else args, question.encode())
            try:
                first, scans = _watch(proc, marker.encode())
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                if master is not None:
                    os.close(master)
            assert proc.returncode == 0, (form, err)
            assert (first + out).decode() == question, form
            assert scans >= 1, form  # the command lines were read while the answer streamed
            if form == "terminal":
                assert b"type the question" in err
    finally:
        stop(gw)


def test_a_question_given_as_an_argument_is_refused(cli, pads):
    ws = str(pads / "p1" / "workstation")
    before = cli("pad", "status", "--pad", ws, "--json")
    # No router at this endpoint: the refusal comes before any connection (else exit 21).
    r = cli("ask", "--pad", ws, "--connect", free_endpoint(), "what is behind the red door?")
    assert r.returncode == 2, r.stderr
    line = r.stderr.decode()
    assert len(line.strip().splitlines()) == 1 and line.startswith("reddoor: error: "), line
    assert "/proc/PID/cmdline" in line and "stdin" in line and "--question-file" in line
    assert "red door" not in line and "Traceback" not in line
    after = cli("pad", "status", "--pad", ws, "--json")
    assert json.loads(before.stdout)["remaining"] == json.loads(after.stdout)["remaining"]
    # the demo's --question takes only `-` (stdin) too
    r = cli("demo", "--question", "what is behind the red door?")
    assert r.returncode == 2 and b"/proc/PID/cmdline" in r.stderr and b"behind" not in r.stderr
    r = cli("demo", "--question", "-", stdin=b"from stdin")
    assert r.returncode == 0 and b"'from stdin'" in r.stdout, r.stderr


def test_question_sources_fail_with_one_line(cli, pads, tmp_path):
    assert MAX_QUESTION_BYTES == link_messages.MAX_QUERY_BYTES
    ws = str(pads / "p1" / "workstation")
    big = tmp_path / "big"
    with big.open("wb") as fh:
        fh.truncate(MAX_QUESTION_BYTES + 1)
    latin1 = tmp_path / "latin1"
    latin1.write_bytes("café".encode("latin-1"))
    ep = free_endpoint()
    for args, stdin, text in (
        (["--question-file", str(tmp_path / "missing")], b"", "cannot read the question file"),
        (["--question-file", str(big)], b"", "larger than its limit of 4,194,304 bytes"),
        (["--question-file", str(latin1)], b"", "is not UTF-8 text"),
        (["-", "--question-file", str(latin1)], b"", "not both"),
        ([], b"\xff", "is not UTF-8 text"),
        ([], b" \n", "the question is empty"),
        ([], b"x" * (MAX_QUESTION_BYTES + 1), "larger than its limit of 4,194,304 bytes"),
    ):
        r = cli("ask", "--pad", ws, "--connect", ep, *args, stdin=stdin)
        err = r.stderr.decode()
        assert r.returncode == 2 and text in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_docs_and_help_show_only_the_safe_forms(cli):
    """No `reddoor ask ... "question"` left anywhere a user copies from."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    shown = 0
    for page in pages:
        for line in page.read_text().replace("\\\n", " ").splitlines():  # joined continuations
            if "reddoor ask" not in line:
                continue
            shown += 1
            command = line.split("reddoor ask", 1)[1].split("#", 1)[0].split("`", 1)[0]
            assert not re.search(r"['\"]", command), f"{page.name}: {line.strip()}"
    assert shown >= 3
    r = cli("ask", "--help")
    assert r.returncode == 0
    text = r.stdout.decode()
    assert "--question-file" in text and "/proc/PID/cmdline" in text
    # the only positional argument is `-` (stdin)
    assert re.search(r"positional arguments:\n +- +read the question from stdin", text), text
