"""The workstation chat's widgets: a question with its streamed answer, and the box to ask in.

Widgets only; everything shown is plain text. `MessageCard` is one question and its answer,
filled chunk by chunk as authenticated pieces arrive. `AskBox` is the question being composed:
its text, an optional file excerpt (from the folders a kiosk allows), its classification and
what it will cost in pad bytes. `app.gui.workstation_view` lays them out and sends the question
through `app.gui.workstation_link`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.style import set_role
from app.gui.widgets import PlainLabel, describe
from app.gui.workstation_model import (
    CLASSIFICATIONS,
    answer_details,
    compose,
    cost_text,
    read_excerpt,
)
from custody.link.workstation import Answer
from custody.pad.frame_policy import FrameMode


class MessageCard(QFrame):
    """One question and its streamed answer, with the per-message details."""

    def __init__(
        self,
        question: str,
        classification: str,
        parent: QWidget | None = None,
        *,
        colour_key: str | None = None,
    ):
        """`colour_key`: the classification's entry in the settings' colour table, which
        colours its tag (`app.gui.style.classification_key`)."""
        super().__init__(parent)
        self.setObjectName("messageCard")
        lay = QVBoxLayout(self)
        head = QHBoxLayout()
        self.header = set_role(PlainLabel("You asked", self, wrap=False), "heading")
        self.tag = PlainLabel(classification, self, wrap=False)
        self.tag.setObjectName("classificationTag")
        if colour_key:
            self.tag.setProperty("classification", colour_key)
        head.addWidget(self.header)
        head.addWidget(self.tag)
        head.addStretch(1)
        lay.addLayout(head)
        self.question = PlainLabel(question, self)
        self.answer_header = set_role(
            PlainLabel("Red Forge AI (waiting for the answer…):", self), "heading"
        )
        self.answer = PlainLabel("", self)
        self.answer.setObjectName("answerText")
        self.details = set_role(PlainLabel("", self), "hint")
        for w in (self.question, self.answer_header, self.answer, self.details):
            lay.addWidget(w)
        self._text = ""
        self.result: Answer | None = None

    def append(self, piece: str) -> None:
        self._text += piece
        self.answer.setText(self._text)
        self.answer_header.setText("Red Forge AI (streaming, each chunk authenticated):")

    def finish(self, answer: Answer) -> None:
        self.answer_header.setText("Red Forge AI:")
        if answer.text != self._text:  # the final text is authoritative
            self._text = answer.text
            self.answer.setText(answer.text)
        self.result = answer
        self.set_remaining(None)

    def set_remaining(self, queries_left: int | None) -> None:
        """The pad left after this answer, from the status read after it (the view's one
        pad-status source), so the card agrees with the banner and the footer."""
        a = self.result
        if a is None:
            return
        self.details.setText(answer_details(a, queries_left))

    def fail(self, message: str) -> None:
        self.answer_header.setText("No complete answer:")
        self.details.setText(message)
        set_role(self.details, "error")

    @property
    def answer_text(self) -> str:
        return self._text


class AskBox(QGroupBox):
    """The question being composed. `cost_of(question, classification)` prices it in pad bytes
    (None: not connected, or not computable); `modes_of(question, classification)` gives the
    frame modes of the question and of its answer (the guarantee shown beside the cost);
    `file_dialog_dirs` are where an excerpt may come from (a kiosk's USB and export folders;
    none given: anywhere)."""

    def __init__(
        self,
        cost_of: Callable[[str, str], int | None],
        file_dialog_dirs: Callable[[], list[Path]] | None,
        parent: QWidget,
        modes_of: Callable[[str, str], tuple[FrameMode, FrameMode] | None] | None = None,
    ) -> None:
        super().__init__("&Ask Red Forge AI", parent)  # Alt+A: to the question
        self.cost_of = cost_of
        self.modes_of = modes_of
        self.file_dialog_dirs = file_dialog_dirs
        self.excerpt: tuple[str, str] | None = None  # (file name, text)
        lay = QVBoxLayout(self)
        self.question_edit = QPlainTextEdit(self)
        self.question_edit.setPlaceholderText("Your question… (Ctrl+Enter sends it)")
        self.question_edit.setTabChangesFocus(True)  # Tab leaves the box: reading order
        describe(
            self.question_edit,
            "Question",
            "The question for the facility's AI; Ctrl+Enter sends it.",
        )
        self.question_edit.textChanged.connect(self.update_cost)
        self.question_edit.setMinimumHeight(60)
        self.question_edit.setMaximumHeight(130)
        lay.addWidget(self.question_edit)
        row = QHBoxLayout()
        self.attach_button = QPushButton("Attach file e&xcerpt…", self)
        self.attach_button.setAccessibleDescription("Adds an excerpt of a file to the question.")
        self.attach_button.clicked.connect(self.choose_excerpt)
        self.clear_excerpt_button = QPushButton("&Remove excerpt", self)
        self.clear_excerpt_button.setAccessibleDescription("Takes the excerpt out again.")
        self.clear_excerpt_button.clicked.connect(lambda: self.set_excerpt(None))
        self.classification_combo = QComboBox(self)
        self.classification_combo.addItems(CLASSIFICATIONS)
        self.classification_combo.setEditable(True)
        describe(
            self.classification_combo,
            "Classification",
            "The classification label the question carries.",
        )
        classification_label = QLabel("Classificat&ion:", self)
        classification_label.setBuddy(self.classification_combo)
        # The label can change the mode (a pad's policy may keep it one-time pad) and the cost.
        self.classification_combo.currentTextChanged.connect(self.update_cost)
        row.addWidget(self.attach_button)
        row.addWidget(self.clear_excerpt_button)
        row.addStretch(1)
        row.addWidget(classification_label)
        row.addWidget(self.classification_combo)
        lay.addLayout(row)
        self.excerpt_view = QPlainTextEdit(self)
        self.excerpt_view.setReadOnly(True)
        self.excerpt_view.setTabChangesFocus(True)
        describe(self.excerpt_view, "File excerpt", "The excerpt sent with the question.")
        self.excerpt_view.setMaximumHeight(90)
        self.excerpt_view.hide()
        lay.addWidget(self.excerpt_view)
        row2 = QHBoxLayout()
        self.cost_label = PlainLabel("", self)
        self.cost_label.setAccessibleName("Cost in pad bytes")
        self.send_button = QPushButton("&Send query", self)
        self.send_button.setToolTip("Send the question (Ctrl+Enter)")
        self.send_button.setAccessibleDescription(
            "Sends the question over the one-time-pad link (Ctrl+Enter)."
        )
        self.send_button.setDefault(True)
        row2.addWidget(self.cost_label, 1)
        row2.addWidget(self.send_button)
        lay.addLayout(row2)

    def choose_excerpt(self) -> None:
        dirs = self.file_dialog_dirs() if self.file_dialog_dirs else []
        from app.gui.kiosk import confined_open_file, no_allowed_folder

        if no_allowed_folder(dirs):
            self.cost_label.setText("No USB or export folder is available: nothing to attach.")
            return
        path = confined_open_file(self, "Attach a file excerpt", dirs)
        if path is None:
            return
        try:
            text = read_excerpt(path)
        except OSError as exc:
            self.cost_label.setText(f"Cannot read {path.name}: {exc.strerror}")
            return
        self.set_excerpt((path.name, text))

    def set_excerpt(self, excerpt: tuple[str, str] | None) -> None:
        self.excerpt = excerpt
        if excerpt is None:
            self.excerpt_view.hide()
            self.excerpt_view.setPlainText("")
        else:
            self.excerpt_view.setPlainText(f"Content excerpt from {excerpt[0]}:\n{excerpt[1]}")
            self.excerpt_view.show()
        self.update_cost()

    def compose(self) -> str:
        return compose(self.question_edit.toPlainText(), self.excerpt)

    def classification(self) -> str | None:
        return self.classification_combo.currentText().strip() or None

    def update_cost(self) -> None:
        q = self.compose()
        cost = self.cost_of(q, self.classification_combo.currentText()) if q else None
        if cost is None:
            self.cost_label.setText("")
            return
        modes = self.modes_of(q, self.classification_combo.currentText()) if self.modes_of else None
        question, answer = modes or (FrameMode.OTP, FrameMode.OTP)
        self.cost_label.setText(cost_text(cost, question, answer))

    def clear(self) -> None:
        """After sending: an empty question, no excerpt."""
        self.question_edit.clear()
        self.set_excerpt(None)
