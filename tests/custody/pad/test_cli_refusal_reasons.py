"""`reddoor frame open` names each refusal by its reason word, as docs/protocol.md lists them.

One test per reason, each with a real frame (sealed by Red Door, then cut, flipped or replayed;
or built by hand from the pad bytes with a valid tag, for the refusals after authentication),
opened by the real command in a subprocess: exit 7, one line on stderr whose last word is the
reason, nothing on stdout, and under `--json` one object with that reason. A frame refused
before authentication leaves the journal byte for byte as it was; one refused after it has
spent its range.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.poly1305 import Poly1305

from custody.pad import frame
from custody.pad.frame import Kind
from custody.pad.practice import make_practice_pad
from custody.pad.store import JOURNAL_NAME, PAD_NAME, open_pad_dir
from tests.conftest import REPO

SIZE = 64 * 1024  # split 1:3: w2f is [0, 16384), its last 1,024 bytes the reserve


def _seal(pad: Path, payload: bytes = b"is this pad used once?") -> bytes:
    with open_pad_dir(pad / "workstation") as ws:
        return frame.seal(ws, Kind.QUERY, payload)


def _authentic(
    pad: Path, offset: int, inner_kind: int, *, clear_kind: int = Kind.QUERY, payload: bytes = b""
) -> bytes:
    """A w2f frame at `offset` with a valid tag, built from the facility copy's pad bytes."""
    body_len = 256
    raw = (pad / "facility" / PAD_NAME).read_bytes()[offset : offset + frame.KEY_LEN + body_len]
    header = frame.HEADER.pack(
        frame.MAGIC, frame.VERSION, clear_kind, 0, 0, 0, _pad_id(pad), offset,
        frame.KEY_LEN + body_len, body_len,
    )  # fmt: skip
    inner = frame.INNER.pack(inner_kind, frame.FLAG_FINAL, 0, bytes(16), len(payload)) + payload
    inner = inner.ljust(body_len, b"\0")
    body = bytes(a ^ b for a, b in zip(inner, raw[frame.KEY_LEN :], strict=True))
    return header + body + Poly1305.generate_tag(raw[: frame.KEY_LEN], header + body)


def _pad_id(pad: Path) -> bytes:
    return bytes.fromhex(json.loads((pad / "facility" / "manifest.json").read_text())["pad_id"])


def _flip(data: bytes, index: int, value: int) -> bytes:
    out = bytearray(data)
    out[index] = value
    return bytes(out)


def _pad_keyed_header(data: bytes) -> bytes:
    """The frame's header made pad-keyed (mode 1, a 32-byte key range): nothing else changes."""
    out = bytearray(data)
    out[5] = 1
    out[32:36] = (32).to_bytes(4, "big")
    return bytes(out)


def _replayed(pad: Path) -> bytes:
    sealed = _seal(pad)
    with open_pad_dir(pad / "facility") as fac:
        frame.open_frame(fac, sealed)
    return sealed


def _other_pad(pad: Path, attempt: int) -> bytes:
    other = pad.parent / f"other-{attempt}"
    make_practice_pad(other, SIZE)
    return _seal(other)


# reason -> (which copy opens it, frame maker called once per attempt with the attempt number)
Maker = Callable[[Path, int], bytes]
CASES: dict[str, tuple[str, Maker]] = {
    "truncated": ("facility", lambda p, i: _seal(p)[:50]),
    "bad-magic": ("facility", lambda p, i: b"XX" + _seal(p)[2:]),
    "bad-version": ("facility", lambda p, i: _flip(_seal(p), 2, 9)),
    "bad-header": ("facility", lambda p, i: _flip(_seal(p), 5, 2)),  # mode neither 0 nor 1
    "bad-length": ("facility", lambda p, i: _seal(p) + b"\0"),
    "wrong-pad": ("facility", _other_pad),
    "wrong-direction": ("workstation", lambda p, i: _seal(p)),
    # a well-formed pad-keyed header to a practice pad, whose frame policy is otp-only
    "policy": ("facility", lambda p, i: _pad_keyed_header(_seal(p))),
    # claims f2w, so the workstation receives it, but its range is in the w2f region
    "outside-region": ("workstation", lambda p, i: _flip(_seal(p), 4, 1)),
    "replay": ("facility", lambda p, i: _replayed(p)),
    "bad-tag": ("facility", lambda p, i: _flip(_seal(p), -1, _seal(p)[-1] ^ 1)),
    # clear kind query, inner kind ping: authentic, but the kinds disagree
    "bad-inner": ("facility", lambda p, i: _authentic(p, 288 * i, Kind.PING)),
    # an answer travelling w2f: authentic, well formed, not allowed in this direction
    "bad-kind": (
        "facility",
        lambda p, i: _authentic(p, 288 * i, Kind.ANSWER_CHUNK, clear_kind=Kind.OPAQUE),
    ),
}


