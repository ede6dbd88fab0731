"""Canonical JSON: the byte form that hashes and signatures commit to.

Sorted keys, no insignificant whitespace, UTF-8, no NaN/Infinity. Two implementations that follow
this rule produce identical bytes for identical data (integers, strings, lists, objects, booleans,
null; floats are refused because their text form is not canonical across languages).
"""

from __future__ import annotations

import json
from typing import Any


def _reject_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats are not allowed in canonical JSON; use integers or strings")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError("canonical JSON object keys must be strings")
            _reject_floats(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _reject_floats(v)


def dumps(value: Any) -> bytes:
    """Return the canonical UTF-8 bytes of `value`."""
    _reject_floats(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def loads(data: bytes) -> Any:
    """Parse JSON bytes (any valid JSON; canonical form is not required to read)."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"invalid JSON constant {name}")

    return json.loads(data.decode("utf-8"), parse_constant=no_constants)
