"""docs/architecture.md "Input limits" states the limits the code enforces."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONSTANT = re.compile(r"\b((?:app|ceremony|custody)(?:\.[a-z_]+)+)\.([A-Z][A-Z0-9_]+)\b")


def _rows() -> list[list[str]]:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("## Input limits", 1)[1].split("\n## ", 1)[0]
    rows = [ln.strip("|").split(" | ") for ln in table.splitlines() if ln.startswith("| ")]
    return rows[1:]  # without the header


def _value(expression: str) -> int:
    def constant(m: re.Match[str]) -> str:
        return repr(getattr(importlib.import_module(m.group(1)), m.group(2)))

    return int(eval(CONSTANT.sub(constant, expression), {"__builtins__": {}}))


def test_every_stated_limit_is_the_constant_it_names() -> None:
    checked = 0
    for what, limit, constants, _over in _rows():
        expressions = [e for e in re.findall(r"`([^`]+)`", constants) if CONSTANT.search(e)]
        if not expressions:
            continue  # a limit that is not a constant (the chunk size, the cache bound)
        numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", limit)]
        assert [_value(e) for e in expressions] == numbers, what
        checked += len(numbers)
    assert checked >= 20
