"""SMPTE timecode ↔ frame number, drop-frame aware, for any frame rate.

Hand-written (30 lines) because OpenTimelineIO's timecode functions refuse rates outside
the SMPTE list (15, 12, 120 fps from phones and webcams) and PyAV does not expose
FFmpeg's ``av_timecode``; the drop-frame arithmetic follows FFmpeg's
``av_timecode_adjust_ntsc_framenum2``.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from etam_plugin.errors import MediaError

_TC = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def nominal_fps(rate: Fraction) -> int:
    """Frames per timecode second: 30 for 29.97, 24 for 23.976, 60 for 59.94."""
    return max(1, math.ceil(rate - Fraction(1, 1000)))


def _drops(rate: Fraction, drop_frame: bool) -> int:
    fps = nominal_fps(rate)
    if not drop_frame:
        return 0
    if fps % 30 != 0 or rate.denominator != 1001:
        raise MediaError(f"drop-frame timecode is only defined for 29.97/59.94 fps, not {rate}")
    return fps // 15


def is_drop_frame(tc: str) -> bool:
    """SMPTE convention: a ';' (or '.'/',') before the frames field marks drop-frame."""
    m = _TC.match(tc.strip())
    return bool(m) and m[4] != ":"


def timecode_to_frame(tc: str, rate: Fraction) -> int:
    """Frames since 00:00:00:00 for ``tc`` at ``rate``; ';' means drop-frame."""
    m = _TC.match(tc.strip())
    if not m:
        raise MediaError(f"not a SMPTE timecode: {tc!r}")
    h, mi, s, sep, f = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    fps = nominal_fps(Fraction(rate))
    drops = _drops(Fraction(rate), sep != ":")
    if mi > 59 or s > 59 or f >= fps:
        raise MediaError(f"timecode {tc!r} is out of range at {rate} fps")
    minutes = 60 * h + mi
    return ((minutes * 60) + s) * fps + f - drops * (minutes - minutes // 10)


def frame_to_timecode(frame: int, rate: Fraction, *, drop_frame: bool = False) -> str:
    """The SMPTE timecode of frame number ``frame`` (counted from 00:00:00:00)."""
    rate = Fraction(rate)
    fps = nominal_fps(rate)
    drops = _drops(rate, drop_frame)
    if frame < 0:
        raise MediaError(f"negative frame number {frame} has no timecode")
    if drops:
        per_10min = fps * 600 - drops * 9
        per_min = fps * 60 - drops
        d, m = divmod(frame, per_10min)
        frame += 9 * drops * d + (drops * ((m - drops) // per_min) if m >= drops else 0)
    f = frame % fps
    s = frame // fps % 60
    mi = frame // (fps * 60) % 60
    h = frame // (fps * 3600) % 24
    return f"{h:02d}:{mi:02d}:{s:02d}{';' if drops else ':'}{f:02d}"


def offset_timecode(tc: str, frames: int, rate: Fraction) -> str:
    """``tc`` moved by ``frames``, keeping its drop-frame kind."""
    return frame_to_timecode(
        timecode_to_frame(tc, rate) + frames, rate, drop_frame=is_drop_frame(tc)
    )
