"""The install's settings for the desktop application (no secrets).

Read from `$REDDOOR_APP_SETTINGS`, else `/etc/reddoor/app.json`, else defaults. A kiosk install
fixes the mode and `kiosk: true` here so that nobody at the keyboard can choose otherwise.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from custody.bounded_read import read_file
from custody.errors import RedDoorError

log = logging.getLogger(__name__)

SYSTEM_SETTINGS = Path("/etc/reddoor/app.json")
MAX_SETTINGS_BYTES = 65_536  # a few hundred bytes of JSON
MODES = ("ceremony", "custody", "workstation")
MODE_TITLES = {
    "ceremony": "Ceremony station",
    "custody": "Custody & audit",
    "workstation": "Workstation",
}

# Background and text colour per classification: the usual US marking colours. An install
# replaces the whole table with its own (`classification_colours` in app.json).
CLASSIFICATION_COLOURS = {
    "UNCLASSIFIED": ("#007a33", "#ffffff"),
    "CUI": ("#502b85", "#ffffff"),
    "CONFIDENTIAL": ("#0033a0", "#ffffff"),
    "SECRET": ("#c8102e", "#ffffff"),
    "TOP SECRET": ("#ff8c00", "#000000"),
    "TOP SECRET//SCI": ("#fce83a", "#000000"),
}


@dataclass
class InstallSettings:
    mode: str | None = None  # fixed mode, or None: the user chooses at start
    kiosk: bool = False
    idle_lock_seconds: int = 300
    classification_text: str = "UNCLASSIFIED // PRACTICE"
    # The banners' colours: these two when set, else those of the classification the text
    # starts with in `classification_colours` (the workstation's classification tags use the
    # same table), else grey.
    classification_background: str | None = None
    classification_foreground: str | None = None
    classification_colours: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in CLASSIFICATION_COLOURS.items()}
    )
    router_endpoint: str | None = None  # None: the practice facility's embedded router
    usb_roots: list[str] = field(default_factory=lambda: ["/media", "/run/media"])
    export_dir: str | None = None
    queries_per_day: float | None = None  # None: the rate observed on this host (else 100)
    # "Pad low" below the LOWER of this many queries left and this fraction of the pad's whole
    # capacity: a fixed 500 alone would call a small practice pad low from its first query.
    low_pad_queries: int = 500
    low_pad_fraction: float = 0.10
    # The workstation's "Cover traffic" switch (off until the user confirms its cost): frames
    # per second and the body size of every frame (one of the frame buckets).
    cover_rate: float = 1.0
    cover_bucket: int = 1024
    # A workstation kiosk without a facility home: the installer's kiosk unlock passphrase
    # hash (app/gui/kiosk_unlock.py); None means /etc/reddoor/kiosk-unlock.json.
    kiosk_unlock_file: str | None = None
    # The ceremony station's entropy metrics, as `ceremony run --metrics-textfile` writes them:
    # a PATH.prom in node_exporter's textfile directory (docs/entropy.md, Metrics); None: off.
    metrics_textfile: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstallSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            log.warning("ignoring unknown application settings: %s", ", ".join(unknown))
        s = cls(**{k: v for k, v in data.items() if k in known})
        if s.mode is not None and s.mode not in MODES:
            log.warning("unknown mode %r in the application settings; asking at start", s.mode)
            s.mode = None
        s.idle_lock_seconds = max(10, int(s.idle_lock_seconds))
        s.low_pad_fraction = min(1.0, max(0.0, float(s.low_pad_fraction)))
        s.cover_rate = float(s.cover_rate)
        bucket = s.cover_bucket
        if isinstance(bucket, float) and bucket.is_integer():
            bucket = int(bucket)  # 1024.0 from a hand-edited JSON file
        if type(bucket) is not int:
            log.warning("cover_bucket %r is not a whole number; using 1024", s.cover_bucket)
            bucket = 1024
        s.cover_bucket = bucket
        s.classification_colours = _colour_table(s.classification_colours)
        return s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _colour_table(data: Any) -> dict[str, list[str]]:
    """{"SECRET": ["#c8102e", "#ffffff"], ...} with upper-case keys; anything else is dropped
    with a warning (the colours themselves are checked where they reach a style sheet)."""
    if not isinstance(data, dict):
        log.warning("classification_colours is not a table; using the default colours")
        return {k: list(v) for k, v in CLASSIFICATION_COLOURS.items()}
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        ok = isinstance(value, (list, tuple)) and len(value) == 2
        if isinstance(key, str) and ok and all(isinstance(c, str) for c in value):
            out[key.strip().upper()] = [value[0], value[1]]
        else:
            log.warning("ignoring classification colours for %r: want [background, text]", key)
    return out


def default_home() -> Path:
    """The facility home when none is given: $REDDOOR_HOME, else the user's practice home.
    Here, not in app.gui.facility, so that start-up finds it without loading the cores."""
    env = os.environ.get("REDDOOR_HOME")
    if env:
        return Path(env)
    return Path.home() / ".local" / "share" / "reddoor" / "practice"


def settings_path() -> Path:
    env = os.environ.get("REDDOOR_APP_SETTINGS")
    return Path(env) if env else SYSTEM_SETTINGS


def load_settings(path: Path | None = None) -> InstallSettings:
    path = path or settings_path()
    try:
        data = json.loads(read_file(path, MAX_SETTINGS_BYTES, "application settings file"))
    except FileNotFoundError:
        return InstallSettings()
    except (OSError, ValueError, RedDoorError):
        log.warning("application settings %s unreadable; using defaults", path)
        return InstallSettings()
    if not isinstance(data, dict):
        return InstallSettings()
    return InstallSettings.from_dict(data)
