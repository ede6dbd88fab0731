"""What an entropy source is for the ceremony (`EntropySource`), the two sources that are function
calls (the OS CSPRNG, a PKCS#11 token's RNG), and the policy on which sets of sources the
ceremony may mix (`check_source_policy`).

Every source reads raw bytes, blocking until it has exactly as many as asked, and describes
itself (`identity()`) for the ledger. `independence_domain` names what a source's output
depends on: two sources in the same domain are not independent, and XOR-mixing them gives no
assurance beyond one of them. The OS CSPRNG, and a software token seeded from it (SoftHSM's
C_GenerateRandom is OpenSSL RAND_bytes), share the domain ``"os-csprng"``.

Neighbours: hardware RNG devices and FIFOs are in ceremony/entropy_devices.py; the test doubles
(`StuckSource`, `BiasedSource`, `ReplaySource`), which refuse to construct outside tests
(``REDDOOR_TESTING=1``) or practice mode, in ceremony/entropy_doubles.py; the ``--source``
spellings that open them in ceremony/entropy_specs.py. ceremony/mixer.py reads and mixes them.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from ceremony.errors import EntropyPolicyError, EntropySourceError
from custody.errors import RedDoorError

log = logging.getLogger(__name__)

OS_DOMAIN = "os-csprng"


def testing_enabled() -> bool:
    """True inside the test suite (tests/conftest.py sets REDDOOR_TESTING=1)."""
    return os.environ.get("REDDOOR_TESTING") == "1"


def require_tests_or_practice(what: str, practice: bool) -> None:
    """Refuse `what` (a file read as entropy, a test double) unless in practice or in the tests."""
    if not (practice or testing_enabled()):
        raise EntropyPolicyError(f"{what} is allowed only in tests or practice mode")


class EntropySource(ABC):
    """A blocking source of raw bytes."""

    #: Short machine-readable kind: "hwrng", "device", "fifo", "file", "pkcs11", "os", "test".
    kind: str = "source"
    #: Whether the policy counts this as a hardware source (not the OS CSPRNG, not a double).
    hardware: bool = False

    def __init__(self, name: str, independence_domain: str) -> None:
        self.name = name
        self.independence_domain = independence_domain

    @abstractmethod
    def readinto(self, buffer: memoryview) -> None:
        """Fill all of `buffer` (writable, bytes) with fresh output, blocking as needed."""

    def read(self, n: int) -> bytes:
        """Exactly `n` fresh bytes, blocking as needed."""
        if n < 0:
            raise ValueError("n must be >= 0")
        buf = bytearray(n)
        self.readinto(memoryview(buf))
        return bytes(buf)

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """What this source is, for the ledger and the receipt (no secrets)."""

    def independent_of(self, other: EntropySource) -> bool:
        return self.independence_domain != other.independence_domain

    def measure_rate(self, seconds: float = 2.0) -> float:
        """Read (and discard) for about `seconds`; return the rate in bytes per second.

        Reads start small and double while they are quick, so a 10 KiB/s device and a
        500 MiB/s one both finish close to the requested time.
        """
        piece = 256
        total = 0
        buf = bytearray(1 << 22)
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < seconds:
            t0 = time.perf_counter()
            self.readinto(memoryview(buf)[:piece])
            took = time.perf_counter() - t0
            total += piece
            elapsed = time.perf_counter() - start
            if took < seconds / 20 and piece < len(buf):
                piece *= 2
        _zeroize(buf)
        return total / elapsed if elapsed > 0 else float("inf")

    def close(self) -> None:  # noqa: B027 — most sources hold nothing to close
        """Release what the source holds."""

    def __enter__(self) -> EntropySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def _zeroize(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


# -- PKCS#11 --------------------------------------------------------------------------------


class RandomGenerator(Protocol):
    """What `Pkcs11Source` needs: anything that returns `nbytes` random bytes."""

    def generate_random(self, nbytes: int) -> bytes: ...


class Pkcs11Source(EntropySource):
    """A PKCS#11 token's RNG (C_GenerateRandom), through any object with
    ``generate_random(nbytes) -> bytes`` or any callable ``(nbytes) -> bytes`` (such as the HSM
    vault's bound ``random`` method, which serialises the PKCS#11 calls).

    ``Pkcs11Source(vault.random, **token_info.to_dict())`` records label, model, manufacturer,
    serial and module. A software token (SoftHSM) draws on the OS CSPRNG, so it is placed in the
    OS domain and not counted as hardware; pass ``software_token`` explicitly when the model and
    manufacturer do not say.
    """

    kind = "pkcs11"

    def __init__(
        self,
        generator: RandomGenerator | Callable[[int], bytes],
        *,
        model: str,
        serial: str,
        label: str,
        manufacturer: str = "",
        module: str = "",
        software_token: bool | None = None,
        max_request: int = 1 << 20,
    ) -> None:
        if software_token is None:
            software_token = "softhsm" in f"{model} {manufacturer} {module}".lower()
        self.software_token = software_token
        self.hardware = not software_token
        domain = OS_DOMAIN if software_token else f"pkcs11:{model}:{serial}"
        super().__init__(f"pkcs11:{label}", domain)
        if hasattr(generator, "generate_random"):
            self._generate: Callable[[int], bytes] = generator.generate_random
        elif callable(generator):
            self._generate = generator
        else:
            raise TypeError("generator needs generate_random(nbytes) or to be callable")
        self._meta = {"model": model, "serial": serial, "label": label}
        if manufacturer:
            self._meta["manufacturer"] = manufacturer
        if module:
            self._meta["module"] = module
        self.max_request = max_request

    def readinto(self, buffer: memoryview) -> None:
        view = buffer.cast("B") if buffer.format != "B" else buffer
        pos = 0
        while pos < len(view):
            want = min(self.max_request, len(view) - pos)
            try:
                chunk = self._generate(want)
            except RedDoorError as exc:  # already a one-line, secret-free message
                raise EntropySourceError(f"token {self._meta['label']} RNG failed: {exc}") from None
            except Exception as exc:  # a vendor module's errors: the type only
                raise EntropySourceError(
                    f"token {self._meta['label']} RNG failed: {type(exc).__name__}"
                ) from None
            if len(chunk) != want:
                hint = " (was it given bits instead of bytes?)" if len(chunk) == 8 * want else ""
                raise EntropySourceError(
                    f"token {self._meta['label']} returned {len(chunk)} bytes "
                    f"when {want} were asked{hint}"
                )
            view[pos : pos + want] = chunk
            pos += want

    def identity(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            **self._meta,
            "software_token": self.software_token,
            "independence_domain": self.independence_domain,
        }


# -- the OS CSPRNG ---------------------------------------------------------------------------


class OsSource(EntropySource):
    """The kernel CSPRNG through getrandom(2). A source in its own right only in practice
    mode; in production it may only be an extra XOR input beside a hardware source."""

    kind = "os"
    hardware = False

    def __init__(self) -> None:
        super().__init__("os", OS_DOMAIN)
        self._function = "getrandom" if hasattr(os, "getrandom") else "urandom"

    def readinto(self, buffer: memoryview) -> None:
        view = buffer.cast("B") if buffer.format != "B" else buffer
        step = 1 << 22
        for pos in range(0, len(view), step):
            end = min(pos + step, len(view))
            if self._function == "getrandom":
                view[pos:end] = os.getrandom(end - pos)
            else:
                view[pos:end] = os.urandom(end - pos)

    def identity(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "function": self._function,
            "kernel": platform.release(),
            "independence_domain": self.independence_domain,
        }


# -- policy ----------------------------------------------------------------------------------


def check_source_policy(sources: list[EntropySource], *, practice: bool) -> dict[str, Any]:
    """Refuse source sets the ceremony must not use; return the mixing description.

    - at least one source;
    - outside practice, at least one hardware source (the OS CSPRNG alone, or with a software
      token seeded from it, is not a hardware source);
    - outside practice, every pair of sources independent (distinct independence domains).

    In practice mode dependent sources are allowed and recorded as such.
    """
    if not sources:
        raise EntropyPolicyError("no entropy source was chosen")
    if not practice and not any(s.hardware for s in sources):
        raise EntropyPolicyError(
            "the OS CSPRNG (or a software token seeded from it) is allowed as the only source "
            "in practice mode only; add a hardware RNG (/dev/hwrng, an HSM, a QRNG device)"
        )
    dependent: list[tuple[str, str]] = []
    for i, a in enumerate(sources):
        for b in sources[i + 1 :]:
            if not a.independent_of(b):
                dependent.append((a.name, b.name))
    if dependent and not practice:
        a_name, b_name = dependent[0]
        raise EntropyPolicyError(
            f"sources {a_name} and {b_name} are not independent "
            f"(both {next(s for s in sources if s.name == a_name).independence_domain}); "
            "XOR of dependent sources gives no assurance beyond one of them"
        )
    return {
        "mixing": "xor" if len(sources) > 1 else "none",
        "sources": [s.name for s in sources],
        "all_independent": not dependent,
        "dependent_pairs": [list(p) for p in dependent],
        "hardware_sources": [s.name for s in sources if s.hardware],
    }
