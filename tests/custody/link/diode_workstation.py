"""A workstation process for the diode tests.

`python -m tests.custody.link.diode_workstation ROUTER PAD_DIR N TAG [STOP_FILE]` asks N
questions (or until STOP_FILE exists) through WorkstationClient and prints one JSON line per
question (answer byte-exact or not, retransmissions, or the exit code of the error)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from custody.errors import RedDoorError
from custody.link.workstation import WorkstationClient
from custody.link.zenoh_transport import LinkConfig, Transport
from custody.pad.store import open_pad_dir


def question(tag: str, i: int) -> str:
    return f"{tag} question {i}: " + "which door is crimson? " * (1 + i % 9)


def main(argv: list[str]) -> int:
    router, pad, n, tag = argv[0], Path(argv[1]), int(argv[2]), argv[3]
    stop_file = Path(argv[4]) if len(argv) > 4 else None
    transport = Transport(LinkConfig.for_endpoint(router))
    copy = open_pad_dir(pad)
    client = WorkstationClient(
        copy,
        transport,
        retransmit_interval=0.5,
        answer_timeout=40,
        stall_timeout=40,
        presence_timeout=20,
    )
    try:
        for i in range(n):
            if stop_file is not None and stop_file.exists():
                break
            q = question(tag, i)
            try:
                a = client.ask(q)
                row = {"i": i, "exact": a.text == q, "retransmissions": a.retransmissions}
            except RedDoorError as exc:
                row = {"i": i, "exit": exc.exit_code, "error": str(exc)[:200]}
            print(json.dumps(row), flush=True)
    finally:
        client.close()
        copy.close()
        transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
