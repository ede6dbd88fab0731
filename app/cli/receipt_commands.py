"""`reddoor receipt ...`: custody receipts.

    reddoor receipt verify --qr-payload FILE --pubkey FILE [--json]   (offline, no home needed)
    reddoor receipt sample --out FILE.pdf [--archival]                (a realistic sample)
    reddoor receipt PADID --out FILE.pdf                               (same as `receipt render`)

`render` builds the ReceiptData of a pad from the ledger through `load_receipt_data`, the hook
the ceremony code fills in; the PDF itself is `custody.documents.receipt.write_receipt`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from custody.errors import UsageError

SUBCOMMANDS = ("verify", "sample", "render")


class _AnyPadId:
    """Subcommand choices that also admit a pad id (so argparse does not reject it first)."""

    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self.names or not key.startswith("-"))

    def __iter__(self) -> Any:
        return iter(self.names)


class _DefaultToRender(argparse._SubParsersAction):  # type: ignore[type-arg]
    """`reddoor receipt PADID ...` means `reddoor receipt render PADID ...`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.choices = _AnyPadId(self._name_parser_map)

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        if values and values[0] not in self._name_parser_map:
            values = ["render", *values]
        super().__call__(parser, namespace, values, option_string)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    receipt = sub.add_parser(
        "receipt",
        parents=[common],
        help="custody receipts: render, verify a receipt's QR proof offline",
        description="Custody receipts. `reddoor receipt PADID --out FILE.pdf` renders a pad's "
        "receipt; `reddoor receipt verify` checks a receipt's QR payload with the ledger's "
        "public key only.",
    )
    rsub = receipt.add_subparsers(
        dest="receipt_command", metavar="ACTION", required=True, action=_DefaultToRender
    )

    verify = rsub.add_parser(
        "verify",
        parents=[common],
        help="verify a receipt's QR payload offline",
        description="Scan the QR code (e.g. `zbarimg --raw receipt.png > payload.txt`), then "
        "check its signed checkpoint and the inclusion proof of the ceremony's closing event "
        "with the ledger's public key (ledger.vkey, 64 hex digits, or 32 raw bytes).",
    )
    verify.add_argument("--qr-payload", type=Path, required=True, metavar="FILE")
    verify.add_argument("--pubkey", type=Path, required=True, metavar="FILE")
    verify.add_argument("--origin", default=None, help="require this ledger origin")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=cmd_verify)

    sample = rsub.add_parser("sample", parents=[common], help="write a sample receipt")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--archival", action="store_true", help="PDF/A-2b")
    sample.add_argument("--production", action="store_true", help="without PRACTICE marks")
    sample.set_defaults(handler=cmd_sample)

    render = rsub.add_parser("render", parents=[common], help="render a pad's receipt")
    render.add_argument("pad_id", metavar="PADID")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--archival", action="store_true", help="PDF/A-2b")
    render.add_argument("--pin-file", type=Path, default=None)
    render.set_defaults(handler=cmd_render)


def _read(path: Path, what: str, limit: int) -> bytes:
    from custody.bounded_read import read_file

    try:
        return read_file(path, limit, f"{what} file")
    except OSError:
        raise UsageError(f"cannot read the {what} file {path}") from None


def cmd_verify(args: argparse.Namespace) -> int:
    from custody.documents import receipt_payload
    from custody.ledger import checkpoint

    payload = _read(args.qr_payload, "QR payload", receipt_payload.MAX_PAYLOAD_FILE_BYTES)
    public_key, vkey_name = receipt_payload.read_public_key(
        _read(args.pubkey, "public key", checkpoint.MAX_VKEY_BYTES)
    )
    result = receipt_payload.verify_receipt_bundle(
        payload, public_key, origin=args.origin or vkey_name
    )
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        pad = result.payload.get("pad_id", "?")
        print(
            f"verified: event {result.seq} ({result.event_type}, pad {pad}) is in ledger "
            f"{result.origin} at tree size {result.tree_size}, root {result.root.hex()}"
        )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from custody.documents import receipt

    data = receipt.sample_data(practice=not args.production)
    receipt.write_receipt(data, args.out, archival=args.archival)
    print(args.out)
    return 0


def load_receipt_data(args: argparse.Namespace) -> Any:
    """Hook: the ReceiptData for `args.pad_id` from the facility home (ceremony code fills in)."""
    raise UsageError(
        "rendering a pad's receipt from the ledger is not available in this build yet; "
        "receipts are written at the end of each ceremony"
    )


def cmd_render(args: argparse.Namespace) -> int:
    from custody.documents import receipt

    data = load_receipt_data(args)
    receipt.write_receipt(data, args.out, archival=args.archival)
    print(args.out)
    return 0
