"""Frame numbers, SMPTE timecodes and seconds, exactly.

Seconds are ``Fraction``s (frame ``n`` at 30000/1001 fps starts at exactly ``n·1001/30000``
s). Timecode strings go through OpenTimelineIO's ``opentime``, which knows drop-frame
counting; this module adds the checks it leaves out (a drop-frame label that does not
exist, a frame field beyond the rate) so a bad timecode is an error, not a wrong frame.
Drop-frame timecodes use ``;`` before the frames (``01:00:00;00``) and exist only at
30000/1001 and 60000/1001 fps.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import opentimelineio.opentime as otime

from etam_plugin.errors import MediaError

DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")
_FRAMES_PER_DAY_SECONDS = 24 * 3600


def as_rate(rate: Fraction | int | float | str) -> Fraction:
    """An exact rate from a Fraction, an int, a string ("30000/1001") or a float
    (29.97 → 30000/1001: floats are snapped to the nearest NTSC or whole rate)."""
    if isinstance(rate, float):
        for ntsc in (24000, 30000, 48000, 60000, 120000):
            if abs(rate - ntsc / 1001) < 1e-3:
                return Fraction(ntsc, 1001)
        value = Fraction(rate).limit_denominator(1001)
    else:
        value = Fraction(rate)
    if value <= 0:
        raise MediaError(f"frame rate must be positive, got {rate!r}")
    return value


def nominal_fps(rate: Fraction | int | float | str) -> int:
    """Frames per timecode second: 30 for 30000/1001, 24 for 24000/1001, 25 for 25."""
    return round(as_rate(rate))


def is_drop_frame(timecode: str) -> bool:
    """True for a drop-frame label (``;``, ``.`` or ``,`` before the frames)."""
    match = _TIMECODE.match(timecode.strip())
    if not match:
        raise MediaError(f"{timecode!r} is not a timecode (HH:MM:SS:FF or HH:MM:SS;FF)")
    return match.group(4) != ":"


def timecode_to_frame(timecode: str, rate: Fraction | int | float | str) -> int:
    """Frame number counted from 00:00:00:00 at ``rate`` (drop-frame when the label says)."""
    rate = as_rate(rate)
    text = timecode.strip()
    match = _TIMECODE.match(text)
    if not match:
        raise MediaError(f"{timecode!r} is not a timecode (HH:MM:SS:FF or HH:MM:SS;FF)")
    hours, minutes, seconds, sep, frames = match.groups()
    fps = nominal_fps(rate)
    if int(minutes) > 59 or int(seconds) > 59 or int(frames) >= fps:
        raise MediaError(f"timecode {timecode!r} is out of range at {fps} frames per second")
    drop = sep != ":"
    if drop:
        if rate not in DROP_FRAME_RATES:
            raise MediaError(
                f"timecode {timecode!r} is drop-frame, which only exists at 29.97 and 59.94 "
                f"fps, not {float(rate):g}"
            )
        dropped = 2 * fps // 30
        if int(seconds) == 0 and int(minutes) % 10 != 0 and int(frames) < dropped:
            raise MediaError(
                f"timecode {timecode!r} does not exist in drop-frame counting "
                f"(frames 0..{dropped - 1} are skipped at the start of each minute "
                "except every tenth)"
            )
        return round(
            otime.from_timecode(f"{hours}:{minutes}:{seconds};{frames}", float(rate)).value
        )
    text = f"{hours}:{minutes}:{seconds}:{frames}"
    return round(otime.from_timecode(text, float(fps)).value)


def frame_to_timecode(
    frame: int, rate: Fraction | int | float | str, *, drop_frame: bool = False
) -> str:
    """The SMPTE label of frame number ``frame`` (wraps at 24 hours)."""
    rate = as_rate(rate)
    if frame < 0:
        raise MediaError(f"frame number must be >= 0, got {frame}")
    if drop_frame and rate not in DROP_FRAME_RATES:
        raise MediaError(f"drop-frame timecode exists only at 29.97 and 59.94 fps, not {rate}")
    per_day = nominal_fps(rate) * _FRAMES_PER_DAY_SECONDS
    if drop_frame:  # 18 (or 36) frames fewer per ten minutes
        per_day -= (nominal_fps(rate) // 30) * 18 * 6 * 24
    value = int(frame) % per_day
    # Non-drop labels count whole nominal frames, so use the nominal rate: opentime 0.18
    # wraps 29.97 NDF at the drop-frame day length (23:58:33:18 came out as 00:00:00:00).
    otio_rate = float(rate) if drop_frame else float(nominal_fps(rate))
    time = otime.RationalTime(value, otio_rate)
    return otime.to_timecode(time, otio_rate, drop_frame=drop_frame)


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
