"""Real tools: clips made by the ffmpeg CLI in every camera/edit codec, read frame-exactly,
and our probe checked against ffprobe."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from etam_plugin.media import open_source, probe, timecode_to_frame
from etam_plugin.media.video import VideoFileSource

from .media_clips import ffmpeg_frames, ffprobe, rational, read_index, write_ffmpeg

pytestmark = pytest.mark.realtool

H264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "2"]
CODECS = {
    # name: (ffmpeg args, container, rate)
    "h264": (H264, "mp4", "24000/1001"),
    "h265": (
        ["-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params",
         "keyint=12:min-keyint=12:bframes=2:log-level=error"],
        "mov", "30000/1001",
    ),
    "prores": (["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"], "mov", "25"),
    "dnxhr": (["-c:v", "dnxhd", "-profile:v", "dnxhr_hq", "-pix_fmt", "yuv422p"], "mxf", "50"),
    "vp9": (
        ["-c:v", "libvpx-vp9", "-g", "12", "-deadline", "realtime", "-cpu-used", "8",
         "-b:v", "600k", "-pix_fmt", "yuv420p"],
        "webm", "30",
    ),
    "mjpeg": (["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj422p"], "avi", "24"),
}  # fmt: skip
COUNT = 36
FFPROBE_CODEC = {"h264": "h264", "h265": "hevc", "prores": "prores", "dnxhr": "dnxhd"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("codecs")
    return {
        name: write_ffmpeg(folder / f"{name}.{ext}", COUNT, rate=rate, args=args)
        for name, (args, ext, rate) in CODECS.items()
    }


@pytest.mark.parametrize("codec", list(CODECS))
def test_probe_agrees_with_ffprobe(made: dict[str, Path], codec: str) -> None:
    path = made[codec]
    theirs = ffprobe(path, count_frames=True)["stream"]
    info = probe(path)
    assert info.codec == theirs["codec_name"] == FFPROBE_CODEC.get(codec, codec)
    assert (info.width, info.height) == (theirs["width"], theirs["height"]) == (256, 144)
    assert info.pix_fmt == theirs["pix_fmt"]
    assert info.frame_rate == rational(theirs["r_frame_rate"]) == Fraction(CODECS[codec][2])
    assert info.frame_count == int(theirs["nb_read_frames"]) == COUNT
    assert info.codec_profile == theirs.get("profile")
    assert info.color_range == theirs.get("color_range")
    assert info.color_space == theirs.get("color_space")
    assert info.time_base == rational(theirs["time_base"])
    assert not info.is_vfr


@pytest.mark.parametrize("codec", list(CODECS))
def test_random_access_is_frame_exact_in_every_codec(made: dict[str, Path], codec: str) -> None:
    sequential = list(VideoFileSource(made[codec]))
    assert [read_index(f) for f in sequential] == list(range(COUNT))
    src = VideoFileSource(made[codec], cache_frames=2)
    for i in np.random.default_rng(3).permutation(COUNT):
        frame = src[int(i)]
        assert read_index(frame) == i, f"{codec}: asked for {i}"
        np.testing.assert_array_equal(frame, sequential[i])


@pytest.mark.parametrize("codec", ["h264", "prores", "mjpeg"])
def test_pixels_match_ffmpegs_own_decode(made: dict[str, Path], codec: str) -> None:
    ours = np.stack(list(VideoFileSource(made[codec]))).astype(np.int16)
    theirs = ffmpeg_frames(made[codec]).astype(np.int16)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).mean() < 1.5  # same matrix and range; rounding may differ


@pytest.mark.parametrize(
    ("codec", "args", "ext"),
    [
        ("h264", ["-c:v", "libx264", "-pix_fmt", "yuv444p", "-g", "12"], "mp4"),
        ("prores", ["-c:v", "prores_ks", "-pix_fmt", "yuv422p10le"], "mov"),
        ("dnxhr", ["-c:v", "dnxhd", "-profile:v", "dnxhr_hq", "-pix_fmt", "yuv422p"], "mov"),
        ("mjpeg", ["-c:v", "mjpeg", "-pix_fmt", "yuvj444p"], "avi"),
    ],
)
def test_odd_sizes(tmp_path: Path, codec: str, args: list[str], ext: str) -> None:
    path = write_ffmpeg(tmp_path / f"odd.{ext}", 8, size=(641, 359), args=args)
    theirs = ffprobe(path)["stream"]
    src = open_source(path)
    assert (src.info.width, src.info.height) == (theirs["width"], theirs["height"]) == (641, 359)
    assert src.frame_size == (359, 641)
    assert [read_index(src[i]) for i in (7, 0, 4)] == [7, 0, 4]


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_flag_matches_ffmpegs_autorotation(tmp_path: Path, degrees: int) -> None:
    plain = write_ffmpeg(tmp_path / "plain.mp4", 6, size=(160, 96), args=H264)
    rotated = tmp_path / f"rot{degrees}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(plain), "-c", "copy",
         "-metadata:s:v", f"rotate={degrees}", str(rotated)],
        check=True,
    )  # fmt: skip
    src = open_source(rotated)
    turned = (src.info.display_width, src.info.display_height)
    shown = ffmpeg_frames(rotated, size=turned)  # ffmpeg applies the flag by default
    assert len(shown) == len(src) == 6
    for i in range(6):
        ours = src[i].astype(np.int16)
        assert ours.shape == shown[i].shape
        assert np.abs(ours - shown[i]).mean() < 1.5
    coded = VideoFileSource(rotated, orientation="coded")
    assert coded.frame_size == (96, 160)
    assert read_index(coded[4]) == 4


@pytest.mark.parametrize(
    ("rate", "label", "ext"),
    [
        ("25", "01:00:00:00", "mov"),
        ("30000/1001", "01:00:00;00", "mov"),
        ("24", "10:11:12:13", "mp4"),
    ],
)
def test_start_timecode_is_read(tmp_path: Path, rate: str, label: str, ext: str) -> None:
    path = write_ffmpeg(
        tmp_path / f"tc.{ext}", 4, rate=rate, args=H264, before_output=["-timecode", label]
    )
    theirs = ffprobe(path)["stream"].get("tags", {}).get("timecode")
    info = probe(path)
    assert info.start_timecode == theirs == label
    assert timecode_to_frame(info.start_timecode, info.frame_rate) == timecode_to_frame(
        label, Fraction(rate)
    )


def test_sample_aspect_and_colour_tags(tmp_path: Path) -> None:
    path = write_ffmpeg(
        tmp_path / "tags.mp4", 4,
        args=[*H264, "-vf", "setsar=4/3", "-color_primaries", "bt709", "-color_trc", "bt709",
              "-colorspace", "bt709", "-color_range", "tv"],
    )  # fmt: skip
    theirs = ffprobe(path)["stream"]
    info = probe(path)
    assert info.sample_aspect_ratio == rational(theirs["sample_aspect_ratio"].replace(":", "/"))
    assert info.sample_aspect_ratio == Fraction(4, 3)
    assert (info.color_space, info.color_primaries, info.color_trc, info.color_range) == (
        theirs["color_space"], theirs["color_primaries"], theirs["color_transfer"],
        theirs["color_range"],
    )  # fmt: skip


def test_a_late_start_time_does_not_shift_frame_numbers(tmp_path: Path) -> None:
    path = write_ffmpeg(
        tmp_path / "late.mkv", 10, args=H264, before_output=["-output_ts_offset", "3.5"]
    )
    theirs = ffprobe(path)
    info = probe(path)
    assert float(info.start_time) == pytest.approx(float(theirs["stream"]["start_time"]))
    assert float(info.start_time) == pytest.approx(3.5)
    src = open_source(path)
    assert src.timestamp(0) == 0 and read_index(src[0]) == 0 and read_index(src[9]) == 9


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CFR recording with frames 5, 6 and 20 dropped, timestamps kept (as a capture
    tool that skipped frames writes it)."""
    folder = tmp_path_factory.mktemp("vfr")
    cfr = write_ffmpeg(folder / "cfr.mkv", 40, size=(128, 96), args=H264)
    vfr = folder / "vfr.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(cfr),
         "-vf", "select='not(eq(n\\,5)+eq(n\\,6)+eq(n\\,20))'", "-fps_mode", "vfr", *H264,
         str(vfr)],
        check=True,
    )  # fmt: skip
    return vfr


