"""The frame policy options of `ceremony run` and `practice-pad` (custody.pad.frame_policy).

--frame-policy otp-only|otp-preferred|pad-keyed
--pad-keyed-threshold BYTES          otp-preferred: questions larger than this go pad-keyed
--otp-only-classification LABEL      repeatable: questions so labelled stay one-time pad
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.numeric_options import integer

POLICY_WORDS = ("otp-only", "otp-preferred", "pad-keyed")  # custody.pad.frame_policy's
DEFAULT_THRESHOLD = 16384
MAX_THRESHOLD = 1 << 30


def add_args(p: argparse.ArgumentParser, *, default: str | None) -> None:
    g = p.add_argument_group("frame policy (docs/protocol.md, Pad-keyed frames)")
    g.add_argument(
        "--frame-policy",
        choices=POLICY_WORDS,
        default=default,
        help="which frames the pad allows: otp-only (one-time pad, information-theoretic), "
        "otp-preferred (pad-keyed, computational, only for cover traffic and questions over "
        "the threshold), pad-keyed (every message pad-keyed: 32 pad bytes a message)"
        + (f"; default {default}" if default else "; default: no policy field (otp-only)"),
    )
    g.add_argument(
        "--pad-keyed-threshold",
        type=integer(0, MAX_THRESHOLD, "a number of bytes"),
        default=None,
        metavar="BYTES",
        help="otp-preferred: questions larger than this are pad-keyed "
        f"(default {DEFAULT_THRESHOLD:,})",
    )
    g.add_argument(
        "--otp-only-classification",
        action="append",
        default=[],
        metavar="LABEL",
        help="a classification label whose questions and answers are always one-time pad "
        "(repeatable); default: the facility home's settings, if any",
    )


def policy_from(args: argparse.Namespace, defaults: tuple[str, ...] = ()) -> Any:
    """The FramePolicy the options ask for, or None when none was asked (no manifest field).
    `defaults`: labels the facility's settings map to otp-only (custody.ledger.home)."""
    from custody.errors import UsageError
    from custody.pad.frame_policy import parse_policy

    labels = tuple(args.otp_only_classification) or tuple(defaults)
    if args.frame_policy is None:
        if args.pad_keyed_threshold is not None or args.otp_only_classification:
            raise UsageError(
                "--pad-keyed-threshold and --otp-only-classification need --frame-policy"
            )
        return None
    if args.pad_keyed_threshold is not None and args.frame_policy != "otp-preferred":
        raise UsageError("--pad-keyed-threshold is for --frame-policy otp-preferred")
    return parse_policy(args.frame_policy, args.pad_keyed_threshold, labels)
