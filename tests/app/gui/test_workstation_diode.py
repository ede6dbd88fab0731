"""The workstation view behind a data diode: it cannot see the gateway itself, so the gateway
banner says when the facility was last heard through the diode, and why no gateway shows when
the diode goes dark."""

from __future__ import annotations

import pytest

from app.gui.facility import USB_DIR
from tests.app.gui.test_workstation_chat import connected_view
from tests.custody.link.diode_site import DiodeSite, wait_until

pytestmark = pytest.mark.slow


def test_gateway_banner_says_when_the_facility_was_last_seen_via_the_diode(qtbot, tmp_path):
    site = DiodeSite(tmp_path, pads=1)
    try:
        gui_home = tmp_path / "gui"
        (gui_home / USB_DIR).mkdir(parents=True)
        site.workstations[0].rename(gui_home / USB_DIR / "pad0")  # the stick in the SCIF
        view, runner = connected_view(qtbot, gui_home, site.scif)
        view.check_presence()
        qtbot.waitUntil(lambda: "(via diode)" in view.gateway_banner.label.text(), timeout=15000)
        assert "facility seen" in view.gateway_banner.label.text()
        assert view.gateway_banner.level == "info"

        site.kill("send-f2w")
        wait_until(lambda: not site.status("f2w")["alive"])
        view.check_presence()
        qtbot.waitUntil(lambda: "Gateway absent" in view.gateway_banner.label.text(), timeout=15000)
        text = view.gateway_banner.label.text()
        assert "facility last seen" in text and "(via diode)" in text
        assert view.gateway_banner.level == "error"
        runner.stop_all()
        view.shutdown()
    finally:
        site.close()
