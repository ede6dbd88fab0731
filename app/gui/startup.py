"""Start-up before the window's modes appear: the practice facility on a first run, the home,
the practice link.

Qt-free and blocking: `app.gui.main_window.MainWindow` runs `bootstrap` on a worker while the
window shows, and keeps the `Started` it returns (the open facility, the practice link, the link
endpoint) for its modes and for shutdown. The cores (Zenoh, PKCS#11, SQLCipher) are imported on
that worker, inside `bootstrap`, not when this module is imported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.gui.install_settings import InstallSettings

if TYPE_CHECKING:  # the cores (Zenoh, PKCS#11, SQLCipher) load on the bootstrap worker
    from app.gui.facility import Facility, FirstRun
    from app.gui.practice_link import PracticeLink

log = logging.getLogger(__name__)


@dataclass
class Started:
    facility: Facility | None
    link: PracticeLink | None
    endpoint: str
    first_run: FirstRun | None = None
    notes: list[str] = field(default_factory=list)


class KioskNeedsHome(Exception):
    """A kiosk found no facility home. It never creates one: a new practice facility shows its
    officers' passphrases, and a kiosk starts locked behind exactly those passphrases."""

    def __init__(self, home: Path) -> None:
        self.message = (
            f"no facility home at {home}. A kiosk never creates one: that would show the new "
            "officers' passphrases on an unattended, locked station. The installer creates the "
            "home first (run `reddoor` once without --kiosk as the kiosk's user and write the "
            "passphrases down, or `reddoor init` and `reddoor officer enroll` for production), "
            "then restarts the kiosk."
        )
        super().__init__(self.message)


def bootstrap(
    home: Path, settings: InstallSettings, *, start_link: bool = True, kiosk: bool = False
) -> Started:
    """Blocking start-up: the practice facility on first run, the home, the practice link."""
    from app.gui.facility import Facility, create_practice_facility, is_home
    from app.gui.practice_link import PracticeLink

    first = None
    if not is_home(home):
        if settings.mode == "workstation" and settings.router_endpoint:
            return Started(None, None, settings.router_endpoint)
        if kiosk:
            raise KioskNeedsHome(home)
        first = create_practice_facility(home)
    facility = Facility(home)
    link = None
    endpoint = settings.router_endpoint or ""
    if facility.practice and not settings.router_endpoint and start_link:
        link = PracticeLink(home / "facility-pads", home=(home, facility.token))
        try:
            endpoint = link.start()
        except Exception as exc:
            log.warning("practice link did not start (%s)", type(exc).__name__)
            link = None
    return Started(facility, link, endpoint, first)
