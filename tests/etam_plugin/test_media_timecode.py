"""Frame ↔ timecode ↔ seconds, exact, with drop-frame."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio.opentime as otime
import pytest

from etam_plugin.errors import MediaError
from etam_plugin.media.timecode import (
    as_rate,
    frame_to_seconds,
    frame_to_timecode,
    is_drop_frame,
    offset_timecode,
    seconds_to_frame,
    timecode_to_frame,
)

NTSC = Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("frame", "label"),
    [
        (0, "00:00:00;00"),
        (1799, "00:00:59;29"),
        (1800, "00:01:00;02"),  # ;00 and ;01 do not exist in minute 1
        (17981, "00:09:59;29"),
        (17982, "00:10:00;00"),  # every tenth minute keeps them
        (107892, "01:00:00;00"),
        (2589407, "23:59:59;29"),
    ],
)
def test_drop_frame_labels_at_2997(frame: int, label: str) -> None:
    assert frame_to_timecode(frame, NTSC, drop_frame=True) == label
    assert timecode_to_frame(label, NTSC) == frame


def test_drop_frame_at_5994_skips_four_labels() -> None:
    rate = Fraction(60000, 1001)
    assert frame_to_timecode(3600, rate, drop_frame=True) == "00:01:00;04"
    assert timecode_to_frame("00:01:00;04", rate) == 3600
    with pytest.raises(MediaError, match="does not exist"):
        timecode_to_frame("00:01:00;03", rate)


@pytest.mark.parametrize(
    ("rate", "frame", "label"),
    [
        (Fraction(24), 86399, "00:59:59:23"),
        (Fraction(24000, 1001), 86400, "01:00:00:00"),  # non-drop counts 24 per label second
        (Fraction(25), 90000, "01:00:00:00"),
        (Fraction(50), 3599, "00:01:11:49"),
        (NTSC, 107892, "00:59:56:12"),  # 29.97 non-drop drifts from the clock
        (NTSC, 2591999, "23:59:59:29"),  # opentime alone wraps this too early
    ],
)
def test_non_drop_labels(rate: Fraction, frame: int, label: str) -> None:
    assert frame_to_timecode(frame, rate) == label
    assert timecode_to_frame(label, rate) == frame


def test_round_trip_agrees_with_opentime_where_it_is_right() -> None:
    for rate in (Fraction(24), Fraction(25), NTSC):
        for frame in range(0, 200_000, 997):
            label = frame_to_timecode(frame, rate, drop_frame=rate == NTSC)
            assert timecode_to_frame(label, rate) == frame
            theirs = otime.to_timecode(otime.RationalTime(frame, float(rate)), float(rate))
            assert label == theirs


def test_bad_timecodes_are_errors_not_wrong_frames() -> None:
    with pytest.raises(MediaError, match="not a timecode"):
        timecode_to_frame("1:2:3", 25)
    with pytest.raises(MediaError, match="out of range"):
        timecode_to_frame("00:00:00:25", 25)
    with pytest.raises(MediaError, match=r"only at 29\.97"):
        timecode_to_frame("00:00:10;00", 25)
    with pytest.raises(MediaError, match="does not exist"):
        timecode_to_frame("00:01:00;01", NTSC)
    with pytest.raises(MediaError, match=r"only at 29\.97"):
        frame_to_timecode(10, 25, drop_frame=True)


def test_offset_keeps_the_mode() -> None:
    assert offset_timecode("01:00:00;00", 1800, NTSC) == "01:01:00;02"
    assert offset_timecode("00:59:59:24", 1, 25) == "01:00:00:00"
    assert is_drop_frame("01:00:00;00") and not is_drop_frame("01:00:00:00")


def test_seconds_are_exact_rationals() -> None:
    assert frame_to_seconds(1001, NTSC) == Fraction(1001 * 1001, 30000)
    assert frame_to_seconds(3, 24) == Fraction(1, 8)
    assert seconds_to_frame(Fraction(1001, 30000) * 7, NTSC) == 7
    assert seconds_to_frame(float(frame_to_seconds(12345, NTSC)), NTSC) == 12345
    assert seconds_to_frame(0.0999999999, 30) == 3  # float noise below a frame is forgiven
    assert seconds_to_frame(0.099, 30) == 2


def test_rates_from_floats_snap_to_ntsc() -> None:
    assert as_rate(29.97) == NTSC
    assert as_rate(23.976) == Fraction(24000, 1001)
    assert as_rate("30000/1001") == NTSC
    with pytest.raises(MediaError, match="positive"):
        as_rate(0)


@pytest.mark.parametrize(
    ("rate", "nominal", "label", "frame"),
    [
        (Fraction(15, 2), 8, "00:00:01:07", 15),  # 7.5 fps: 8 labels a second (FFmpeg)
        (Fraction(12), 12, "00:01:00:11", 731),
        (Fraction(25, 2), 13, "00:00:10:12", 142),  # 12.5 fps: 13 labels a second
        (Fraction(15), 15, "01:00:00:14", 54014),
        (Fraction(120000, 1001), 120, "00:00:01:119", 239),
        (Fraction(120), 120, "00:00:00:119", 119),
    ],
)
def test_phone_and_webcam_rates(rate: Fraction, nominal: int, label: str, frame: int) -> None:
    """Rates OpenTimelineIO's timecode functions refuse; the reader and the writer are one
    module, so a label read back is the label written."""
    assert timecode_to_frame(label, rate) == frame
    assert frame_to_timecode(frame, rate) == label
    for n in range(0, 100_000, 613):
        assert timecode_to_frame(frame_to_timecode(n, rate), rate) == n
    with pytest.raises(MediaError, match="out of range"):
        timecode_to_frame(f"00:00:00:{nominal:02d}", rate)


def test_drop_frame_at_11988_skips_eight_labels() -> None:
    rate = Fraction(120000, 1001)
    assert frame_to_timecode(7200, rate, drop_frame=True) == "00:01:00;08"
    assert timecode_to_frame("00:01:00;08", rate) == 7200
    with pytest.raises(MediaError, match="does not exist"):
        timecode_to_frame("00:01:00;07", rate)
    for n in range(0, 10_000_000, 7919):
        label = frame_to_timecode(n, rate, drop_frame=True)
        assert timecode_to_frame(label, rate) == n