@pytest.fixture
def pad(tmp_path: Path) -> Path:
    make_practice_pad(tmp_path / "pad", SIZE)
    return tmp_path / "pad"


def _refusal_line(proc) -> str:
    assert proc.returncode == 7, proc.stderr
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("reddoor: error: ")
    return lines[0]


def test_every_reason_has_a_case() -> None:
    assert tuple(CASES) == frame.REASONS


@pytest.mark.parametrize("reason", frame.REASONS)
def test_frame_open_names_the_reason(pad: Path, cli, reason: str) -> None:
    side, make = CASES[reason]
    copy = pad / side
    consumed = reason in frame.REJECTED_AFTER_AUTHENTICATION
    for attempt, as_json in enumerate((False, True)):
        data = make(pad, attempt)
        before = (copy / JOURNAL_NAME).read_bytes()
        args = ["frame", "open", "--pad", str(copy)] + (["--json"] if as_json else [])
        proc = cli(*args, stdin=data)
        line = _refusal_line(proc)
        assert line.split()[-1] == reason, line
        if as_json:
            out = json.loads(proc.stdout)
            assert out["reason"] == reason and out["refused"] is True
            assert out["consumed"] is consumed and out["message"] in line
        else:
            assert proc.stdout == b""
        after = (copy / JOURNAL_NAME).read_bytes()
        if consumed:
            # The tag verified: the range is spent, recorded and zeroized; it is a replay now.
            assert after != before
            h = frame.parse_header(data)
            raw = (copy / PAD_NAME).read_bytes()
            assert raw[h.offset : h.offset + h.range_len] == bytes(h.range_len)
            again = _refusal_line(cli("frame", "open", "--pad", str(copy), stdin=data))
            assert again.split()[-1] == "replay"
        else:
            # Refused before authentication: nothing changed, not even the generation.
            assert after == before


def test_an_ordinary_frame_inside_the_reserve_is_bad_kind(pad: Path, cli) -> None:
    """The last `reserve` bytes of a region are for the final pad-exhausted frame only: an
    authentic query reaching into them is refused after authentication (its range is spent),
    a pad-exhausted frame there opens."""
    fac = pad / "facility"
    usable_end = 16384 - 1024
    query = _authentic(pad, usable_end - 288 + 16, Kind.QUERY, payload=b"late")
    proc = cli("frame", "open", "--pad", str(fac), "--json", stdin=query)
    assert _refusal_line(proc).split()[-1] == "bad-kind"
    assert json.loads(proc.stdout)["consumed"] is True
    final = _authentic(pad, usable_end + 16, Kind.PAD_EXHAUSTED, clear_kind=Kind.OPAQUE)
    opened = cli("frame", "open", "--pad", str(fac), "--json", stdin=final)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout)["kind"] == "pad-exhausted"


def test_inspect_names_the_reason_too(pad: Path, cli) -> None:
    proc = cli("frame", "inspect", stdin=_flip(_seal(pad), 5, 2))
    assert _refusal_line(proc).split()[-1] == "bad-header"
    assert proc.stdout == b""


# -- the docs and the code list the same reasons ---------------------------------------------


def _documented_reasons() -> tuple[str, ...]:
    text = (REPO / "docs" / "protocol.md").read_text()
    section = text.split("## Receiving: the order of checks", 1)[1].split("\n## ", 1)[0]
    return tuple(re.findall(r"^\| `([a-z-]+)` \|", section, re.M))


def _reasons_raised_in_code() -> set[str]:
    """Every reason word custody raises a FrameRejected with, or returns as a verdict."""
    found: set[str] = set()
    for path in (REPO / "custody").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "FrameRejected"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
            if isinstance(node, ast.FunctionDef) and node.name == "receive_verdict":
                for ret in ast.walk(node):
                    if (
                        isinstance(ret, ast.Return)
                        and isinstance(ret.value, ast.Tuple)
                        and isinstance(ret.value.elts[0], ast.Constant)
                    ):
                        found.add(ret.value.elts[0].value)
    return found


def test_the_docs_list_exactly_the_code_reasons_in_order() -> None:
    assert _documented_reasons() == frame.REASONS
    assert _reasons_raised_in_code() == set(frame.REASONS)
