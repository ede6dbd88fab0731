"""The customer medium: find removable drives, identify the one a directory lives on, check it
can take a pad, and write and read back the customer copy.

Detection reads sysfs (``/sys/block/<disk>/removable``, ``size``, ``device/vendor``,
``device/model``, ``device/serial``) and udev's database (``/run/udev/data/b<major>:<minor>``:
``ID_SERIAL_SHORT``, ``ID_VENDOR``, ``ID_MODEL``, ``ID_BUS``). A directory is mapped to its
device through ``/proc/self/mountinfo`` (the longest mount point containing it). A plain
directory (``--customer-dir`` on a local disk or a tmpfs) is described as such; production homes
refuse a medium that is not removable.

Read-back verification bypasses the page cache with ``posix_fadvise(POSIX_FADV_DONTNEED)`` after
``fsync``: once the data is on the device, the clean cached pages are dropped and the re-read
comes from the device. (O_DIRECT was not used: tmpfs and some FUSE filesystems refuse it and it
needs aligned buffers; DONTNEED is a no-op on tmpfs, whose pages *are* the medium.)
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody import merkle
from custody.durable_file import fsync_directory, storage_error
from custody.errors import MediumError, PadFormatError
from custody.pad.manifest import Manifest
from custody.pad.store import JOURNAL_NAME, MANIFEST_NAME, PAD_NAME

SYS_BLOCK = Path("/sys/block")
SYS_DEV_BLOCK = Path("/sys/dev/block")
UDEV_DATA = Path("/run/udev/data")
MOUNTINFO = Path("/proc/self/mountinfo")
log = logging.getLogger(__name__)

PARTIAL_NAME = "pad.bin.partial"
# Names a fresh drive may carry that are not pads.
IGNORABLE = {"lost+found", "System Volume Information", ".Trashes", ".fseventsd", ".Spotlight-V100"}
PAD_FILES = {MANIFEST_NAME, PAD_NAME, JOURNAL_NAME, PARTIAL_NAME}
SLACK = 256 * 1024  # manifest, journal, filesystem overhead

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Drive:
    device: str  # /dev/sdb
    removable: bool
    size: int
    vendor: str
    model: str
    serial: str
    bus: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "removable": self.removable,
            "size": self.size,
            "vendor": self.vendor,
            "model": self.model,
            "serial": self.serial,
            "bus": self.bus,
        }


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _udev(major: int, minor: int, udev_data: Path = UDEV_DATA) -> dict[str, str]:
    out = {}
    for line in _read(udev_data / f"b{major}:{minor}").splitlines():
        if line.startswith("E:") and "=" in line:
            k, v = line[2:].split("=", 1)
            out[k] = v
    return out


def describe_disk(name: str, sys_block: Path = SYS_BLOCK, udev_data: Path = UDEV_DATA) -> Drive:
    """A whole disk (``sdb``) from sysfs and udev."""
    base = sys_block / name
    dev = _read(base / "dev")
    major, minor = (int(x) for x in dev.split(":")) if ":" in dev else (0, 0)
    udev = _udev(major, minor, udev_data)
    sectors = _read(base / "size")
    return Drive(
        device=f"/dev/{name}",
        removable=_read(base / "removable") == "1",
        size=int(sectors) * 512 if sectors.isdigit() else 0,
        vendor=udev.get("ID_VENDOR") or _read(base / "device" / "vendor"),
        model=udev.get("ID_MODEL") or _read(base / "device" / "model"),
        serial=udev.get("ID_SERIAL_SHORT") or _read(base / "device" / "serial"),
        bus=udev.get("ID_BUS", ""),
    )


def list_removable(sys_block: Path = SYS_BLOCK, udev_data: Path = UDEV_DATA) -> list[Drive]:
    """Removable disks with a medium present (size > 0)."""
    out: list[Drive] = []
    if not sys_block.is_dir():
        return out
    for entry in sorted(sys_block.iterdir()):
        drive = describe_disk(entry.name, sys_block, udev_data)
        if drive.removable and drive.size > 0:
            out.append(drive)
    return out


def mount_of(path: Path, mountinfo: Path = MOUNTINFO) -> dict[str, str]:
    """The mount holding `path`: mount point, filesystem type, source, major:minor."""
    target = os.path.realpath(path)
    best: dict[str, str] = {}
    for line in _read(mountinfo).splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 2:
            continue
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best.get("mount_point", "")):
            best = {
                "mount_point": point,
                "device_number": fields[2],
                "filesystem": rfields[0],
                "source": rfields[1],
            }
    return best


def _disk_for(device_number: str) -> str | None:
    """The whole disk's sysfs name for a block device number (a partition's parent)."""
    link = SYS_DEV_BLOCK / device_number
    try:
        real = Path(os.path.realpath(link))
    except OSError:
        return None
    if not real.exists():
        return None
    if (real / "partition").exists():
        real = real.parent
    return real.name


def identify(directory: Path) -> dict[str, Any]:
    """Describe the medium holding `directory`, for the ledger and the receipt."""
    mount = mount_of(directory)
    info: dict[str, Any] = {"path": str(directory), **mount, "kind": "directory"}
    disk = _disk_for(mount.get("device_number", "")) if mount.get("device_number") else None
    if disk and (SYS_BLOCK / disk).exists():
        drive = describe_disk(disk)
        info.update(drive.to_dict())
        info["kind"] = "removable drive" if drive.removable else "fixed disk"
    else:
        info.setdefault("removable", False)
        for key in ("vendor", "model", "serial"):
            info.setdefault(key, "")
    return info


def check_target(directory: Path, size: int, *, chunk_size: int, require_removable: bool) -> None:
    """Refuse a target that is missing, holds a pad, is too small, or (production) is fixed."""
    if not directory.is_dir():
        raise MediumError(f"customer directory {directory} does not exist or is not a directory")
    if not os.access(directory, os.W_OK):
        raise MediumError(f"customer directory {directory} is not writable")
    for entry in directory.iterdir():
        if entry.name in PAD_FILES or (entry.is_dir() and (entry / MANIFEST_NAME).exists()):
            raise MediumError(
                f"the customer medium {directory} already holds a pad ({entry.name}); use an "
                "empty drive (never overwrite a pad)"
            )
        if entry.name not in IGNORABLE:
            raise MediumError(
                f"the customer medium {directory} is not empty ({entry.name}); use an empty drive"
            )
    need = size + (size // chunk_size + 1) * 80 + SLACK
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    if free < need:
        raise MediumError(
            f"the customer medium {directory} is too small: {free:,} bytes free, the pad needs "
            f"{need:,}"
        )
    if require_removable and not identify(directory).get("removable"):
        raise MediumError(
            f"{directory} is not on a removable drive; a production customer copy goes on a "
            "USB drive (plain directories are for practice homes)"
        )


# -- writing and reading back ----------------------------------------------------------------


class PartialPadWriter:
    """The generation sink: appends pad bytes to DIR/pad.bin.partial (0600, O_EXCL) and hashes
    them per chunk as they pass, so the manifest describes exactly the generated bytes."""

    def __init__(self, directory: Path, chunk_size: int) -> None:
        self.path = directory / PARTIAL_NAME
        self.chunk_size = chunk_size
        self.digests: list[bytes] = []
        self.whole = hashlib.sha256()  # SHA-256 of the whole pad, for the receipt
        self.size = 0
        self._hash = hashlib.sha256()
        self._in_chunk = 0
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise MediumError(f"{self.path} already exists (an interrupted ceremony?)") from None
        except OSError as exc:
            raise storage_error(exc, self.path) from None

    def __call__(self, data: memoryview) -> None:
        view = data
        try:
            while view:
                n = os.write(self._fd, view)
                written = view[:n]
                self.whole.update(written)
                self.size += n
                pos = 0
                while pos < n:
                    take = min(n - pos, self.chunk_size - self._in_chunk)
                    self._hash.update(written[pos : pos + take])
                    self._in_chunk += take
                    pos += take
                    if self._in_chunk == self.chunk_size:
                        self.digests.append(self._hash.digest())
                        self._hash = hashlib.sha256()
                        self._in_chunk = 0
                view = view[n:]
        except OSError as exc:
            raise storage_error(exc, self.path) from None

    def finish(self) -> tuple[bytes, ...]:
        if self._in_chunk:
            self.digests.append(self._hash.digest())
            self._in_chunk = 0
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise storage_error(exc, self.path) from None
        finally:
            self.close()
        fsync_directory(self.path.parent)
        return tuple(self.digests)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_back(
    path: Path,
    manifest: Manifest,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Re-read the pad file from the device (page cache dropped) and check every chunk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise PadFormatError(f"cannot open {path} to verify it: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != manifest.size:
            raise PadFormatError(
                f"{path} is {st.st_size:,} bytes, the manifest says {manifest.size:,}"
            )
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        hashes = []
        buf = bytearray(manifest.chunk_size)
        view = memoryview(buf)
        done = 0
        try:
            while done < manifest.size:
                want = min(manifest.chunk_size, manifest.size - done)
                got = 0
                while got < want:
                    n = os.readv(fd, [view[got:want]])
                    if n == 0:
                        raise PadFormatError(f"{path} ended early while verifying")
                    got += n
                hashes.append(hashlib.sha256(view[:want]).digest())
                done += want
                if progress:
                    progress(done, manifest.size)
        finally:
            buf[:] = bytes(len(buf))
            view.release()
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError as exc:
        if exc.errno == errno.EIO:
            raise PadFormatError(f"I/O error reading {path} back: the medium is faulty") from None
        raise PadFormatError(f"cannot read {path} back: {exc.strerror}") from None
    finally:
        os.close(fd)
    bad = [i for i, (a, b) in enumerate(zip(hashes, manifest.chunk_hashes, strict=True)) if a != b]
    root = merkle.root(hashes)
    if bad or root != manifest.merkle_root:
        raise PadFormatError(
            f"the customer copy does not verify: {len(bad)} chunk(s) differ (first: {bad[:1]})"
        )
    return {
        "chunks": len(hashes),
        "merkle_root": root.hex(),
        "bytes": done,
        "method": "fsync + posix_fadvise(DONTNEED), re-read",
    }


def zeroize_file(path: Path) -> bool:
    """Overwrite a file with zeros, fsync, unlink (best effort on flash). True if it existed."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    except OSError:
        path.unlink(missing_ok=True)
        return True
    try:
        size = os.fstat(fd).st_size
        zeros = bytes(1 << 20)
        pos = 0
        while pos < size:
            pos += os.write(fd, zeros[: min(len(zeros), size - pos)])
        os.fsync(fd)
    except OSError:
        log.warning("could not overwrite %s before deleting it", path)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    return True


def remove_customer_pad(directory: Path) -> list[str]:
    """Zeroize and delete every pad file the ceremony may have left in `directory`."""
    removed = []
    for name in (PARTIAL_NAME, PAD_NAME):
        if zeroize_file(directory / name):
            removed.append(name)
    for name in (
        MANIFEST_NAME,
        JOURNAL_NAME,
        ".lock",
        f".{MANIFEST_NAME}.tmp",
        f".{JOURNAL_NAME}.tmp",
    ):
        p = directory / name
        if p.exists():
            p.unlink()
            removed.append(name)
    if removed and directory.is_dir():
        fsync_directory(directory)
    return removed