def test_vfr_keep_timestamps_match_ffprobe(vfr_clip: Path) -> None:
    info = probe(vfr_clip)
    assert info.is_vfr and info.frame_rate == 25
    src = open_source(vfr_clip, vfr="keep")
    kept = [i for i in range(40) if i not in (5, 6, 20)]
    assert [read_index(f) for f in src] == kept
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
         "-of", "csv=p=0", str(vfr_clip)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    theirs = [float(t.strip(",")) for t in out.split()]
    start = theirs[0]
    assert [float(src.timestamp(i)) for i in range(len(src))] == pytest.approx(
        [t - start for t in theirs]
    )


@pytest.mark.parametrize("rate", ["25", "24", "30000/1001"])
def test_vfr_conform_matches_ffmpegs_fps_filter(vfr_clip: Path, rate: str) -> None:
    src = open_source(vfr_clip, vfr="conform", conform_rate=rate)
    ours = [read_index(f) for f in src]
    theirs = [read_index(f) for f in ffmpeg_frames(vfr_clip, "-vf", f"fps={rate}")]
    assert ours == theirs
    report = src.conform_report
    assert report is not None and report.output_frames == len(theirs)


def test_undecodable_codec_from_a_real_file(tmp_path: Path) -> None:
    from etam_plugin.errors import UndecodableMediaError

    clean = write_ffmpeg(tmp_path / "mj.avi", 3, args=["-c:v", "mjpeg"])
    data = clean.read_bytes()
    (tmp_path / "odd.avi").write_bytes(data[:4096].replace(b"MJPG", b"QQQQ") + data[4096:])
    theirs = ffprobe(tmp_path / "odd.avi")["stream"]
    assert theirs["codec_tag_string"] == "QQQQ"
    assert theirs.get("codec_name", "unknown") == "unknown"  # ffprobe cannot name it either
    with pytest.raises(UndecodableMediaError):
        probe(tmp_path / "odd.avi")
