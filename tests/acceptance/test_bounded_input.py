"""Every file and stream the CLI reads has a size limit (issue #11, item 5).

Each command that reads a file or stdin is run as a real process, under an address-space limit
of 1.5 GiB (RLIMIT_AS, as `ulimit -v`), with `/dev/zero` and with a 2 GiB sparse file in place of
the input (and with a FIFO that a writer fills with zeros for ever). It must exit with a
documented non-zero code, one `reddoor: error:` line and no traceback: never 70 (MemoryError)
and never a signal. A normal run of these commands needs far less (measured: a gateway with its
Zenoh router peaks at about 1.25 GiB of address space, mostly reserved thread arenas; the other
commands under 0.5 GiB), so the limit proves that nothing reads an input whole.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.ledger import home, officers
from custody.pad.store import JOURNAL_NAME, MANIFEST_NAME
from tests.ceremony.test_ceremony_support import PASS_A, PASS_B

REPO = Path(__file__).resolve().parents[2]
ADDRESS_SPACE = 1536 << 20  # the 1.5 GiB
SPARSE_SIZE = 2 << 30

pytestmark = pytest.mark.slow


def documented_exit_codes() -> set[int]:
    """The codes in docs/architecture.md's "Exit codes" table."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    codes: set[int] = set()
    for a, b in re.findall(r"^\| (\d+)(?:–(\d+))? \|", table, re.M):
        codes.update(range(int(a), int(b or a) + 1))
    return codes


@dataclass
class World:
    """What the commands need besides the bad input: a practice home with two officers, a
    checkpoint, a practice pad, a journal export and a passphrase file."""

    tmp: Path
    home: Path
    checkpoint: Path
    vkey: Path
    ws: Path  # workstation copy
    fac: Path  # facility copy
    pad_id: str
    export: Path
    chronicle: Path
    passfile: Path
    state: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("REDDOOR_HOME", None)
        env["REDDOOR_STATE_DIR"] = str(self.state)
        return env


def _cli(world: World, *args: str, stdin: Path | None = None, limit: bool = False):  # type: ignore[no-untyped-def]
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    with open(stdin or os.devnull, "rb") as fh:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            stdin=fh,
            capture_output=True,
            env=world.env(),
            cwd=REPO,  # the worktree's packages, not an installed copy
            timeout=60,  # a normal run takes seconds: longer is a hang
            check=False,
            preexec_fn=cap if limit else None,
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("bounded")
    h = tmp / "home"
    home.init_home(h, practice=True)
    with home.open_home(h) as oh:
        officers.enroll(oh.ledger, "alice", PASS_A)
        officers.enroll(oh.ledger, "bob", PASS_B)
    passfile = tmp / "alice.pass"
    passfile.write_text(PASS_A + "\n")
    w = World(
        tmp=tmp,
        home=h,
        checkpoint=tmp / "cp.txt",
        vkey=h / home.VKEY,
        ws=tmp / "pad" / "workstation",
        fac=tmp / "pad" / "facility",
        pad_id="",
        export=tmp / "export.json",
        chronicle=tmp / "chronicle.jsonl",
        passfile=passfile,
        state=tmp / "state",
    )
    for args in (
        ["ledger", "checkpoint", "--home", str(h), "--out", str(w.checkpoint)],
        ["practice-pad", "--size", "1M", "--out", str(tmp / "pad"), "--json"],
        ["pad", "export-consumption", "--pad", str(w.ws), "--out", str(w.export)],
    ):
        proc = _cli(w, *args)
        assert proc.returncode == 0, proc.stderr.decode()
        if args[0] == "practice-pad":
            w.pad_id = json.loads(proc.stdout)["pad_id"]
    w.chronicle.write_text("")
    (tmp / "usb").mkdir()
    return w


# -- the bad inputs ---------------------------------------------------------------------------
@pytest.fixture(scope="module", params=["dev-zero", "sparse-2G", "fifo"])
def bad(request: pytest.FixtureRequest, world: World) -> Path:
    if request.param == "dev-zero":
        return Path("/dev/zero")
    if request.param == "sparse-2G":
        path = world.tmp / "sparse.bin"
        if not path.exists():
            with open(path, "wb") as fh:
                fh.truncate(SPARSE_SIZE)  # a hole: nothing is written
        return path
    path = world.tmp / "zeros.fifo"  # fed by `_zeros_into` while a case runs
    if not path.exists():
        os.mkfifo(path)
    return path


