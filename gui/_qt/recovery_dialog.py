"""Offer to recover the work of a panel that crashed (or was killed): what it was, when it
was autosaved, and Recover / Discard / Not now."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from etam_plugin.gui.components.recovery import RecoveryCandidate


class RecoveryChoice(enum.Enum):
    RECOVER = "recover"
    DISCARD = "discard"  # all of them
    LATER = "later"  # keep them for the next start


class RecoveryDialog(QDialog):
    def __init__(
        self, candidates: Sequence[RecoveryCandidate], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Recover unsaved work")
        self.setObjectName("recoveryDialog")
        self.candidates = list(candidates)
        self.choice = RecoveryChoice.LATER
        text = QLabel(
            "<b>The panel did not close normally last time.</b><br>"
            "Its work was autosaved; recover it now?"
        )
        text.setWordWrap(True)
        self.list = QListWidget()
        for candidate in self.candidates:
            self.list.addItem(candidate.describe())
        self.list.setCurrentRow(0)
        buttons = QDialogButtonBox()
        self.recover = buttons.addButton("Recover", QDialogButtonBox.ButtonRole.AcceptRole)
        self.discard = QPushButton("Discard")
        self.discard.setToolTip("Delete the autosaved work")
        buttons.addButton(self.discard, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.later = buttons.addButton("Not Now", QDialogButtonBox.ButtonRole.RejectRole)
        self.recover.clicked.connect(self._on_recover_clicked)
        self.discard.clicked.connect(self._on_discard_clicked)
        self.later.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(560, 260)

    def selected(self) -> RecoveryCandidate | None:
        row = self.list.currentRow()
        return self.candidates[row] if 0 <= row < len(self.candidates) else None

    def _on_recover_clicked(self) -> None:
        self.choice = RecoveryChoice.RECOVER
        self.accept()

    def _on_discard_clicked(self) -> None:
        self.choice = RecoveryChoice.DISCARD
        self.accept()
