"""Find pad copies on mounted media and describe the device they are on (best effort).

Blocking (it reads /proc, /sys and udev's database through `ceremony.usb_media`): call from a
worker. A directory that is not on a removable device (the practice "USB") says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ceremony.usb_media import identify
from custody.pad.status import PadStatus, read_status
from custody.pad.store import MANIFEST_NAME

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    vendor: str = ""
    model: str = ""
    serial: str = ""
    size: int = 0
    device: str = ""
    removable: bool = False

    def describe(self) -> str:
        if not self.removable:
            return "a directory on a fixed disk, not a removable drive (practice)"
        gib = f", {self.size / (1 << 30):.1f} GiB" if self.size else ""
        serial = f", serial {self.serial}" if self.serial else ""
        return f"{self.vendor} {self.model}".strip() + serial + gib


@dataclass(frozen=True)
class DetectedPad:
    path: Path
    device: DeviceInfo
    status: PadStatus | None
    error: str = ""

    def describe(self, per_day: float | None = None) -> str:
        if self.status is None:
            return f"{self.path}: {self.error or 'unreadable'}"
        s = self.status
        return (
            f"USB Detected: {self.device.describe()}\n"
            f"OTP Pad {s.manifest.pad_id_display} [{s.manifest.mark.value}] available: "
            f"{s.queries_left:,} queries (approximately {int(s.days_left):,} days at "
            f"{s.queries_per_day:,.0f}/day)"
        )


def device_of(path: Path) -> DeviceInfo:
    """The medium holding `path`, as `ceremony.usb_media.identify` sees it."""
    try:
        info = identify(path)
    except Exception:
        return DeviceInfo()
    return DeviceInfo(
        vendor=str(info.get("vendor") or ""),
        model=str(info.get("model") or ""),
        serial=str(info.get("serial") or ""),
        size=int(info.get("size") or 0),
        device=str(info.get("device") or ""),
        removable=bool(info.get("removable")),
    )


def find_pad_dirs(roots: list[Path], depth: int = 3) -> list[Path]:
    found: list[Path] = []

    def walk(d: Path, level: int) -> None:
        if (d / MANIFEST_NAME).is_file():
            found.append(d)
            return
        if level >= depth:
            return
        try:
            children = sorted(c for c in d.iterdir() if c.is_dir() and not c.is_symlink())
        except OSError:
            return
        for c in children:
            walk(c, level + 1)

    for r in roots:
        if r.is_dir():
            walk(r, 0)
    return found


def detect(roots: list[Path], *, queries_per_day: float | None = None) -> list[DetectedPad]:
    out = []
    for d in find_pad_dirs(roots):
        try:
            status = read_status(d, queries_per_day=queries_per_day)
        except Exception as exc:
            out.append(DetectedPad(d, DeviceInfo(), None, getattr(exc, "message", "unreadable")))
            continue
        if status.side != "workstation":
            continue
        out.append(DetectedPad(d, device_of(d), status))
    return out
