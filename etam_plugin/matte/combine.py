"""Several objects' mattes into one output: a union, one matte each, or an ID map."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from etam_plugin.errors import MatteError
from etam_plugin.matte._arrays import as_matte

CombineMode = Literal["union", "separate", "index"]
COMBINE_MODES: tuple[str, ...] = ("union", "separate", "index")
MAX_INDEX_ID = np.iinfo(np.uint16).max


def _checked(mattes: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    if not mattes:
        raise MatteError("combine needs at least one object's matte")
    out: dict[int, np.ndarray] = {}
    shape = None
    for obj_id in sorted(mattes):
        if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
            raise MatteError(f"object IDs must be integers, got {obj_id!r}", value=obj_id)
        m = as_matte(mattes[obj_id], name=f"matte of object {obj_id}")
        if shape is None:
            shape = m.shape
        elif m.shape != shape:
            raise MatteError(
                f"object {obj_id}'s matte is {m.shape[1]}×{m.shape[0]} but the others are "
                f"{shape[1]}×{shape[0]}: all objects must be at the same size"
            )
        out[int(obj_id)] = m
    return out


def union(mattes: Mapping[int, np.ndarray]) -> np.ndarray:
    """Per-pixel maximum of all objects' alpha (float32 (H, W))."""
    checked = _checked(mattes)
    it = iter(checked.values())
    out = next(it)
    for m in it:
        np.maximum(out, m, out=out)
    return out


def index_map(mattes: Mapping[int, np.ndarray], *, level: float = 0.5) -> np.ndarray:
    """ID map: each pixel holds the ID of the object with the highest alpha there, if that
    alpha is above ``level``; 0 is background. Ties go to the smaller ID.

    IDs must be in 1..65535; the map is uint8 when every ID fits in 255, else uint16.
    """
    checked = _checked(mattes)
    ids = list(checked)
    if ids[0] < 1 or ids[-1] > MAX_INDEX_ID:
        raise MatteError(
            f"object IDs for an index matte must be in 1..{MAX_INDEX_ID} (0 is background), "
            f"got {ids[0] if ids[0] < 1 else ids[-1]}",
            value=ids,
        )
    dtype = np.uint8 if ids[-1] <= np.iinfo(np.uint8).max else np.uint16
    first = next(iter(checked.values()))
    best = np.full(first.shape, np.float32(level), dtype=np.float32)
    out = np.zeros(first.shape, dtype=dtype)
    # Strictly greater: equal alpha keeps the earlier (smaller) ID, and alpha == level is out.
    for obj_id, m in checked.items():
        wins = m > best
        out[wins] = obj_id
        best[wins] = m[wins]
    return out


def combine(
    mattes: Mapping[int, np.ndarray], mode: CombineMode = "union", *, level: float = 0.5
) -> np.ndarray | dict[int, np.ndarray]:
    """Combine per-object mattes (``{obj_id: matte}``, all the same size).

    ``union``: one float32 matte, the per-pixel maximum. ``separate``: ``{obj_id: float32
    matte}`` in ascending ID order, each object's own matte (objects may overlap).
    ``index``: a uint8/uint16 ID map (see :func:`index_map`: highest alpha wins, ties to the
    smaller ID, alpha must be above ``level``, 0 = background).
    """
    if mode == "union":
        return union(mattes)
    if mode == "separate":
        return _checked(mattes)
    if mode == "index":
        return index_map(mattes, level=level)
    raise MatteError(
        f"combine mode must be one of {', '.join(COMBINE_MODES)}, got {mode!r}",
        key="combine",
        value=mode,
    )
