"""Just enough facts about a media file to place it on a timeline (display size, rate,
frame count, start timecode), from the media package's probe."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from etam_plugin.errors import MediaError, TimelineMediaError
from etam_plugin.media.timecode import timecode_to_frame


@dataclass(frozen=True)
class MediaFacts:
    """Display size (rotation applied), exact rate, frame count, start timecode."""

    path: Path
    width: int
    height: int
    frame_rate: Fraction
    frame_count: int
    sample_aspect_ratio: Fraction
    start_timecode: str | None
    has_audio: bool
    color_space: str | None

    @property
    def start_frame(self) -> int:
        """The start timecode as a frame number (0 without a timecode)."""
        if not self.start_timecode:
            return 0
        return timecode_to_frame(self.start_timecode, self.frame_rate)


def probe_media(path: str | Path) -> MediaFacts:
    """The facts of ``path``'s first video stream, read by the media package's probe (one
    reader of files for the whole program); its errors as :class:`TimelineMediaError`."""
    from etam_plugin.media import probe

    p = Path(path).expanduser().absolute()
    if not p.is_file():
        raise TimelineMediaError(f"media not found: {p}", media_path=p)
    try:
        info = probe(p, allow_truncated=True)  # a timeline places what is there
    except MediaError as exc:
        raise TimelineMediaError(f"cannot read {p}: {exc}", media_path=p) from exc
    sar = Fraction(info.sample_aspect_ratio or 1)
    return MediaFacts(
        path=p,
        width=info.display_width,
        height=info.display_height,
        frame_rate=Fraction(info.frame_rate),
        frame_count=int(info.frame_count),
        sample_aspect_ratio=1 / sar if info.rotation % 180 == 90 else sar,
        start_timecode=info.start_timecode or None,
        has_audio=info.has_audio,
        color_space=info.color_space,
    )
