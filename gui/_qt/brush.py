"""The brush tool: paint onto the active object's mask on the shown frame, as with After
Effects' Roto Brush or Resolve's Magic Mask. Left-drag adds, right- or Alt-drag subtracts;
on release the stroke goes to the controller, which makes the painted mask the frame's mask
prompt (an undoable correction, like a click).

The stroke is painted with QPainter into a frame-sized image (no antialiasing, so what is
shown is exactly the pixels that count) and drawn over the frame while the button is down;
a circle follows the pointer at the brush's size."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsScene,
    QStyleOptionGraphicsItem,
)

MIN_SIZE = 1
MAX_SIZE = 999
DEFAULT_SIZE = 24
RESIZE_FACTOR = 1.25  # [ and ] : one step smaller / bigger
SUBTRACT_COLOR = QColor(224, 72, 72)
STROKE_ALPHA = 150


def resized(size: int, steps: int) -> int:
    """``size`` after ``steps`` presses of ] (positive) or [ (negative): by a quarter each,
    and by at least one pixel, so small brushes still change."""
    new = size
    for _ in range(abs(steps)):
        grown = round(new * RESIZE_FACTOR) if steps > 0 else round(new / RESIZE_FACTOR)
        step = 1 if steps > 0 else -1
        new = grown if grown != new else new + step
    return min(max(new, MIN_SIZE), MAX_SIZE)


class _StrokeItem(QGraphicsItem):
    """The stroke painted so far, over the frame (scene units are source pixels)."""

    def __init__(self) -> None:
        super().__init__()
        self.image: QImage | None = None
        self.setZValue(15)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        if self.image is None:
            return QRectF()
        return QRectF(0, 0, self.image.width(), self.image.height())

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _w=None) -> None:
        if self.image is not None:
            painter.drawImage(QPointF(0, 0), self.image)


class Brush(QObject):
    """The brush's size and the stroke being painted, drawn in ``scene``."""

    sizeChanged = Signal(int)  # diameter in source pixels
    enabledChanged = Signal(bool)

    def __init__(self, scene: QGraphicsScene, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._enabled = False
        self._size = DEFAULT_SIZE
        self._stroke = _StrokeItem()
        scene.addItem(self._stroke)
        self._cursor = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255), 1.5)
        pen.setCosmetic(True)
        self._cursor.setPen(pen)
        self._cursor.setZValue(30)
        self._cursor.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._cursor.hide()
        scene.addItem(self._cursor)
        self._painter: QPainter | None = None
        self._last: QPointF | None = None
        self.adding = True

    # ------------------------------------------------------------------ settings
    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        if enabled == self._enabled:
            return
        self._enabled = enabled
        if not enabled:
            self.cancel()
            self._cursor.hide()
        self.enabledChanged.emit(enabled)

    @property
    def size(self) -> int:
        return self._size

    def set_size(self, size: int) -> None:
        size = min(max(int(size), MIN_SIZE), MAX_SIZE)
        if size != self._size:
            self._size = size
            if self._cursor.isVisible():
                self.hover(self._cursor.rect().center())
            self.sizeChanged.emit(size)

    def resize(self, steps: int) -> None:
        """[ (−1) and ] (+1)."""
        self.set_size(resized(self._size, steps))

    # ------------------------------------------------------------------ cursor
    def hover(self, scene_pos: QPointF | None) -> None:
        """The circle at the pointer (None: the pointer left the viewer)."""
        if scene_pos is None or not self._enabled:
            self._cursor.hide()
            return
        r = self._size / 2
        self._cursor.setRect(QRectF(scene_pos.x() - r, scene_pos.y() - r, 2 * r, 2 * r))
        self._cursor.show()

    @property
    def cursor_rect(self) -> QRectF | None:
        """Where the circle is drawn (scene units), None when hidden."""
        return self._cursor.rect() if self._cursor.isVisible() else None

    # ------------------------------------------------------------------ stroke
    @property
    def painting(self) -> bool:
        return self._painter is not None

    def begin(
        self, scene_pos: QPointF, frame_size: tuple[int, int], add: bool, color: tuple
    ) -> None:
        """Start a stroke at ``scene_pos`` on a frame of ``frame_size`` (height, width)."""
        self.cancel()
        h, w = frame_size
        image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        self._stroke.prepareGeometryChange()
        self._stroke.image = image
        self.adding = add
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        fill = QColor(*color) if add else QColor(SUBTRACT_COLOR)
        fill.setAlpha(STROKE_ALPHA)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        pen = QPen(fill, float(self._size), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        self._painter = painter
        self._last = None
        self.extend(scene_pos)

    def extend(self, scene_pos: QPointF) -> None:
        """Paint from the last point to ``scene_pos``."""
        if self._painter is None:
            return
        if self._last is None:
            r = self._size / 2
            self._painter.setPen(Qt.PenStyle.NoPen)
            self._painter.drawEllipse(scene_pos, r, r)
            fill = self._painter.brush().color()
            pen = QPen(fill, float(self._size), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            self._painter.setPen(pen)
        else:
            self._painter.drawLine(self._last, scene_pos)
        start = self._last or scene_pos
        self._last = QPointF(scene_pos)
        r = self._size / 2 + 2
        dirty = QRectF(start, scene_pos).normalized().adjusted(-r, -r, r, r)
        self._stroke.update(dirty)

    def finish(self) -> np.ndarray | None:
        """End the stroke: the painted pixels as a bool (H, W) mask (None if none)."""
        if self._painter is None:
            return None
        self._painter.end()
        self._painter = None
        image = self._stroke.image
        self._stroke.prepareGeometryChange()
        self._stroke.image = None
        self._stroke.update()
        if image is None:
            return None
        h, w = image.height(), image.width()
        raw = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
        argb = raw.reshape(h, image.bytesPerLine() // 4, 4)[:, :w]
        alpha = argb[..., 3] if _little_endian() else argb[..., 0]
        painted = alpha > 0
        return painted if painted.any() else None

    def cancel(self) -> None:
        if self._painter is not None:
            self._painter.end()
            self._painter = None
        if self._stroke.image is not None:
            self._stroke.prepareGeometryChange()
            self._stroke.image = None
            self._stroke.update()

    @property
    def stroke_image(self) -> QImage | None:
        """The stroke shown now (tests read it)."""
        return self._stroke.image


def _little_endian() -> bool:
    return np.little_endian
