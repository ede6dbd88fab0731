"""The ceremony station's first page: what the next ceremony makes, or the interrupted one's fate.

Widgets only. The officers choose the pad size, the direction split, the entropy sources and the
customer USB directory; `plan()` turns the choice into a `ceremony.ceremony_plan.CeremonyPlan`.
When a ceremony was interrupted, the page says so (`show_status`, from
`app.gui.ceremony_run.ceremony_status`) and offers resume and abort instead of a new start.
`app.gui.ceremony_wizard.CeremonyStation` connects the buttons and runs what they ask for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.ceremony_run import new_customer_dir, status_text
from app.gui.facility import Facility
from app.gui.widgets import PlainLabel
from ceremony.ceremony_plan import CeremonyPlan

SIZES = (("4 MiB (practice)", 4 << 20), ("16 MiB", 16 << 20), ("64 MiB", 64 << 20))


class CeremonyPlanPage(QWidget):
    def __init__(self, facility: Facility, parent: QWidget) -> None:
        super().__init__(parent)
        self.facility = facility
        lay = QVBoxLayout(self)
        box = QGroupBox("New ceremony", self)
        form = QFormLayout(box)
        self.size_combo = QComboBox(box)
        for label, n in SIZES:
            self.size_combo.addItem(label, n)
        self.split_edit = QLineEdit("1:3", box)
        self.source_boxes: dict[str, QCheckBox] = {}
        srow = QHBoxLayout()
        for spec, label in (
            ("hwrng", "/dev/hwrng"),
            ("pkcs11", "HSM RNG"),
            ("os", "OS CSPRNG (practice only)"),
        ):
            cb = QCheckBox(label, box)
            self.source_boxes[spec] = cb
            srow.addWidget(cb)
        self.source_boxes["os" if facility.practice else "hwrng"].setChecked(True)
        self.customer_edit = QLineEdit(str(new_customer_dir(facility)), box)
        form.addRow("Pad size", self.size_combo)
        form.addRow("Direction split (questions:answers)", self.split_edit)
        form.addRow("Entropy sources", srow)
        form.addRow("Customer USB directory", self.customer_edit)
        lay.addWidget(box)
        self.status_label = PlainLabel("", self)
        lay.addWidget(self.status_label)
        row = QHBoxLayout()
        self.start_button = QPushButton("Start ceremony", self)
        self.resume_button = QPushButton("Resume interrupted ceremony", self)
        self.abort_button = QPushButton("Abort interrupted ceremony…", self)
        self.abort_reason = QLineEdit(self)
        self.abort_reason.setPlaceholderText("Reason for the abort (recorded, signed by both)")
        for w in (self.start_button, self.resume_button, self.abort_button):
            row.addWidget(w)
        lay.addLayout(row)
        lay.addWidget(self.abort_reason)
        lay.addStretch(1)

    def show_status(self, st: dict[str, Any]) -> None:
        """An interrupted ceremony (`st` active) offers resume and abort, and no new start."""
        active = bool(st.get("active"))
        abortable = active and st.get("next_step") != "close"  # after step 9 the pad is made
        self.resume_button.setVisible(active)
        self.abort_button.setVisible(abortable)
        self.abort_reason.setVisible(abortable)
        self.start_button.setEnabled(not active)
        self.status_label.setText(status_text(st))

    def reset_customer_dir(self) -> None:
        self.customer_edit.setText(str(new_customer_dir(self.facility)))

    def plan(self) -> CeremonyPlan:
        sources = [k for k, cb in self.source_boxes.items() if cb.isChecked()]
        customer = Path(self.customer_edit.text().strip())
        customer.mkdir(mode=0o700, parents=True, exist_ok=True)
        return CeremonyPlan(
            size=int(self.size_combo.currentData()),
            customer_dir=customer,
            sources=sources,
            split=self.split_edit.text().strip() or "1:3",
        )
