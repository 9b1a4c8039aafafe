"""Dialogs: readable error boxes and the keyboard shortcuts list."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etam_plugin.gui.components.errors import ErrorReport
from etam_plugin.gui.components.shortcuts import MOUSE, SHORTCUTS


def error_box(parent: QWidget | None, report: ErrorReport) -> QMessageBox:
    """A window-modal, non-blocking message box for ``report`` (call ``.open()``)."""
    icon = {
        "error": QMessageBox.Icon.Critical,
        "warning": QMessageBox.Icon.Warning,
        "info": QMessageBox.Icon.Information,
    }[report.severity]
    # The title goes in the box itself (in bold by the style), not only in the window
    # title, which some window managers (and Xvfb without one) never show.
    box = QMessageBox(
        icon, "etam-plugin", report.title or "etam-plugin", QMessageBox.StandardButton.Ok, parent
    )
    box.setInformativeText(report.text)
    box.setObjectName("errorBox")
    if report.details:
        box.setDetailedText(report.details)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    return box


class ShortcutsDialog(QDialog):
    """Every shortcut from the one table the actions are built from, plus the mouse tools."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        rows = [(s.group, " or ".join(s.keys), s.text) for s in SHORTCUTS]
        rows += [("Mouse", what, does) for what, does in MOUSE]
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["", "Keys", "Does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        previous = None
        for r, (group, keys, text) in enumerate(rows):
            for col, value in enumerate((group if group != previous else "", keys, text)):
                item = QTableWidgetItem(value)
                if col == 0:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, col, item)
            previous = group
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 640)

    def listed_keys(self) -> list[str]:
        return [self.table.item(r, 1).text() for r in range(self.table.rowCount())]
