"""Entropy from a file-like device: a hardware RNG's character device (``/dev/hwrng``), another
character device, or a FIFO fed by an RNG's daemon (`DeviceSource`).

A source in the sense of ceremony/entropy_sources.py (the protocol and the policy). A regular
file is refused outside tests and practice mode: a file is not an RNG. `hwrng_sysfs` reports
the kernel's hardware RNG driver for the ledger.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from pathlib import Path
from typing import Any

from ceremony.entropy_sources import EntropySource, require_tests_or_practice
from ceremony.errors import EntropySourceError

HWRNG_PATH = Path("/dev/hwrng")
HW_RANDOM_SYSFS = Path("/sys/class/misc/hw_random")
# Linux's misc device numbers for /dev/hwrng (major 10, minor 183).
_HWRNG_RDEV = (10, 183)


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
            require_tests_or_practice(
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
