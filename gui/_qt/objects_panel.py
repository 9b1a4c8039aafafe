"""The objects panel: one row per object (colour swatch, name, visibility), the selected row
is the active object that clicks go to. A view of ``ObjectList``; edits go through the
controller (adding/deleting are undoable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etam_plugin.gui._qt.compact import TextIfRoomButton
from etam_plugin.gui._qt.theme import icon

if TYPE_CHECKING:
    from etam_plugin.gui._qt.controller import EditorController

ID_ROLE = Qt.ItemDataRole.UserRole


def swatch(color: tuple[int, int, int], size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(*color))
    painter.setPen(QColor(255, 255, 255, 120))
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    painter.end()
    icon = QIcon(pixmap)
    # The colour names the object: kept on the selected row and in a disabled list (the
    # Export dialog's objects list is disabled until "chosen objects"; it showed grey).
    icon.addPixmap(pixmap, QIcon.Mode.Selected)
    icon.addPixmap(pixmap, QIcon.Mode.Disabled)
    return icon


def _button(name: str, text: str) -> TextIfRoomButton:
    """Icon and text, the icon alone when the dock is narrow (the text is in its tooltip)."""
    button = TextIfRoomButton()
    button.setIcon(icon(name))
    button.setText(text)
    return button


class ObjectsPanel(QWidget):
    colorRequested = Signal(int)  # obj_id; the window opens the colour dialog

    def __init__(self, controller: EditorController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._c = controller
        self._updating = False
        self.list = QListWidget()
        self.list.setIconSize(QSize(14, 14))
        self.list.setEditTriggers(
            QListWidget.EditTrigger.DoubleClicked | QListWidget.EditTrigger.EditKeyPressed
        )
        self.list.setToolTip(
            "Click: make active (clicks on the frame go to it)\n"
            "Double-click: rename · Checkbox: show/hide"
        )
        self.add_button = _button("add", "Add")
        self.delete_button = _button("delete", "Delete")
        self.color_button = _button("color", "Colour…")
        for button, tip in (
            (self.add_button, "Add an object (Ctrl+N)"),
            (self.delete_button, "Delete the active object (Ctrl+Backspace); undo brings it back"),
            (self.color_button, "Change the active object's colour"),
        ):
            button.setToolTip(tip)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.delete_button, self.color_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.list)
        layout.addLayout(buttons)

        self.add_button.clicked.connect(self._on_add_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.color_button.clicked.connect(self._on_color_clicked)
        self.list.currentItemChanged.connect(self._on_current_item_changed)
        self.list.itemChanged.connect(self._on_item_changed)
        controller.objects.changed.connect(self._on_objects_changed)
        self.rebuild()

    # -- model → view ----------------------------------------------------------------------
    def rebuild(self) -> None:
        self._updating = True
        try:
            self.list.clear()
            for obj in self._c.objects:
                item = QListWidgetItem(swatch(obj.color), obj.name)
                item.setData(ID_ROLE, obj.obj_id)
                item.setFlags(
                    Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsEditable
                    | Qt.ItemFlag.ItemIsUserCheckable
                )
                item.setCheckState(
                    Qt.CheckState.Checked if obj.visible else Qt.CheckState.Unchecked
                )
                self.list.addItem(item)
                if obj.obj_id == self._c.objects.active_id:
                    self.list.setCurrentItem(item)
        finally:
            self._updating = False
        has = len(self._c.objects) > 0
        self.delete_button.setEnabled(has)
        self.color_button.setEnabled(has)

    def item_for(self, obj_id: int) -> QListWidgetItem | None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == obj_id:
                return item
        return None

    def _on_objects_changed(self, kind: str, obj_id: int | None) -> None:
        if kind in ("renamed", "recolored", "visibility") and obj_id is not None:
            self._refresh_item(obj_id)  # in place: the item may be the one being edited
        else:
            self.rebuild()

    def _refresh_item(self, obj_id: int) -> None:
        item = self.item_for(obj_id)
        if item is None:
            self.rebuild()
            return
        obj = self._c.objects.get(obj_id)
        self._updating = True
        try:
            item.setText(obj.name)
            item.setIcon(swatch(obj.color))
            item.setCheckState(Qt.CheckState.Checked if obj.visible else Qt.CheckState.Unchecked)
        finally:
            self._updating = False

    # -- view → controller -----------------------------------------------------------------
    def _on_add_clicked(self) -> None:
        self._c.add_object()

    def _on_delete_clicked(self) -> None:
        self._c.delete_object()

    def _on_color_clicked(self) -> None:
        if self._c.objects.active_id is not None:
            self.colorRequested.emit(self._c.objects.active_id)

    def _on_current_item_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if not self._updating and current is not None:
            self._c.set_active_object(current.data(ID_ROLE))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        obj_id = item.data(ID_ROLE)
        text, visible = item.text(), item.checkState() == Qt.CheckState.Checked
        obj = self._c.objects.get(obj_id)
        if visible != obj.visible:
            self._c.set_object_visible(obj_id, visible)
        elif text != obj.name:
            self._c.rename_object(obj_id, text)
            if self._c.objects.get(obj_id).name != text:
                self._refresh_item(obj_id)  # a rejected name (empty) goes back


def pick_color(parent: QWidget, current: tuple[int, int, int]) -> tuple[int, int, int] | None:
    chosen = QColorDialog.getColor(QColor(*current), parent, "Object colour")
    return (chosen.red(), chosen.green(), chosen.blue()) if chosen.isValid() else None
