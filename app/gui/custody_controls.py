"""What the custody view's controls are called for a screen reader (and for the tests that find
them by name), and the order Tab visits them in: accessible names and descriptions, kept apart
from `app.gui.custody_view`'s layout so that the words can change without touching it.
"""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtWidgets import QWidget

from app.gui.widgets import describe

CONTROLS = {
    "verify_button": ("Verify ledger", "Checks the hash chain, the Merkle tree and checkpoints."),
    "export_button": ("Export checkpoint", "Writes a signed checkpoint to keep outside."),
    "refresh_button": ("Refresh", "Reads the pads, the event log and the officers again."),
    "tabs": ("Custody pages", "Pads, the event log and the officers (Alt+P, Alt+G, Alt+O)."),
    "pads_table": ("Pads", "Every pad: state, serials, bytes used; select one for its history."),
    "pad_history": ("Pad history", "The selected pad's ledger events; expand one for details."),
    "transfer_button": (
        "Transfer custody",
        "Hands the selected sealed pad over: bag serial typed twice, two officers approve.",
    ),
    "type_filter": ("Event type", "Shows only the events of this type."),
    "text_filter": ("Filter", "Shows only the events containing this text."),
    "log_table": ("Event log", "Every ledger event, newest last."),
    "officer_table": ("Officers", "Enrolled officers, their roles and key fingerprints."),
    "retire_button": (
        "Retire selected officer",
        "A retired officer can never approve again; two other officers approve.",
    ),
}


# Tab in reading order: on the pads page the table, the history under it, then the button below
# both (the button is made first, so by default Tab would visit it first).
TAB_ORDER = ("pads_table", "pad_history", "transfer_button")


def describe_controls(view: Any) -> None:
    """Name and describe every control of a `CustodyView` that it has; Tab in reading order."""
    for attr, (name, description) in CONTROLS.items():
        widget = getattr(view, attr, None)
        if widget is not None:
            describe(widget, name, description)
    chain = [getattr(view, attr, None) for attr in TAB_ORDER]
    for first, second in itertools.pairwise(chain):
        if first is not None and second is not None:
            QWidget.setTabOrder(first, second)
