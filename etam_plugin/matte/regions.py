"""Fill small holes and drop small islands, judged on the matte's 0.5 core.

Areas are pixel counts from ``cv2.connectedComponentsWithStats``. Foreground pieces are
8-connected and background pieces 4-connected (the usual pair, so a diagonal chain of
subject pixels is one piece and never encloses a hole through its corners). On a soft matte
the decision is made on the core and applied to the soft fringe too: every fringe pixel
goes with the core piece nearest to it (within ``FRINGE_PX``), so a dropped island leaves
no faint halo behind.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from etam_plugin.errors import MatteError
from etam_plugin.matte._arrays import as_mask, as_matte

# How far from a dropped island (or filled hole) its soft fringe is followed, in px.
FRINGE_PX = 16


def _check_area(value: int, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise MatteError(f"{name} must be a whole number of pixels >= 0, got {value!r}")
    return int(value)


def _nearest_core_owner(core: np.ndarray, selected_core: np.ndarray) -> np.ndarray:
    """For every pixel: is its nearest core pixel one of ``selected_core``?"""
    # Zero pixels of the input are the targets; DIST_LABEL_PIXEL numbers them in raster order.
    _, nearest = cv2.distanceTransformWithLabels(
        (~core).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    owner_of_core = selected_core[core]  # raster order of the core pixels
    return owner_of_core[nearest - 1]


def _remove_pieces(
    values: np.ndarray,
    core: np.ndarray,
    connectivity: int,
    pick: Callable[[np.ndarray], np.ndarray],
    fill: float,
) -> np.ndarray:
    """Set the pieces of ``core`` chosen by ``pick`` (and their soft fringe) to ``fill``.

    ``pick`` gets the stats table of the pieces (row 0 is the complement) and returns a bool
    per row. Works on float mattes; bool masks take the plain path.
    """
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        core.astype(np.uint8), connectivity=connectivity
    )
    chosen = pick(stats)
    chosen[0] = False
    if not chosen.any():
        return values.copy()
    selected = chosen[labels]
    if values.dtype == np.bool_:
        out = values.copy()
        out[selected] = bool(fill)
        return out
    out = values.copy()
    # The soft fringe of each chosen piece: pixels near it that are not core and not
    # already at the fill value, whose nearest core pixel belongs to the piece. Worked out
    # in a window around each piece, so the cost follows the pieces, not the frame.
    fringe = ~core & (values != np.float32(fill))
    h, w = core.shape
    for piece in np.flatnonzero(chosen):
        x, y, bw, bh = (int(v) for v in stats[piece, :4])
        y0, y1 = max(y - FRINGE_PX, 0), min(y + bh + FRINGE_PX, h)
        x0, x1 = max(x - FRINGE_PX, 0), min(x + bw + FRINGE_PX, w)
        near = fringe[y0:y1, x0:x1]
        if not near.any():
            continue
        mine = labels[y0:y1, x0:x1] == piece
        near = near & _nearest_core_owner(core[y0:y1, x0:x1], mine)
        out[y0:y1, x0:x1][near] = fill
    out[selected] = fill
    return out


def drop_islands(mask: np.ndarray, min_area: int, *, connectivity: int = 8) -> np.ndarray:
    """Remove foreground pieces smaller than ``min_area`` pixels.

    A bool mask gives a bool mask; a float matte gives a float32 matte in which the dropped
    pieces and their soft fringe are 0.
    """
    min_area = _check_area(min_area, "drop_islands")
    values = np.asarray(mask)
    values = values.copy() if values.dtype == np.bool_ else as_matte(values)
    core = as_mask(values)
    if min_area == 0:
        return values

    def pick(stats: np.ndarray) -> np.ndarray:
        return stats[:, cv2.CC_STAT_AREA] < min_area

    return _remove_pieces(values, core, connectivity, pick, 0.0)


def fill_holes(mask: np.ndarray, max_area: int, *, connectivity: int = 4) -> np.ndarray:
    """Fill background pieces of at most ``max_area`` pixels that the subject encloses.

    Background touching the frame border is never a hole (it cannot be told from the
    background around the subject). A bool mask gives a bool mask; a float matte gives a
    float32 matte in which the filled holes and their soft fringe are 1.
    """
    max_area = _check_area(max_area, "fill_holes")
    values = np.asarray(mask)
    values = values.copy() if values.dtype == np.bool_ else as_matte(values)
    background = ~as_mask(values)
    if max_area == 0:
        return values
    h, w = background.shape

    def pick(stats: np.ndarray) -> np.ndarray:
        x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        right = x + stats[:, cv2.CC_STAT_WIDTH]
        bottom = y + stats[:, cv2.CC_STAT_HEIGHT]
        enclosed = (x > 0) & (y > 0) & (right < w) & (bottom < h)
        return enclosed & (stats[:, cv2.CC_STAT_AREA] <= max_area)

    return _remove_pieces(values, background, connectivity, pick, 1.0)
