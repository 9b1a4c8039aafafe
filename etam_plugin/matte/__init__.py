"""Matte finishing: pure numpy/OpenCV ops shared by the panel, the CLI and the OBS bridge.

Conventions: a *matte* is float32 (H, W) alpha in [0, 1]; a *mask* is bool (H, W). Ops
accept either (bool becomes 0/1), never modify their input, and return new arrays. The
*core* of a matte is ``alpha > 0.5``: islands, holes and edges are judged on it.
"""

from __future__ import annotations

from etam_plugin.matte.combine import COMBINE_MODES, combine, index_map, union
from etam_plugin.matte.levels import invert, soft_matte, threshold
from etam_plugin.matte.morphology import FEATHER_MODES, feather, grow_shrink
from etam_plugin.matte.ops import MatteOps
from etam_plugin.matte.refine import refine_edges
from etam_plugin.matte.regions import drop_islands, fill_holes
from etam_plugin.matte.temporal import TemporalSmoother, smooth_sequence

__all__ = [
    "COMBINE_MODES",
    "FEATHER_MODES",
    "MatteOps",
    "TemporalSmoother",
    "combine",
    "drop_islands",
    "feather",
    "fill_holes",
    "grow_shrink",
    "index_map",
    "invert",
    "refine_edges",
    "smooth_sequence",
    "soft_matte",
    "threshold",
    "union",
]
