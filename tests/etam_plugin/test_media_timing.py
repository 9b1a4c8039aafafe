"""Constant-rate detection and conforming, on hand-made timestamps."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from etam_plugin.media.timing import analyse, conform_map

MS = Fraction(1, 1000)


@pytest.mark.parametrize(
    ("rate", "time_base"),
    [
        (Fraction(24000, 1001), Fraction(1, 24000)),
        (Fraction(30000, 1001), Fraction(1, 30000)),
        (Fraction(25), Fraction(1, 12800)),
        (Fraction(50), Fraction(1, 90000)),
        (Fraction(30000, 1001), MS),  # Matroska's millisecond clock rounds every frame
        (Fraction(24000, 1001), MS),
    ],
)
def test_constant_rates_are_found_exactly(rate: Fraction, time_base: Fraction) -> None:
    pts = np.round(np.arange(300) / float(rate) / float(time_base)).astype(np.int64) + 7
    timing = analyse(pts, time_base)  # no hints: measured from the timestamps alone
    assert not timing.is_vfr
    assert timing.rate == rate


def test_hints_win_when_they_fit() -> None:
    pts = np.arange(50, dtype=np.int64) * 2
    timing = analyse(pts, Fraction(1, 60), [Fraction(30)])
    assert timing.rate == 30 and not timing.is_vfr


def test_missing_frames_make_it_vfr_and_are_described() -> None:
    pts = np.delete(np.arange(100, dtype=np.int64) * 1001, [40, 41, 42])
    timing = analyse(pts, Fraction(1, 30000), [Fraction(30000, 1001)])
    assert timing.is_vfr
    assert timing.rate == Fraction(30000, 1001)
    assert "3 frame(s) missing" in timing.detail and "after frame 39" in timing.detail


def test_irregular_phone_timestamps_are_vfr_with_a_standard_nominal_rate() -> None:
    rng = np.random.default_rng(5)
    steps = rng.integers(30, 38, 200)  # ms, around 30 fps
    pts = np.concatenate([[0], np.cumsum(steps)]).astype(np.int64)
    timing = analyse(pts, MS, [Fraction(90000)])
    assert timing.is_vfr
    assert timing.rate == Fraction(30000, 1001)
    assert "range from 30.00 to 37.00 ms" in timing.detail


def test_conform_follows_ffmpeg_fps_round_near() -> None:
    pts = np.array([0, 40, 80, 140, 160, 200, 260, 300, 340, 420], np.int64)
    source, report = conform_map(pts, 460, MS, Fraction(25))
    # slots: 0 1 2 4(140 → 3.5 rounds up) 4 5 7(6.5) 8(7.5) 9(8.5) 11(10.5)
    assert source.tolist() == [0, 1, 2, 2, 4, 5, 5, 6, 7, 8, 8, 9]
    assert (report.output_frames, report.duplicated, report.dropped) == (12, 3, 1)


def test_conform_of_a_constant_clip_is_the_identity() -> None:
    pts = np.arange(48, dtype=np.int64) * 1001
    source, report = conform_map(pts, 48 * 1001, Fraction(1, 24000), Fraction(24000, 1001))
    assert source.tolist() == list(range(48))
    assert report.duplicated == report.dropped == 0


def test_conform_to_a_lower_rate_drops_evenly() -> None:
    pts = np.arange(60, dtype=np.int64)  # 60 fps in 1/60 ticks
    source, report = conform_map(pts, 60, Fraction(1, 60), Fraction(30))
    assert len(source) == 30 and report.dropped == 30
    assert source.tolist() == [2 * k for k in range(30)]  # of each pair the later wins


def test_a_clock_jump_of_thirty_years_is_a_quick_error_not_an_allocation(tmp_path) -> None:
    """Five frames, the fourth 10^9 s after the third: conforming it used to allocate a
    frame map of 25 billion entries (1.96 TiB on a real file); now a one-line error, and
    vfr='keep' reads the five frames."""
    import resource

    import av

    from etam_plugin.errors import MediaError
    from etam_plugin.media import open_source

    path = tmp_path / "gap.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, pts in enumerate([0, 40, 80, 10**12, 10**12 + 40]):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), "rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(MediaError, match="clock is broken"):
        open_source(path, vfr="conform")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    with open_source(path, vfr="keep") as kept:
        assert len(kept) == 5
