"""Frame numbers, SMPTE timecodes and seconds, exactly: the project's one timecode module.

Seconds are ``Fraction``s (frame ``n`` at 30000/1001 fps starts at exactly ``n·1001/30000``
s). Timecodes work at any rate, as FFmpeg's ``av_timecode`` does (phones and webcams give
7.5, 12, 12.5, 15, 119.88 fps, which OpenTimelineIO's timecode functions refuse):

- a timecode second has ``nominal_fps(rate)`` frames, the rate rounded half up (24 for
  23.976, 30 for 29.97, 13 for 12.5, 8 for 7.5, 120 for 119.88);
- drop-frame labels (``;``, ``.`` or ``,`` before the frames: ``01:00:00;00``) exist at the
  NTSC rates whose nominal rate is a multiple of 30 (29.97, 59.94, 119.88): the first
  ``nominal/15`` labels of each minute are skipped, except every tenth minute;
- a label that cannot exist (frames beyond the rate, a skipped drop-frame label) is an
  error, never a wrong frame.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from etam_plugin.errors import MediaError

# One frame digit too: FFmpeg tags a 7.5 fps file "00:00:10:7" (fewer than 10 labels a second)
_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{1,3})$")
_DAY_SECONDS = 24 * 3600


def as_rate(rate: Fraction | int | float | str) -> Fraction:
    """An exact rate from a Fraction, an int, a string ("30000/1001", "25") or a float
    (29.97 → 30000/1001: floats and decimal strings such as "29.97" are snapped to the
    nearest NTSC or whole rate, as people type them)."""
    if isinstance(rate, str) and "." in rate:
        try:
            rate = float(rate)
        except ValueError:
            raise MediaError(f"{rate!r} is not a frame rate") from None
    if isinstance(rate, float):
        if not math.isfinite(rate):
            raise MediaError(f"frame rate must be a finite number, got {rate!r}")
        for ntsc in (24000, 30000, 48000, 60000, 120000):
            if abs(rate - ntsc / 1001) < 1e-3:
                return Fraction(ntsc, 1001)
        value = Fraction(rate).limit_denominator(1001)
    else:
        try:
            value = Fraction(rate)
        except (ValueError, ZeroDivisionError, TypeError):
            raise MediaError(f"{rate!r} is not a frame rate") from None
    if value <= 0:
        raise MediaError(f"frame rate must be positive, got {rate!r}")
    return value


def nominal_fps(rate: Fraction | int | float | str) -> int:
    """Frames per timecode second: the rate rounded half up (FFmpeg's rule)."""
    return max(1, math.floor(as_rate(rate) + Fraction(1, 2)))


def _drops(rate: Fraction, drop_frame: bool) -> int:
    """Labels skipped at the start of each minute (0 for non-drop)."""
    if not drop_frame:
        return 0
    fps = nominal_fps(rate)
    if fps % 30 != 0 or rate.denominator != 1001:
        raise MediaError(
            f"drop-frame timecode exists only at 29.97, 59.94 and 119.88 fps, not {float(rate):g}"
        )
    return fps // 15


def _parse(timecode: str) -> tuple[int, int, int, bool, int]:
    match = _TIMECODE.match(timecode.strip())
    if not match:
        raise MediaError(f"{timecode!r} is not a timecode (HH:MM:SS:FF or HH:MM:SS;FF)")
    hours, minutes, seconds, sep, frames = match.groups()
    return int(hours), int(minutes), int(seconds), sep != ":", int(frames)


def is_drop_frame(timecode: str) -> bool:
    """True for a drop-frame label (``;``, ``.`` or ``,`` before the frames)."""
    return _parse(timecode)[3]


def timecode_to_frame(timecode: str, rate: Fraction | int | float | str) -> int:
    """Frame number counted from 00:00:00:00 at ``rate`` (drop-frame when the label says)."""
    rate = as_rate(rate)
    hours, minutes, seconds, drop, frames = _parse(timecode)
    fps = nominal_fps(rate)
    if minutes > 59 or seconds > 59 or frames >= fps:
        raise MediaError(f"timecode {timecode!r} is out of range at {fps} frames per second")
    drops = _drops(rate, drop)
    if drops and seconds == 0 and minutes % 10 != 0 and frames < drops:
        raise MediaError(
            f"timecode {timecode!r} does not exist in drop-frame counting (frames "
            f"0..{drops - 1} are skipped at the start of each minute except every tenth)"
        )
    total_minutes = 60 * hours + minutes
    return (
        (total_minutes * 60 + seconds) * fps
        + frames
        - drops * (total_minutes - total_minutes // 10)
    )


def frame_to_timecode(
    frame: int, rate: Fraction | int | float | str, *, drop_frame: bool = False
) -> str:
    """The SMPTE label of frame number ``frame`` (wraps at 24 hours)."""
    rate = as_rate(rate)
    if frame < 0:
        raise MediaError(f"frame number must be >= 0, got {frame}")
    fps = nominal_fps(rate)
    drops = _drops(rate, drop_frame)
    per_day = fps * _DAY_SECONDS - drops * 9 * 6 * 24  # 9 dropping minutes in every ten
    frame = int(frame) % per_day
    if drops:  # back to a label count (FFmpeg's av_timecode_adjust_ntsc_framenum2)
        per_10min = fps * 600 - drops * 9
        per_min = fps * 60 - drops
        tens, rest = divmod(frame, per_10min)
        frame += 9 * drops * tens + (drops * ((rest - drops) // per_min) if rest >= drops else 0)
    ff = frame % fps
    ss = frame // fps % 60
    mm = frame // (fps * 60) % 60
    hh = frame // (fps * 3600) % 24
    return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if drops else ':'}{ff:02d}"


def offset_timecode(timecode: str, frames: int, rate: Fraction | int | float | str) -> str:
    """``timecode`` moved by ``frames`` (same drop-frame mode): the label of a later frame."""
    start = timecode_to_frame(timecode, rate)
    return frame_to_timecode(start + frames, rate, drop_frame=is_drop_frame(timecode))


def frame_to_seconds(frame: int, rate: Fraction | int | float | str) -> Fraction:
    """Start time of frame ``frame`` in seconds, exact."""
    return Fraction(int(frame)) / as_rate(rate)


def seconds_to_frame(seconds: Fraction | float | int, rate: Fraction | int | float | str) -> int:
    """The frame on screen at ``seconds``: floor(seconds · rate), forgiving float noise
    (1e-6 of a frame) so ``frame_to_seconds(n)`` given back as a float gives ``n``."""
    value = Fraction(seconds) * as_rate(rate)
    return math.floor(value + Fraction(1, 1_000_000))
