"""Grow/shrink and feather: the two edge ops users reach for first.

Both work on the matte's 0.5 contour with Euclidean distances, so a 2.5 px grow moves a
straight edge by exactly 2.5 px (the fractional part shows as an anti-aliased edge pixel)
and a circle's area grows by 2πRr + πr², at any radius for the same cost.
"""

from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np

from etam_plugin.errors import MatteError
from etam_plugin.matte._arrays import as_matte, check_finite_number

FeatherMode = Literal["outward", "inward", "centered"]
FEATHER_MODES: tuple[str, ...] = ("outward", "inward", "centered")

# Soft pixels further than this from the 0.5 contour are left as they are by grow/shrink
# (they are never removed: grow only raises alpha, shrink only lowers it). Bounds the cost.
SOFT_BAND_LIMIT_PX = 32.0
# Below this gradient magnitude the signed distance has no clear normal (medial axis).
_MIN_GRADIENT = 0.7
_REMAP_COLS = 4096  # cv2.remap needs maps narrower than SHRT_MAX


def _signed_distance(core: np.ndarray) -> np.ndarray:
    """Signed distance (px) to the boundary between ``core`` pixels and the rest:
    negative inside, positive outside, ±0.5 on the pixels either side of the edge.
    The image border is not an edge (a subject cut by the frame is not shrunk from it)."""
    core_u8 = core.astype(np.uint8)
    limit = np.float32(core.shape[0] + core.shape[1])
    d_in = cv2.distanceTransform(core_u8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_out = cv2.distanceTransform(1 - core_u8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    np.minimum(d_in, limit, out=d_in)  # no background at all gives ~1.8e19
    np.minimum(d_out, limit, out=d_out)
    sdf = d_out - d_in
    sdf += np.where(core, np.float32(0.5), np.float32(-0.5))
    return sdf


def _shift_contour(m: np.ndarray, px: float) -> np.ndarray:
    """Move every edge of ``m`` by ``px`` along its normal, keeping the edge's own profile.

    The hard part is ``clip(0.5 + px - sdf)``; near soft edges each pixel instead samples
    the original matte ``px`` further in (grow) or out (shrink) along the distance gradient,
    which carries a soft ramp along unchanged.
    """
    core = m > 0.5
    if core.all() or not core.any():
        return m.copy()  # no contour to move
    sdf = _signed_distance(core)
    out = np.clip(np.float32(0.5 + px) - sdf, 0.0, 1.0)
    soft = (m > 1e-3) & (m < 1 - 1e-3)
    soft &= np.abs(sdf) <= SOFT_BAND_LIMIT_PX
    if not soft.any():
        return out
    ramp = float(np.abs(sdf[soft]).max())
    ys, xs = np.nonzero(np.abs(sdf - np.float32(px)) <= ramp + 1.5)
    h, w = m.shape
    xp, xm = np.minimum(xs + 1, w - 1), np.maximum(xs - 1, 0)
    yp, ym = np.minimum(ys + 1, h - 1), np.maximum(ys - 1, 0)
    gx = (sdf[ys, xp] - sdf[ys, xm]) / np.maximum(xp - xm, 1)
    gy = (sdf[yp, xs] - sdf[ym, xs]) / np.maximum(yp - ym, 1)
    mag = np.hypot(gx, gy)
    ok = mag > _MIN_GRADIENT
    ys, xs, gx, gy, mag = ys[ok], xs[ok], gx[ok], gy[ok], mag[ok]
    n = len(xs)
    if n == 0:
        return out
    rows = -(-n // _REMAP_COLS)
    pad = rows * _REMAP_COLS - n
    map_x = np.pad((xs - px * gx / mag).astype(np.float32), (0, pad)).reshape(rows, -1)
    map_y = np.pad((ys - px * gy / mag).astype(np.float32), (0, pad)).reshape(rows, -1)
    sampled = cv2.remap(m, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out[ys, xs] = sampled.ravel()[:n]
    return out


def grow_shrink(matte: np.ndarray, px: float) -> np.ndarray:
    """Grow (``px`` > 0) or shrink (``px`` < 0) the matte by ``px`` pixels (float32 out).

    Euclidean and sub-pixel: a straight edge moves by exactly ``px``; soft edges keep
    their ramp. Grow never lowers any alpha and shrink never raises one; the frame border
    is not an edge. Cost does not depend on ``px``: only the object's bounding box (plus
    the grow distance) is processed.
    """
    m = as_matte(matte)
    px = check_finite_number(px, "grow")
    if abs(px) < 1e-6:
        return m
    support = m > 0.0
    if not support.any():
        return m
    rows = np.flatnonzero(support.any(axis=1))
    cols = np.flatnonzero(support.any(axis=0))
    margin = math.ceil(max(px, 0.0)) + 2
    h, w = m.shape
    y0, y1 = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)
    x0, x1 = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)
    crop = m[y0:y1, x0:x1]
    moved = _shift_contour(crop, px)
    if px > 0:
        np.maximum(moved, crop, out=moved)
    else:
        np.minimum(moved, crop, out=moved)
    out = np.zeros_like(m)
    out[y0:y1, x0:x1] = moved
    return out


def _blur(m: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur whose kernel reaches exactly ``radius`` px (sigma = radius / 3)."""
    k = max(1, math.ceil(radius))
    return cv2.GaussianBlur(
        m, (2 * k + 1, 2 * k + 1), sigmaX=radius / 3.0, borderType=cv2.BORDER_REPLICATE
    )


def feather(matte: np.ndarray, radius: float, *, mode: FeatherMode = "centered") -> np.ndarray:
    """Soften the matte's edges with a blur that reaches ``radius`` px (float32 out).

    ``centered`` blurs across the edge (the ramp spans ±radius). ``outward`` first grows by
    ``radius`` so the whole ramp lies outside the subject: alpha inside the original matte
    never drops (users' complaint that feather eats into the subject). ``inward`` first
    shrinks, so the ramp lies inside and alpha never rises outside the original matte.
    """
    m = as_matte(matte)
    radius = check_finite_number(radius, "feather")
    if radius < 0:
        raise MatteError(f"feather radius must be >= 0, got {radius}", key="feather", value=radius)
    if mode not in FEATHER_MODES:
        raise MatteError(
            f"feather mode must be one of {', '.join(FEATHER_MODES)}, got {mode!r}",
            key="feather_mode",
            value=mode,
        )
    if radius == 0:
        return m
    if mode == "centered":
        return _blur(m, radius)
    if mode == "outward":
        out = _blur(grow_shrink(m, radius), radius)
        np.maximum(out, m, out=out)
    else:
        out = _blur(grow_shrink(m, -radius), radius)
        np.minimum(out, m, out=out)
    return out
