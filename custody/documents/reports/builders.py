"""Every report by name (the `report` field of its data, as `reddoor report --json` prints
it): the function that lays it out as a `Document`, and `render` for the PDF bytes. The
reports' data functions (`inventory.inventory_data`, `pad_custody.pad_data`, ...) gather what
`render` draws; `ledger_report_data` calls the right one for a report over a ledger, for the
CLI (`reddoor report`) and the custody view's report buttons alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from custody.documents.reports.consumption import consumption_pdf
from custody.documents.reports.destruction_certificate import certificate_pdf
from custody.documents.reports.inventory import inventory_pdf
from custody.documents.reports.pad_custody import pad_pdf
from custody.documents.reports.runsheet import runsheet_pdf
from custody.documents.reports.verification import verification_pdf
from custody.ledger.chain import Ledger

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


# The reports made from a ledger alone (the run-sheet also needs the ceremony's script).
LEDGER_REPORTS = ("inventory", "pad", "consumption", "verification")


def ledger_report_data(
    ledger: Ledger,
    kind: str,
    *,
    practice: bool,
    pad_id: str | None = None,
    since: str | None = None,
    external: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The data of report `kind` (one of `LEDGER_REPORTS`): the ledger verified first, then a
    signed checkpoint of the state shown (`shared.ledger_state`)."""
    from custody.documents.reports import (
        consumption,
        inventory,
        pad_custody,
        shared,
        verification,
    )
    from custody.lifecycle import states

    if kind not in LEDGER_REPORTS:
        raise ValueError(f"not a ledger report: {kind}")
    state = shared.ledger_state(ledger, practice=practice, external=external)
    if kind == "verification":
        return verification.verification_data(ledger, state)
    if kind == "pad":
        if pad_id is None:
            raise ValueError("the pad report needs a pad id")
        rec = states.scan(ledger).get(states.find_pad(ledger, pad_id).pad_id)
        assert rec is not None
        return pad_custody.pad_data(ledger, state, rec)
    pads = states.scan(ledger)
    if kind == "consumption":
        return consumption.consumption_data(ledger, state, pads, since)
    return inventory.inventory_data(state, pads)