def _zeros_into(fifo: Path) -> subprocess.Popen[bytes]:
    """A writer that opens `fifo` (waiting for a reader) and writes zeros until it is closed."""
    return subprocess.Popen(["sh", "-c", f"exec cat /dev/zero > '{fifo}'"])


def _pad_copy_with(world: World, bad: Path, member: str, source: Path) -> Path:
    """A copy of a pad directory whose `member` (manifest or journal) is the bad input."""
    d = world.tmp / "bad-pads" / f"{bad.name}-{member}-{source.name}"
    if not d.exists():
        shutil.copytree(source, d, ignore=shutil.ignore_patterns(".lock"))
        (d / member).unlink()
        (d / member).symlink_to(bad)
    return d


def _home_with(world: World, bad: Path, member: str) -> Path:
    """A copy of the home whose `member` (settings, sealed key, verifier key) is the bad input."""
    d = world.tmp / "bad-homes" / f"{bad.name}-{member.replace('/', '-')}"
    if not d.exists():
        shutil.copytree(world.home, d)
        (d / member).parent.mkdir(parents=True, exist_ok=True)
        (d / member).unlink(missing_ok=True)
        (d / member).symlink_to(bad)
    return d


# -- every command that reads a file or stdin ---------------------------------------------------
# Placeholders: {X} the bad input; {X<} the bad input on stdin; {PAD:member:side} a copy of a pad
# directory whose member is the bad input; {HOME:member} a copy of the home likewise.
CASES: dict[str, str] = {
    # checkpoints, proofs, keys
    "ledger verify --checkpoint": "ledger verify --home {HOME} --checkpoint {X}",
    "ledger consistency --old": "ledger consistency --home {HOME} --old {X} --out {TMP}/c.json",
    "ledger verify-proof FILE": "ledger verify-proof {X} --vkey {VKEY}",
    "ledger verify-proof --vkey": "ledger verify-proof {CP} --vkey {X}",
    **{
        f"report {kind} --checkpoint": f"report {kind} {'{PADID} ' if kind == 'pad' else ''}"
        "--home {HOME} --json --checkpoint {X}"
        for kind in ("inventory", "pad", "consumption", "verification", "runsheet")
    },
    "receipt verify --qr-payload": "receipt verify --qr-payload {X} --pubkey {VKEY}",
    "receipt verify --pubkey": "receipt verify --qr-payload {CP} --pubkey {X}",
    # consumption records
    "pad reconcile --workstation-journal": "pad reconcile {PADID} --workstation-journal {X} "
    "--chronicle {CHRON}",
    "pad reconcile --chronicle": "pad reconcile {PADID} --workstation-journal {EXPORT} "
    "--chronicle {X}",
    "pad export-consumption --chronicle": "pad export-consumption --chronicle {X}",
    # secrets from files
    "init --pin-file": "init --home {TMP}/new-home --pin-file {X} --token-label T",
    "ledger log --pin-file": "ledger log --home {HOME} --pin-file {X}",
    "gateway --pin-file": "gateway --home {HOME} --pin-file {X}",
    "officer add --passphrase-file": "officer add carol --home {HOME} --passphrase-file {X}",
    "custody transfer --officer NAME=FILE": "custody transfer {PADID} --home {HOME} --to courier "
    "--bag-serial B1 --officer alice={X} --officer bob={PASS}",
    "ceremony run --officer NAME=FILE": "ceremony run --home {HOME} --size 64K --source os "
    "--customer-dir {TMP}/usb --bag-serial B1 --officer alice={X} --officer bob={PASS}",
    # stdin
    "frame seal < stdin": "frame seal --pad {WS} {X<}",
    "frame open < stdin": "frame open --pad {FAC} {X<}",
    "frame inspect < stdin": "frame inspect {X<}",
    "ask - < stdin": "ask - --pad {WS} {X<}",
    "ask --question-file": "ask --question-file {X} --pad {WS}",
    # settings files of the server commands
    "router --config": "router --config {X}",
    "gateway --config": "gateway --config {X}",
    "diode send --config": "diode send --config {X} --direction w2f --connect tcp/127.0.0.1:1 "
    "--to udp/127.0.0.1:9",
    # TLS files (Zenoh reads them by path: checked first)
    "router --tls-root-ca": "router --listen tls/127.0.0.1:1 --tls-root-ca {X}",
    "gateway --tls-key": "gateway --pads {FAC} --listen tls/127.0.0.1:1 --tls-cert {VKEY} "
    "--tls-key {X}",
    "ask --tls-cert": "ask --question-file {PASS} --pad {WS} --connect tls/127.0.0.1:1 "
    "--tls-cert {X} --tls-key {VKEY}",
    # pad directories: the manifest or the journal is the bad input
    **{
        f"{command} ({member})": f"{command} {{PAD:{member}:{side}}} {extra}"
        for member in (MANIFEST_NAME, JOURNAL_NAME)
        for command, side, extra in (
            ("pad status --pad", "ws", ""),
            ("pad export-consumption --pad", "ws", ""),
            ("frame seal --pad", "ws", ""),
            ("ask --question-file {PASS} --pad", "ws", ""),
            ("gateway --pads", "fac", "--listen tcp/127.0.0.1:1"),
        )
    },
    # the home's own files
    **{
        f"{command} ({member})": f"{command} --home {{HOME:{member}}}"
        for command, member in (
            ("ledger verify", home.SETTINGS),
            ("ledger verify", home.SEALED_KEY),
            ("ledger pubkey", home.VKEY),
            ("ceremony status", "ceremonies/active"),
        )
    },
}


