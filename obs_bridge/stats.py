"""Per-stage timings: each stage records its own work time and rate, bounded in memory.

Windows are fixed-size deques so a stream that runs for hours keeps constant memory; the
totals (``count``) keep counting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class StageSnapshot:
    """One stage's numbers at one moment; times in milliseconds."""

    name: str
    count: int
    fps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    dropped: int = 0
    errors: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class StageStats:
    """Rolling latency percentiles and rate of one stage (thread-safe).

    ``record(ms)`` once per item handled; fps is measured over the last ``window`` items'
    timestamps, so it reflects the current rate rather than the lifetime average.
    """

    def __init__(self, name: str, window: int = 1024) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._ms: deque[float] = deque(maxlen=window)
        self._stamps: deque[float] = deque(maxlen=window)
        self.count = 0
        self.errors = 0

    def record(self, ms: float, now: float | None = None) -> None:
        with self._lock:
            self._ms.append(float(ms))
            self._stamps.append(time.monotonic() if now is None else now)
            self.count += 1

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    def fps(self, now: float | None = None) -> float:
        """Items per second over the recent window; 0 once the stage has been idle for over
        2 s or three of its own recent intervals, whichever is longer (a tracker taking 2 s
        per frame is slow, not stopped)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            stamps = list(self._stamps)
        if len(stamps) < 2:
            return 0.0
        span = stamps[-1] - stamps[0]
        if span <= 0:
            return 0.0
        rate = (len(stamps) - 1) / span
        if now - stamps[-1] > max(2.0, 3.0 / rate):
            return 0.0
        return rate

    def snapshot(self, dropped: int = 0) -> StageSnapshot:
        with self._lock:
            values = np.asarray(self._ms, dtype=np.float64)
            count, errors = self.count, self.errors
        if values.size:
            p50, p90, p99 = (float(v) for v in np.percentile(values, PERCENTILES))
            top = float(values.max())
        else:
            p50 = p90 = p99 = top = 0.0
        return StageSnapshot(
            name=self.name,
            count=count,
            fps=round(self.fps(), 2),
            p50_ms=round(p50, 3),
            p90_ms=round(p90, 3),
            p99_ms=round(p99, 3),
            max_ms=round(top, 3),
            dropped=dropped,
            errors=errors,
        )


class CounterRate:
    """The recent rate of a counter another party keeps (the stream process's frames sent
    to OBS), from readings taken whenever the numbers are asked for: over the last
    ``span_s`` seconds, so it follows the current rate, not the lifetime average."""

    def __init__(self, span_s: float = 5.0) -> None:
        self.span_s = span_s
        self._lock = threading.Lock()
        self._readings: deque[tuple[float, int]] = deque()

    def update(self, count: int, now: float | None = None) -> float | None:
        """Record ``count`` now; the rate since the oldest reading kept (None until two
        readings at least 0.5 s apart)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            readings = self._readings
            readings.append((now, count))
            while len(readings) > 2 and now - readings[1][0] >= self.span_s:
                readings.popleft()  # keep one reading at least span_s old
            t0, c0 = readings[0]
        if now - t0 < 0.5:
            return None
        return max(count - c0, 0) / (now - t0)


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.ms``: a stage's work time, monotonic clock."""

    __slots__ = ("_t0", "ms")

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.ms = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.ms = (time.perf_counter() - self._t0) * 1000.0
