"""Stage 3: every camera frame, composited with the latest mask, out to OBS.

This stage runs at the camera's rate whatever the tracker's speed: each frame takes the
newest mask snapshot (finished and temporally smoothed per object as it arrives, see
:mod:`presence`), holds or fades lost objects, optionally moves the matte to the current
frame with optical flow (:mod:`flow`), applies the effect and hands the RGBA frame to the
outputs. Timings of its own work, the age of
each output frame (capture → output) and the age of the mask it used are recorded.

When the camera is lost (unplugged, file gone, nothing for a while) the outputs get a
"camera lost" slate a few times a second instead of keeping the last picture frozen on
stream (``camera_lost="slate"``; ``"transparent"`` sends clear frames, so OBS shows what
lies under the source; ``"freeze"`` sends nothing, the old behaviour).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from etam_plugin.obs_bridge.capture import Frame
from etam_plugin.obs_bridge.effects import Effect, ObjectEffect, Roi
from etam_plugin.obs_bridge.flow import FlowWarper
from etam_plugin.obs_bridge.presence import ObjectState, PresenceMixer
from etam_plugin.obs_bridge.slots import LatestSlot, SlotClosed
from etam_plugin.obs_bridge.stats import StageStats
from etam_plugin.obs_bridge.track_stage import MaskSnapshot

log = logging.getLogger(__name__)


CAMERA_LOST_MODES: tuple[str, ...] = ("slate", "transparent", "freeze")
SLATE_EVERY_S = 0.2  # how often a slate goes out while the camera is lost


def camera_lost_frame(width: int, height: int, mode: str) -> np.ndarray:
    """The RGBA frame the outputs get while the camera is lost: a dark slate that says so,
    or fully transparent."""
    if mode == "transparent":
        return np.zeros((height, width, 4), np.uint8)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = (24, 24, 28)
    text = "camera lost - reconnecting"
    scale = max(0.5, width / 900)
    thick = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    org = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(rgb, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (235, 235, 235), thick,
                cv2.LINE_AA)  # fmt: skip
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)  # opaque


class FrameSink(Protocol):
    """Where composited frames go: the TCP stream to OBS, a virtual camera, a test."""

    def put(self, rgba: np.ndarray, stamp: float = 0.0) -> None: ...


@dataclass(frozen=True)
class Composited:
    """One output frame with what made it, for the control window's preview."""

    frame: Frame
    matte: np.ndarray  # float32 (H, W) as composited
    rgba: np.ndarray  # uint8 (H, W, 4) as sent
    mask_seq: int  # the frame the mask came from (0: none yet)
    objects: tuple[ObjectState, ...]
    # each object's matte as the tracker gave it (on frame mask_seq, not moved by the flow):
    # the window colours each object apart with them
    object_mattes: tuple[tuple[int, np.ndarray], ...] = ()


