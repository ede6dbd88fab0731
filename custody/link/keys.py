"""Zenoh key expressions of the link: per pad and per direction, and gateway presence.

    reddoor/v1/pad/<pad id, 32 lower-case hex>/w2f     questions (workstation → facility)
    reddoor/v1/pad/<pad id, 32 lower-case hex>/f2w     answers   (facility → workstation)
    reddoor/v1/gateway/<name>/alive                    liveliness token of a running gateway
    reddoor/v1/gateway/<name>/pad/<pad id hex>         liveliness token per pad it serves
    reddoor/v1/gateway/<name>/pad/<pad id hex>/floor/<n>  hint: lowest w2f offset it accepts
    reddoor/v1/gateway/<name>/pad/<pad id hex>/policy/<word>  hint: its frame policy for the pad
    reddoor/v1/diode/<direction>/status                queryable: a diode receiver's state
    reddoor/v1/diode/<direction>/sender                queryable: a diode sender's counters

User input never becomes a wildcard or an extra chunk: pad ids are rendered from their 16 raw
bytes, and gateway names must match a small alphabet that contains none of Zenoh's special
characters (`*`, `$`, `/`, `?`, `#`, `@`). Wildcards appear only in the fixed expressions below.
"""

from __future__ import annotations

import re

from custody.errors import UsageError
from custody.pad.frame_policy import FramePolicy, PolicyMode
from custody.pad.manifest import Direction

PREFIX = "reddoor/v1"
ALL_PAD_FRAMES = f"{PREFIX}/pad/**"
ALL_GATEWAYS_ALIVE = f"{PREFIX}/gateway/*/alive"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_HEX = re.compile(r"[0-9a-f]{32}")
_POLICY = re.compile(r"otp-only|pad-keyed|otp-preferred-(0|[1-9][0-9]{0,9})")


def pad_hex(pad_id: bytes) -> str:
    if not isinstance(pad_id, bytes) or len(pad_id) != 16:
        raise UsageError("a pad id is 16 bytes")
    return pad_id.hex()


def pad_id_from_hex(text: str) -> bytes:
    """Parse 32 lower-case hex digits; anything else (wildcards included) is refused."""
    if not _HEX.fullmatch(text):
        raise UsageError(f"not a pad id in hex: {text[:40]!r}")
    return bytes.fromhex(text)


def check_gateway_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"gateway name {name[:40]!r} must be 1-63 of a-z 0-9 _ . - (starting with a letter "
            "or digit)"
        )
    return name


def frame_key(pad_id: bytes, direction: Direction) -> str:
    return f"{PREFIX}/pad/{pad_hex(pad_id)}/{direction.value}"


def parse_frame_key(key: str) -> tuple[bytes, Direction] | None:
    parts = key.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != f"{PREFIX}/pad" or not _HEX.fullmatch(parts[3]):
        return None
    try:
        return bytes.fromhex(parts[3]), Direction(parts[4])
    except ValueError:
        return None


def gateway_alive_key(name: str) -> str:
    return f"{PREFIX}/gateway/{check_gateway_name(name)}/alive"


def gateway_pad_key(name: str, pad_id: bytes) -> str:
    return f"{PREFIX}/gateway/{check_gateway_name(name)}/pad/{pad_hex(pad_id)}"


def gateway_floor_key(name: str, pad_id: bytes, floor: int) -> str:
    """Liveliness hint: the gateway accepts this pad's questions only at or above `floor`."""
    return f"{gateway_pad_key(name, pad_id)}/floor/{int(floor)}"


def floor_of(key: str) -> int | None:
    parts = key.split("/")
    if len(parts) >= 2 and parts[-2] == "floor" and parts[-1].isdigit():
        return int(parts[-1])
    return None


def policy_word(policy: FramePolicy) -> str:
    """The policy as one key chunk: `otp-only`, `pad-keyed`, `otp-preferred-<threshold>` (the
    classification labels stay out of it: they are free text, and the manifest has them)."""
    if policy.mode is PolicyMode.OTP_PREFERRED:
        return f"otp-preferred-{policy.threshold}"
    return str(policy.mode.value)


def policy_of_word(word: str) -> FramePolicy | None:
    if not _POLICY.fullmatch(word):
        return None
    if word.startswith("otp-preferred-"):
        try:
            return FramePolicy(PolicyMode.OTP_PREFERRED, int(word.rsplit("-", 1)[1]))
        except UsageError:
            return None
    return FramePolicy(PolicyMode(word))


def gateway_policy_key(name: str, pad_id: bytes, policy: FramePolicy) -> str:
    """Liveliness hint: the frame policy the gateway enforces on this pad (custody.pad.
    frame_policy). Unauthenticated, so a workstation uses it only to be stricter."""
    return f"{gateway_pad_key(name, pad_id)}/policy/{policy_word(policy)}"


def policy_of(key: str) -> FramePolicy | None:
    parts = key.split("/")
    if len(parts) >= 2 and parts[-2] == "policy":
        return policy_of_word(parts[-1])
    return None


def any_gateway_pad_key(pad_id: bytes) -> str:
    return f"{PREFIX}/gateway/*/pad/{pad_hex(pad_id)}"


def gateway_name_of(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) >= 4 and "/".join(parts[:3]) == f"{PREFIX}/gateway":
        return parts[3]
    return None


def is_gateway_token_key(key: str) -> bool:
    """One of the four forms a gateway's liveliness token takes (alive, pad, pad floor, pad
    policy): what a diode receiver may mirror. Anything else, wildcards included, is not."""
    parts = key.split("/")
    if (
        len(parts) < 5
        or "/".join(parts[:3]) != f"{PREFIX}/gateway"
        or not _NAME.fullmatch(parts[3])
    ):
        return False
    rest = parts[4:]
    if rest == ["alive"]:
        return True
    if len(rest) < 2 or rest[0] != "pad" or not _HEX.fullmatch(rest[1]):
        return False
    if len(rest) == 2:
        return True
    if len(rest) == 4 and rest[2] == "policy":
        return policy_of_word(rest[3]) is not None
    return len(rest) == 4 and rest[2] == "floor" and rest[3].isdigit() and len(rest[3]) <= 20


def diode_status_key(direction: Direction) -> str:
    return f"{PREFIX}/diode/{direction.value}/status"


def diode_sender_key(direction: Direction) -> str:
    return f"{PREFIX}/diode/{direction.value}/sender"
