"""From model logits to a matte, and the plain per-pixel ops on mattes."""

from __future__ import annotations

import numpy as np

from etam_plugin.errors import MatteError
from etam_plugin.matte._arrays import as_matte


def soft_matte(logits: np.ndarray, *, softness: float = 1.0) -> np.ndarray:
    """Soft matte ``sigmoid(logits / softness)`` as float32 (H, W) in [0, 1].

    ``softness`` > 1 widens the edge ramp, < 1 hardens it; the 0.5 level stays where the
    logits cross 0, so the soft matte and ``threshold(logits, level=0.0)`` agree on the
    subject. Written with tanh so huge logits (the model's -1024 "no object") cannot overflow.
    """
    softness = float(softness)
    if not softness > 0.0 or not np.isfinite(softness):
        raise MatteError(f"softness must be > 0, got {softness!r}", key="soft", value=softness)
    x = np.asarray(logits, dtype=np.float32)
    if x.ndim != 2:
        raise MatteError(f"logits must be 2-D (H, W), got shape {x.shape}")
    out = np.tanh(x * np.float32(0.5 / softness))
    out *= np.float32(0.5)
    out += np.float32(0.5)
    return out


def threshold(values: np.ndarray, level: float = 0.5) -> np.ndarray:
    """Bool mask of ``values > level``.

    The default suits mattes in [0, 1]; for logits pass ``level=0.0`` (the model's own
    mask rule, equivalent to ``soft_matte(logits) > 0.5``). A bool input is returned copied.
    """
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise MatteError(f"threshold expects a 2-D (H, W) array, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.copy()
    return arr > level


def invert(matte: np.ndarray) -> np.ndarray:
    """``1 - matte`` (float32); a bool mask is inverted as a bool mask."""
    arr = np.asarray(matte)
    if arr.dtype == np.bool_:
        if arr.ndim != 2:
            raise MatteError(f"mask must be 2-D (H, W), got shape {arr.shape}")
        return ~arr
    out = as_matte(arr)
    np.subtract(np.float32(1.0), out, out=out)
    return out
