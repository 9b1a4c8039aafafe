"""The viewer: the frame with its masks, zoom/pan, and the click/box tools.

Scene coordinates are source pixels: the frame's pixmap sits at (0, 0) unscaled, so pixel
(x, y) covers the scene square [x, x+1) × [y, y+1) at any zoom. A click maps the centre of
the screen pixel under the pointer back through the view transform and takes the source
pixel containing it, which is exactly the source pixel drawn there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QMouseEvent,
    QPainter,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from etam_plugin.gui._qt.brush import Brush
from etam_plugin.gui._qt.images import to_qpixmap
from etam_plugin.gui.components.render import ViewMode, compose

if TYPE_CHECKING:
    from etam_plugin.gui._qt.controller import EditorController

MIN_ZOOM = 0.05
MAX_ZOOM = 64.0
ZOOM_STEP = 1.25
NEGATIVE_COLOR = QColor(224, 72, 72)
EMPTY_HINT = (
    "Drop a video, an image sequence, a project or a timeline here\n"
    "or open one with File ▸ Open (Ctrl+O)\n\n"
    "Then click the object to mask: left = it, right = not it, drag = a box"
)


class PointMarker(QGraphicsItem):
    """A prompt point drawn at a constant size on screen, centred on its source pixel."""

    RADIUS = 6.0

    def __init__(self, positive: bool, color: QColor, active: bool) -> None:
        super().__init__()
        self.positive, self.color, self.active = positive, color, active
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(10 if active else 5)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        r = self.RADIUS + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _w=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.RADIUS + (1.5 if self.active else 0.0)
        fill = self.color if self.positive else NEGATIVE_COLOR
        painter.setPen(QPen(QColor(255, 255, 255), 2.0 if self.active else 1.5))
        painter.setBrush(QBrush(fill))
        painter.drawEllipse(QPointF(0, 0), r, r)
        painter.setPen(QPen(QColor(255, 255, 255), 2.0))
        h = r * 0.5
        painter.drawLine(QPointF(-h, 0), QPointF(h, 0))
        if self.positive:
            painter.drawLine(QPointF(0, -h), QPointF(0, h))


class Viewer(QGraphicsView):
    """Signals carry source-pixel coordinates (x right, y down, integers as floats)."""

    pointClicked = Signal(float, float, bool)  # x, y, positive
    boxDrawn = Signal(float, float, float, float)  # x0, y0, x1, y1
    zoomChanged = Signal(float)
    pixelHovered = Signal(int, int)  # -1, -1 when off the frame
    maskPainted = Signal(object, bool)  # a brush stroke: bool (H, W) pixels, adding?

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._scene.addItem(self._pixmap)
        self._rubber = QGraphicsRectItem()
        pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._rubber.setPen(pen)
        self._rubber.setBrush(QBrush(QColor(74, 158, 255, 40)))
        self._rubber.setZValue(20)
        self._rubber.hide()
        self._scene.addItem(self._rubber)
        self._overlay_items: list[QGraphicsItem] = []
        self._image_size: tuple[int, int] | None = None  # (height, width)
        self._fit_mode = True
        self._press: tuple[int, int] | None = None  # source pixel of a left press
        self._press_view: QPointF | None = None
        self._panning: QPointF | None = None
        self._space = False
        self._controller: EditorController | None = None
        self._render_pending = False
        self.rendered: np.ndarray | None = None  # the last composite shown (tests read it)
        self.brush = Brush(self._scene, self)
        self.brush.enabledChanged.connect(self._on_brush_enabled_changed)

        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.setBackgroundBrush(QBrush(QColor(18, 20, 23)))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setAcceptDrops(False)  # drops go to the main window
        self.viewport().setAcceptDrops(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # ------------------------------------------------------------------ binding
    def bind(self, controller: EditorController) -> None:
        """Show ``controller``'s frame and masks and send clicks/boxes to it."""
        self._controller = controller
        controller.displayChanged.connect(self._on_display_changed)
        self.pointClicked.connect(controller.add_point)
        self.boxDrawn.connect(controller.set_box)
        self.maskPainted.connect(controller.paint_mask)

    def _on_display_changed(self) -> None:
        if not self._render_pending:
            self._render_pending = True
            QTimer.singleShot(0, self._render)

    def _render(self) -> None:
        self._render_pending = False
        c = self._controller
        if c is None or c.image is None or c.displayed_frame is None:
            return
        frame = c.displayed_frame
        layers = c.layers(frame)
        mode = c.view.mode
        if layers or mode in (ViewMode.MATTE, ViewMode.CUTOUT):
            image = compose(c.image, layers, mode, c.view.opacity)
        else:
            image = c.image
        self.set_image(image)
        points, boxes = [], []
        if c.view.markers:
            for obj_id, prompt in c.prompts.for_frame(frame).items():
                if obj_id not in c.objects or not c.objects.get(obj_id).visible:
                    continue
                obj = c.objects.get(obj_id)
                active = obj_id == c.objects.active_id
                for (x, y), label in zip(prompt.points_xy, prompt.labels, strict=True):
                    points.append((x, y, label == 1, obj.color, active))
                if prompt.box_xyxy is not None:
                    boxes.append((prompt.box_xyxy, obj.color, active))
        self.set_markers(points, boxes)

    # ------------------------------------------------------------------ content
    def set_image(self, rgb: np.ndarray) -> None:
        self._pixmap.setPixmap(to_qpixmap(rgb))
        self.rendered = rgb
        size = (int(rgb.shape[0]), int(rgb.shape[1]))
        if size != self._image_size:
            self._image_size = size
            self._scene.setSceneRect(QRectF(0, 0, size[1], size[0]))
            self.zoom_fit()

    @property
    def image_size(self) -> tuple[int, int] | None:
        return self._image_size

    def set_markers(
        self,
        points: list[tuple[float, float, bool, tuple[int, int, int], bool]],
        boxes: list[tuple[tuple[float, float, float, float], tuple[int, int, int], bool]],
    ) -> None:
        """Prompt points (centred on their pixels) and boxes (around their corner pixels)."""
        for item in self._overlay_items:
            self._scene.removeItem(item)
        self._overlay_items = []
        for (x0, y0, x1, y1), color, active in boxes:
            rect = QGraphicsRectItem(QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
            pen = QPen(QColor(*color), 2.5 if active else 1.5, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            rect.setPen(pen)
            rect.setZValue(4)
            self._scene.addItem(rect)
            self._overlay_items.append(rect)
        for x, y, positive, color, active in points:
            marker = PointMarker(positive, QColor(*color), active)
            marker.setPos(x + 0.5, y + 0.5)
            self._scene.addItem(marker)
            self._overlay_items.append(marker)

    @property
    def markers(self) -> list[QGraphicsItem]:
        return list(self._overlay_items)

    # ------------------------------------------------------------------ zoom & pan
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` (1 = one source pixel per screen pixel) keeping the scene point
        under viewport point ``anchor`` (default: the centre) where it is."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        scene_anchor = self._to_scene(anchor)
        self._fit_mode = False
        self.setTransform(self.transform().fromScale(zoom, zoom))
        # put scene_anchor back under anchor by scrolling
        now = self.viewportTransform().map(scene_anchor)
        delta = now - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(delta.y()))
        self._update_smoothing()
        self.zoomChanged.emit(self.zoom)

    def zoom_fit(self) -> None:
        if self._image_size is None:
            return
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._fit_mode = True
        self._update_smoothing()
        self.zoomChanged.emit(self.zoom)

    def zoom_100(self) -> None:
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / ZOOM_STEP)

    def _update_smoothing(self) -> None:
        # Zoomed out, average pixels (no aliasing); at 100 % and above show them crisp, as
        # roto artists need to see the exact pixels they click.
        smooth = self.zoom < 1.0
        self._pixmap.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation
            if smooth
            else Qt.TransformationMode.FastTransformation
        )

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """With no clip yet, say how to get one (the first thing a new user sees)."""
        super().drawForeground(painter, rect)
        if self._image_size is not None:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor(139, 147, 161))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)
        painter.restore()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.zoom_fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom * ZOOM_STEP**steps, anchor=event.position())
        event.accept()

    # ------------------------------------------------------------------ mapping
    def _to_scene(self, pos: QPointF) -> QPointF:
        inverse, ok = self.viewportTransform().inverted()
        return inverse.map(QPointF(pos)) if ok else QPointF(pos)

    def source_pixel(self, pos: QPointF, clamp: bool = False) -> tuple[int, int] | None:
        """The source pixel under viewport position ``pos`` (None off the frame).

        ``pos`` is a pointer position: the top-left corner of a device pixel in logical
        coordinates, so the device pixel's centre is half a device pixel further; we take
        the source pixel containing that centre. A centre exactly on a pixel border (e.g.
        every screen pixel at 50 %) goes to the top-left pixel, as Qt's drawing does."""
        if self._image_size is None:
            return None
        half = 0.5 / self.devicePixelRatioF() - 1e-6
        scene = self._to_scene(QPointF(pos.x() + half, pos.y() + half))
        x, y = math.floor(scene.x()), math.floor(scene.y())
        h, w = self._image_size
        if clamp:
            return min(max(x, 0), w - 1), min(max(y, 0), h - 1)
        if 0 <= x < w and 0 <= y < h:
            return x, y
        return None

    def viewport_point(self, x: float, y: float) -> QPointF:
        """Where the centre of source pixel (x, y) is in the viewport (for tests/tools)."""
        return self.viewportTransform().map(QPointF(x + 0.5, y + 0.5))

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._panning = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if self.brush.enabled and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._begin_stroke(event.position(), button == Qt.MouseButton.LeftButton and not alt)
            event.accept()
            return
        pixel = self.source_pixel(event.position())
        if button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and alt):
            if pixel is not None:
                self.pointClicked.emit(float(pixel[0]), float(pixel[1]), False)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton and pixel is not None:
            self._press = pixel
            self._press_view = event.position()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._panning is not None:
            delta = event.position() - self._panning
            self._panning = event.position()
            self._fit_mode = False
            hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
            hbar.setValue(hbar.value() - round(delta.x()))
            vbar.setValue(vbar.value() - round(delta.y()))
            event.accept()
            return
        hovered = self.source_pixel(event.position())
        self.pixelHovered.emit(*(hovered if hovered is not None else (-1, -1)))
        if self.brush.enabled:
            scene = self._to_scene(event.position())
            self.brush.hover(scene)
            if self.brush.painting:
                self.brush.extend(scene)
            event.accept()
            return
        if self._press is not None and self._press_view is not None:
            moved = (event.position() - self._press_view).manhattanLength()
            if moved >= QApplication.startDragDistance() or self._rubber.isVisible():
                x0, y0, x1, y1 = self._box_to(event.position())
                self._rubber.setRect(QRectF(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
                self._rubber.show()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._panning is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._panning = None
            self._rest_cursor()
            event.accept()
            return
        if self.brush.painting and event.button() in (
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.RightButton,
        ):
            painted = self.brush.finish()
            if painted is not None:
                self.maskPainted.emit(painted, self.brush.adding)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._press is not None:
            press, was_box = self._press, self._rubber.isVisible()
            box = self._box_to(event.position())
            self._press, self._press_view = None, None
            self._rubber.hide()
            if was_box:
                x0, y0, x1, y1 = box
                if x1 > x0 and y1 > y0:
                    self.boxDrawn.emit(float(x0), float(y0), float(x1), float(y1))
                    event.accept()
                    return
            self.pointClicked.emit(float(press[0]), float(press[1]), True)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _begin_stroke(self, pos: QPointF, add: bool) -> None:
        c = self._controller
        if self._image_size is None or c is None:
            return
        active = c.objects.active_id
        color = c.objects.get(active).color if active in c.objects else (255, 255, 255)
        self.brush.begin(self._to_scene(pos), self._image_size, add, color)

    def _on_brush_enabled_changed(self, _enabled: bool) -> None:
        self._rest_cursor()

    def _rest_cursor(self) -> None:
        """The pointer when nothing is pressed: a cross for the brush (its circle shows the
        size), the arrow otherwise."""
        if self.brush.enabled:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.viewport().unsetCursor()

    def leaveEvent(self, event) -> None:
        self.brush.hover(None)
        super().leaveEvent(event)

    def _box_to(self, pos: QPointF) -> tuple[int, int, int, int]:
        assert self._press is not None
        end = self.source_pixel(pos, clamp=True)
        assert end is not None
        (ax, ay), (bx, by) = self._press, end
        return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._rest_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)