class CompositeThread(threading.Thread):
    """Composites each frame from ``frames`` with the newest snapshot in ``masks``.

    ``is_paused()`` tells whether inference is paused: then the presence clock stands
    still, so a pause never fades an object out.
    """

    def __init__(
        self,
        frames: LatestSlot[Frame],
        masks: LatestSlot[MaskSnapshot],
        effect: Effect,
        sinks: Sequence[FrameSink],
        *,
        mixer: PresenceMixer,
        warper: FlowWarper | None = None,
        is_paused: Callable[[], bool] = lambda: False,
        stats: StageStats | None = None,
        age: StageStats | None = None,
        mask_age: StageStats | None = None,
        preview: LatestSlot[Composited] | None = None,
        mask_wait_s: float = 0.0,
        track_stats: StageStats | None = None,
        camera_lost: Callable[[], bool] = lambda: False,
        camera_lost_mode: str = "slate",
        size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(name="etam-composite", daemon=True)
        self.frames, self.masks = frames, masks
        self.effect = effect
        self.sinks = list(sinks)
        self.mixer = mixer
        self.warper = warper
        self.is_paused = is_paused
        self.stats = stats or StageStats("composite")
        self.age = age or StageStats("output_age")
        self.mask_age = mask_age or StageStats("mask_age")
        self.preview = preview
        self.mask_wait_s = mask_wait_s
        self.track_stats = track_stats
        self._stop_event = threading.Event()
        self._sink_failed: set[int] = set()
        self._objects: tuple[ObjectState, ...] = ()
        self.camera_lost = camera_lost
        self.camera_lost_mode = camera_lost_mode
        self.size = size
        self._slate: np.ndarray | None = None
        self._slate_at = 0.0
        self.slates = 0  # slate frames sent (for the stats and tests)
        # objects with their own effect (id → effect), on top of ``effect``; replaced whole
        self.object_effects: dict[int, ObjectEffect] = {}

    def stop(self) -> None:
        self._stop_event.set()

    @property
    def objects(self) -> tuple[ObjectState, ...]:
        """Each selected object's presence as of the last composited frame."""
        return self._objects

    def run(self) -> None:
        last_seq = mask_seq = 0
        generation = -1
        clock = 0.0  # presence time: advances only while inference runs
        last_real = time.monotonic()
        try:
            while not self._stop_event.is_set():
                got = self.frames.get(after=last_seq, timeout=0.1)
                now = time.monotonic()
                if not self.is_paused():
                    clock += now - last_real
                last_real = now
                if got is None:
                    self._maybe_slate(now)
                    continue
                last_seq, frame = got
                self._wait_for_mask(frame)
                t0 = time.perf_counter()
                snap_seq, snap = self.masks.peek()
                if snap is not None and snap_seq != mask_seq:
                    mask_seq = snap_seq
                    if snap.generation != generation:
                        self.mixer.restart_smoothing()
                        generation = snap.generation
                    self.mixer.update(snap.objects, clock, guide=snap.frame_rgb)
                try:
                    rgba, matte = self._composite(frame, snap, clock)
                except Exception:
                    self.stats.error()
                    log.exception("composite: frame %d failed", frame.seq)
                    continue
                for i, sink in enumerate(self.sinks):
                    self._put(i, sink, rgba, frame.t_capture)
                done = time.monotonic()
                self.stats.record((time.perf_counter() - t0) * 1000.0, done)
                self.age.record((done - frame.t_capture) * 1000.0, done)
                if snap is not None:
                    self.mask_age.record((frame.t_capture - snap.t_capture) * 1000.0, done)
                self._objects = tuple(self.mixer.states(clock))
                if self.preview is not None:
                    self.preview.put(
                        Composited(
                            frame,
                            matte,
                            rgba,
                            snap.frame_seq if snap else 0,
                            self._objects,
                            self.mixer.mattes(),
                        )
                    )
        except SlotClosed:
            pass

    def _maybe_slate(self, now: float) -> None:
        """While the camera is lost, a slate to the outputs every ``SLATE_EVERY_S``."""
        if self.camera_lost_mode == "freeze" or self.size is None or not self.camera_lost():
            return
        if now - self._slate_at < SLATE_EVERY_S:
            return
        if self._slate is None:
            self._slate = camera_lost_frame(*self.size, self.camera_lost_mode)
        self._slate_at = now
        for i, sink in enumerate(self.sinks):
            self._put(i, sink, self._slate, now)
        self.slates += 1

    def _wait_for_mask(self, frame: Frame) -> None:
        """When the tracker is fast (its median step under ``mask_wait_s``), wait that long
        at most for the mask of this very frame: a fast GPU model then never lags the
        picture by a frame. A slow one is never waited for."""
        if self.mask_wait_s <= 0 or self.track_stats is None or self.is_paused():
            return
        if not 0 < self.track_stats.snapshot().p50_ms < self.mask_wait_s * 1000.0:
            return
        deadline = time.monotonic() + self.mask_wait_s
        while True:
            seq, snap = self.masks.peek()
            remaining = deadline - time.monotonic()
            if (snap is not None and snap.frame_seq >= frame.seq) or remaining <= 0:
                return
            self.masks.get(after=seq, timeout=remaining)

    def _composite(
        self, frame: Frame, snap: MaskSnapshot | None, clock: float
    ) -> tuple[np.ndarray, np.ndarray]:
        h, w = frame.rgb.shape[:2]
        effect = self.effect  # read once: set_effect may swap it meanwhile
        if self.warper is not None:
            self.warper.remember(frame.seq, frame.rgb)
        ids = self.mixer.object_ids
        own = {i: e for i, e in self.object_effects.items() if i in ids}  # read once too
        scene_selected = len(own) < len(ids)  # some object follows the scene effect
        matte = self.mixer.mix(
            clock, (h, w), effect.passthrough_level, selected=scene_selected, exclude=own
        )
        parts: list[tuple[ObjectEffect, np.ndarray, Roi | None]] = [
            (e, m, None)
            for i, e in own.items()
            if (m := self.mixer.weighted(i, clock, (h, w))) is not None
        ]
        if ids and self.warper is not None and snap is not None:
            moved = self.warper.warp_many(
                [matte] * scene_selected + [m for _, m, _ in parts], snap.frame_seq, frame.seq
            )
            if scene_selected:
                matte = moved.pop(0)[0]
            parts = [(e, m, box) for (e, _, _), (m, box) in zip(parts, moved, strict=True)]
        rgba = effect.apply(frame.rgb, matte)
        for object_effect, object_matte, box in parts:
            object_effect.apply_into(rgba, frame.rgb, object_matte, box)
        return rgba, matte

    def _put(self, index: int, sink: FrameSink, rgba: np.ndarray, stamp: float) -> None:
        try:
            sink.put(rgba, stamp)
        except Exception as exc:  # an output going away must not stop the others
            self.stats.error()
            if index not in self._sink_failed:
                log.warning("output %s failed: %s", type(sink).__name__, exc)
                self._sink_failed.add(index)
        else:
            self._sink_failed.discard(index)
