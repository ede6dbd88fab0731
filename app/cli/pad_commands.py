"""`reddoor practice-pad` and `reddoor pad status`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli import frame_policy_options
from app.cli.numeric_options import (
    MAX_PAD_BYTES,
    MAX_QUERIES_PER_DAY,
    MIN_QUERIES_PER_DAY,
    integer,
    real,
)
from custody.pad import status as pad_status
from custody.pad.manifest import parse_size
from custody.pad.practice import make_practice_pad


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    pp = sub.add_parser(
        "practice-pad",
        parents=[common],
        help="make a practice pad (OS CSPRNG, marked PRACTICE) as two copies",
        description="Write OUT/workstation and OUT/facility: the same PRACTICE pad, each copy "
        "knowing its side. For trying the frame layer and the link; never for real traffic.",
    )
    pp.add_argument("--size", required=True, help="pad size, e.g. 4M, 256M, 1G")
    pp.add_argument("--out", type=Path, required=True, help="directory for the two copies")
    pp.add_argument("--split", default="1:3", help="workstation→facility : facility→workstation")
    pp.add_argument("--json", action="store_true", help="print a JSON summary")
    frame_policy_options.add_args(pp, default=None)
    pp.set_defaults(handler=cmd_practice_pad)

    pad = sub.add_parser("pad", help="inspect and manage pad copies", parents=[common])
    psub = pad.add_subparsers(dest="pad_command", metavar="ACTION", required=True)
    st = psub.add_parser(
        "status",
        parents=[common],
        help="bytes left per direction and the queries they allow",
        description="Read a pad copy's manifest and journal (without locking it) and show what "
        "is left in each direction.",
    )
    st.add_argument("--pad", type=Path, required=True, help="pad copy directory")
    st.add_argument("--json", action="store_true")
    st.add_argument(
        "--bytes-per-query",
        type=integer(1, MAX_PAD_BYTES, "a number of bytes"),
        default=None,
        help="pad bytes one query round trip uses (default: observed on this host, else a "
        "typical 1 KiB question with a 4 KiB answer)",
    )
    st.add_argument(
        "--queries-per-day",
        type=real(MIN_QUERIES_PER_DAY, MAX_QUERIES_PER_DAY, "a number of queries", above=False),
        default=None,
        help="expected queries per day (default: the rate observed on this host, else 100)",
    )
    st.add_argument(
        "--connect",
        default=None,
        help="also ask this router whether the facility serves the pad (liveliness only, no "
        "pad spent); across a data diode, when the facility was last seen",
    )
    st.set_defaults(handler=cmd_status)

    from app.cli import link_commands  # the link's consumption export (issue 5)

    link_commands.register_pad_actions(psub, common)

    from app.cli import custody_commands  # the custody lifecycle (issue 6)

    custody_commands.register_pad_actions(psub, common)


def cmd_practice_pad(args: argparse.Namespace) -> int:
    manifest = make_practice_pad(
        args.out,
        parse_size(args.size),
        split=args.split,
        frame_policy=frame_policy_options.policy_from(args),
    )
    summary = {
        "pad_id": manifest.pad_id.hex(),
        "pad_id_display": manifest.pad_id_display,
        "size": manifest.size,
        "merkle_root": manifest.merkle_root.hex(),
        "mark": manifest.mark.value,
        "frame_policy": manifest.policy.to_dict(),
        "workstation": str(args.out / "workstation"),
        "facility": str(args.out / "facility"),
    }
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"PRACTICE pad {manifest.pad_id_display} ({manifest.size} bytes, split {args.split})")
        print(f"  frame policy:     {manifest.policy.describe()}")
        print(f"  workstation copy: {summary['workstation']}")
        print(f"  facility copy:    {summary['facility']}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = pad_status.read_status(
        args.pad, bytes_per_query=args.bytes_per_query, queries_per_day=args.queries_per_day
    )
    link = None if args.connect is None else _link_status(args.connect, st.manifest.pad_id)
    if args.json:
        print(
            json.dumps({**st.to_dict(), **({} if link is None else {"link": link})}, sort_keys=True)
        )
    else:
        print(st.render())
        if link is not None:
            print(f"Link: {link['line']}")
    return 0


def _link_status(endpoint: str, pad_id: bytes) -> dict[str, object]:
    """What the router at `endpoint` says of the facility for this pad (no pad spent)."""
    from custody.link.diode.status import diode_seen
    from custody.link.presence import GatewayWatch
    from custody.link.zenoh_transport import LinkConfig, Transport

    with Transport(LinkConfig.for_endpoint(endpoint)) as transport:
        p = GatewayWatch(transport, pad_id).presence(1.0)
        seen = diode_seen(transport)
    if p.serving_pad:
        line = f"gateway {', '.join(p.serving_pad)} serves this pad"
    elif p.up:
        line = f"gateway {', '.join(p.gateways)} is up but does not serve this pad"
    else:
        line = "no facility gateway is on the link"
        if seen is not None:
            line += f" ({seen.why_no_gateway()})"
    if seen is not None and p.up:
        line += f"; {seen.render()}"
    return {
        "gateways": list(p.gateways),
        "serving": list(p.serving_pad),
        "via_diode": None
        if seen is None
        else {"heard_s_ago": seen.heard_s_ago, "alive": seen.alive},
        "line": line,
    }
