"""The export dialog: format, objects, range, output path, the finishing ops of the matte
panel and an optional timeline; it runs the export in the inference worker with progress
and Cancel, and offers to open the folder when done. Modeless: the panel stays usable
(scrubbing) while it exports, and closing the dialog lets the export finish."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from etam_plugin.errors import EtamError
from etam_plugin.gui._qt.objects_panel import swatch
from etam_plugin.gui._qt.progress import format_eta
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.export_job import (
    TIMELINE_TYPES,
    ExportJob,
    ExportSettings,
    default_output,
    default_timeline_output,
    format_suffix,
    output_folder,
    remember,
    timeline_capable,
)
from etam_plugin.model import FrameStatus

if TYPE_CHECKING:
    from etam_plugin.gui._qt.controller import EditorController

ID_ROLE = Qt.ItemDataRole.UserRole


def open_folder(path: Path) -> bool:
    """Show ``path``'s folder in the desktop's file manager (False where there is none)."""
    folder = path if path.is_dir() else path.parent
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))


class ExportDialog(QDialog):
    def __init__(self, controller: EditorController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._c = controller
        self.setWindowTitle("Export mattes")
        self.setObjectName("exportDialog")
        self.job: ExportJob | None = None
        self.result_paths: tuple[Path, ...] = ()
        self._out_edited = False
        self._timeline_edited = False
        self._started_at = 0.0
        from etam_plugin.export import available_formats

        # -- what
        self.format = QComboBox()
        for name, description in available_formats().items():
            self.format.addItem(f"{name} — {description}", name)
        self.all_objects = QRadioButton("All objects, one matte")
        self.chosen_objects = QRadioButton("Chosen objects, one matte")
        self.separate_objects = QRadioButton("Each object in its own file")
        self._object_modes = QButtonGroup(self)
        for i, b in enumerate((self.all_objects, self.chosen_objects, self.separate_objects)):
            self._object_modes.addButton(b, i)
        self.object_list = QListWidget()
        self.object_list.setMaximumHeight(90)
        self.in_out = QRadioButton()
        self.whole_clip = QRadioButton()
        self._ranges = QButtonGroup(self)
        self._ranges.addButton(self.in_out, 0)
        self._ranges.addButton(self.whole_clip, 1)
        self.coverage_note = QLabel()
        self.coverage_note.setObjectName("dim")
        self.coverage_note.setWordWrap(True)
        self.finishing_note = QLabel()
        self.finishing_note.setObjectName("dim")
        self.finishing_note.setWordWrap(True)
        # -- where
        self.out = QLineEdit()
        self.browse = QPushButton("Browse…")
        self.timeline = QComboBox()
        self.timeline.addItem("No timeline", "")
        for ext, label in TIMELINE_TYPES.items():
            self.timeline.addItem(label, ext)
        self.timeline_out = QLineEdit()
        self.timeline_browse = QPushButton("Browse…")
        self.timeline_note = QLabel()
        self.timeline_note.setObjectName("dim")
        self.timeline_note.setWordWrap(True)
        # -- run
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("primary")
        self.export_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel Export")
        self.open_button = QPushButton("Open Folder")
        self.close_button = QPushButton("Close")
        self._layout()

        self.format.currentIndexChanged.connect(self._on_format_current_index_changed)
        self._object_modes.idToggled.connect(self._on_settings_changed)
        self._ranges.idToggled.connect(self._on_settings_changed)
        self.object_list.itemChanged.connect(self._on_settings_changed)
        self.timeline.currentIndexChanged.connect(self._on_settings_changed)
        self.out.textEdited.connect(self._on_out_text_edited)
        self.timeline_out.textEdited.connect(self._on_timeline_out_text_edited)
        self.browse.clicked.connect(self._on_browse_clicked)
        self.timeline_browse.clicked.connect(self._on_timeline_browse_clicked)
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.close_button.clicked.connect(self.close)
        controller.exportProgress.connect(self._on_export_progress)
        controller.exportFinished.connect(self._on_export_finished)
        self.load(controller.export_settings)

    def _layout(self) -> None:
        what = QGroupBox("What")
        form = QFormLayout(what)
        form.addRow("Format", self.format)
        objects = QVBoxLayout()
        for b in (self.all_objects, self.chosen_objects, self.separate_objects):
            objects.addWidget(b)
        objects.addWidget(self.object_list)
        form.addRow("Objects", objects)
        ranges = QVBoxLayout()
        ranges.addWidget(self.in_out)
        ranges.addWidget(self.whole_clip)
        ranges.addWidget(self.coverage_note)
        form.addRow("Frames", ranges)
        form.addRow("Finishing", self.finishing_note)
        where = QGroupBox("Where")
        wform = QFormLayout(where)
        row = QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(self.browse)
        wform.addRow("Matte", row)
        wform.addRow("Timeline", self.timeline)
        trow = QHBoxLayout()
        trow.addWidget(self.timeline_out, 1)
        trow.addWidget(self.timeline_browse)
        wform.addRow("", trow)
        wform.addRow("", self.timeline_note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        for b in (self.cancel_button, self.close_button, self.export_button):
            buttons.addWidget(b)
        heading = QLabel("Export mattes")
        heading.setObjectName("heading")  # also a title where no window manager draws one
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(what)
        layout.addWidget(where)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.resize(620, 640)

    # ------------------------------------------------------------------ settings ↔ widgets
    def load(self, settings: ExportSettings) -> None:
        """Show ``settings`` (a project's last export) for the current clip."""
        c = self._c
        index = self.format.findData(settings.fmt)
        self.format.setCurrentIndex(max(index, 0))
        mode = {"all": 0, "chosen": 1, "separate": 2}.get(settings.objects, 0)
        self._object_modes.button(mode).setChecked(True)
        self.object_list.blockSignals(True)
        self.object_list.clear()
        for obj in c.objects:
            item = QListWidgetItem(swatch(obj.color), obj.name)
            item.setData(ID_ROLE, obj.obj_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            chosen = obj.obj_id in settings.chosen if settings.chosen else True
            item.setCheckState(Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked)
            self.object_list.addItem(item)
        self.object_list.blockSignals(False)
        (self.whole_clip if settings.whole_clip else self.in_out).setChecked(True)
        self._out_edited = settings.out is not None
        self._timeline_edited = settings.timeline_out is not None
        self.out.setText(str(settings.out) if settings.out else "")
        self.timeline.setCurrentIndex(max(self.timeline.findData(settings.timeline), 0))
        self.timeline_out.setText(str(settings.timeline_out) if settings.timeline_out else "")
        self._refresh()
        self._set_running(False)
        self.progress.setValue(0)
        self.progress.hide()  # shown from the first export on
        self.status.setText("")
        self.open_button.setEnabled(False)

    def settings(self) -> ExportSettings:
        mode = ("all", "chosen", "separate")[max(self._object_modes.checkedId(), 0)]
        chosen = tuple(
            self.object_list.item(r).data(ID_ROLE)
            for r in range(self.object_list.count())
            if self.object_list.item(r).checkState() == Qt.CheckState.Checked
        )
        out = self.out.text().strip()
        tl_out = self.timeline_out.text().strip()
        return ExportSettings(
            fmt=self.format.currentData(),
            objects=mode,
            chosen=chosen,
            whole_clip=self.whole_clip.isChecked(),
            out=Path(out) if out else None,
            timeline=self.timeline.currentData() or "",
            timeline_out=Path(tl_out) if tl_out and self._timeline_edited else None,
        )

    def _range(self) -> tuple[int, int]:
        c = self._c
        n = c.info.num_frames if c.info else 0
        if self.whole_clip.isChecked():
            return 0, n - 1
        return c.transport.in_point, c.transport.out_point

    def _refresh(self, fix_suffix: bool = False) -> None:
        """Defaults that follow the choices (until the user types a path), and notes."""
        c = self._c
        if c.info is None:
            return
        fmt = self.format.currentData()
        n = c.info.num_frames
        first, last = c.transport.in_point, c.transport.out_point
        self.in_out.setText(f"In to out: {first}–{last} ({last - first + 1} frames)")
        self.whole_clip.setText(f"Whole clip: 0–{n - 1} ({n} frames)")
        lo, hi = self._range()
        if not self._out_edited or not self.out.text().strip():
            folder = output_folder(c.info.path, c.export_folder)
            self.out.setText(str(default_output(c.info.path, fmt, lo, hi, n, folder)))
            self._out_edited = False
        elif fix_suffix:  # another format: keep the user's name with its extension
            path = Path(self.out.text().strip())
            suffix = format_suffix(fmt)
            if suffix and path.name not in ("", ".", "..") and path.suffix.lower() != suffix:
                self.out.setText(str(path.with_suffix(suffix)))
        self.object_list.setEnabled(self.chosen_objects.isChecked())
        self._refresh_timeline(fmt, lo, hi)
        finished = [
            f"{c.objects.get(o).name}: {ops}"
            for o in self._chosen_ids()
            if (ops := str(c.object_finishing.of(o)))
        ]
        self.finishing_note.setText(
            "; ".join(finished) + " (each object's, from the Matte finishing panel)"
            if finished
            else "None: the raw mask (feather, grow, smoothing… are in the Matte finishing panel)"
        )
        self._coverage_note(lo, hi)

    def _refresh_timeline(self, fmt: str, lo: int, hi: int) -> None:
        c = self._c
        assert c.info is not None
        capable = timeline_capable(fmt) and not (
            self.separate_objects.isChecked() and len(c.objects) > 1
        )
        self.timeline.setEnabled(capable)
        if not capable:
            self.timeline.setCurrentIndex(0)
        ext = self.timeline.currentData() or ""
        self.timeline_out.setEnabled(bool(ext))
        self.timeline_browse.setEnabled(bool(ext))
        if ext and not self._timeline_edited:
            out = Path(self.out.text().strip() or "matte")
            self.timeline_out.setText(str(default_timeline_output(out, ext, c.clip)))
        elif not ext:
            self.timeline_out.setText("")
            self._timeline_edited = False
        if not timeline_capable(fmt):
            note = f"{fmt} is not a movie an editor places on a track: no timeline."
        elif c.clip is not None and c.clip.timeline_path is not None:
            note = (
                f"Places clip {c.clip.index} “{c.clip.name}” of {c.clip.timeline_path.name} "
                "with its matte above it, at the clip's record time."
            )
        else:
            note = f"Places frames {lo}–{hi} of {c.info.name} with the matte above them."
        self.timeline_note.setText(note)

    def _coverage_note(self, lo: int, hi: int) -> None:
        c = self._c
        ids = self._chosen_ids()
        missing = stale = 0
        for obj_id in ids:
            stats = c.coverage.statuses(obj_id)[lo : hi + 1]
            missing += sum(s is FrameStatus.EMPTY for s in stats)
            stale += sum(s is FrameStatus.STALE for s in stats)
        notes = []
        if missing:
            notes.append(f"{missing} object-frames in the range are not tracked (export empty)")
        if stale:
            notes.append(
                f"{stale} object-frames are stale: tracked before a correction (Ctrl+R re-tracks)"
            )
        self.coverage_note.setText(
            "⚠ " + "; ".join(notes) + "." if notes else "Every frame in the range is tracked."
        )

    def _chosen_ids(self) -> list[int]:
        settings = self.settings()
        ids = self._c.objects.ids
        return [o for o in ids if o in settings.chosen] if settings.objects == "chosen" else ids

    # ------------------------------------------------------------------ running
    def start(self) -> bool:
        """Check the choices and start the export; False (with the reason shown) if not."""
        c = self._c
        if c.info is None:
            return False
        settings = self.settings()
        try:
            job = c.plan_export(settings)
        except EtamError as exc:
            self.status.setText(f"<b>Cannot export:</b> {exc}")
            return False
        existing = [p for p in job.writes() if p.exists()]
        if existing and not self.confirm_overwrite(existing):
            return False
        if not c.export(job):
            self.status.setText("Another job is running; try again when it is done.")
            return False
        c.set_export_settings(remember(settings, job))
        self.job = job
        self.result_paths = ()
        files = len(job.obj_ids) if job.combine == "separate" else 1
        self.progress.setRange(0, job.frame_count * files)
        self.progress.setValue(0)
        if job.reuse:
            self.status.setText(
                f"Writing the timeline over {job.out.name} (rendered by the last export)…"
            )
        else:
            self.status.setText(f"Exporting {job.out.name}…")
        self._started_at = 0.0
        self._set_running(True)
        return True

    def confirm_overwrite(self, existing: list[Path]) -> bool:
        from PySide6.QtWidgets import QMessageBox

        names = ", ".join(p.name for p in existing[:3]) + (" …" if len(existing) > 3 else "")
        answer = QMessageBox.question(
            self,
            "Replace files?",
            f"{names} already exist(s). Replace? (The old files stay until the new ones are "
            "complete.)",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _set_running(self, running: bool) -> None:
        for w in (self.export_button, self.format, self.out, self.browse, self.timeline):
            w.setEnabled(not running)
        if running:
            self.progress.show()
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.close_button.setEnabled(True)
        if not running:
            self._refresh()

    def _on_export_progress(self, msg: m.ExportProgress) -> None:
        if msg.job is not self.job:
            return
        now = time.monotonic()
        if not self._started_at:
            self._started_at = now
        self.progress.setMaximum(max(msg.total, 1))
        self.progress.setValue(msg.done)
        elapsed = now - self._started_at
        rate = (msg.done - 1) / elapsed if elapsed > 0 and msg.done > 1 else 0.0
        eta = (msg.total - msg.done) / rate if rate > 0 else float("inf")
        self.status.setText(
            f"Exporting: {msg.done}/{msg.total} frames · {rate:.1f} fps · ETA {format_eta(eta)}"
        )

    def _on_export_finished(self, msg: m.ExportFinished) -> None:
        if msg.job is not self.job:
            return
        self._set_running(False)
        if msg.cancelled:
            self.status.setText("Export cancelled; nothing was written (older files are kept).")
        elif msg.failed:
            self.status.setText("Export failed (see the error message).")
        else:
            self.result_paths = msg.paths
            self.progress.setValue(self.progress.maximum())
            names = "<br>".join(str(p) for p in msg.paths)
            reused = " (the matte of the last export, reused)" if msg.job.reuse else ""
            self.status.setText(f"<b>Done</b> in {msg.elapsed_s:.1f} s{reused}:<br>{names}")
            self.open_button.setEnabled(True)

    def _on_export_button_clicked(self) -> None:
        self.start()

    def _on_cancel_button_clicked(self) -> None:
        self._c.cancel_export()
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling…")

    def _on_open_button_clicked(self) -> None:
        if self.result_paths and not open_folder(self.result_paths[0]):
            self.status.setText(
                f"No file manager could be opened; the files are in {self.result_paths[0].parent}"
            )

    # ------------------------------------------------------------------ widgets
    def _on_format_current_index_changed(self, _index: int) -> None:
        self._refresh(fix_suffix=True)

    def _on_settings_changed(self, *_args: object) -> None:
        self._refresh()

    def _on_out_text_edited(self, _text: str) -> None:
        self._out_edited = True
        if self._c.info is not None and not self._timeline_edited:
            self._refresh_timeline(self.format.currentData(), *self._range())

    def _on_timeline_out_text_edited(self, _text: str) -> None:
        self._timeline_edited = True

    def _on_browse_clicked(self) -> None:
        fmt = self.format.currentData()
        suffix = format_suffix(fmt)
        if suffix:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export the matte to", self.out.text(), f"{fmt} (*{suffix})"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "Export the images into")
        if path:
            self.out.setText(path)
            self._out_edited = True
            self._refresh()

    def _on_timeline_browse_clicked(self) -> None:
        ext = self.timeline.currentData() or ".otio"
        path, _ = QFileDialog.getSaveFileName(
            self, "Write the timeline to", self.timeline_out.text(), f"Timeline (*{ext})"
        )
        if path:
            self.timeline_out.setText(path)
            self._timeline_edited = True