def resolve(world: World, bad: Path, template: str) -> tuple[list[str], Path | None]:
    """The argv of a case, and what goes on its stdin."""
    fixed = {
        "{HOME}": world.home,
        "{CP}": world.checkpoint,
        "{VKEY}": world.vkey,
        "{WS}": world.ws,
        "{FAC}": world.fac,
        "{PADID}": world.pad_id,
        "{EXPORT}": world.export,
        "{CHRON}": world.chronicle,
        "{PASS}": world.passfile,
        "{TMP}": world.tmp,
        "{X}": bad,
    }
    argv: list[str] = []
    stdin: Path | None = None
    for arg in template.split():
        if arg == "{X<}":
            stdin = bad
            continue
        if m := re.fullmatch(r"\{PAD:([^:]+):(\w+)\}", arg):
            source = world.ws if m.group(2) == "ws" else world.fac
            arg = str(_pad_copy_with(world, bad, m.group(1), source))
        elif m := re.fullmatch(r"\{HOME:(.+)\}", arg):
            arg = str(_home_with(world, bad, m.group(1)))
        for key, value in fixed.items():
            arg = arg.replace(key, str(value))
        argv.append(arg)
    return argv, stdin


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_input_has_a_limit(world: World, bad: Path, case: str) -> None:
    argv, stdin = resolve(world, bad, CASES[case])
    writer = _zeros_into(bad) if bad.name.endswith(".fifo") else None
    try:
        proc = _cli(world, *argv, stdin=stdin, limit=True)
    finally:
        if writer is not None:  # gone with SIGPIPE, or still waiting for a reader that never came
            writer.kill()
            writer.wait()
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}: {err}"
    assert proc.returncode != 70, err
    assert proc.returncode in documented_exit_codes() - {0}, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("reddoor: error: "), err
    # It says why: the limit (or that a device is not a file), not some later symptom.
    assert re.search(r"limit of [\d,]+ bytes|not a regular file", lines[0]), lines[0]


def test_limits_keep_normal_runs_working(world: World) -> None:
    """The same commands with their real inputs, under the same address-space limit."""
    for argv in (
        ["ledger", "verify", "--home", str(world.home), "--checkpoint", str(world.checkpoint)],
        ["ledger", "verify-proof", str(world.checkpoint), "--vkey", str(world.vkey)],
        ["pad", "status", "--pad", str(world.ws), "--json"],
        ["pad", "export-consumption", "--chronicle", str(world.chronicle)],
    ):
        proc = _cli(world, *argv, limit=True)
        assert proc.returncode == 0, proc.stderr.decode()
