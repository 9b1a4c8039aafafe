"""The timeline strip under the viewer: a frame ruler, thumbnails, one coverage bar per object
(tracked / prompted with keyframe marks / stale / empty), the in/out range and the playhead.
Click or drag anywhere on it to scrub.

It zooms (Ctrl+wheel, the gutter's buttons, the window's Timeline actions) so that a few
frames of a long clip are wide enough to see and click: the strip shows a window of
``visible_count`` frames from ``first_visible``, follows the playhead when it leaves that
window, and scrolls (wheel, scroll bar) while zoomed."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QScrollBar, QSizePolicy, QToolButton, QToolTip, QWidget

from etam_plugin.gui._qt.images import to_qpixmap
from etam_plugin.gui.components.coverage import (
    LOST,
    PROBLEM_COLORS,
    frame_runs,
    runs,
    status_color,
)
from etam_plugin.model import FrameStatus

if TYPE_CHECKING:
    from etam_plugin.gui._qt.controller import EditorController

GUTTER = 104
RIGHT = 10
RULER_H = 18
THUMB_H = 44
BAR_H = 12
BAR_GAP = 4
BOTTOM = 12  # room for the scroll bar shown while zoomed
SCROLL_H = 9
PROBLEM_H = 4  # the lost / low-score line along a bar's top
BUTTON = 22  # the zoom buttons in the gutter
MIN_VISIBLE = 10  # the most zoomed-in view shows this many frames
ZOOM_STEP = 2.0  # a button or key press
WHEEL_STEP = 1.25  # one notch of Ctrl+wheel
BACKGROUND = QColor(27, 30, 35)
PLAYHEAD = QColor(255, 92, 92)
RANGE = QColor(74, 158, 255)


class TimelineStrip(QWidget):
    def __init__(self, controller: EditorController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._c = controller
        self._pixmaps: dict[int, QPixmap] = {}
        self._pixmap_height = 0
        self._first = 0.0  # the view: frames first_visible … first_visible + visible_count
        self._count = 0.0
        self._buttons: list[QToolButton] = []
        self.scroll_bar = QScrollBar(Qt.Orientation.Horizontal, self)
        self.scroll_bar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scroll_bar.hide()
        self.scroll_bar.valueChanged.connect(self._on_scrolled)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        c = controller
        c.coverage.changed.connect(self._on_model_changed)
        c.objects.changed.connect(self._on_objects_changed)
        c.transport.frame_changed.connect(self._on_frame_changed)
        c.transport.range_changed.connect(self._on_model_changed)
        c.thumbnailReady.connect(self._on_thumbnail_ready)
        c.sourceOpened.connect(self._on_source_opened)

    # ------------------------------------------------------------------ geometry
    @property
    def num_frames(self) -> int:
        return self._c.transport.num_frames

    def _track_width(self) -> float:
        return max(self.width() - GUTTER - RIGHT, 1)

    @property
    def first_visible(self) -> float:
        return self._first

    @property
    def visible_count(self) -> float:
        """How many frames the strip's width shows (the whole clip when not zoomed)."""
        n = max(self.num_frames, 1)
        return min(self._count, n) if self._count else n

    @property
    def zoomed(self) -> bool:
        return self.visible_count < self.num_frames

    def visible_frames(self) -> range:
        """The frames at least partly in view."""
        first = math.floor(self._first)
        last = math.ceil(self._first + self.visible_count)
        return range(max(first, 0), min(last, self.num_frames))

    def frame_left(self, index: float) -> float:
        return GUTTER + (index - self._first) * self._track_width() / self.visible_count

    def frame_x(self, index: int) -> float:
        """The x of the middle of frame ``index``'s slot (for tests and tooltips)."""
        return self.frame_left(index + 0.5)

    def frame_at(self, x: float) -> int:
        """The frame under ``x``, within the frames in view (a drag past the end stops
        there rather than jumping the view)."""
        if self.num_frames == 0:
            return 0
        i = math.floor(self._first + (x - GUTTER) * self.visible_count / self._track_width())
        shown = self.visible_frames()
        return min(max(i, shown.start), shown.stop - 1)

    # ------------------------------------------------------------------ zoom and scroll
    def set_view(self, first: float, count: float) -> None:
        """Show ``count`` frames from ``first`` (clamped to the clip and to MIN_VISIBLE)."""
        n = self.num_frames
        if n == 0:
            self._first, self._count = 0.0, 0.0
        else:
            count = min(max(count, min(MIN_VISIBLE, n)), n)
            self._first = min(max(first, 0.0), n - count)
            self._count = count
        self._sync_scroll_bar()
        self.update()

    def zoom(self, factor: float, anchor: float | None = None) -> None:
        """Zoom by ``factor`` (>1 in) keeping frame position ``anchor`` where it is on
        screen; by default the playhead if it is in view, else the middle."""
        count = self.visible_count
        if anchor is None:
            here = self._c.transport.current + 0.5
            inside = self._first <= here <= self._first + count
            anchor = here if inside else self._first + count / 2
        share = (anchor - self._first) / count
        new_count = count / factor
        self.set_view(anchor - share * new_count, new_count)

    def zoom_in(self) -> None:
        self.zoom(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom(1 / ZOOM_STEP)

    def zoom_all(self) -> None:
        self.set_view(0.0, self.num_frames)

    def zoom_to_range(self) -> None:
        """Fill the strip with the in–out range (the whole clip when there is none)."""
        t = self._c.transport
        self.set_view(t.in_point, t.out_point - t.in_point + 1)

    def scroll_by(self, frames: float) -> None:
        self.set_view(self._first + frames, self.visible_count)

    def set_zoom_actions(self, actions: list[QAction]) -> None:
        """Buttons for these actions in the gutter beside the thumbnails (the window owns
        the actions, so menus, shortcuts and buttons are one thing)."""
        for action in actions:
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setFixedSize(BUTTON, BUTTON)
            self._buttons.append(button)
        self._place_children()

    def _place_children(self) -> None:
        top = RULER_H + (THUMB_H - BUTTON) // 2
        for j, button in enumerate(self._buttons):
            button.move(4 + j * (BUTTON + 2), top)
        self.scroll_bar.setGeometry(
            GUTTER, self.height() - SCROLL_H - 1, round(self._track_width()), SCROLL_H
        )

    def _sync_scroll_bar(self) -> None:
        """The bar's range is in frames; shown only while zoomed."""
        bar = self.scroll_bar
        count = round(self.visible_count)
        bar.blockSignals(True)
        bar.setRange(0, max(self.num_frames - count, 0))
        bar.setPageStep(max(count, 1))
        bar.setSingleStep(max(count // 10, 1))
        bar.setValue(round(self._first))
        bar.blockSignals(False)
        bar.setVisible(self.zoomed)

    def _on_scrolled(self, value: int) -> None:
        self.set_view(float(value), self.visible_count)

    def _follow(self, index: int) -> None:
        """Keep the playhead in view: when it leaves, page so it sits near the edge it
        came in by (playback and tracking run on without the view jumping every frame)."""
        if not self.zoomed:
            return
        count = self.visible_count
        if index < self._first:
            self.set_view(index + 1 - 0.9 * count, count)
        elif index + 1 > self._first + count:
            self.set_view(index - 0.1 * count, count)

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

    def _on_frame_changed(self, index: int) -> None:
        self._follow(index)
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_children()

    def _on_objects_changed(self, *_args: object) -> None:
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def _on_source_opened(self, _info: object) -> None:
        self._pixmaps.clear()
        self.setFixedHeight(self.sizeHint().height())
        self.zoom_all()

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
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.0))
        p.setFont(font)
        per_frame = self._track_width() / self.visible_count
        step = 1
        for candidate in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
            step = candidate
            if candidate * per_frame >= 56:
                break
        p.setPen(QColor(93, 100, 112))
        p.save()
        p.setClipRect(QRect(GUTTER, 0, round(self._track_width()), RULER_H))
        shown = self.visible_frames()
        for i in range(math.ceil(shown.start / step) * step, shown.stop, step):
            x = self.frame_left(i)
            p.drawLine(QPointF(x, RULER_H - 6), QPointF(x, RULER_H - 1))
            p.drawText(QPointF(x + 3, RULER_H - 6), str(i))
        p.restore()

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
            p.save()
            p.setClipRect(rect)
            shown = self.visible_frames()
            for first, last, status in runs(statuses):
                if status is FrameStatus.EMPTY or last < shown.start or first >= shown.stop:
                    continue
                # whole pixels, at least one: a few frames of a long clip stay visible
                left = math.floor(self.frame_left(first))
                right = max(round(self.frame_left(last + 1)), left + 1)
                run_rect = QRectF(left, rect.top(), right - left, rect.height())
                p.fillRect(run_rect, QColor(*status_color(status, obj.color)))
                if status is FrameStatus.STALE:
                    hatch = QBrush(QColor(0, 0, 0, 90), Qt.BrushStyle.BDiagPattern)
                    p.fillRect(run_rect, hatch)
            self._paint_problems(p, rect, c.coverage.problems(obj.obj_id))
            p.restore()
            if not obj.visible:
                p.fillRect(rect, QColor(27, 30, 35, 150))
            if active:
                p.setPen(QPen(QColor(216, 222, 233, 160), 1))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(QRectF(rect).adjusted(-0.5, -0.5, 0.5, 0.5))
            self._paint_keyframes(p, rect, c.coverage.keyframes(obj.obj_id))

    def _paint_problems(self, p: QPainter, rect: QRect, problems: dict[int, str]) -> None:
        """Lost frames as a dark gap under a red line, low-score frames as an amber line
        over the object's colour: both read apart from tracked, stale and untracked."""
        shown = self.visible_frames()
        for kind, colour in PROBLEM_COLORS.items():
            frames = [f for f, k in problems.items() if k == kind and f in shown]
            for first, last in frame_runs(frames):
                left = math.floor(self.frame_left(first))
                right = max(round(self.frame_left(last + 1)), left + 1)
                if kind == LOST:
                    p.fillRect(QRect(left, rect.top(), right - left, rect.height()), BACKGROUND)
                p.fillRect(QRect(left, rect.top(), right - left, PROBLEM_H), QColor(*colour))

    def _paint_keyframes(self, p: QPainter, rect: QRect, frames: list[int]) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(20, 22, 26), 1))
        p.setBrush(QColor(255, 255, 255))
        half = BAR_H / 2 - 1
        cy = rect.center().y() + 0.5
        shown = self.visible_frames()
        p.setClipRect(rect.adjusted(-round(half), 0, round(half), 0))
        for f in frames:
            if f not in shown:
                continue
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
        end = GUTTER + self._track_width()
        left = min(max(self.frame_left(t.in_point), GUTTER), end)
        right = min(max(self.frame_left(t.out_point + 1), GUTTER), end)
        p.fillRect(QRectF(GUTTER, top, left - GUTTER, bottom - top), shade)
        p.fillRect(QRectF(right, top, end - right, bottom - top), shade)
        p.setPen(QPen(RANGE, 2))
        for x, d in ((left, 5), (right, -5)):
            p.drawLine(QPointF(x, top), QPointF(x, bottom))
            p.drawLine(QPointF(x, top), QPointF(x + d, top))
            p.drawLine(QPointF(x, bottom), QPointF(x + d, bottom))

    def _paint_playhead(self, p: QPainter) -> None:
        if self._c.transport.current not in self.visible_frames():
            return
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
                found = self._c.coverage.problem(obj.obj_id, frame)
                said = f" ({found[0]}, score {found[1]:.2f})" if found else ""
                parts.append(f"{obj.name}: {status.value}{said}")
            QToolTip.showText(event.globalPosition().toPoint(), "\n".join(parts), self)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Ctrl+wheel zooms around the pointer; the wheel scrolls while zoomed."""
        if not self.num_frames:
            return
        delta = event.angleDelta()
        notches = (delta.y() or delta.x()) / 120
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            x = event.position().x()
            anchor = self._first + (x - GUTTER) * self.visible_count / self._track_width()
            self.zoom(WHEEL_STEP**notches, min(max(anchor, 0.0), float(self.num_frames)))
            event.accept()
        elif self.zoomed:
            self.scroll_by(-notches * self.visible_count / 10)
            event.accept()
        else:
            event.ignore()
