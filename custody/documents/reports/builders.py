"""Every report by name (the `report` field of its data, as `reddoor report --json` prints
it): the function that lays it out as a `Document`, and `render` for the PDF bytes. The
reports' data functions (`inventory.inventory_data`, `pad_custody.pad_data`, ...) gather what
`render` draws.
"""

from __future__ import annotations

from typing import Any

from custody.documents.reports.consumption import consumption_pdf
from custody.documents.reports.destruction_certificate import certificate_pdf
from custody.documents.reports.inventory import inventory_pdf
from custody.documents.reports.pad_custody import pad_pdf
from custody.documents.reports.runsheet import runsheet_pdf
from custody.documents.reports.verification import verification_pdf

BUILDERS = {
    "inventory": inventory_pdf,
    "pad": pad_pdf,
    "consumption": consumption_pdf,
    "verification": verification_pdf,
    "runsheet": runsheet_pdf,
    "destruction-certificate": certificate_pdf,
}


def render(data: dict[str, Any], *, archival: bool = False) -> bytes:
    return BUILDERS[data["report"]](data).render(archival=archival)
