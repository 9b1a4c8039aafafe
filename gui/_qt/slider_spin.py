"""A slider with a spin box beside it, bound both ways: drag for a feel, type for a value.

Values are whole steps of ``10**-decimals`` (the slider counts steps), so what is shown,
typed, previewed and printed as a CLI flag is the same rounded number."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget

_SLIDER_KEYS = {
    Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down,
    Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End,
}  # fmt: skip


class _Slider(QSlider):
    """A focused slider takes its keys before the window's shortcuts (← → step frames)."""

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in _SLIDER_KEYS
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            event.accept()
            return True
        return super().event(event)


class SliderSpin(QWidget):
    valueChanged = Signal(float)

    def __init__(
        self, minimum: float, maximum: float, decimals: int = 0, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._scale = 10**decimals
        self.slider = _Slider(Qt.Orientation.Horizontal)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(decimals)
        self.spin.setSingleStep(1 / self._scale)
        self.spin.setKeyboardTracking(False)  # typing "12" is not a jump to 1 first
        self.spin.setAccelerated(True)
        self.setRange(minimum, maximum)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.spin.valueChanged.connect(self._on_spin_value_changed)

    def setRange(self, minimum: float, maximum: float) -> None:
        self.slider.setRange(round(minimum * self._scale), round(maximum * self._scale))
        self.spin.setRange(minimum, maximum)

    def value(self) -> float:
        return self.spin.value()

    def setValue(self, value: float) -> None:
        self.spin.setValue(value)  # the spin rounds and clamps; the slider follows

    def setToolTip(self, text: str) -> None:
        super().setToolTip(text)
        self.slider.setToolTip(text)
        self.spin.setToolTip(text)

    def _on_slider_value_changed(self, steps: int) -> None:
        if round(self.spin.value() * self._scale) != steps:
            self.spin.setValue(steps / self._scale)

    def _on_spin_value_changed(self, value: float) -> None:
        steps = round(value * self._scale)
        if self.slider.value() != steps:
            self.slider.blockSignals(True)
            self.slider.setValue(steps)
            self.slider.blockSignals(False)
        self.valueChanged.emit(round(value, 6))
