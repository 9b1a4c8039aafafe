"""Just enough facts about a media file to place it on a timeline, read with PyAV."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from etam_plugin.errors import TimelineMediaError
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
    """Open ``path`` and read its first video stream's facts (decodes one frame for the
    rotation; counts packets when the container does not store a frame count)."""
    p = Path(path).expanduser().absolute()
    if not p.is_file():
        raise TimelineMediaError(f"media not found: {p}", media_path=p)
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise TimelineMediaError(f"no video stream in {p}", media_path=p)
            stream = container.streams.video[0]
            rate = stream.guessed_rate or stream.average_rate
            if not rate:
                raise TimelineMediaError(f"cannot tell the frame rate of {p}", media_path=p)
            tc = _timecode(stream.metadata) or _timecode(container.metadata)
            for other in container.streams:  # MOV keeps it on the tmcd stream
                tc = tc or _timecode(other.metadata)
            cc = stream.codec_context
            width, height = cc.width, cc.height
            sar = Fraction(cc.sample_aspect_ratio or 1) or Fraction(1)
            space = None
            rotation = 0
            for frame in container.decode(stream):
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                space = _space_name(frame.colorspace)
                break
            count = stream.frames
            if not count:
                container.seek(0)
                count = sum(1 for pkt in container.demux(stream) if pkt.size)
            has_audio = bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise TimelineMediaError(f"cannot read {p}: {exc}", media_path=p) from exc
    if rotation % 180 == 90:
        width, height, sar = height, width, 1 / sar
    return MediaFacts(
        path=p,
        width=width,
        height=height,
        frame_rate=Fraction(rate),
        frame_count=int(count),
        sample_aspect_ratio=sar,
        start_timecode=tc or None,
        has_audio=has_audio,
        color_space=space,
    )


def _timecode(metadata: dict[str, str]) -> str | None:
    """Matroska spells the tag TIMECODE, MOV timecode."""
    for key, value in metadata.items():
        if key.lower() == "timecode" and value:
            return value
    return None


def _space_name(value: object) -> str | None:
    names = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"}
    try:
        return names.get(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
