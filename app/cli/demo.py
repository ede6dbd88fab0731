"""`reddoor demo`: the headless practice round trip (what `make run` shows for now)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from app.cli.question_source import read_question
from custody.pad import frame
from custody.pad.practice import make_practice_pad
from custody.pad.store import open_pad_dir

QUESTION = "How do I make this function UNCLASSIFIED without losing functionality?"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="headless practice round trip over a fresh PRACTICE pad",
        description="Make a 4 MiB PRACTICE pad, encrypt a question with the workstation copy, "
        "open it with the facility copy, answer back, and show the pad bytes used.",
    )
    p.add_argument("--out", type=Path, help="keep the practice pad here (default: a temp dir)")
    # Like `reddoor ask`, never the question itself on the command line (every local user
    # can read it there): `--question -` reads stdin.
    p.add_argument(
        "--question",
        default=None,
        metavar="-",
        help="read the question from stdin (default: a built-in question)",
    )
    p.add_argument(
        "--question-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read the question from FILE (UTF-8)",
    )
    p.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    out = getattr(args, "out", None)
    question = (
        read_question(
            getattr(args, "question", None),
            getattr(args, "question_file", None),
            stdin_form="echo QUESTION | reddoor demo --question -",
            prompt=False,
        )
        or QUESTION
    )
    with tempfile.TemporaryDirectory(prefix="reddoor-demo-") as tmp:
        base = Path(out) if out else Path(tmp)
        os.environ.setdefault("REDDOOR_STATE_DIR", str(base / "state"))
        manifest = make_practice_pad(base / "pad", 4 << 20)
        print(f"1. Made PRACTICE pad {manifest.pad_id_display} (4 MiB, split 1:3) in {base}/pad")
        with (
            open_pad_dir(base / "pad" / "workstation") as ws,
            open_pad_dir(base / "pad" / "facility") as fac,
        ):
            q = frame.seal(ws, frame.Kind.QUERY, question.encode())
            h = frame.parse_header(q)
            print(
                f"2. Workstation sealed the question: {len(question)} bytes of text in a "
                f"{len(q)}-byte frame, pad range {h.offset}+{h.range_len} (w2f)"
            )
            got = frame.open_frame(fac, q)
            print(f"3. Facility authenticated and decrypted it: {got.payload.decode()!r}")
            answer = f"echo: {got.payload.decode()}".encode()
            a = frame.seal(fac, frame.Kind.ANSWER_CHUNK, answer, msg_id=got.msg_id)
            end = frame.seal(fac, frame.Kind.ANSWER_END, b"", msg_id=got.msg_id, seq=1)
            shown = frame.open_frame(ws, a)
            frame.open_frame(ws, end)
            used_f2w = frame.parse_header(a).range_len + frame.parse_header(end).range_len
            print(f"4. Workstation received the answer: {shown.payload.decode()!r}")
            try:
                frame.open_frame(fac, q)
            except frame.FrameRejected as exc:
                print(f"5. Replaying the question is refused: {exc.message}")
            print(
                f"Pad used: {h.range_len} bytes workstation→facility, {used_f2w} bytes "
                "facility→workstation; both copies zeroized those ranges."
            )
    print(
        "\nThis is the frame layer alone, in one process. `reddoor` opens the application: a "
        "practice ceremony, then a chat over the pad it made through Zenoh (docs/user-guide.md)."
    )
    return 0
