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
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from etam_plugin.obs_bridge.effects import Roi, support


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
    frames (about 60 kB each: ~320 px wide greys), which must cover the tracker's lag.

    ``still_px``: a warp that would move no pixel by this much returns the matte as it is
    (a still subject costs no full-resolution work).
    """

    FLOW_WIDTH = 320
    """Width of the greys the flow runs on. DIS at 320 px costs a third of 480 px
    (0.5 vs 1.5 ms idle) and, composed in hops, still follows a subject; the matte itself is
    moved at full resolution."""

    def __init__(
        self, scale: int | None = None, history: int = 128, hop: int = 8, still_px: float = 0.25
    ) -> None:
        self.scale = scale  # None: about FLOW_WIDTH px wide flow, whatever the frame size
        self.history = history
        self.hop = hop
        self.still_px = still_px
        self._grays: OrderedDict[int, np.ndarray] = OrderedDict()
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._small_full: np.ndarray | None = None
        self._map: np.ndarray | None = None  # full-resolution backward map, reused
        self._small_grid: np.ndarray | None = None
        self._anchor: _Anchor | None = None
        self.hops = 0  # flows computed (for tests and benchmarks)

    def remember(self, seq: int, frame_rgb: np.ndarray) -> None:
        h, w = frame_rgb.shape[:2]
        if self.scale is None:
            self.scale = max(2, round(w / self.FLOW_WIDTH))
        size = (max(8, w // self.scale), max(8, h // self.scale))
        # grey first: the area resize then reads a third of the bytes (half the cost)
        grey = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
        self._grays[seq] = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        while len(self._grays) > self.history:
            self._grays.popitem(last=False)

    def drop_anchor(self) -> None:
        """Forget the composed map (the next warp hops from the mask's frame again)."""
        self._anchor = None

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
        return self.warp_many((matte,), from_seq, to_seq)[0][0]

    def warp_many(
        self, mattes: Sequence[np.ndarray], from_seq: int, to_seq: int
    ) -> list[tuple[np.ndarray, Roi | None]]:
        """Several mattes of one frame (the scene's and objects with their own effect)
        moved with one flow and one full-resolution map, each remapped in its own box;
        each comes with that box (the moved matte is zero outside it; None: not known)."""
        unmoved: list[tuple[np.ndarray, Roi | None]] = [(m, None) for m in mattes]
        if from_seq == to_seq or not mattes:
            return unmoved
        src, dst = self._grays.get(from_seq), self._grays.get(to_seq)
        if src is None or dst is None:
            return unmoved
        # Backward map: for each pixel of the new frame, where it was in the old one.
        if to_seq > from_seq:
            positions = self._positions(from_seq, to_seq)
        else:  # a mask of a frame newer than this one (a fast tracker): one flow back
            positions = self._identity(dst.shape) + self._dis.calc(dst, src, None)
        h, w = mattes[0].shape
        sx, sy = w / src.shape[1], h / src.shape[0]
        moved = float(np.abs(positions - self._identity(dst.shape)).max()) * max(sx, sy)
        if moved < self.still_px:
            return unmoved  # nothing moved enough to show: no full-resolution work
        full_map: np.ndarray | None = None
        out: list[tuple[np.ndarray, Roi | None]] = []
        for matte in mattes:
            # The warped matte can only be non-zero within the flow's reach of the old one:
            # remap in that box only (an object is usually a fraction of the frame).
            roi = support(matte, math.ceil(moved) + 2)
            if roi is None:
                out.append((matte, None))
                continue
            if full_map is None:
                full_map = self._full_map(positions, h, w)
            moved_matte = np.zeros_like(matte)
            moved_matte[roi] = cv2.remap(
                matte, full_map[roi], None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            out.append((moved_matte, roi))
        return out

    def _full_map(self, positions: np.ndarray, h: int, w: int) -> np.ndarray:
        """The small backward map scaled to full-resolution coordinates and size, in one
        resize into a buffer kept between frames (no per-frame allocation): a linear
        resize of the identity is the identity, so the map is exact away from the border
        and off by at most half a flow pixel in the outermost ring."""
        sh, sw = positions.shape[:2]
        sx, sy = w / sw, h / sh
        small = self._small_full
        if small is None or small.shape != positions.shape:
            small = self._small_full = np.empty_like(positions)
        # small coordinates → full ones: (p + 0.5)·s − 0.5, per axis
        cv2.multiply(positions, (sx, sy, 0.0, 0.0), dst=small)
        cv2.add(small, (0.5 * sx - 0.5, 0.5 * sy - 0.5, 0.0, 0.0), dst=small)
        if self._map is None or self._map.shape[:2] != (h, w):
            self._map = np.empty((h, w, 2), np.float32)
        cv2.resize(small, (w, h), dst=self._map, interpolation=cv2.INTER_LINEAR)
        return self._map
