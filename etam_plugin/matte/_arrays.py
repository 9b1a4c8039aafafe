"""Input checks shared by the matte ops: one place decides what a matte or a mask is."""

from __future__ import annotations

import numpy as np

from etam_plugin.errors import MatteError


def as_matte(values: np.ndarray, *, name: str = "matte") -> np.ndarray:
    """Return ``values`` as a float32 (H, W) matte in [0, 1] (bool masks become 0/1).

    Never returns the caller's array itself, so ops may write into the result.
    """
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise MatteError(f"{name} must be 2-D (H, W), got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise MatteError(f"{name} must be bool or numeric, got dtype {arr.dtype}")
    out = np.array(arr, dtype=np.float32, copy=True)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def as_mask(values: np.ndarray, *, level: float = 0.5, name: str = "mask") -> np.ndarray:
    """Return a bool (H, W) mask: bool input as is (copied), numeric input ``> level``."""
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise MatteError(f"{name} must be 2-D (H, W), got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr.copy()
    return arr > level


def check_finite_number(value: float, name: str) -> float:
    value = float(value)
    if not np.isfinite(value):
        raise MatteError(f"{name} must be a finite number, got {value!r}", key=name, value=value)
    return value
