"""Matte finishing settings of the panel and their live preview on the shown frame.

The knobs mirror the export's matte ops (``etam_plugin.matte``), so what is previewed is what
gets exported. The preview runs on one frame; temporal smoothing uses the neighbouring
frames' masks that are already known.

Phase 1: ``etam_plugin.matte`` is being written in parallel, so :func:`finish_alpha` carries a
small OpenCV implementation of the same ops; phase 2 replaces its body with the shared ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Finishing:
    """``feather`` blur radius in px; ``grow`` px (negative shrinks); ``smooth`` temporal
    radius in frames; ``fill_holes`` largest hole area in px to fill (0 = off)."""

    feather: float = 0.0
    grow: int = 0
    smooth: int = 0
    fill_holes: int = 0
    invert: bool = False

    @property
    def is_identity(self) -> bool:
        return self == Finishing()

    def as_spec(self) -> str:
        """The ``key=value,...`` text the CLI's ``--matte`` option takes (non-defaults only)."""
        parts = []
        for key, default in (("feather", 0.0), ("grow", 0), ("smooth", 0), ("fill_holes", 0)):
            value = getattr(self, key)
            if value != default:
                parts.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
        if self.invert:
            parts.append("invert=1")
        return ",".join(parts)


def _fill_holes(mask: np.ndarray, max_area: int) -> np.ndarray:
    background = (~mask).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    h, w = mask.shape
    out = mask.copy()
    for label in range(1, count):
        x, y, bw, bh, area = stats[label]
        touches_border = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches_border and area <= max_area:
            out[labels == label] = True
    return out


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    size = 2 * abs(px) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    op = cv2.dilate if px > 0 else cv2.erode
    return op(mask.astype(np.uint8), kernel).astype(bool)


def finish_alpha(
    mask: np.ndarray, finishing: Finishing, neighbours: Sequence[np.ndarray] = ()
) -> np.ndarray:
    """Float32 alpha (H, W) in [0, 1] of ``mask`` after the finishing ops.

    ``neighbours`` are the raw masks of the frames within ``finishing.smooth`` of this one
    (those known so far), used for the temporal smoothing preview.
    Order: fill holes → grow/shrink → temporal smooth → feather → invert.
    """
    m = mask.astype(bool, copy=False)
    if finishing.fill_holes > 0:
        m = _fill_holes(m, finishing.fill_holes)
    if finishing.grow:
        m = _grow(m, finishing.grow)
    alpha = m.astype(np.float32)
    if finishing.smooth > 0 and neighbours:
        stack = [alpha]
        for other in neighbours:
            o = other.astype(bool, copy=False)
            if finishing.fill_holes > 0:
                o = _fill_holes(o, finishing.fill_holes)
            if finishing.grow:
                o = _grow(o, finishing.grow)
            stack.append(o.astype(np.float32))
        alpha = np.mean(stack, axis=0, dtype=np.float32)
    if finishing.feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigmaX=finishing.feather / 2.0)
    if finishing.invert:
        alpha = 1.0 - alpha
    return np.clip(alpha, 0.0, 1.0)
