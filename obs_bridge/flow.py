"""Carry a mask forward to a newer frame with cheap optical flow.

When the model is slower than the camera, each composited frame uses a mask computed a few
frames earlier — with EfficientTAM-Mobile on a CPU, one to three seconds earlier — and on a
moving subject the matte visibly trails. Dense optical flow (OpenCV's DIS, ultrafast preset)
between small greyscale copies of the frames moves the matte to where the subject is now,
for a few milliseconds per frame.

One flow across a long gap fails once the subject has moved further than DIS can match
(measured: a textured disc moving 4 px a frame is found again across 15 frames, lost
across 30). So the mapping from the mask's frame to the current one is built in hops of at
most ``hop`` frames through the remembered frames, each hop one flow, composed on the small
flow grid; the composed map is kept as an anchor and extended frame by frame, so the
steady cost is one flow per frame, plus a few hops once per new mask.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from etam_plugin.obs_bridge.effects import support


@dataclass
class _Anchor:
    """Where each pixel of frame ``at_seq`` was in frame ``from_seq`` (small-image coords)."""

    from_seq: int
    at_seq: int
    positions: np.ndarray  # float32 (h, w, 2)


class FlowWarper:
    """Remembers small greyscale copies of recent frames and warps mattes between them.

    ``remember(seq, frame)`` for every composited frame; ``warp(matte, from_seq, to_seq)``
    returns the matte computed on frame ``from_seq`` moved onto frame ``to_seq`` (or the
    matte unchanged when either frame has been forgotten). Memory is bounded by ``history``
    frames (about 130 kB each: ~480 px wide greys), which must cover the tracker's lag.
    """

    def __init__(self, scale: int | None = None, history: int = 128, hop: int = 8) -> None:
        self.scale = scale  # None: about 480 px wide flow, whatever the frame size
        self.history = history
        self.hop = hop
        self._grays: OrderedDict[int, np.ndarray] = OrderedDict()
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._small_grid: np.ndarray | None = None
        self._anchor: _Anchor | None = None
        self.hops = 0  # flows computed (for tests and benchmarks)

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

    def drop_anchor(self) -> None:
        """Forget the composed map (the next warp hops from the mask's frame again)."""
        self._anchor = None

    def _full_grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = (xs, ys)
        return self._grid

    def _identity(self, shape: tuple[int, int]) -> np.ndarray:
        if self._small_grid is None or self._small_grid.shape[:2] != shape:
            h, w = shape
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._small_grid = np.dstack([xs, ys])
        return self._small_grid

    def _follow(self, positions: np.ndarray, base_seq: int, seq: int) -> np.ndarray:
        """Positions (in the anchor's source frame) of frame ``seq``'s pixels, from those
        of frame ``base_seq`` and one flow between the two."""
        flow = self._dis.calc(self._grays[seq], self._grays[base_seq], None)
        self.hops += 1
        where = self._identity(flow.shape[:2]) + flow  # each pixel's place in base_seq
        return cv2.remap(
            positions, where[..., 0], where[..., 1], cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )  # fmt: skip

    def _positions(self, from_seq: int, to_seq: int) -> np.ndarray:
        """For each pixel of ``to_seq`` (small image), where it was in ``from_seq``."""
        anchor = self._anchor
        if (
            anchor is not None
            and anchor.from_seq == from_seq
            and anchor.at_seq in self._grays
            and from_seq <= anchor.at_seq <= to_seq
        ):
            base_seq, positions = anchor.at_seq, anchor.positions
        else:
            base_seq = from_seq
            positions = self._identity(self._grays[from_seq].shape)
            self._anchor = _Anchor(from_seq, from_seq, positions)
        if base_seq == to_seq:
            return positions
        # hop through remembered frames so that no single flow spans more than ``hop``
        for seq in [s for s in self._grays if base_seq < s < to_seq]:
            if seq - base_seq >= self.hop and to_seq - base_seq > self.hop:
                positions = self._follow(positions, base_seq, seq)
                base_seq = seq
                self._anchor = _Anchor(from_seq, seq, positions)
        result = self._follow(positions, base_seq, to_seq)
        if to_seq - base_seq >= self.hop:
            self._anchor = _Anchor(from_seq, to_seq, result)
        return result

    def warp(self, matte: np.ndarray, from_seq: int, to_seq: int) -> np.ndarray:
        if from_seq == to_seq:
            return matte
        src, dst = self._grays.get(from_seq), self._grays.get(to_seq)
        if src is None or dst is None:
            return matte
        # Backward map: for each pixel of the new frame, where it was in the old one.
        if to_seq > from_seq:
            flow = self._positions(from_seq, to_seq) - self._identity(dst.shape)
        else:  # a mask of a frame newer than this one (a fast tracker): one flow back
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
