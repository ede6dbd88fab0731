"""Recorded facts in plain words: sizes, rates, digests, drives, HSMs, entropy sources, times.

Qt-free. The small formatters that `app.gui.step_summary` (a ceremony step's result) and
`app.gui.event_text` (a ledger event's line) share, so both say a drive, an HSM or a Merkle root
the same way. Facts come from recorded JSON, so the helpers take `Any` and fall back to something
readable for a missing or mistyped value. Everything returned is plain text for plain-text widgets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ceremony.sizing import format_size
from custody.fingerprint_words import phrase
from custody.pad import ids as pad_id_codec

# -- recorded JSON, read defensively -------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


def as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def is_scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None


# -- small formatters ----------------------------------------------------------------------


def size_text(n: Any) -> str:
    v = as_number(n)
    if v is None:
        return "unknown size"
    return f"{format_size(int(v))} ({int(v):,} bytes)" if v >= 1024 else f"{int(v):,} bytes"


def rate_text(bytes_per_second: Any) -> str:
    v = as_number(bytes_per_second)
    if v is None:
        return "not measured"
    return f"{format_size(int(v))}/s"


def short_hex(value: Any, keep: int = 8) -> str:
    s = as_text(value)
    return s if len(s) <= keep + 1 else s[:keep] + "…"


def words_of(hex_digest: Any) -> str:
    try:
        return phrase(bytes.fromhex(as_text(hex_digest)))
    except ValueError:
        return as_text(hex_digest)


def pad_display(pad_id_hex: Any) -> str:
    """The grouped, checksummed display form of a pad id (hex in the ledger)."""
    try:
        raw = bytes.fromhex(as_text(pad_id_hex))
        return pad_id_codec.display(raw)
    except ValueError:
        return as_text(pad_id_hex)


def local_time(iso: Any) -> str:
    """'2026-11-23T17:21:27.39Z' → '2026-11-23 18:21:27' in this machine's time zone."""
    s = as_text(iso)
    if not s:
        return ""
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return s[:19].replace("T", " ")
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def usb_text(usb: Any) -> str:
    """'SanDisk Ultra, serial 4C53…, 29.8 GiB (removable, /dev/sdb)'."""
    u = as_dict(usb)
    if not u:
        return "unknown drive"
    name = (
        " ".join(x for x in (as_text(u.get("vendor")), as_text(u.get("model"))) if x)
        or "unnamed drive"
    )
    parts = [name]
    parts.append(f"serial {u['serial']}" if u.get("serial") else "no serial")
    if u.get("size"):
        parts.append(format_size(int(as_number(u["size"]) or 0)))
    device = f" {u['device']}" if u.get("device") else ""
    if u.get("removable"):
        return ", ".join(parts) + f"; removable drive{device}"
    return ", ".join(parts) + f"; fixed disk{device}, not removable (practice only)"


def hsm_text(hsm: Any) -> str:
    h = as_dict(hsm)
    model = as_text(h.get("model")) or "HSM"
    maker = f" ({h['manufacturer']})" if h.get("manufacturer") else ""
    serial = f", serial {h['serial']}" if h.get("serial") else ""
    label = h.get("token") or h.get("label")
    token = f", token {label}" if label else ""
    return f"{model}{maker}{serial}{token}"


def source_identity(src: Any) -> str:
    s = as_dict(src)
    kind = as_text(s.get("kind"))
    if kind == "os":
        return f"kernel CSPRNG ({s.get('function') or 'getrandom'}, kernel {s.get('kernel', '?')})"
    if kind in ("hwrng", "device"):
        parts = [as_text(s.get("realpath") or s.get("path"))]
        if s.get("rng_current"):
            parts.append(f"driver {s['rng_current']}")
        if s.get("device_number"):
            parts.append(f"device {s['device_number']}")
        return ", ".join(p for p in parts if p)
    if kind == "pkcs11":
        soft = " — software token" if s.get("software_token") else ""
        return f"HSM {s.get('model', '?')} serial {s.get('serial', '?')}{soft}"
    rest = [f"{k} {v}" for k, v in s.items() if k not in ("kind", "name") and is_scalar(v)]
    return ", ".join(rest) or kind or "unknown"


def yes_no(v: Any) -> str:
    return "yes" if v else "no"


def facility_copy_text(hsm: Any) -> str:
    h = as_dict(hsm)
    chunks = h.get("chunks")
    return (
        f"HSM {hsm_text(h)}; key {h.get('key_label', '?')}; {chunks} chunk(s) encrypted with "
        f"{h.get('mechanism', 'AES-256-GCM')}."
    )


def roots_match(f: dict[str, Any]) -> bool:
    c, fa = as_dict(f.get("customer")), as_dict(f.get("facility"))
    return bool(c.get("merkle_root")) and c.get("merkle_root") == fa.get("merkle_root")


def generic_lines(facts: dict[str, Any], skip: tuple[str, ...] = ()) -> list[str]:
    """Any other result: one 'Name: value' line per plain value (nested ones flattened)."""
    out = []
    for k, v in facts.items():
        if k in skip:
            continue
        label = k.replace("_", " ").capitalize()
        if is_scalar(v):
            out.append(f"{label}: {as_text(v)}")
        elif isinstance(v, list) and all(is_scalar(x) for x in v):
            out.append(f"{label}: {', '.join(as_text(x) for x in v)}")
        elif isinstance(v, dict):
            inner = "; ".join(
                f"{a.replace('_', ' ')} {as_text(b)}" for a, b in v.items() if is_scalar(b)
            )
            out.append(f"{label}: {inner}")
    return out


def policy_text(value: Any) -> str:
    """A pad's frame policy in words (custody.pad.frame_policy; docs/protocol.md)."""
    from custody.errors import RedDoorError
    from custody.pad.frame_policy import FramePolicy

    try:
        return FramePolicy.from_dict(value).describe()
    except (ValueError, TypeError, RedDoorError):
        return as_text(value)
