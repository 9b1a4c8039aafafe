"""A small PySide6 window to pick objects on the live preview and watch the bridge.

Click = select an object with a point, drag = with a box; with an object highlighted in the
list, the click re-selects that object instead of adding one (N, "New object", unhighlights),
and a right-click takes the clicked part away from it (a negative point, added to the
object's clicks). Each object has its own colour, in the preview and the list; the effect
can be switched from the window, the highlighted object given its own (pixelate, blur,
outline: "Object effect"), the objects selected when this camera was last stopped
restored with one click ("Restore last selection"), and A/V sync turned on or off for the
OBS audio inputs picked from a list (the microphone delayed by the bridge's latency). Esc
clears every object, Delete removes the highlighted one.
The window only queues requests to the bridge (which applies them on its track thread) and
polls its newest frame and stats on a timer: the model never runs on the GUI thread, and a
slow model never freezes it. Each selection carries the frame that was on screen when the
user clicked, so the tracker prompts exactly that picture even when it is a second behind
(or ahead of) it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

import cv2
import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QIcon,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from etam_plugin.errors import EtamError
from etam_plugin.model import Prompt
from etam_plugin.obs_bridge.bridge import status_line
from etam_plugin.obs_bridge.capture import Frame
from etam_plugin.obs_bridge.compositor import Composited
from etam_plugin.obs_bridge.effects import OBJECT_EFFECTS
from etam_plugin.obs_bridge.presence import FALLBACKS, PresencePolicy

TINT = np.array([40, 160, 255], np.float32)
PALETTE = np.array(
    [[40, 160, 255], [255, 120, 40], [80, 220, 90], [230, 70, 200], [250, 220, 40],
     [60, 230, 230], [160, 110, 255], [240, 60, 60]],
    np.float32,
)  # fmt: skip
DRAG_MIN_PX = 6
EFFECT_CHOICES = ("remove", "blur", "replace:#00b140", "highlight", "highlight:spotlight",
                  "privacy", "privacy:blur")  # fmt: skip


def object_colour(obj_id: int) -> tuple[int, int, int]:
    """The colour object ``obj_id`` is shown with (preview tint and list icon)."""
    r, g, b = PALETTE[(obj_id - 1) % len(PALETTE)]
    return int(r), int(g), int(b)


class BridgeLike(Protocol):
    """What the window needs from :class:`~etam_plugin.obs_bridge.bridge.Bridge`."""

    def select(
        self, prompt: Prompt, obj_id: int | None = None, *, frame: Frame | None = None
    ) -> Future: ...
    def remove(self, obj_id: int) -> Future: ...
    def clear(self) -> Future: ...
    def stats(self) -> dict: ...
    def latest(self) -> Composited | None: ...


def overlay(
    frame: np.ndarray,
    matte: np.ndarray,
    size: tuple[int, int],
    objects: tuple[tuple[int, np.ndarray], ...] = (),
) -> np.ndarray:
    """The frame at ``size`` with the selection tinted (scaled first: cheap at any size).

    With ``objects`` (id, matte) each pixel takes the colour of the object whose matte is
    strongest there; the tint's strength is the composited ``matte`` (moved by the flow).
    """
    rgb = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    m = cv2.resize(matte, size, interpolation=cv2.INTER_LINEAR)[..., None] * np.float32(0.45)
    tint: np.ndarray = TINT
    if len(objects) > 1:
        small = [cv2.resize(mt, size, interpolation=cv2.INTER_AREA) for _, mt in objects]
        which = np.argmax(np.stack(small), axis=0)
        colours = np.array([object_colour(i) for i, _ in objects], np.float32)
        tint = colours[which]
    elif objects:
        tint = np.array(object_colour(objects[0][0]), np.float32)
    return (rgb * (1 - m) + tint * m).astype(np.uint8)


def checkerboard_under(rgba: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The output over a grey checkerboard, so transparency is visible."""
    small = cv2.resize(rgba, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    w, h = size
    yy, xx = np.mgrid[:h, :w]
    board = np.where(((xx // 12 + yy // 12) % 2)[..., None] == 0, 200.0, 150.0).astype(np.float32)
    a = small[..., 3:4] / 255.0
    return (small[..., :3] * a + board * (1 - a)).astype(np.uint8)


class PreviewWidget(QWidget):
    """Shows an RGB image scaled to fit; reports clicks and drags in image pixels."""

    pointClicked = Signal(float, float)
    pointRightClicked = Signal(float, float)
    boxDragged = Signal(float, float, float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._image: QImage | None = None
        self._source_size = (1, 1)  # the frame's size in pixels (what coordinates refer to)
        self._press: QPointF | None = None
        self._drag: QPointF | None = None

    def set_image(self, rgb: np.ndarray, source_size: tuple[int, int]) -> None:
        h, w = rgb.shape[:2]
        data = np.ascontiguousarray(rgb)
        self._image = QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self._source_size = source_size
        self.update()

    def target_rect(self) -> QRectF:
        """Where the frame is drawn: fitted, centred, aspect kept."""
        sw, sh = self._source_size
        scale = min(self.width() / sw, self.height() / sh)
        w, h = sw * scale, sh * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_frame(self, pos: QPointF) -> tuple[float, float]:
        r = self.target_rect()
        sw, sh = self._source_size
        x = (pos.x() - r.x()) * sw / r.width()
        y = (pos.y() - r.y()) * sh / r.height()
        return min(max(x, 0.0), sw - 1.0), min(max(y, 0.0), sh - 1.0)

    def from_frame(self, x: float, y: float) -> QPointF:
        r = self.target_rect()
        sw, sh = self._source_size
        return QPointF(r.x() + x * r.width() / sw, r.y() + y * r.height() / sh)

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))
        if self._image is not None:
            p.drawImage(self.target_rect(), self._image)
        if self._press is not None and self._drag is not None:
            p.setPen(QPen(QColor(255, 200, 0), 2, Qt.PenStyle.DashLine))
            p.drawRect(QRectF(self._press, self._drag).normalized())
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.pointRightClicked.emit(*self.to_frame(event.position()))
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position()
            self._drag = None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is not None:
            self._drag = event.position()
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        start, end = self._press, event.position()
        self._press = self._drag = None
        self.update()
        if (end - start).manhattanLength() < DRAG_MIN_PX:
            self.pointClicked.emit(*self.to_frame(end))
            return
        x0, y0 = self.to_frame(start)
        x1, y1 = self.to_frame(end)
        if abs(x1 - x0) >= 2 and abs(y1 - y0) >= 2:
            self.boxDragged.emit(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


class _Relay(QObject):
    """Carries results of the bridge's futures (resolved on its track thread) to the GUI."""

    failed = Signal(str)
    selected = Signal(int)


class ControlWindow(QWidget):
    """Preview, object list and status line for a running bridge."""

    def __init__(
        self, bridge: BridgeLike, *, refresh_ms: int = 33, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("etam-plugin live")
        self.preview = PreviewWidget()
        self.show_output = QCheckBox("Show output")
        self.objects = QListWidget()
        self.objects.setMaximumWidth(200)
        self.new_button = QPushButton("New object (N)")
        saved = getattr(bridge, "saved_selection", None)
        self.restore_button = QPushButton(
            f"Restore last selection ({len(saved.objects)})" if saved else "Restore"
        )
        self.restore_button.setToolTip(
            "Select again the objects selected when live last stopped on this camera"
        )
        self.restore_button.setVisible(saved is not None)
        self.remove_button = QPushButton("Remove (Del)")
        self.object_effect = QComboBox()
        self.object_effect.addItems(["scene effect", *OBJECT_EFFECTS])
        self.object_effect.setToolTip(
            "The highlighted object's own effect, on top of the scene effect: pixelate or blur "
            "hides it, outline rings it (it stays in the picture with 'remove')"
        )
        self.object_effect.setEnabled(False)
        self.clear_button = QPushButton("Clear all (Esc)")
        self.effect = QComboBox()
        self.effect.setEditable(True)  # any spec: replace:/path/to/bg.png, blur:40, …
        current = getattr(getattr(bridge, "effect", None), "name", None)
        self.effect.addItems(EFFECT_CHOICES)
        if current is not None and current not in EFFECT_CHOICES:
            self.effect.insertItem(0, current)
        self.effect.setCurrentIndex(max(0, self.effect.findText(current or "remove")))
        policy = getattr(getattr(bridge, "config", None), "presence", None) or PresencePolicy()
        self.hold = QDoubleSpinBox(suffix=" s", decimals=1, maximum=60.0, singleStep=0.1)
        self.fade = QDoubleSpinBox(suffix=" s", decimals=1, maximum=60.0, singleStep=0.1)
        self.hold.setValue(policy.hold_s)
        self.fade.setValue(policy.fade_s)
        self.fallback = QComboBox()
        self.fallback.addItems(["effect's choice", *FALLBACKS])
        self.fallback.setCurrentIndex(
            0 if policy.fallback is None else 1 + FALLBACKS.index(policy.fallback)
        )
        self.sync_audio = QCheckBox("Delay audio to match")
        self.sync_audio.setToolTip(
            "A/V sync: delay the checked OBS audio inputs by the bridge's measured latency, "
            "so speech matches the picture (their own offsets come back when turned off)"
        )
        self.audio_inputs = QListWidget()
        self.audio_inputs.setMaximumWidth(200)
        self.audio_inputs.setMaximumHeight(72)
        self.audio_reason = QLabel("")
        self.audio_reason.setWordWrap(True)
        self.audio_reason.setMaximumWidth(200)
        obs_settings = getattr(getattr(bridge, "config", None), "obs", None)
        self._sync_chosen: list[str] = list(getattr(obs_settings, "sync_audio", ()) or ())
        self.sync_audio.setChecked(bool(self._sync_chosen))
        self._set_audio_inputs(self._sync_chosen)
        self._audio_enabled(False, "starting…")
        self.status = QLabel("starting…")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message = QLabel(
            "Click an object to select it, or drag a box around it; right-click takes a part "
            "away from the highlighted object."
        )
        for label in (self.status, self.message):
            # a long line is cut, never widens the window
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(1)
        side = QVBoxLayout()
        side.addWidget(QLabel("Objects"))
        side.addWidget(self.objects, 1)
        side.addWidget(self.restore_button)
        side.addWidget(self.new_button)
        side.addWidget(self.remove_button)
        object_row = QFormLayout()
        object_row.addRow("Object effect", self.object_effect)
        side.addLayout(object_row)
        side.addWidget(self.clear_button)
        side.addWidget(self.show_output)
        side.addWidget(QLabel("Effect"))
        side.addWidget(self.effect)
        lost = QFormLayout()
        lost.addRow("Hold lost", self.hold)
        lost.addRow("Fade", self.fade)
        lost.addRow("All lost", self.fallback)
        side.addLayout(lost)
        side.addWidget(self.sync_audio)
        side.addWidget(self.audio_inputs)
        side.addWidget(self.audio_reason)
        top = QHBoxLayout()
        top.addWidget(self.preview, 1)
        top.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.status)
        self._relay = _Relay(self)
        self._relay.failed.connect(self._on_failed)
        self._relay.selected.connect(self._on_selected)
        self.preview.pointClicked.connect(self._on_point_clicked)
        self.preview.boxDragged.connect(self._on_box_dragged)
        self.preview.pointRightClicked.connect(self._on_point_right_clicked)
        self.hold.valueChanged.connect(self._on_presence)
        self.fade.valueChanged.connect(self._on_presence)
        self.fallback.currentIndexChanged.connect(self._on_presence)
        self.effect.activated.connect(lambda _i: self._on_effect(self.effect.currentText()))
        self.effect.lineEdit().returnPressed.connect(
            lambda: self._on_effect(self.effect.currentText())
        )
        self.sync_audio.toggled.connect(self._on_sync_audio)
        self.audio_inputs.itemChanged.connect(self._on_sync_audio)
        self.object_effect.activated.connect(self._on_object_effect)
        self.objects.itemSelectionChanged.connect(self._show_object_effect)
        self.restore_button.clicked.connect(self._on_restore)
        self.new_button.clicked.connect(self.objects.clearSelection)
        self.remove_button.clicked.connect(self._on_remove)
        self.clear_button.clicked.connect(self._on_clear)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self._on_clear)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self, activated=self._on_remove)
        QShortcut(QKeySequence(Qt.Key.Key_N), self, activated=self.objects.clearSelection)
        self._last_seq = -1
        self._prompts: dict[int, Prompt] = {}  # each object's last prompt (right-click adds)
        self._shown: Frame | None = None  # the frame on screen: what clicks refer to
        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_tick)
        self._timer.start(refresh_ms)

    # -- selection (queued to the bridge; never waits) ----------------------------------------
    def _target(self) -> int | None:
        item = self.objects.currentItem()
        return (
            None
            if item is None or not item.isSelected()
            else int(item.data(Qt.ItemDataRole.UserRole))
        )

    def _submit(
        self, prompt: Prompt, what: str, target: int | None = None, *, replace: bool = True
    ) -> None:
        target = self._target() if replace else target
        future = self.bridge.select(prompt, target, frame=self._shown)
        self.message.setText(
            f"selecting… {what}: {'object ' + str(target) if target else 'new object'}"
        )
        if target is not None:  # at once: a quick second right-click builds on this one
            self._prompts[target] = prompt
        else:  # a new selection: restoring the last one now would add its objects beside it
            self.restore_button.setVisible(False)

        def remember(f: Future) -> None:  # the track thread: only plain data here
            if f.exception() is None:
                self._prompts[int(f.result())] = prompt

        future.add_done_callback(remember)
        future.add_done_callback(self._watch_select)

    def _watch(self, future: Future) -> None:
        exc = future.exception()
        if exc is not None:
            self._relay.failed.emit(f"selection failed: {exc}")

    def _watch_select(self, future: Future) -> None:
        if future.exception() is None:
            self._relay.selected.emit(int(future.result()))
        else:
            self._watch(future)

    def _on_selected(self, obj_id: int) -> None:
        self.message.setText(f"object {obj_id} selected")

    def _on_point_clicked(self, x: float, y: float) -> None:
        self._submit(Prompt(points_xy=((x, y),), labels=(1,)), f"point {x:.0f},{y:.0f}")

    def _on_point_right_clicked(self, x: float, y: float) -> None:
        target = self._target()
        if target is None:
            self.message.setText("right-click takes a part away from an object: highlight it first")
            return
        old = self._prompts.get(target, Prompt())
        prompt = Prompt(
            points_xy=(*old.points_xy, (x, y)), labels=(*old.labels, 0), box_xyxy=old.box_xyxy
        )
        self._submit(prompt, f"not {x:.0f},{y:.0f}", target, replace=False)

    def _on_restore(self) -> None:
        restore = getattr(self.bridge, "restore_selection", None)
        self.restore_button.setVisible(False)
        if restore is None:
            return
        futures = restore()
        for future in futures:  # each says "object N selected" (or why not) when done
            future.add_done_callback(self._watch_select)
        self.message.setText(f"selecting… {len(futures)} remembered object(s)")

    def _own_effects(self) -> dict[int, str]:
        effects = getattr(self.bridge, "object_effects", None) or {}
        return {int(k): e.name for k, e in effects.items()}

    def _show_object_effect(self) -> None:
        """The combo follows the highlighted object (disabled with none highlighted)."""
        target = self._target()
        self.object_effect.setEnabled(
            target is not None and getattr(self.bridge, "set_object_effect", None) is not None
        )
        name = self._own_effects().get(target or -1)
        self.object_effect.setCurrentIndex(max(0, self.object_effect.findText(name or "")))

    def _on_object_effect(self, index: int) -> None:
        target = self._target()
        if target is None:
            return
        spec = None if index <= 0 else self.object_effect.itemText(index)
        try:
            self.bridge.set_object_effect(target, spec)  # type: ignore[attr-defined]
        except EtamError as exc:
            self.message.setText(f"object effect: {exc}")
            return
        self.message.setText(f"object {target}: {spec or 'the scene effect'}")
        self._last_seq = -1  # relabel the list with the next frame

    def _on_presence(self, *_: object) -> None:
        set_presence = getattr(self.bridge, "set_presence", None)
        if set_presence is None:
            return
        index = self.fallback.currentIndex()
        policy = PresencePolicy(
            hold_s=self.hold.value(),
            fade_s=self.fade.value(),
            fallback=None if index <= 0 else FALLBACKS[index - 1],  # type: ignore[arg-type]
        )
        set_presence(policy)
        fallback = policy.fallback or "effect's choice"
        self.message.setText(
            f"lost objects: held {policy.hold_s:g} s, faded over {policy.fade_s:g} s, "
            f"then {fallback}"
        )

    def _on_effect(self, spec: str) -> None:
        set_effect = getattr(self.bridge, "set_effect", None)
        if set_effect is None:
            return
        try:
            set_effect(spec)
        except EtamError as exc:
            self.message.setText(f"effect: {exc}")
            return
        self.message.setText(f"effect: {spec}")

    # -- A/V sync -----------------------------------------------------------------------------
    def _set_audio_inputs(self, names: list[str]) -> None:
        """The list: OBS's inputs with audio plus any chosen that OBS does not list (now)."""
        wanted = list(dict.fromkeys([*names, *self._sync_chosen]))
        have = [self.audio_inputs.item(i).text() for i in range(self.audio_inputs.count())]
        if wanted == have:
            return
        self.audio_inputs.blockSignals(True)
        self.audio_inputs.clear()
        for name in wanted:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            chosen = name in self._sync_chosen
            item.setCheckState(Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked)
            self.audio_inputs.addItem(item)
        self.audio_inputs.blockSignals(False)

    def _audio_enabled(self, enabled: bool, reason: str) -> None:
        for widget in (self.sync_audio, self.audio_inputs):
            widget.setEnabled(enabled)
            widget.setToolTip("" if enabled else reason)
        self.audio_reason.setText(reason)

    def _update_audio(self, obs: dict | None) -> None:
        """Offer A/V sync while OBS is connected; say why not otherwise."""
        if obs is None or getattr(self.bridge, "set_sync_audio", None) is None:
            self._audio_enabled(False, "A/V sync: no OBS (--no-obs)")
            return
        if not obs.get("connected"):
            self._audio_enabled(False, f"A/V sync: OBS not connected ({obs.get('state')})")
            return
        self._set_audio_inputs(list(obs.get("audio_inputs") or ()))
        offset = obs.get("audio_offset_ms")
        if not self.audio_inputs.count():
            reason = "A/V sync: OBS has no audio input"
        elif self.sync_audio.isChecked() and self._sync_chosen and offset is not None:
            reason = f"audio delayed {offset} ms"
        else:
            reason = ""
        self._audio_enabled(True, reason)

    def _on_sync_audio(self, *_: object) -> None:
        self._sync_chosen = [
            self.audio_inputs.item(i).text()
            for i in range(self.audio_inputs.count())
            if self.audio_inputs.item(i).checkState() == Qt.CheckState.Checked
        ]
        chosen = self._sync_chosen if self.sync_audio.isChecked() else []
        try:
            self.bridge.set_sync_audio(chosen)  # type: ignore[attr-defined]
        except (EtamError, AttributeError) as exc:
            self.message.setText(f"A/V sync: {exc}")
            return
        if not self.sync_audio.isChecked():
            self.message.setText("A/V sync off: the audio inputs' own offsets are back")
        elif not chosen:
            self.message.setText("A/V sync: check the audio inputs to delay")
        else:
            self.message.setText(f"A/V sync: {', '.join(chosen)} delayed to match the picture")

    def _on_box_dragged(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self._submit(Prompt(box_xyxy=(x0, y0, x1, y1)), f"box {x0:.0f},{y0:.0f}–{x1:.0f},{y1:.0f}")

    def _on_remove(self) -> None:
        target = self._target()
        if target is not None:
            self.bridge.remove(target).add_done_callback(self._watch)
            self.objects.clearSelection()

    def _on_clear(self) -> None:
        self.bridge.clear().add_done_callback(self._watch)
        self.objects.clearSelection()
        self.message.setText("cleared")

    def _on_failed(self, text: str) -> None:
        self.message.setText(text)

    # -- polling --------------------------------------------------------------------------------
    def _on_tick(self) -> None:
        latest = self.bridge.latest()
        if latest is not None and latest.frame.seq != self._last_seq:
            self._last_seq = latest.frame.seq
            self._shown = latest.frame
            h, w = latest.frame.rgb.shape[:2]
            r = self.preview.target_rect()
            size = (max(16, int(r.width())), max(16, int(r.height())))
            if self.show_output.isChecked():
                image = checkerboard_under(latest.rgba, size)
            elif latest.objects:
                image = overlay(latest.frame.rgb, latest.matte, size, latest.object_mattes)
            else:  # nothing selected: the matte is the effect's pass-through, not an object
                image = cv2.resize(latest.frame.rgb, size, interpolation=cv2.INTER_AREA)
            self.preview.set_image(image, (w, h))
            self._update_objects(latest)
        self._ticks += 1
        if self._ticks % 15 == 1:
            stats = self.bridge.stats()
            self.status.setText(status_line(stats))
            self._update_audio(stats.get("obs"))

    def _update_objects(self, latest: Composited) -> None:
        current = self._target()
        own = self._own_effects()
        labels = [
            (
                o.obj_id,
                f"object {o.obj_id}: "
                + ("tracked" if o.present else f"lost ({o.weight:.0%})")
                + (f" · {own[o.obj_id]}" if o.obj_id in own else ""),
            )
            for o in latest.objects
        ]
        existing = [
            (int(self.objects.item(i).data(Qt.ItemDataRole.UserRole)), self.objects.item(i).text())
            for i in range(self.objects.count())
        ]
        if labels == existing:
            return
        self.objects.blockSignals(True)
        self.objects.clear()
        for obj_id, text in labels:
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(*object_colour(obj_id)))
            item = QListWidgetItem(QIcon(swatch), text)
            item.setData(Qt.ItemDataRole.UserRole, obj_id)
            self.objects.addItem(item)
            if obj_id == current:
                item.setSelected(True)
                self.objects.setCurrentItem(item)
        self.objects.blockSignals(False)
        self._show_object_effect()


def run_control_window(
    bridge: BridgeLike,
    *,
    until: threading.Event | None = None,
    frames_done: Callable[[], bool] | None = None,
) -> int:
    """Show the window for a started bridge until it is closed, ``until`` is set (Ctrl-C
    in the live command) or ``frames_done()`` says so; returns the exit code.

    The timer also lets Python run its signal handlers while Qt's loop is in C++.
    """
    app = QApplication.instance() or QApplication([])
    window = ControlWindow(bridge)
    window.resize(1000, 620)
    window.show()

    def check() -> None:
        if (until is not None and until.is_set()) or (frames_done is not None and frames_done()):
            window.close()
            app.quit()

    watch = QTimer(window)
    watch.timeout.connect(check)
    watch.start(100)
    try:
        return int(app.exec())
    finally:
        watch.stop()
        window.deleteLater()
