"""Carry a mask forward to a newer frame with cheap optical flow.

When the model is slower than the camera, each composited frame uses a mask computed a few
frames earlier; on a moving subject the matte visibly trails. Dense optical flow (OpenCV's
DIS, ultrafast preset) between small greyscale copies of the two frames moves the matte to
where the subject is now, for a few milliseconds per frame.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import cv2
import numpy as np

from etam_plugin.obs_bridge.effects import support


class FlowWarper:
    """Remembers small greyscale copies of recent frames and warps mattes between them.

    ``remember(seq, frame)`` for every composited frame; ``warp(matte, from_seq, to_seq)``
    returns the matte computed on frame ``from_seq`` moved onto frame ``to_seq`` (or the
    matte unchanged when either frame has been forgotten). Memory is bounded by ``history``.
    """

    def __init__(self, scale: int | None = None, history: int = 32) -> None:
        self.scale = scale  # None: about 480 px wide flow, whatever the frame size
        self.history = history
        self._grays: OrderedDict[int, np.ndarray] = OrderedDict()
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def remember(self, seq: int, frame_rgb: np.ndarray) -> None:
        h, w = frame_rgb.shape[:2]
        if self.scale is None:
            self.scale = max(2, round(w / 480))
        small = cv2.resize(
            frame_rgb,
            (max(8, w // self.scale), max(8, h // self.scale)),
            interpolation=cv2.INTER_AREA,
        )
        self._grays[seq] = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        while len(self._grays) > self.history:
            self._grays.popitem(last=False)

    def _full_grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (xs, ys)
        return self._grid

    def warp(self, matte: np.ndarray, from_seq: int, to_seq: int) -> np.ndarray:
        if from_seq == to_seq:
            return matte
        src, dst = self._grays.get(from_seq), self._grays.get(to_seq)
        if src is None or dst is None:
            return matte
        # Backward flow: for each pixel of the new frame, where it was in the old one.
        flow = self._dis.calc(dst, src, None)
        h, w = matte.shape
        sx, sy = w / src.shape[1], h / src.shape[0]
        # The warped matte can only be non-zero within the flow's reach of the old one:
        # work in that box only (an object is usually a fraction of the frame).
        reach = math.ceil(float(np.abs(flow).max()) * max(sx, sy)) + 2
        roi = support(matte, reach)
        if roi is None:
            return matte
        xs, ys = (g[roi] for g in self._full_grid(h, w))
        # Sample the small flow at the full-resolution pixel centres of the box.
        fx = cv2.addWeighted(xs, 1.0 / sx, xs, 0.0, 0.5 / sx - 0.5)
        fy = cv2.addWeighted(ys, 1.0 / sy, ys, 0.0, 0.5 / sy - 0.5)
        local = cv2.remap(flow, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        map_x = cv2.addWeighted(xs, 1.0, local[..., 0], sx, 0.0)
        map_y = cv2.addWeighted(ys, 1.0, local[..., 1], sy, 0.0)
        out = np.zeros_like(matte)
        out[roi] = cv2.remap(matte, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out
