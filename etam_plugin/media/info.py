"""What we know about a source clip: what writers need to keep outputs frame-exact."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class VideoInfo:
    """Stream properties of a source, as read by the frame sources in this package.

    Field names are stable (writers and timelines read them):

    - ``path``: the file, or for an image sequence its printf pattern (``shot.%04d.png``).
    - ``width``/``height``: the *coded* picture size. Frames come out in display
      orientation by default, which is ``display_width``/``display_height`` (swapped when
      ``rotation`` is 90 or 270).
    - ``frame_count``: frames the source delivers (presentation order; for a VFR file
      opened with ``vfr="conform"``, the conformed count).
    - ``frame_rate``: exact, e.g. ``Fraction(30000, 1001)``; for a VFR file the nominal rate
      (the conform rate); a source opened with ``vfr="keep"`` has per-frame timestamps.
    - ``start_timecode``: SMPTE string ("01:00:00:00"; ";" before the frames for
      drop-frame) from the stream/container/tmcd tags, or None.
    - ``sample_aspect_ratio``: pixel aspect of the coded picture (1 = square pixels).
    - ``rotation``: degrees (0, 90, 180, 270) to turn the coded picture counter-clockwise
      for display, FFmpeg's display-matrix convention (what PyAV's ``VideoFrame.rotation``
      reports); ``numpy.rot90(coded, rotation // 90)`` is the display picture.
    - ``pix_fmt``, ``codec`` (FFmpeg names, as ffprobe prints ``pix_fmt``/``codec_name``),
      ``codec_profile`` (e.g. "HQ", "DNXHR HQX", "High"), ``bit_depth`` (bits per component).
    - ``color_range`` ("tv"/"pc"), ``color_space``, ``color_primaries``, ``color_trc``:
      FFmpeg's names as ffprobe prints them; None when the file does not say.
    - ``is_vfr``: the file's timestamps do not fit one constant rate.
      ``vfr_policy`` is how the source deals with that ("conform" or "keep"; None for CFR).
    - ``time_base`` and ``start_pts``: the stream's clock and the first frame's timestamp.
    - ``has_audio``: the file also has an audio stream.
    - ``container``: FFmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm",
      "image2" for image sequences).
    - ``start_number``: an image sequence's first frame number (None for files).
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
    # added with the media package (all with defaults, so older constructors still work)
    vfr_policy: str | None = None
    codec_profile: str | None = None
    bit_depth: int = 8
    has_audio: bool = False
    container: str | None = None
    start_number: int | None = None

    @property
    def duration_s(self) -> float:
        return float(self.frame_count / self.frame_rate) if self.frame_rate else 0.0

    @property
    def duration(self) -> Fraction:
        """Exact duration in seconds: ``frame_count / frame_rate``."""
        return Fraction(self.frame_count) / self.frame_rate if self.frame_rate else Fraction(0)

    @property
    def display_width(self) -> int:
        return self.height if self.rotation % 180 == 90 else self.width

    @property
    def display_height(self) -> int:
        return self.width if self.rotation % 180 == 90 else self.height

    @property
    def start_time(self) -> Fraction:
        """The first frame's timestamp in seconds on the stream's clock."""
        return self.start_pts * self.time_base if self.time_base else Fraction(0)
