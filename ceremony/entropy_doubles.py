"""Test doubles for entropy sources: a stuck source, a biased one, a replay of given bytes, and a
deterministic byte stream to feed them.

They fail closed: each refuses to construct outside the test suite (``REDDOOR_TESTING=1``) or
practice mode (`require_tests_or_practice` in ceremony/entropy_sources.py, where the source
protocol they implement lives). `StuckSource` and `BiasedSource` also stand behind the
``test:stuck`` and ``test:biased`` spellings of ceremony/entropy_specs.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from ceremony.entropy_sources import EntropySource, require_tests_or_practice
from ceremony.errors import EntropySourceError


class _TestDouble(EntropySource):
    kind = "test"

    def __init__(self, name: str, *, practice: bool = False, hardware: bool = True) -> None:
        require_tests_or_practice(f"the test entropy source {type(self).__name__}", practice)
        # Counted as "hardware" so policy tests can stand it in for a device.
        self.hardware = hardware
        super().__init__(name, f"test:{name}")

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "double": type(self).__name__}


class StuckSource(_TestDouble):
    """Returns one byte value forever (a stuck-at fault)."""

    def __init__(self, value: int = 0, *, name: str = "stuck", practice: bool = False) -> None:
        super().__init__(name, practice=practice)
        self.value = value & 0xFF

    def readinto(self, buffer: memoryview) -> None:
        view = buffer.cast("B") if buffer.format != "B" else buffer
        view[:] = bytes([self.value]) * len(view)


class BiasedSource(_TestDouble):
    """Each byte is `value` with probability `p`, otherwise uniform (a biased RNG)."""

    def __init__(
        self,
        p: float = 0.05,
        value: int = 0,
        *,
        seed: int = 1,
        name: str = "biased",
        practice: bool = False,
    ) -> None:
        super().__init__(name, practice=practice)
        import numpy as np

        self._np = np
        self._rng = np.random.default_rng(seed)
        self.p = p
        self.value = value & 0xFF

    def readinto(self, buffer: memoryview) -> None:
        np = self._np
        view = buffer.cast("B") if buffer.format != "B" else buffer
        out = np.frombuffer(view, dtype=np.uint8)
        out[:] = self._rng.integers(0, 256, size=out.size, dtype=np.uint8)
        out[self._rng.random(out.size) < self.p] = self.value


class ReplaySource(_TestDouble):
    """Plays back bytes from a callable `chunk(n) -> bytes` or a fixed bytes object."""

    def __init__(
        self,
        data: bytes | Callable[[int], bytes],
        *,
        name: str = "replay",
        practice: bool = False,
        hardware: bool = True,
    ) -> None:
        super().__init__(name, practice=practice, hardware=hardware)
        self._data = data
        self._pos = 0

    def readinto(self, buffer: memoryview) -> None:
        view = buffer.cast("B") if buffer.format != "B" else buffer
        if callable(self._data):
            chunk = self._data(len(view))
        else:
            chunk = self._data[self._pos : self._pos + len(view)]
        if len(chunk) != len(view):
            raise EntropySourceError(f"test source {self.name} ran dry")
        self._pos += len(view)
        view[:] = chunk


def seeded_bytes(seed: int) -> Callable[[int], bytes]:
    """A deterministic byte stream for tests (not random in any security sense)."""
    rng = random.Random(seed)  # noqa: S311 — test data only
    return rng.randbytes
