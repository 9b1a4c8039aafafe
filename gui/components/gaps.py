"""Statistics of timer-tick gaps: how long the GUI event loop went without serving.

A timer that should tick every few milliseconds ticks late exactly when the GUI thread is
busy (or starved of the GIL); the longest gap is the worst freeze a user would feel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GapReport:
    ticks: int
    interval_ms: float
    max_gap_ms: float
    p99_gap_ms: float
    p50_gap_ms: float
    over_50ms: int
    duration_s: float
    max_gap_at_s: float  # when the longest gap ended, from the first tick

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


class GapRecorder:
    """Feed it ``tick(t_seconds)`` on every timer tick; ``report()`` summarises the gaps."""

    def __init__(self, interval_ms: float) -> None:
        self.interval_ms = interval_ms
        self._times: list[float] = []

    def tick(self, t: float) -> None:
        self._times.append(t)

    def reset(self) -> None:
        self._times.clear()

    def report(self) -> GapReport:
        t = np.asarray(self._times, dtype=np.float64)
        gaps = np.diff(t) * 1000.0 if t.size > 1 else np.zeros(1)
        return GapReport(
            ticks=int(t.size),
            interval_ms=self.interval_ms,
            max_gap_ms=float(gaps.max()),
            p99_gap_ms=float(np.percentile(gaps, 99)),
            p50_gap_ms=float(np.percentile(gaps, 50)),
            over_50ms=int((gaps > 50.0).sum()),
            duration_s=float(t[-1] - t[0]) if t.size > 1 else 0.0,
            max_gap_at_s=float(t[int(np.argmax(gaps)) + 1] - t[0]) if t.size > 1 else 0.0,
        )
