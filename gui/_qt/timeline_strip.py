"""The timeline strip under the viewer: a frame ruler, thumbnails, one coverage bar per object
(tracked / prompted with keyframe marks / stale / empty), the in/out range and the playhead.
Click or drag anywhere on it to scrub."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from etam_plugin.gui._qt.images import to_qpixmap
from etam_plugin.gui.components.coverage import runs, status_color
from etam_plugin.model import FrameStatus

if TYPE_CHECKING:
    from etam_plugin.gui._qt.controller import EditorController

GUTTER = 104
RIGHT = 10
RULER_H = 18
THUMB_H = 44
BAR_H = 12
BAR_GAP = 4
BOTTOM = 8
BACKGROUND = QColor(27, 30, 35)
PLAYHEAD = QColor(255, 92, 92)
RANGE = QColor(74, 158, 255)


class TimelineStrip(QWidget):
    def __init__(self, controller: EditorController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._c = controller
        self._pixmaps: dict[int, QPixmap] = {}
        self._pixmap_height = 0
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        c = controller
        c.coverage.changed.connect(self._on_model_changed)
        c.objects.changed.connect(self._on_objects_changed)
        c.transport.frame_changed.connect(self._on_model_changed)
        c.transport.range_changed.connect(self._on_model_changed)
        c.thumbnailReady.connect(self._on_thumbnail_ready)
        c.sourceOpened.connect(self._on_source_opened)

    # ------------------------------------------------------------------ geometry
    @property
    def num_frames(self) -> int:
        return self._c.transport.num_frames

    def _track_width(self) -> float:
        return max(self.width() - GUTTER - RIGHT, 1)

    def frame_left(self, index: int) -> float:
        n = max(self.num_frames, 1)
        return GUTTER + index * self._track_width() / n

    def frame_x(self, index: int) -> float:
        """The x of the middle of frame ``index``'s slot (for tests and tooltips)."""
        n = max(self.num_frames, 1)
        return GUTTER + (index + 0.5) * self._track_width() / n

    def frame_at(self, x: float) -> int:
        n = self.num_frames
        if n == 0:
            return 0
        i = math.floor((x - GUTTER) * n / self._track_width())
        return min(max(i, 0), n - 1)

    def thumb_rect(self) -> QRect:
        return QRect(GUTTER, RULER_H, round(self._track_width()), THUMB_H)

    def bar_rect(self, row: int) -> QRect:
        top = RULER_H + THUMB_H + BAR_GAP + row * (BAR_H + BAR_GAP)
        return QRect(GUTTER, top, round(self._track_width()), BAR_H)

    def sizeHint(self) -> QSize:
        rows = max(len(self._c.objects), 1)
        return QSize(600, RULER_H + THUMB_H + BAR_GAP + rows * (BAR_H + BAR_GAP) + BOTTOM)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    # ------------------------------------------------------------------ updates
    def _on_model_changed(self, *_args: object) -> None:
        self.update()

    def _on_objects_changed(self, *_args: object) -> None:
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def _on_source_opened(self, _info: object) -> None:
        self._pixmaps.clear()
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def _on_thumbnail_ready(self, index: int) -> None:
        image = self._c.thumbnails.get(index)
        if image is not None:
            pixmap = to_qpixmap(image)
            pixmap.setDevicePixelRatio(self.devicePixelRatioF())
            self._pixmaps[index] = pixmap
            self.update()

    def thumbnail_frames(self) -> list[int]:
        """Frames shown as thumbnails at this width: one per thumbnail slot, the frame at the
        slot's left edge."""
        info = self._c.info
        if info is None or self.num_frames == 0:
            return []
        h, w = info.frame_size
        thumb_w = max(THUMB_H * w / h, 8.0)
        count = max(1, math.ceil(self._track_width() / thumb_w))
        return [self.frame_at(GUTTER + j * thumb_w) for j in range(count)]

    # ------------------------------------------------------------------ painting
    def paintEvent(self, _event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        if self.num_frames == 0:
            p.setPen(QColor(139, 147, 161))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Open a clip (Ctrl+O or drop)")
            p.end()
            return
        self._paint_ruler(p)
        self._paint_thumbnails(p)
        self._paint_bars(p)
        self._paint_range(p)
        self._paint_playhead(p)
        p.end()

    def _paint_ruler(self, p: QPainter) -> None:
        n = self.num_frames
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.0))
        p.setFont(font)
        per_frame = self._track_width() / n
        step = 1
        for candidate in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
            step = candidate
            if candidate * per_frame >= 56:
                break
        p.setPen(QColor(93, 100, 112))
        for i in range(0, n, step):
            x = self.frame_left(i)
            p.drawLine(QPointF(x, RULER_H - 6), QPointF(x, RULER_H - 1))
            p.drawText(QPointF(x + 3, RULER_H - 6), str(i))

    def _paint_thumbnails(self, p: QPainter) -> None:
        info = self._c.info
        area = self.thumb_rect()
        p.fillRect(area, QColor(20, 22, 26))
        if info is None:
            return
        dpr = self.devicePixelRatioF()
        height_px = round(THUMB_H * dpr)
        if height_px != self._pixmap_height:
            self._pixmap_height = height_px
            self._pixmaps.clear()
        frames = self.thumbnail_frames()
        self._c.request_thumbnails(frames, height_px)
        h, w = info.frame_size
        thumb_w = max(THUMB_H * w / h, 8.0)
        p.save()
        p.setClipRect(area)
        for j, index in enumerate(frames):
            pixmap = self._pixmaps.get(index)
            if pixmap is None:
                image = self._c.thumbnails.get(index)
                if image is not None and image.shape[0] == height_px:
                    self._on_thumbnail_ready(index)
                    pixmap = self._pixmaps.get(index)
            target = QRectF(GUTTER + j * thumb_w, RULER_H, thumb_w, THUMB_H)
            if pixmap is not None:
                p.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
            else:
                p.fillRect(target.adjusted(0.5, 0.5, -0.5, -0.5), QColor(34, 38, 44))
        p.restore()

    def _paint_bars(self, p: QPainter) -> None:
        c = self._c
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.0, 6.0))
        p.setFont(font)
        for row, obj in enumerate(c.objects):
            rect = self.bar_rect(row)
            active = obj.obj_id == c.objects.active_id
            # gutter: swatch + name
            p.fillRect(QRect(8, rect.top() + 1, 10, BAR_H - 2), QColor(*obj.color))
            p.setPen(QColor(216, 222, 233) if active else QColor(139, 147, 161))
            name_rect = QRect(22, rect.top() - 3, GUTTER - 26, BAR_H + 6)
            p.drawText(
                name_rect,
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                p.fontMetrics().elidedText(obj.name, Qt.TextElideMode.ElideRight, GUTTER - 26),
            )
            statuses = c.coverage.statuses(obj.obj_id)
            p.fillRect(rect, QColor(*status_color(FrameStatus.EMPTY, obj.color)))
            for first, last, status in runs(statuses):
                if status is FrameStatus.EMPTY:
                    continue
                left, right = self.frame_left(first), self.frame_left(last + 1)
                run_rect = QRectF(left, rect.top(), right - left, rect.height())
                p.fillRect(run_rect, QColor(*status_color(status, obj.color)))
                if status is FrameStatus.STALE:
                    hatch = QBrush(QColor(0, 0, 0, 90), Qt.BrushStyle.BDiagPattern)
                    p.fillRect(run_rect, hatch)
            if not obj.visible:
                p.fillRect(rect, QColor(27, 30, 35, 150))
            if active:
                p.setPen(QPen(QColor(216, 222, 233, 160), 1))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(QRectF(rect).adjusted(-0.5, -0.5, 0.5, 0.5))
            self._paint_keyframes(p, rect, c.coverage.keyframes(obj.obj_id))

    def _paint_keyframes(self, p: QPainter, rect: QRect, frames: list[int]) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(20, 22, 26), 1))
        p.setBrush(QColor(255, 255, 255))
        half = BAR_H / 2 - 1
        cy = rect.center().y() + 0.5
        for f in frames:
            cx = self.frame_x(f)
            diamond = [
                QPointF(cx, cy - half),
                QPointF(cx + half, cy),
                QPointF(cx, cy + half),
                QPointF(cx - half, cy),
            ]
            p.drawPolygon(diamond)
        p.restore()

    def _paint_range(self, p: QPainter) -> None:
        t = self._c.transport
        if t.in_point == 0 and t.out_point == self.num_frames - 1:
            return
        top, bottom = RULER_H, self.height() - BOTTOM + 2
        shade = QColor(0, 0, 0, 120)
        left, right = self.frame_left(t.in_point), self.frame_left(t.out_point + 1)
        p.fillRect(QRectF(GUTTER, top, left - GUTTER, bottom - top), shade)
        p.fillRect(QRectF(right, top, GUTTER + self._track_width() - right, bottom - top), shade)
        p.setPen(QPen(RANGE, 2))
        for x, d in ((left, 5), (right, -5)):
            p.drawLine(QPointF(x, top), QPointF(x, bottom))
            p.drawLine(QPointF(x, top), QPointF(x + d, top))
            p.drawLine(QPointF(x, bottom), QPointF(x + d, bottom))

    def _paint_playhead(self, p: QPainter) -> None:
        x = self.frame_x(self._c.transport.current)
        p.setPen(QPen(PLAYHEAD, 1.5))
        p.drawLine(QPointF(x, 2), QPointF(x, self.height() - 2))
        p.setBrush(PLAYHEAD)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.drawPolygon([QPointF(x - 5, 1), QPointF(x + 5, 1), QPointF(x, 8)])

    # ------------------------------------------------------------------ scrubbing
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.num_frames:
            self._c.seek(self.frame_at(event.position().x()))
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self.num_frames:
            return
        frame = self.frame_at(event.position().x())
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._c.seek(frame)
        elif event.position().x() >= GUTTER:
            parts = [f"Frame {frame}"]
            for obj in self._c.objects:
                status = self._c.coverage.status(obj.obj_id, frame)
                parts.append(f"{obj.name}: {status.value}")
            QToolTip.showText(event.globalPosition().toPoint(), "\n".join(parts), self)
