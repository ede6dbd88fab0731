"""A stick whose journal is behind the facility (restored, or copied) never reuses pad bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from custody.link import keys as link_keys
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.practice import make_practice_pad
from tests.custody.link.fixtures import Capture, free_endpoint, popen_ask, spawn, stop


@pytest.fixture
def router():
    ep = free_endpoint()
    proc = spawn("router", "--listen", ep, ready="router listening")
    yield ep
    stop(proc)


def _pad(tmp_path: Path, size: int) -> tuple[Path, Path, bytes]:
    m = make_practice_pad(tmp_path / "p", size)
    (tmp_path / "fac").mkdir()
    (tmp_path / "p" / "facility").rename(tmp_path / "fac" / "p")
    return tmp_path / "p" / "workstation", tmp_path / "fac", m.pad_id


def test_restored_stick_on_another_host_skips_instead_of_reusing(cli, tmp_path, router) -> None:
    ws, fac, _ = _pad(tmp_path, 1 << 20)
    backup = tmp_path / "backup"
    shutil.copytree(ws, backup)
    cap = Capture(router)
    gw = spawn("gateway", "--connect", router, "--pads", str(fac), ready="serving")
    try:
        first = cli("ask", "--pad", str(ws), "--connect", router, stdin=b"first question")
        assert first.returncode == 0, first.stderr
        # The stick is restored from the backup and used on a host that never saw it (its
        # own state directory: no witness to catch the older journal).
        shutil.rmtree(ws)
        shutil.copytree(backup, ws)
        other_host = {"REDDOOR_STATE_DIR": str(tmp_path / "other-host")}
        again = cli(
            "ask",
            "--pad",
            str(ws),
            "--connect",
            router,
            stdin=b"a different question",
            env=other_host,
        )
        assert again.returncode == 0, again.stderr
        assert again.stdout.decode() == "a different question\n"
        assert cap.assert_no_reuse() >= 4  # two questions, two answers, all distinct ranges
    finally:
        stop(gw)
        cap.close()


def test_a_far_ahead_facility_mark_needs_explicit_consent(cli, tmp_path, router) -> None:
    """A gap larger than a crash can explain is refused; a forged hint burns little pad."""
    ws, fac, pad_id = _pad(tmp_path, 8 << 20)  # w2f region: 2 MiB
    gw = spawn("gateway", "--connect", router, "--pads", str(fac), ready="serving")
    forger = Transport(LinkConfig.for_endpoint(router))
    token = forger.declare_token(link_keys.gateway_floor_key("forger", pad_id, 1_600_000))
    try:
        refused = cli("ask", "--pad", str(ws), "--connect", router, stdin=b"q")
        assert refused.returncode == 5, refused.stderr
        err = refused.stderr.decode()
        assert err.count("\n") == 1 and "nothing was sent" in err and "Traceback" not in err
        status = cli("pad", "status", "--pad", str(ws), "--json")
        assert b'"w2f": 2096128' in status.stdout  # nothing skipped, nothing spent
        ok = cli("ask", "--pad", str(ws), "--connect", router, "--accept-facility-mark", stdin=b"q")
        assert ok.returncode == 0, ok.stderr
    finally:
        token.close()
        forger.close()
        stop(gw)


def test_the_workstation_gives_up_soon_after_the_gateway_leaves(cli, tmp_path, router) -> None:
    ws, fac, _ = _pad(tmp_path, 1 << 20)
    gw = spawn(
        "gateway",
        "--connect",
        router,
        "--pads",
        str(fac),
        "--echo-piece",
        "50",
        "--chunk-bytes",
        "64",
        "--echo-delay",
        "0.2",
        ready="serving",
    )
    import threading

    asker = popen_ask(["--pad", str(ws), "--connect", router], b"x" * 2000)
    assert asker.stdout is not None
    first = asker.stdout.read(20)  # the answer has started
    assert first
    threading.Event().wait(0.3)
    gw.kill()  # SIGKILL: the gateway leaves without a word
    gw.wait()
    _out, err = asker.communicate(timeout=30)  # far below the 120 s stall limit
    assert asker.returncode == 26, err
    assert b"left the link while answering" in err
