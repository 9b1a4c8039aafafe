"""How the viewer shows masks: view mode, overlay opacity, prompt markers on/off."""

from __future__ import annotations

from etam_plugin.gui.components.events import Event
from etam_plugin.gui.components.render import ViewMode


class ViewOptions:
    """Emits ``changed()`` on any change."""

    def __init__(self, mode: ViewMode = ViewMode.OVERLAY, opacity: float = 0.5) -> None:
        self.changed = Event()
        self._mode = ViewMode(mode)
        self._opacity = float(opacity)
        self._markers = True

    @property
    def mode(self) -> ViewMode:
        return self._mode

    @mode.setter
    def mode(self, mode: ViewMode | str) -> None:
        mode = ViewMode(mode)
        if mode is not self._mode:
            self._mode = mode
            self.changed.emit()

    @property
    def opacity(self) -> float:
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        value = min(max(float(value), 0.0), 1.0)
        if value != self._opacity:
            self._opacity = value
            self.changed.emit()

    @property
    def markers(self) -> bool:
        return self._markers

    @markers.setter
    def markers(self, value: bool) -> None:
        if bool(value) != self._markers:
            self._markers = bool(value)
            self.changed.emit()
