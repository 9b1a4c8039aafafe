"""What a timeline says about one clip, in exact frames (no float seconds anywhere)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from etam_plugin.errors import TimelineMediaError

# NTSC-style rates are stored by OTIO as floats (29.97002997...); map them back exactly.
_NTSC_BASES = (24, 30, 48, 60, 120, 240)


def exact_rate(rate: float | Fraction | int) -> Fraction:
    """The exact rational rate for an OTIO float rate: 29.97002997… → 30000/1001."""
    if isinstance(rate, Fraction):
        return rate
    r = float(rate)
    if r <= 0:
        raise ValueError(f"frame rate must be positive, got {rate}")
    if abs(r - round(r)) < 1e-6:
        return Fraction(round(r))
    for base in _NTSC_BASES:
        ntsc = Fraction(base * 1000, 1001)
        if abs(r - float(ntsc)) < 1e-3:  # 23.976, 23.98 and 23.976023… all mean 24000/1001
            return ntsc
    return Fraction(r).limit_denominator(10000)


@dataclass(frozen=True)
class TimelineClip:
    """One video clip of a timeline.

    ``source_start``/``duration`` are frames at ``rate`` in the media's own numbering as the
    timeline states it (often timecode-based: 01:00:00:00 at 24 fps is 86400);
    ``available_start``/``available_duration`` are the media's full extent in the same
    numbering when the format records it (EDL does not). ``record_start`` is frames from
    the start of the timeline at ``timeline_rate``. ``index`` is 1-based: tracks bottom-up,
    then time order, as ``etam-plugin timeline list`` prints it.
    """

    index: int
    name: str
    track: int
    track_name: str
    media_path: Path | None
    rate: Fraction
    source_start: int
    duration: int
    record_start: int
    timeline_rate: Fraction
    available_start: int | None = None
    available_duration: int | None = None
    timeline_path: Path | None = None
    enabled: bool = True  # False: the clip (or its track) is switched off in the edit

    @property
    def source_end(self) -> int:
        """First frame after the clip (exclusive), media numbering."""
        return self.source_start + self.duration

    @property
    def handles(self) -> tuple[int, int] | None:
        """Frames of media available before and after the used range, if known."""
        if self.available_start is None or self.available_duration is None:
            return None
        head = self.source_start - self.available_start
        tail = self.available_start + self.available_duration - self.source_end
        return head, tail

    @property
    def media_exists(self) -> bool:
        return self.media_path is not None and self.media_path.is_file()

    def require_media(self) -> Path:
        """The media path, or a :class:`TimelineMediaError` saying what is missing."""
        if self.media_path is None:
            raise TimelineMediaError(
                f"clip {self.index} ({self.name}) has no media reference in the timeline",
                path=self.timeline_path,
            )
        if not self.media_path.is_file():
            raise TimelineMediaError(
                f"clip {self.index} ({self.name}): media not found: {self.media_path}",
                path=self.timeline_path,
                media_path=self.media_path,
            )
        return self.media_path

    def file_frames(self, handles: int = 0, *, media_start: int | None = None) -> range:
        """0-based frame indices in the media file covering the clip plus up to
        ``handles`` frames each side (clamped to the media, when its extent is known).

        ``media_start`` is the media's first frame number in the timeline's numbering (its
        start timecode as a frame count); it is needed only when the timeline does not
        record the media's extent (EDL).
        """
        origin = self.available_start if self.available_start is not None else media_start
        if origin is None:
            raise TimelineMediaError(
                f"clip {self.index} ({self.name}): the timeline gives no media extent; "
                "the media's start timecode is needed to find its frames",
                path=self.timeline_path,
                media_path=self.media_path,
            )
        first = self.source_start - origin - handles
        stop = self.source_end - origin + handles
        first = max(first, 0)
        if self.available_duration is not None:
            stop = min(stop, self.available_duration)
        if first >= stop or self.source_start < origin:
            raise TimelineMediaError(
                f"clip {self.index} ({self.name}) uses frames before the start of its media",
                path=self.timeline_path,
                media_path=self.media_path,
            )
        return range(first, stop)


def clip_window(clip: TimelineClip, info, handles: int = 0) -> range:
    """0-based frames of a timeline clip's media file (``info``: its ``VideoInfo``) plus up
    to ``handles`` frames each side; an EDL (no media extent) counts from the file's own
    start timecode."""
    media_start = None
    if clip.available_start is None and info.start_timecode:
        from etam_plugin.media import timecode_to_frame

        media_start = timecode_to_frame(info.start_timecode, info.frame_rate)
    return clip.file_frames(handles, media_start=media_start)
