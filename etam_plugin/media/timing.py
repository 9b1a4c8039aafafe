"""Frame timing from presentation timestamps: constant rate or not, and conforming.

A file is constant-frame-rate (CFR) when every frame sits on one grid ``t0 + k / rate``
with ``k`` = its index, within timestamp rounding (a millisecond clock cannot hold
1001/30000 s exactly). Anything else is variable (VFR): irregular phone timestamps, or a
CFR recording with frames missing. Such files are never silently renumbered: the caller
picks "conform" (resample to a constant rate) or "keep" (index every frame with its own
timestamp).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from etam_plugin.errors import MediaError

STANDARD_RATES: tuple[Fraction, ...] = tuple(
    Fraction(r)
    for r in (
        "24000/1001", "24", "25", "30000/1001", "30", "48000/1001", "48", "50",
        "60000/1001", "60", "100", "120000/1001", "120", "12", "15", "10", "8", "6",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Timing:
    """``rate``: the CFR rate, or a VFR file's nominal rate. ``detail`` says, for VFR,
    what does not fit (shown in the error that asks for a policy)."""

    rate: Fraction
    is_vfr: bool
    detail: str = ""


@dataclass(frozen=True)
class ConformReport:
    """What conforming a VFR file to a constant rate did."""

    rate: Fraction
    output_frames: int
    source_frames: int
    duplicated: int  # output frames that repeat the previous output's source frame
    dropped: int  # source frames that no output frame shows

    def __str__(self) -> str:
        return (
            f"{self.source_frames} source frames → {self.output_frames} frames at "
            f"{float(self.rate):.6g} fps ({self.duplicated} duplicated, {self.dropped} dropped)"
        )


def _snap(rate: Fraction, within: Fraction = Fraction(2, 1000)) -> Fraction:
    """A measured rate as the standard rate it is within ``within`` (relative) of, else a
    small fraction."""
    best = min(STANDARD_RATES, key=lambda std: abs(rate - std) / std)
    if abs(rate - best) <= best * within:
        return best
    return rate.limit_denominator(1001)


def _typical_step(steps: np.ndarray, k: int = 10) -> float:
    """The usual frame step in ticks: the median over runs of ``k`` ordinary steps, which
    averages away a clock that rounds each step (33, 34, 33 ms at 29.97) while ignoring
    gaps (a step far from the median single step breaks a run)."""
    if not len(steps):
        return 0.0
    median = float(np.median(steps))
    k = min(k, len(steps))
    odd = np.abs(steps - median) > 0.5 * median
    bad_before = np.concatenate([[0], np.cumsum(odd)])
    sums = np.concatenate([[0], np.cumsum(steps)])
    runs = np.flatnonzero(bad_before[k:] - bad_before[:-k] == 0)
    if not len(runs):
        return median
    return float(np.median(sums[runs + k] - sums[runs])) / k


def fits_grid(
    pts: np.ndarray, time_base: Fraction, rate: Fraction
) -> tuple[bool, np.ndarray, float]:
    """Do frames ``i`` sit at ``t0 + i / rate``? Returns (fits, slot of each frame,
    worst error in seconds). The tolerance is one clock tick or 2% of a frame, whichever is
    larger (timestamp rounding), but never more than a quarter frame."""
    t = (pts - pts[0]).astype(np.float64) * float(time_base)
    frame = 1.0 / float(rate)
    slots = np.rint(t / frame)
    err = float(np.max(np.abs(t - slots * frame))) if len(t) else 0.0
    tol = min(max(float(time_base) * 1.01, 0.02 * frame), 0.25 * frame)
    fits = err <= tol and bool(np.array_equal(slots, np.arange(len(t))))
    return fits, slots.astype(np.int64), err


def analyse(pts: np.ndarray, time_base: Fraction, hints: Iterable[Fraction | None] = ()) -> Timing:
    """Find the constant rate of sorted timestamps ``pts`` (stream ticks), or call it VFR.

    ``hints`` are the container's rate claims (r_frame_rate, avg_frame_rate, ...), tried
    first; the median frame step is tried after them.
    """
    candidates: list[Fraction] = []
    for hint in hints:
        if hint is not None and hint > 0 and hint not in candidates:
            candidates.append(Fraction(hint))
    steps = np.diff(pts)
    measured = None
    span = _typical_step(steps)
    if span > 0:
        exact = 1 / (Fraction(span).limit_denominator(1_000_000) * time_base)
        measured = _snap(exact)
        for r in (measured, exact):
            if r not in candidates:
                candidates.append(r)
    if len(pts) < 2:
        return Timing(candidates[0] if candidates else Fraction(25), False)
    for rate in candidates:
        fits, _, _ = fits_grid(pts, time_base, rate)
        if fits:
            return Timing(rate, False)
    # VFR: the nominal (conform) rate is the typical one, snapped to a standard rate
    # within 3% (a "30 fps" phone clip averaging 29.4 fps conforms to 30).
    nominal = _snap(measured, Fraction(3, 100)) if measured else candidates[0]
    t = (pts - pts[0]).astype(np.float64) * float(time_base)
    frame = 1.0 / float(nominal)
    slots = np.rint(t / frame)
    on_grid = np.max(np.abs(t - slots * frame)) <= max(float(time_base) * 1.01, 0.02 * frame)
    jumps = np.diff(slots)
    if on_grid and len(jumps) and jumps.min() >= 1:
        gaps = np.flatnonzero(jumps > 1)
        missing = int((jumps[gaps] - 1).sum())
        detail = (
            f"{missing} frame(s) missing from a {float(nominal):.6g} fps grid, the first "
            f"after frame {int(gaps[0])} (dropped while recording, or a damaged file)"
        )
    else:
        step_ms = steps.astype(np.float64) * float(time_base) * 1000
        detail = (
            f"frame durations range from {step_ms.min():.2f} to {step_ms.max():.2f} ms "
            f"(nominal {frame * 1000:.2f} ms)"
        )
    return Timing(nominal, True, detail)


def _nearest_slots(ticks: np.ndarray, slots_per_tick: Fraction) -> np.ndarray:
    """``floor(ticks · slots_per_tick + 1/2)`` exactly (round half up, as FFmpeg's
    AV_ROUND_NEAR_INF for positive times), in integers: floats put 29.5 at 29.49999."""
    p, q = slots_per_tick.numerator, slots_per_tick.denominator
    if int(ticks.max(initial=0)) * 2 * p < 2**62:
        return (ticks * (2 * p) + q) // (2 * q)
    return np.array([(int(t) * 2 * p + q) // (2 * q) for t in ticks], dtype=np.int64)


MAX_CONFORM_FRAMES = 24 * 3600 * 120
"""A conformed clip longer than a day at 120 fps means broken timestamps (its frame map
would not fit in memory): an error, not an allocation."""


def conform_map(
    pts: np.ndarray, end_pts: int, time_base: Fraction, rate: Fraction
) -> tuple[np.ndarray, ConformReport]:
    """Source frame index for each output frame of a constant-``rate`` version.

    Follows ffmpeg's ``fps`` filter (``round=near``): each source frame goes to the output
    slot nearest its timestamp, an output slot shows the latest source frame at or before
    it (duplicating across gaps; of two frames in one slot the later wins, the earlier is
    dropped). The output lasts ``round(duration · rate)`` frames, ``duration`` running
    from the first timestamp to ``end_pts`` (the end of the last frame); a source frame
    rounding to a slot past that end is dropped.
    """
    slots = _nearest_slots(pts - pts[0], time_base * rate)
    duration = Fraction(int(end_pts - pts[0])) * time_base
    n_out = max(1, math.floor(duration * rate + Fraction(1, 2)))
    if n_out > MAX_CONFORM_FRAMES:
        gaps = np.diff(np.append(pts, end_pts))
        at = int(np.argmax(gaps))
        raise MediaError(
            f"conforming to {float(rate):g} fps would make {n_out} frames of {len(pts)} "
            f"(the timestamps jump {float(int(gaps[at]) * time_base):.0f} s after frame {at}): "
            "the file's clock is broken; open it with vfr='keep' (--vfr keep)"
        )
    # latest source frame whose slot is <= k
    source = np.searchsorted(slots, np.arange(n_out), side="right") - 1
    source = np.maximum(source, 0)
    shown = np.unique(source)
    report = ConformReport(
        rate=rate,
        output_frames=n_out,
        source_frames=len(pts),
        duplicated=n_out - len(shown),
        dropped=len(pts) - len(shown),
    )
    return source, report
