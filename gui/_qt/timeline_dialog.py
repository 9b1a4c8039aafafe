"""Pick a clip of an editing timeline to rotoscope: its media opens with the clip's range
as in/out (plus handles), and exports default to a timeline with that clip."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etam_plugin.timeline import TimelineClip

COLUMNS = ("#", "Clip", "Track", "Source in–out", "Frames", "Rate", "Handles", "Media")


def _cells(clip: TimelineClip) -> tuple[str, ...]:
    handles = clip.handles
    return (
        str(clip.index),
        clip.name or "(unnamed)",
        clip.track_name,
        f"{clip.source_start}–{clip.source_end - 1}",
        str(clip.duration),
        f"{float(clip.rate):.3f}".rstrip("0").rstrip("."),
        f"{handles[0]} / {handles[1]}" if handles is not None else "?",
        clip.media_path.name if clip.media_exists and clip.media_path else "missing",
    )


class ClipPickerDialog(QDialog):
    """Lists ``clips``; :meth:`chosen` is the selected clip (None if it has no media)."""

    def __init__(
        self,
        clips: Sequence[TimelineClip],
        title: str,
        handles: int = 0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Choose a clip — {title}")
        self.setObjectName("clipPicker")
        self.clips = list(clips)
        self.table = QTableWidget(len(self.clips), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        for row, clip in enumerate(self.clips):
            for col, text in enumerate(_cells(clip)):
                item = QTableWidgetItem(text)
                if not clip.media_exists:
                    item.setForeground(Qt.GlobalColor.gray)
                    item.setToolTip(f"media not found: {clip.media_path}")
                elif clip.media_path is not None:
                    item.setToolTip(str(clip.media_path))
                self.table.setItem(row, col, item)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.handles = QSpinBox()
        self.handles.setRange(0, 10_000)
        self.handles.setValue(handles)
        self.handles.setSuffix(" frames")
        self.handles.setToolTip("Extra media frames to track before and after the clip")
        self.note = QLabel()
        self.note.setObjectName("dim")
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Handles", self.handles)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.table.itemSelectionChanged.connect(self._on_table_item_selection_changed)
        self.table.cellDoubleClicked.connect(self._on_table_cell_double_clicked)
        first = next((i for i, c in enumerate(self.clips) if c.media_exists), 0)
        if self.clips:
            self.table.selectRow(first)
        self._on_table_item_selection_changed()
        self.resize(820, 420)

    def chosen(self) -> TimelineClip | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.clips[rows[0].row()]

    def _on_table_item_selection_changed(self) -> None:
        clip = self.chosen()
        ok = clip is not None and clip.media_exists
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(ok)
        if clip is None:
            self.note.setText("This timeline has no video clips." if not self.clips else "")
        elif not clip.media_exists:
            self.note.setText(
                f"The media of this clip is not found: {clip.media_path}"
                if clip.media_path is not None
                else "The timeline does not say where this clip's media is."
            )
        else:
            self.note.setText(
                f"Opens {clip.media_path.name if clip.media_path else ''} with in/out on the "
                f"clip's {clip.duration} frames; exports then place the matte over this clip."
            )

    def _on_table_cell_double_clicked(self, _row: int, _col: int) -> None:
        clip = self.chosen()
        if clip is not None and clip.media_exists:
            self.accept()
