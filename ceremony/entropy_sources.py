"""Entropy sources for the ceremony: hardware RNG devices and FIFOs, a PKCS#11 token's RNG,
and the OS CSPRNG.

Every source reads raw bytes, blocking until it has exactly as many as asked, and describes
itself (`identity()`) for the ledger. `independence_domain` names what a source's output
depends on: two sources in the same domain are not independent, and XOR-mixing them gives no
assurance beyond one of them. The OS CSPRNG, and a software token seeded from it (SoftHSM's
C_GenerateRandom is OpenSSL RAND_bytes), share the domain ``"os-csprng"``.

Test doubles (`StuckSource`, `BiasedSource`, `ReplaySource`) and regular files refuse to
construct outside tests (``REDDOOR_TESTING=1``) or practice mode: a file is not an RNG.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import platform
import random
import stat
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ceremony.errors import EntropyPolicyError, EntropySourceError
from custody.errors import RedDoorError

log = logging.getLogger(__name__)

OS_DOMAIN = "os-csprng"
HWRNG_PATH = Path("/dev/hwrng")
HW_RANDOM_SYSFS = Path("/sys/class/misc/hw_random")
# Linux's misc device numbers for /dev/hwrng (major 10, minor 183).
_HWRNG_RDEV = (10, 183)


def testing_enabled() -> bool:
    """True inside the test suite (tests/conftest.py sets REDDOOR_TESTING=1)."""
    return os.environ.get("REDDOOR_TESTING") == "1"


def _require_tests_or_practice(what: str, practice: bool) -> None:
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


# -- devices, FIFOs, files ------------------------------------------------------------------


def hwrng_sysfs(root: Path = HW_RANDOM_SYSFS) -> dict[str, Any]:
    """The kernel's current hardware RNG driver and the available ones (readable by anyone)."""
    info: dict[str, Any] = {}
    for key in ("rng_current", "rng_available", "rng_quality"):
        with contextlib.suppress(OSError):
            value = (root / key).read_text().strip()
            info[key] = value.split() if key == "rng_available" else value
    return info


class DeviceSource(EntropySource):
    """A character device (e.g. /dev/hwrng) or a FIFO fed by an RNG's daemon.

    A regular file is refused unless `practice` is set or the tests are running. Errors
    (missing path, permission denied, end of data) are `EntropySourceError` with one line.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = HWRNG_PATH,
        *,
        name: str | None = None,
        practice: bool = False,
        independence_domain: str | None = None,
    ) -> None:
        self.path = Path(path)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise EntropySourceError(f"entropy device {self.path} does not exist") from None
        except PermissionError:
            raise EntropySourceError(_permission_message(self.path)) from None
        except OSError as exc:
            raise EntropySourceError(
                f"cannot use entropy device {self.path}: {exc.strerror}"
            ) from None
        mode = st.st_mode
        if stat.S_ISCHR(mode):
            rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
            self.kind = "hwrng" if rdev == _HWRNG_RDEV else "device"
            self.hardware = True
        elif stat.S_ISFIFO(mode):
            self.kind = "fifo"
            self.hardware = True
        elif stat.S_ISREG(mode):
            _require_tests_or_practice(
                f"reading entropy from the regular file {self.path}", practice
            )
            self.kind = "file"
            self.hardware = False
        else:
            raise EntropySourceError(
                f"{self.path} is not a character device or a FIFO and cannot be an entropy source"
            )
        self._rdev = st.st_rdev
        real = os.path.realpath(self.path)
        super().__init__(name or str(self.path), independence_domain or f"{self.kind}:{real}")
        self._fd: int | None = None
        self._eof = False
        self._done = 0
        if self.kind == "fifo":
            # Opening a FIFO for reading blocks until a writer opens it: defer to the first
            # read, but report a permission problem now.
            if not os.access(self.path, os.R_OK):
                raise EntropySourceError(_permission_message(self.path))
        else:
            self._open()

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except PermissionError:
                raise EntropySourceError(_permission_message(self.path)) from None
            except FileNotFoundError:
                raise EntropySourceError(f"entropy device {self.path} does not exist") from None
            except OSError as exc:
                raise EntropySourceError(f"cannot open {self.path}: {exc.strerror}") from None
        return self._fd

    def readinto(self, buffer: memoryview) -> None:
        fd = self._open()
        view = buffer.cast("B") if buffer.format != "B" else buffer
        got = 0
        while got < len(view):
            try:
                n = os.readv(fd, [view[got:]])
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    time.sleep(0.01)
                    continue
                raise EntropySourceError(f"reading {self.path} failed: {exc.strerror}") from None
            if n == 0:
                self._eof = True
                raise EntropySourceError(
                    f"{self.path} ended after {self._done + got:,} bytes; "
                    "an entropy source must not run dry"
                )
            got += n
        self._done += got

    def identity(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "path": str(self.path),
            "realpath": os.path.realpath(self.path),
            "independence_domain": self.independence_domain,
        }
        if self.kind in ("hwrng", "device"):
            info["device_number"] = f"{os.major(self._rdev)}:{os.minor(self._rdev)}"
        if self.kind == "hwrng":
            info.update(hwrng_sysfs())
        return info

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _permission_message(path: Path) -> str:
    if path == HWRNG_PATH:
        return (
            f"permission denied reading {path}: it is readable by root only; run the ceremony "
            "as root or grant the ceremony user read access with a udev rule"
        )
    return f"permission denied reading {path}"


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


# -- test doubles (fail closed outside tests and practice) -----------------------------------


class _TestDouble(EntropySource):
    kind = "test"

    def __init__(self, name: str, *, practice: bool = False, hardware: bool = True) -> None:
        _require_tests_or_practice(f"the test entropy source {type(self).__name__}", practice)
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
