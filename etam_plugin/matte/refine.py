"""Edge-aware refinement: let the matte's edges follow the image's edges.

The model's masks come from a 128×128 (or 256×256) grid upsampled to the frame, so their
edges are smooth blobs that ignore hair and fine outlines. The guided filter (He, Sun and
Tang, "Guided Image Filtering", TPAMI 2013) fits, in every window, the matte as a linear
function of the frame's colours, so where the frame has an edge the matte gets one too.
Everything is box filters (``cv2.boxFilter``); the coefficients are computed on a frame
subsampled by ``subsample`` and applied at full resolution (He and Sun's "Fast Guided
Filter", 2015), which keeps 1080p and 4K fast.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from etam_plugin.errors import MatteError
from etam_plugin.matte._arrays import as_matte, check_finite_number


class _Window:
    """Box-filter means over (2r+1)² windows, optionally weighted by per-pixel votes."""

    def __init__(self, r: int, votes: np.ndarray | None) -> None:
        self.ksize = (2 * r + 1, 2 * r + 1)
        self.votes = votes
        if votes is not None:
            total = self.box(votes)
            np.maximum(total, np.float32(1e-6), out=total)
            self.inv_total = np.reciprocal(total)

    def box(self, x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, self.ksize, borderType=cv2.BORDER_REFLECT)

    def mean(self, x: np.ndarray) -> np.ndarray:
        if self.votes is None:
            return self.box(x)
        out = self.box(x * self.votes)
        out *= self.inv_total
        return out

    def average(self, coefs: list[np.ndarray], spread: np.ndarray | None) -> list[np.ndarray]:
        """Average each pixel's coefficients over the windows covering it.

        With ``spread`` (the voters' colour variance per window), windows whose voters span
        more colours count more: a window that saw only background knows nothing about a
        subject-coloured pixel in its uncertain band. Without it, He et al.'s plain mean.
        """
        if spread is None:
            return [self.box(c) for c in coefs]
        inv = np.reciprocal(self.box(spread))
        out = []
        for c in coefs:
            m = self.box(c * spread)
            m *= inv
            out.append(m)
        return out


def _fit_gray(g: np.ndarray, p: np.ndarray, win: _Window, eps: float) -> list[np.ndarray]:
    """Window-averaged coefficients [a, b] of ``p ≈ a·g + b``."""
    mg, mp = win.mean(g), win.mean(p)
    var = win.mean(g * g)
    var -= mg * mg
    var += np.float32(eps)
    a = win.mean(g * p)
    a -= mg * mp
    a /= var
    b = mp - a * mg
    return win.average([a, b], var if win.votes is not None else None)


def _fit_color(
    planes: list[np.ndarray], p: np.ndarray, win: _Window, eps: float
) -> list[np.ndarray]:
    """Window-averaged coefficients [a_r, a_g, a_b, b] of ``p ≈ a·rgb + b``."""
    ir, ig, ib = planes
    mr, mg, mb, mp = win.mean(ir), win.mean(ig), win.mean(ib), win.mean(p)
    e = np.float32(eps)

    def cov(x: np.ndarray, y: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
        c = win.mean(x * y)
        c -= mx * my
        return c

    s_rr, s_gg, s_bb = cov(ir, ir, mr, mr), cov(ig, ig, mg, mg), cov(ib, ib, mb, mb)
    s_rr += e
    s_gg += e
    s_bb += e
    s_rg, s_rb, s_gb = cov(ir, ig, mr, mg), cov(ir, ib, mr, mb), cov(ig, ib, mg, mb)
    cr, cg, cb = cov(ir, p, mr, mp), cov(ig, p, mg, mp), cov(ib, p, mb, mp)
    # Inverse of the symmetric 3×3 covariance by cofactors (vectorised over pixels).
    c_rr = s_gg * s_bb - s_gb * s_gb
    c_rg = s_gb * s_rb - s_rg * s_bb
    c_rb = s_rg * s_gb - s_gg * s_rb
    c_gg = s_rr * s_bb - s_rb * s_rb
    c_gb = s_rb * s_rg - s_rr * s_gb
    c_bb = s_rr * s_gg - s_rg * s_rg
    inv_det = s_rr * c_rr
    inv_det += s_rg * c_rg
    inv_det += s_rb * c_rb
    np.reciprocal(inv_det, out=inv_det)

    def solve(k1: np.ndarray, k2: np.ndarray, k3: np.ndarray) -> np.ndarray:
        a = k1 * cr
        a += k2 * cg
        a += k3 * cb
        a *= inv_det
        return a

    a_r, a_g, a_b = solve(c_rr, c_rg, c_rb), solve(c_rg, c_gg, c_gb), solve(c_rb, c_gb, c_bb)
    b = mp - a_r * mr
    b -= a_g * mg
    b -= a_b * mb
    spread = None
    if win.votes is not None:
        spread = s_rr + s_gg
        spread += s_bb
    return win.average([a_r, a_g, a_b, b], spread)


def _vote_weights(p: np.ndarray, band: float) -> np.ndarray | None:
    """1 for pixels further than ``band`` px from the matte's 0.5 contour, else a tiny
    weight (so a window without a confident pixel falls back to the plain fit); None when
    every pixel votes."""
    if band <= 0:
        return None
    core = (p > 0.5).astype(np.uint8)
    if core.all() or not core.any():
        return None
    # The 5×5 chamfer distance (within ~2% of Euclidean) is plenty for a band this rough.
    d_in = cv2.distanceTransform(core, cv2.DIST_L2, 5)
    d_out = cv2.distanceTransform(1 - core, cv2.DIST_L2, 5)
    dist = np.maximum(d_in, d_out)  # one of them is 0 at every pixel
    votes = (dist - np.float32(0.5) >= np.float32(band)).astype(np.float32)
    np.maximum(votes, np.float32(1e-4), out=votes)
    return votes


FIT_SIZE = 640  # the fit runs at about this many pixels on the long side, or finer


def _default_subsample(radius: float, long_side: int) -> int:
    """He and Sun's ``radius / 4``, coarser still for big frames (the fit sees edges at
    the model's mask resolution anyway; the full-resolution guide restores the detail),
    but never coarser than the radius itself."""
    s = max(1, round(radius / 4), math.ceil(long_side / FIT_SIZE))
    return min(s, max(1, math.floor(radius)))


def refine_edges(
    matte: np.ndarray,
    guide_rgb_uint8: np.ndarray,
    *,
    radius: float = 8,
    eps: float = 1e-3,
    band: float | None = None,
    subsample: int | None = None,
) -> np.ndarray:
    """Guided-filter the matte against its frame (float32 (H, W) out, clipped to [0, 1]).

    ``guide_rgb_uint8`` is the frame, uint8 (H, W, 3) RGB or (H, W) grey, same size as the
    matte. ``radius``: the window radius in full-resolution px. ``eps``: regularisation on
    colours scaled to [0, 1] (smaller follows weaker image edges). ``band`` (default
    ``radius / 2``): how far, in px, the coarse edge may be off. Pixels that close to the
    matte's 0.5 contour do not vote in the fit (a weighted guided filter): their alpha is
    predicted from the colours of the confident subject and background pixels around them,
    and windows whose voters span more colours count more in the final average, so a mask
    that stops short of the subject's outline is pulled onto it instead of being averaged
    with it. Edges off by more than ``band`` are only partly fixed. ``band=0`` is He et
    al.'s plain filter (every pixel votes, plain averages). ``subsample`` is the factor
    the fit is computed at: by default ``radius / 4`` (He and Sun), and at least enough
    to bring the frame to about 640 px (1080p: 3, 4K: 6), capped at the radius.
    """
    p_full = as_matte(matte)
    guide = np.asarray(guide_rgb_uint8)
    if guide.dtype != np.uint8:
        raise MatteError(f"the guide frame must be uint8, got {guide.dtype}")
    if guide.ndim not in (2, 3) or (guide.ndim == 3 and guide.shape[2] != 3):
        raise MatteError(f"the guide frame must be (H, W, 3) RGB or (H, W), got {guide.shape}")
    if guide.shape[:2] != p_full.shape:
        raise MatteError(
            f"the guide frame is {guide.shape[1]}×{guide.shape[0]} but the matte is "
            f"{p_full.shape[1]}×{p_full.shape[0]}"
        )
    radius = check_finite_number(radius, "refine")
    eps = check_finite_number(eps, "refine_eps")
    band = radius / 2 if band is None else check_finite_number(band, "band")
    if radius <= 0:
        raise MatteError(f"refine radius must be > 0, got {radius}", key="refine", value=radius)
    if eps <= 0:
        raise MatteError(f"refine eps must be > 0, got {eps}", key="refine_eps", value=eps)
    if band < 0:
        raise MatteError(f"refine band must be >= 0, got {band}", key="band", value=band)
    auto = _default_subsample(radius, max(p_full.shape))
    s = auto if subsample is None else int(subsample)
    if s < 1:
        raise MatteError(f"subsample must be >= 1, got {subsample}", value=subsample)

    h, w = p_full.shape
    if s > 1:
        small = (max(1, round(w / s)), max(1, round(h / s)))
        g_small = cv2.resize(guide, small, interpolation=cv2.INTER_AREA)
        p_small = cv2.resize(p_full, small, interpolation=cv2.INTER_AREA)
    else:
        g_small, p_small = guide, p_full
    g_small = g_small.astype(np.float32)
    g_small *= np.float32(1.0 / 255.0)
    win = _Window(max(1, round(radius / s)), _vote_weights(p_small, band / s))
    if guide.ndim == 2:
        coefs = _fit_gray(g_small, p_small, win, eps)
    else:
        coefs = _fit_color(list(cv2.split(g_small)), p_small, win, eps)
    # Apply at full resolution: q = Σ a_c·guide_c + b, with the 1/255 folded into a_c.
    for a in coefs[:-1]:
        a *= np.float32(1.0 / 255.0)
    if s > 1:
        coefs = [cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in coefs]
    q = coefs[-1]
    planes = [guide] if guide.ndim == 2 else cv2.split(guide)
    for a, plane in zip(coefs[:-1], planes, strict=True):
        a *= plane
        q += a
    np.clip(q, 0.0, 1.0, out=q)
    return q
