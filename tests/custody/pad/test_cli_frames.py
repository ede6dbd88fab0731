"""The frame layer from the shell: seal/open, and bad input gives one clear line."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from custody.pad import frame
from custody.pad.journal import read_journal
from custody.pad.store import JOURNAL_NAME, MANIFEST_NAME, PAD_NAME, open_pad_dir


def one_line_error(proc: subprocess.CompletedProcess[bytes]) -> str:
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert proc.stdout == b""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("reddoor: error: ")
    return lines[0]


@pytest.fixture
def pad(tmp_path: Path, cli) -> Path:
    out = tmp_path / "pad"
    proc = cli("practice-pad", "--size", "1M", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["mark"] == "PRACTICE"
    return out


def test_seal_open_round_trip_and_replay(pad: Path, cli) -> None:
    sealed = cli("frame", "seal", "--pad", str(pad / "workstation"), stdin=b"what is 2+2?")
    assert sealed.returncode == 0, sealed.stderr
    h = json.loads(cli("frame", "inspect", stdin=sealed.stdout).stdout)
    assert h["kind"] == "query" and h["direction"] == "w2f" and h["offset"] == 0
    opened = cli("frame", "open", "--pad", str(pad / "facility"), stdin=sealed.stdout)
    assert (opened.returncode, opened.stdout) == (0, b"what is 2+2?")
    again = cli("frame", "open", "--pad", str(pad / "facility"), stdin=sealed.stdout)
    assert "already consumed" in one_line_error(again)
    assert again.returncode == 7
    answer = cli(
        "frame", "seal", "--pad", str(pad / "facility"), "--kind", "answer-chunk", stdin=b"4"
    )
    back = cli("frame", "open", "--pad", str(pad / "workstation"), "--json", stdin=answer.stdout)
    assert json.loads(back.stdout)["kind"] == "answer-chunk"


def test_consecutive_seals_never_overlap(pad: Path, cli) -> None:
    ranges = []
    for i in range(5):
        p = cli("frame", "seal", "--pad", str(pad / "workstation"), stdin=b"x" * (i * 300))
        h = frame.parse_header(p.stdout)
        ranges.append(h.range)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))
    # Clean exits give back the unused block tail: no pad wasted between CLI calls.
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_tampered_frame_via_cli(pad: Path, cli) -> None:
    sealed = cli("frame", "seal", "--pad", str(pad / "workstation"), stdin=b"hello").stdout
    bad = bytearray(sealed)
    bad[-1] ^= 1
    proc = cli("frame", "open", "--pad", str(pad / "facility"), stdin=bytes(bad))
    assert "failed authentication" in one_line_error(proc)


def _journal_ok(copy_dir: Path) -> None:
    read_journal(copy_dir / JOURNAL_NAME)  # parses and its checksum holds


def test_truncated_pad(pad: Path, cli) -> None:
    ws = pad / "workstation"
    os.truncate(ws / PAD_NAME, 1000)
    line = one_line_error(cli("frame", "seal", "--pad", str(ws), stdin=b"x"))
    assert "truncated" in line
    _journal_ok(ws)


def test_corrupt_manifest(pad: Path, cli) -> None:
    ws = pad / "workstation"
    (ws / MANIFEST_NAME).write_bytes(b'{"format": "reddoor-pad/1", "size": ')
    assert "corrupt" in one_line_error(cli("frame", "seal", "--pad", str(ws), stdin=b"x"))
    _journal_ok(ws)


def test_wrong_pad_directory(tmp_path: Path, pad: Path, cli) -> None:
    (tmp_path / "empty").mkdir()
    assert "not a pad directory" in one_line_error(
        cli("frame", "seal", "--pad", str(tmp_path / "empty"), stdin=b"x")
    )
    assert "not a directory" in one_line_error(
        cli("frame", "seal", "--pad", str(tmp_path / "missing"), stdin=b"x")
    )
    # A frame for pad A opened with pad B's copy.
    cli("practice-pad", "--size", "1M", "--out", str(tmp_path / "other"))
    sealed = cli("frame", "seal", "--pad", str(pad / "workstation"), stdin=b"x").stdout
    line = one_line_error(
        cli("frame", "open", "--pad", str(tmp_path / "other/facility"), stdin=sealed)
    )
    assert "another pad" in line


def test_exhausted_region(tmp_path: Path, cli) -> None:
    out = tmp_path / "pad"
    cli("practice-pad", "--size", "128K", "--out", str(out), "--split", "1:1")
    ws = out / "workstation"
    big = b"y" * 20000
    codes = [cli("frame", "seal", "--pad", str(ws), stdin=big).returncode for _ in range(4)]
    assert codes[:2] == [0, 0]
    proc = cli("frame", "seal", "--pad", str(ws), stdin=big)
    assert "pad exhausted" in one_line_error(proc)
    assert proc.returncode == 4
    _journal_ok(ws)


@pytest.mark.parametrize("how", ["directory", "dangling-symlink", "no-permission"])
def test_unreadable_pad_file(pad: Path, cli, how: str) -> None:
    ws = pad / "workstation"
    target = ws / PAD_NAME
    if how == "directory":
        target.unlink()
        target.mkdir()
    elif how == "dangling-symlink":
        target.unlink()
        target.symlink_to(ws / "nowhere.bin")
    else:
        if os.geteuid() == 0:
            pytest.skip("root reads files regardless of permissions")
        target.chmod(0)
    line = one_line_error(cli("frame", "seal", "--pad", str(ws), stdin=b"x"))
    assert "pad file" in line
    _journal_ok(ws)


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str):
    where.mkdir()
    proc = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={size}",
            f"reddoor-{uuid.uuid4().hex[:8]}",
            str(where),
        ],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_keeps_the_journal_consistent(tmp_path: Path, cli) -> None:
    with small_tmpfs(tmp_path / "usb", "1200k") as usb:
        assert cli("practice-pad", "--size", "256K", "--out", str(usb / "p")).returncode == 0
        # practice-pad put both copies on the stick; the facility copy moves off it.
        fac = tmp_path / "facility"
        subprocess.run(["cp", "-a", str(usb / "p" / "facility"), str(fac)], check=True)
        subprocess.run(["rm", "-rf", str(usb / "p" / "facility")], check=True)
        ws = usb / "p" / "workstation"
        first = cli("frame", "seal", "--pad", str(ws), stdin=b"before the disk filled")
        assert first.returncode == 0
        filler = usb / "filler"
        with contextlib.suppress(OSError), open(filler, "wb") as f:
            while True:
                f.write(bytes(4096))
                f.flush()
        before = (ws / JOURNAL_NAME).read_bytes()
        proc = cli("frame", "seal", "--pad", str(ws), stdin=b"while the disk is full")
        assert "no space left" in one_line_error(proc)
        assert (ws / JOURNAL_NAME).read_bytes() == before  # untouched, still valid
        _journal_ok(ws)
        filler.unlink()
        second = cli("frame", "seal", "--pad", str(ws), stdin=b"after space came back")
        assert second.returncode == 0, second.stderr
        r1, r2 = frame.parse_header(first.stdout).range, frame.parse_header(second.stdout).range
        assert r1[1] <= r2[0]
        with open_pad_dir(fac) as f_copy:
            assert frame.open_frame(f_copy, first.stdout).payload == b"before the disk filled"
            assert frame.open_frame(f_copy, second.stdout).payload == b"after space came back"


def test_help_for_every_command(cli, capsys) -> None:
    from app.cli.main import build_parser, main

    parser = build_parser()
    paths: list[list[str]] = []

    def walk(p, prefix: list[str]) -> None:
        for action in p._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, child in action.choices.items():
                    paths.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(parser, [])
    assert ["frame", "seal"] in paths and ["practice-pad"] in paths
    for path in paths:  # in this process: a subprocess each took half a minute in all
        with pytest.raises(SystemExit) as exit_:
            main([*path, "--help"])
        out = capsys.readouterr()
        assert exit_.value.code == 0, (path, out.err)
        assert "usage: reddoor" in out.out
    top = cli("--help")  # and the real entry point, in a process of its own
    assert top.returncode == 0 and b"practice-pad" in top.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith(b"reddoor ")


def test_usage_errors_are_one_line(cli) -> None:
    proc = cli("practice-pad", "--size", "lots", "--out", "/tmp/x")
    assert "bad size" in one_line_error(proc)
    assert proc.returncode == 2
    proc = cli("frame", "seal")
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr


def test_core_packages_do_not_import_qt() -> None:
    code = (
        "import sys, ceremony, custody, app.cli.main, custody.pad.frame, custody.pad.store, "
        "custody.pad.status; app.cli.main.build_parser(); "
        "import pkgutil, importlib; "
        "[importlib.import_module(m.name) for pkg in (ceremony, custody) "
        " for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.')]; "
        "bad = [m for m in sys.modules if m.startswith('PySide6')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_outside_system_has_exactly_one_seam() -> None:
    """STYLE.md: one module imports zenoh, one pkcs11, one sqlcipher3; one package reportlab.

    reportlab's seam is the package custody/documents/pdf/: its `__init__` installs the settings
    guard, and Python runs a package's `__init__` before any of its modules, so the guard comes
    before every reportlab import there. Nothing outside the package may import reportlab."""
    import re

    from tests.conftest import REPO

    seams = {
        "zenoh": "custody/link/zenoh_transport.py",
        "pkcs11": "custody/hsm.py",
        "sqlcipher3": "custody/ledger/database.py",
        "reportlab": "custody/documents/pdf/",
    }
    for module, seam in seams.items():
        pattern = re.compile(rf"^\s*(import {module}\b|from {module}\b)", re.M)
        importers = sorted(
            str(p.relative_to(REPO))
            for pkg in ("app", "ceremony", "custody")
            for p in (REPO / pkg).rglob("*.py")
            if pattern.search(p.read_text())
        )
        if seam.endswith("/"):
            assert importers and all(i.startswith(seam) for i in importers), (module, importers)
        else:
            assert importers == [seam], (module, importers)
    init = (REPO / seams["reportlab"] / "__init__.py").read_text()
    assert init.index("_guard_reportlab_settings()\n") < init.index("from reportlab")


def test_home_is_accepted_before_and_after_the_command(tmp_path: Path, cli) -> None:
    from app.cli.main import build_parser

    parser = build_parser()
    home = str(tmp_path / "h")
    assert parser.parse_args(["--home", home, "pad", "status", "--pad", "x"]).home == Path(home)
    assert parser.parse_args(["pad", "status", "--home", home, "--pad", "x"]).home == Path(home)
    assert parser.parse_args(["pad", "status", "--pad", "x"]).home is None


def test_refused_practice_pad_leaves_nothing_behind(tmp_path: Path, cli) -> None:
    out = tmp_path / "p"
    line = one_line_error(cli("practice-pad", "--size", "64K", "--split", "7:1", "--out", str(out)))
    assert "too small for split 7:1" in line
    assert not (out / "workstation").exists() and not (out / "facility").exists()
    assert cli("practice-pad", "--size", "64K", "--split", "1:1", "--out", str(out)).returncode == 0
