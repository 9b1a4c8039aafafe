"""Widgets that give up width gracefully, so the window docks beside an editor (~900 px)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QWidget


class TextIfRoomButton(QToolButton):
    """A tool button that shows its text beside the icon when it is given the room for it,
    and only the icon (the text in its tooltip) when the window is narrow: its minimum is
    the icon alone, its wish the icon with the text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def _hint(self, style: Qt.ToolButtonStyle) -> QSize:
        current = self.toolButtonStyle()
        self.blockSignals(True)
        self.setToolButtonStyle(style)
        hint = super().sizeHint()
        self.setToolButtonStyle(current)
        self.blockSignals(False)
        return hint

    def sizeHint(self) -> QSize:
        return self._hint(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)

    def minimumSizeHint(self) -> QSize:
        return self._hint(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def resizeEvent(self, event: QResizeEvent) -> None:
        roomy = event.size().width() >= self.sizeHint().width()
        wanted = (
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon
            if roomy
            else Qt.ToolButtonStyle.ToolButtonIconOnly
        )
        if self.toolButtonStyle() != wanted:
            self.setToolButtonStyle(wanted)
        super().resizeEvent(event)


class WholeOrNothingLabel(QLabel):
    """A label that asks for its text's width but can be given none, and shows its text
    whole or not at all (a cut-off timecode reads as garbage); give the text as its tooltip
    too."""

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.width() >= self.sizeHint().width():
            super().paintEvent(event)
