"""Temporal smoothing: mattes that do not flicker from frame to frame.

Live (the OBS bridge) can only look back: :class:`TemporalSmoother` keeps one frame of
state. Offline (export) can look both ways: :func:`smooth_sequence` averages a centred
window with a bounded look-ahead buffer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from etam_plugin.errors import MatteError
from etam_plugin.matte._arrays import as_matte, check_finite_number


class TemporalSmoother:
    """Causal per-pixel exponential moving average: ``out = s·previous_out + (1 - s)·matte``.

    ``strength`` s in [0, 1): 0 passes frames through, higher is steadier but lags motion
    (the mean lag is s / (1 - s) frames; s = r / (r + 1) behaves like a (2r + 1)-frame
    window). The first frame, and any frame after :meth:`reset` or a size change, passes
    through unchanged. Not thread-safe: one smoother per stream.
    """

    def __init__(self, strength: float = 0.5) -> None:
        strength = check_finite_number(strength, "strength")
        if not 0.0 <= strength < 1.0:
            raise MatteError(
                f"smoothing strength must be in [0, 1), got {strength}",
                key="strength",
                value=strength,
            )
        self.strength = strength
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the past (call on a cut, a seek or a new object)."""
        self._state = None

    def __call__(self, matte: np.ndarray) -> np.ndarray:
        """Smooth the next frame's matte; returns a new float32 (H, W) array."""
        m = as_matte(matte)
        if self._state is None or self._state.shape != m.shape or self.strength == 0.0:
            self._state = m
            return m.copy()
        s = np.float32(self.strength)
        out = self._state * s
        out += m * (np.float32(1.0) - s)
        self._state = out
        return out.copy()

    update = __call__


def smooth_sequence(mattes: Iterable[np.ndarray], radius: int) -> Iterator[np.ndarray]:
    """Average each matte with up to ``radius`` neighbours on each side (float32 out).

    Yields exactly one matte per input, in order; near the ends the window is cut short
    (never padded with made-up frames). A matte that does not change passes through
    bit-exact. Holds at most ``radius + 1`` future frames, so it streams long clips.
    """
    if isinstance(radius, bool) or int(radius) != radius or radius < 0:
        raise MatteError(f"smoothing radius must be a whole number >= 0, got {radius!r}")
    radius = int(radius)
    if radius == 0:
        for m in mattes:
            yield as_matte(m)
        return
    window: deque[np.ndarray] = deque()  # frames [centre - radius, centre + radius]
    total: np.ndarray | None = None  # float64 sum of the window: exact for repeated frames
    centre = 0  # index into the window of the next frame to yield
    for m in mattes:
        frame = as_matte(m)
        if total is None:
            total = frame.astype(np.float64)
        else:
            if frame.shape != total.shape:
                raise MatteError(
                    f"all mattes of a sequence must be the same size: got {frame.shape} "
                    f"after {total.shape}"
                )
            total += frame
        window.append(frame)
        if len(window) - 1 - centre < radius:
            continue  # not enough look-ahead yet
        yield (total / len(window)).astype(np.float32)
        centre += 1
        if centre > radius:
            total -= window.popleft()
            centre -= 1
    while total is not None and centre < len(window):
        yield (total / len(window)).astype(np.float32)
        centre += 1
        if centre > radius:
            total -= window.popleft()
            centre -= 1
