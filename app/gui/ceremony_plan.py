"""The ceremony station's first page: what the next ceremony makes, or the interrupted one's fate.

Widgets only. The officers choose the pad size, the direction split, the frame policy, the entropy
sources and the customer USB directory; `plan()` turns the choice into a
`ceremony.ceremony_plan.CeremonyPlan`.
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
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.ceremony_run import new_customer_dir, status_text
from app.gui.facility import Facility
from app.gui.widgets import PlainLabel, describe
from ceremony.ceremony_plan import CeremonyPlan
from custody.pad.frame_policy import parse_policy

SIZES = (("4 MiB (practice)", 4 << 20), ("16 MiB", 16 << 20), ("64 MiB", 64 << 20))
# The frame policies (docs/protocol.md, "Pad-keyed frames"), each with what it promises.
POLICIES = (
    ("otp-only: every message one-time pad (information-theoretic)", "otp-only"),
    (
        "otp-preferred: pad-keyed (computational) only for cover traffic and questions over 16 KiB",
        "otp-preferred",
    ),
    ("pad-keyed: every message pad-keyed ChaCha20-Poly1305 (computational)", "pad-keyed"),
)


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
        self.policy_combo = QComboBox(box)
        for label, word in POLICIES:
            self.policy_combo.addItem(label, word)
        # The long item texts must not set the view's minimum width (1024×768 screens, issue 17).
        self.policy_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.policy_combo.setMinimumContentsLength(30)
        self.source_boxes: dict[str, QCheckBox] = {}
        self.labels_for: dict[QWidget, QLabel] = {}
        srow = QHBoxLayout()
        for spec, label in (
            ("hwrng", "/dev/h&wrng"),
            ("pkcs11", "HSM R&NG"),
            ("os", "&OS CSPRNG (practice only)"),
        ):
            cb = QCheckBox(label, box)
            cb.setAccessibleDescription("An entropy source of the pad; several are mixed.")
            self.source_boxes[spec] = cb
            srow.addWidget(cb)
        self.source_boxes["os" if facility.practice else "hwrng"].setChecked(True)
        self.customer_edit = QLineEdit(str(new_customer_dir(facility)), box)
        describe(self.size_combo, "Pad size", "How many bytes the new pad has.")
        describe(
            self.split_edit,
            "Direction split",
            "How the pad is shared between questions and answers, as questions:answers.",
        )
        describe(
            self.policy_combo,
            "Frame policy",
            "Which frames the pad may carry: one-time pad only, pad-keyed ChaCha20-Poly1305 "
            "for cover and large messages, or pad-keyed for everything.",
        )
        describe(
            self.customer_edit,
            "Customer USB directory",
            "Where the customer's copy of the pad is written.",
        )
        for text, field in (
            ("Pad si&ze", self.size_combo),
            ("Direction s&plit (questions:answers)", self.split_edit),
            ("&Frame policy", self.policy_combo),
            ("Customer USB director&y", self.customer_edit),
        ):
            label = QLabel(text, box)
            label.setBuddy(field)
            self.labels_for[field] = label
        form.addRow(self.labels_for[self.size_combo], self.size_combo)
        form.addRow(self.labels_for[self.split_edit], self.split_edit)
        form.addRow(self.labels_for[self.policy_combo], self.policy_combo)
        labels = facility.settings.otp_only_classifications
        if labels:
            form.addRow(
                "",
                PlainLabel(
                    f"Always one-time pad (facility settings): {', '.join(labels)}",
                    box,
                ),
            )
        form.addRow("Entropy sources", srow)
        form.addRow(self.labels_for[self.customer_edit], self.customer_edit)
        lay.addWidget(box)
        self.status_label = PlainLabel("", self)
        lay.addWidget(self.status_label)
        row = QHBoxLayout()
        self.start_button = QPushButton("&Start ceremony", self)
        self.start_button.setAccessibleDescription("Starts a new ceremony with these choices.")
        self.resume_button = QPushButton("&Resume interrupted ceremony", self)
        self.resume_button.setAccessibleDescription(
            "Both officers authenticate again; the interruption is recorded."
        )
        self.abort_button = QPushButton("A&bort interrupted ceremony…", self)
        self.abort_button.setAccessibleDescription(
            "Destroys the interrupted ceremony's material; needs the reason below."
        )
        self.abort_reason = QLineEdit(self)
        self.abort_reason.setPlaceholderText("Reason for the abort (recorded, signed by both)")
        describe(self.abort_reason, "Reason for the abort", "Recorded, signed by both officers.")
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
            frame_policy=parse_policy(
                str(self.policy_combo.currentData()),
                None,
                self.facility.settings.otp_only_classifications,
            ),
        )
