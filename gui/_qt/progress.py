"""The tracking progress shown in the status bar: bar, frames, fps, ETA and Cancel."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from etam_plugin.gui._qt.theme import icon
from etam_plugin.gui.components.progress import rate_known
from etam_plugin.model import Progress


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    seconds = round(seconds)
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"


def progress_text(progress: Progress) -> str:
    head = f"{progress.done}/{progress.total} frames"
    if not rate_known(progress):
        return f"{head} · estimating…"
    return f"{head} · {progress.fps:.1f} fps · ETA {format_eta(progress.eta_s)}"


class TrackingProgress(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton(icon("cancel"), "Cancel")
        self.cancel.setToolTip("Stop tracking (Esc); frames done so far are kept")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.hide()

    def start(self, direction: str, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(0)
        self.label.setText(f"Tracking {direction}…")
        self.cancel.setEnabled(True)
        self.show()

    def update_progress(self, progress: Progress) -> None:
        self.bar.setMaximum(max(progress.total, 1))
        self.bar.setValue(progress.done)
        self.label.setText(progress_text(progress))

    def cancelling(self) -> None:
        self.cancel.setEnabled(False)
        self.label.setText("Cancelling…")
