"""`reddoor frame seal|open|inspect`: the wire format from the shell (diagnostics and interop)."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from app.cli.numeric_options import integer
from custody.bounded_read import read_stream
from custody.errors import FrameRejected, UsageError
from custody.pad import frame
from custody.pad.keyed import KeyedStream
from custody.pad.store import open_pad_dir

KIND_NAMES = {k.name.lower().replace("_", "-"): k for k in frame.Kind if k is not frame.Kind.OPAQUE}


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("frame", help="seal, open or inspect one OTP frame", parents=[common])
    fsub = p.add_subparsers(dest="frame_command", metavar="ACTION", required=True)

    seal = fsub.add_parser(
        "seal",
        parents=[common],
        help="encrypt stdin into one frame on stdout",
        description="Read plaintext on stdin, write one frame on stdout. The pad range is "
        "reserved in the journal before any pad byte is read, and zeroized afterwards.",
    )
    seal.add_argument("--pad", type=Path, required=True, help="pad copy directory")
    seal.add_argument("--kind", choices=sorted(KIND_NAMES), default="query")
    seal.add_argument("--msg-id", help="16-byte message id as 32 hex digits (default: random)")
    seal.add_argument(
        "--seq", type=integer(0, 2**32 - 1), default=0, help="fragment number (default 0)"
    )
    seal.add_argument("--more", action="store_true", help="not the final fragment")
    seal.add_argument("--compress", action="store_true", help="zlib before padding")
    seal.add_argument("--conceal", action="store_true", help="hide the kind (cover traffic)")
    seal.add_argument(
        "--pad-keyed",
        action="store_true",
        help="a pad-keyed frame under its own key (32 pad bytes; ChaCha20-Poly1305, "
        "computational) — the pad's frame policy must allow it; default: one-time pad",
    )
    seal.set_defaults(handler=cmd_seal)

    op = fsub.add_parser(
        "open",
        parents=[common],
        help="check and decrypt one frame from stdin",
        description="Read one frame on stdin and write its plaintext on stdout. A rejected "
        "frame writes nothing on stdout (with --json: one object with its reason), one line on "
        "stderr ending with the reason word (docs/protocol.md) and exits 7.",
    )
    op.add_argument("--pad", type=Path, required=True, help="pad copy directory")
    op.add_argument(
        "--json",
        action="store_true",
        help="print metadata and base64 payload (on refusal: reason, message, consumed)",
    )
    op.set_defaults(handler=cmd_open)

    ins = fsub.add_parser(
        "inspect", parents=[common], help="print the clear header of a frame (no pad needed)"
    )
    ins.set_defaults(handler=cmd_inspect)


def _read_stdin(limit: int, what: str) -> bytes:
    return read_stream(sys.stdin.buffer, limit, what)


def cmd_seal(args: argparse.Namespace) -> int:
    msg_id = secrets.token_bytes(16)
    if args.msg_id:
        try:
            msg_id = bytes.fromhex(args.msg_id)
        except ValueError:
            msg_id = b""
        if len(msg_id) != 16:
            raise UsageError("--msg-id must be 32 hex digits")
    if not 0 <= args.seq < 2**32:
        raise UsageError("--seq must be between 0 and 2^32-1")
    payload = _read_stdin(
        frame.MAX_PAYLOAD if not args.compress else frame.MAX_DECOMPRESSED, "plaintext"
    )
    kind = KIND_NAMES[args.kind]
    with open_pad_dir(args.pad) as copy:
        if copy.side.sends not in frame.allowed_directions(kind):
            raise UsageError(f"a {copy.side.value} copy cannot send {args.kind} frames")
        try:
            data = frame.seal(
                copy,
                kind,
                payload,
                msg_id=msg_id,
                seq=args.seq,
                final=not args.more,
                compress=args.compress,
                conceal=args.conceal,
                stream=KeyedStream(copy) if args.pad_keyed else None,
            )
        except frame.PayloadTooLarge as exc:
            raise UsageError(str(exc)) from None
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


def _refused(exc: FrameRejected) -> FrameRejected:
    """The refusal as the CLI reports it: the reason word last on the error line."""
    return FrameRejected(exc.reason, f"{exc.message}; refused: {exc.reason}")


def cmd_open(args: argparse.Namespace) -> int:
    data = _read_stdin(frame.OVERHEAD + frame.MAX_BODY, "frame")
    refusal: FrameRejected | None = None
    with open_pad_dir(args.pad) as copy:
        try:
            msg = frame.open_frame(copy, data)
        except FrameRejected as exc:
            refusal = exc
    if refusal is not None:
        if args.json:
            # "consumed": the tag verified, so the range is spent (steps 7-8 of the checks).
            verdict = {
                "refused": True,
                "reason": refusal.reason,
                "message": refusal.message,
                "consumed": refusal.reason in frame.REJECTED_AFTER_AUTHENTICATION,
            }
            print(json.dumps(verdict, sort_keys=True))
        raise _refused(refusal) from None
    if args.json:
        import base64

        out = {
            "kind": msg.kind.name.lower().replace("_", "-"),
            "msg_id": msg.msg_id.hex(),
            "seq": msg.seq,
            "final": msg.final,
            "offset": msg.offset,
            "range_len": msg.range_len,
            "compressed": msg.compressed,
            "mode": msg.mode.word,
            "guarantee": msg.mode.guarantee,
            "payload_b64": base64.b64encode(msg.payload).decode(),
        }
        print(json.dumps(out, sort_keys=True))
    else:
        sys.stdout.buffer.write(msg.payload)
        sys.stdout.buffer.flush()
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    try:
        h = frame.parse_header(_read_stdin(frame.OVERHEAD + frame.MAX_BODY, "frame"))
    except FrameRejected as exc:
        raise _refused(exc) from None
    print(
        json.dumps(
            {
                "version": h.version,
                "kind": frame.Kind(h.kind).name.lower().replace("_", "-"),
                "direction": "w2f" if h.direction == 0 else "f2w",
                "pad_id": h.pad_id.hex(),
                "offset": h.offset,
                "range_len": h.range_len,
                "body_len": h.body_len,
                "mode": h.mode.word,
                "key_index": h.key_index,
            },
            sort_keys=True,
        )
    )
    return 0
