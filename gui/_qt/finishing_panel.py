"""Matte finishing controls (feather, grow/shrink, temporal smoothing, holes, islands, edge
refinement, invert), previewed live in the viewer. Edits the active object's
``etam_plugin.matte.MatteOps``, the same value its export uses: each object has its own."""

from __future__ import annotations

import html
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from etam_plugin.gui._qt.slider_spin import SliderSpin
from etam_plugin.matte import FEATHER_MODES, MatteOps

if TYPE_CHECKING:
    from etam_plugin.gui._qt.controller import EditorController


def _slider(minimum: float, maximum: float, decimals: int = 0) -> SliderSpin:
    return SliderSpin(minimum, maximum, decimals)


class FinishingPanel(QWidget):
    def __init__(self, controller: EditorController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._c = controller
        self._updating = False
        self.feather = _slider(0, 30, 1)
        self.feather_mode = QComboBox()
        self.feather_mode.addItems(FEATHER_MODES)
        self.grow = _slider(-30, 30, 1)
        self.smooth = _slider(0, 10)
        self.fill_holes = _slider(0, 20000)
        self.drop_islands = _slider(0, 20000)
        self.refine = _slider(0, 32)
        self.invert = QCheckBox("Invert")
        self.reset = QPushButton("Reset")
        self.target = QLabel()  # whose settings these are
        self.target.setWordWrap(True)
        self.spec = QLabel()
        self.spec.setObjectName("dim")
        self.spec.setWordWrap(True)
        self.spec.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        tips = {
            self.feather: "Blur the matte edge (px)",
            self.grow: "Grow (+) or shrink (−) the matte (px)",
            self.smooth: "Average each frame with this many neighbours on each side",
            self.fill_holes: "Fill holes up to this area (px²)",
            self.drop_islands: "Drop specks smaller than this area (px²)",
            self.refine: "Snap edges to the picture (guided filter radius, px)",
        }
        for widget, tip in tips.items():
            widget.setToolTip(tip)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Feather", self.feather)
        form.addRow("Feather edge", self.feather_mode)
        form.addRow("Grow / shrink", self.grow)
        form.addRow("Smooth (frames)", self.smooth)
        form.addRow("Fill holes", self.fill_holes)
        form.addRow("Drop islands", self.drop_islands)
        form.addRow("Refine edges", self.refine)
        form.addRow("", self.invert)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.target)
        layout.addLayout(form)
        layout.addWidget(self.spec)
        layout.addWidget(self.reset, 0, Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)

        for s in (
            self.feather,
            self.grow,
            self.smooth,
            self.fill_holes,
            self.drop_islands,
            self.refine,
        ):
            s.valueChanged.connect(self._on_value_changed)
        self.feather_mode.currentIndexChanged.connect(self._on_value_changed)
        self.invert.toggled.connect(self._on_value_changed)
        self.reset.clicked.connect(self._on_reset_clicked)
        controller.objects.changed.connect(self._on_objects_changed)
        self._on_objects_changed("reset", None)

    def ops(self) -> MatteOps:
        """The settings shown, as the export's MatteOps."""
        return replace(
            MatteOps(),
            feather=float(self.feather.value()),
            feather_mode=self.feather_mode.currentText(),
            grow=float(self.grow.value()),
            smooth=int(self.smooth.value()),
            fill_holes=int(self.fill_holes.value()),
            drop_islands=int(self.drop_islands.value()),
            refine=float(self.refine.value()),
            invert=self.invert.isChecked(),
        )

    def show_ops(self, ops: MatteOps) -> None:
        self._updating = True
        try:
            self.feather.setValue(ops.feather)
            self.feather_mode.setCurrentText(ops.feather_mode)
            self.grow.setValue(ops.grow)
            self.smooth.setValue(ops.smooth)
            self.fill_holes.setValue(ops.fill_holes)
            self.drop_islands.setValue(ops.drop_islands)
            self.refine.setValue(ops.refine)
            self.invert.setChecked(bool(ops.invert))
        finally:
            self._updating = False
        self._show_spec(ops)

    def _show_spec(self, ops: MatteOps) -> None:
        text = str(ops).replace(",", ",\u200b")  # may wrap after commas: the dock keeps its width
        self.spec.setText(f"--matte-ops {text}" if text else "No finishing (the raw mask)")

    def _on_value_changed(self, *_args: object) -> None:
        if self._updating:
            return
        ops = self.ops()
        self._show_spec(ops)
        self._c.set_finishing(ops)

    def _on_objects_changed(self, kind: str, _obj_id: int | None) -> None:
        """Another object made active (or renamed, added, removed): show its settings."""
        if kind not in ("active", "added", "removed", "renamed", "reset"):
            return
        objects = self._c.objects
        active = objects.active_id
        if active not in objects:  # a removal emits before the next one is made active
            active = None
        self.setEnabled(active is not None)
        self.target.setText(
            f"For <b>{html.escape(objects.get(active).name)}</b> (each object has its own)"
            if active is not None
            else "Add an object to finish its matte."
        )
        self.show_ops(self._c.finishing)

    def _on_reset_clicked(self) -> None:
        self.show_ops(MatteOps())
        self._c.set_finishing(MatteOps())
