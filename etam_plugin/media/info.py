"""What we know about a source clip: what writers need to keep outputs frame-exact."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class VideoInfo:
    """Stream properties of a source, as read by the frame sources in this package.

    ``frame_rate`` is exact (e.g. ``Fraction(30000, 1001)``); ``start_timecode`` is an
    SMPTE string ("01:00:00:00", ";" for drop-frame) or None; ``sample_aspect_ratio`` is
    the pixel aspect (1 for square pixels); ``rotation`` is the display rotation in
    degrees from metadata (0, 90, 180, 270); ``width``/``height`` are the coded size.
    """

    path: Path
    width: int
    height: int
    frame_count: int
    frame_rate: Fraction
    start_timecode: str | None = None
    sample_aspect_ratio: Fraction = Fraction(1, 1)
    rotation: int = 0
    pix_fmt: str | None = None
    codec: str | None = None
    color_range: str | None = None
    color_space: str | None = None
    color_primaries: str | None = None
    color_trc: str | None = None
    is_vfr: bool = False
    time_base: Fraction | None = None
    start_pts: int = 0

    @property
    def duration_s(self) -> float:
        return float(self.frame_count / self.frame_rate) if self.frame_rate else 0.0
