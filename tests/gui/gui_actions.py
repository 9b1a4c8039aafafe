"""What a user does to the main window, as pytest-qt events (shared by the window tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui.components.render import Layer, compose


def click(qtbot, w, x: int, y: int, button=Qt.MouseButton.LeftButton, mods=None) -> None:
    """A mouse click on source pixel (x, y) of the viewer, at its current zoom."""
    centre = w.viewer.viewport_point(x, y)
    pos = QPoint(int(np.floor(centre.x())), int(np.floor(centre.y())))
    if mods is None:
        qtbot.mouseClick(w.viewer.viewport(), button, pos=pos)
    else:
        qtbot.mouseClick(w.viewer.viewport(), button, mods, pos)


def key(qtbot, w, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(w, k, mods)


def type_into(qtbot, field, text: str) -> None:
    """Select all in a field, type ``text`` and press Return, as a person does."""
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(field, text)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def shows(w, masks: dict[int, np.ndarray]) -> bool:
    """The viewer shows exactly the frame with these objects' masks in the current mode."""
    c = w.controller
    layers = [Layer(mask, c.objects.get(o).color) for o, mask in masks.items()]
    expected = compose(c.image, layers, c.view.mode, c.view.opacity)
    return w.viewer.rendered is not None and np.array_equal(w.viewer.rendered, expected)


def open_clip(qtbot, w, path: Path) -> None:
    """Open a clip in the window and wait until its first frame is shown, ready to click."""
    w.open_path(path)
    c = w.controller
    qtbot.waitUntil(
        lambda: c.session_state is SessionState.READY and c.displayed_frame == 0, timeout=10_000
    )
    qtbot.waitUntil(lambda: w.viewer.rendered is not None, timeout=10_000)
