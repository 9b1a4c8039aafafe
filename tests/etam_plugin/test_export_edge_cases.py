"""Generated clips that break naive writers: odd sizes, a drop-frame start timecode that
crosses a dropped label, variable frame rate and a rotation flag."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from etam_plugin.export import export_mattes
from tests.etam_plugin.export_helpers import (
    disc_matte,
    ffmpeg_raw,
    ffprobe,
    load_clip,
    make_rotated_clip,
    make_vfr_clip,
    need,
    run,
    timecode_of,
)

pytestmark = pytest.mark.realtool


@pytest.fixture(scope="module")
def odd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """321×181 (odd both ways) at 29.97 with drop-frame timecode 00:00:59;28, PNG in MOV
    (lossless, keeps the odd size)."""
    out = tmp_path_factory.mktemp("odd") / "odd.mov"
    run([need("ffmpeg"), "-v", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=322x182:rate=30000/1001", "-vf", "format=rgb24,crop=321:181:0:0",
         "-frames:v", "8", "-c:v", "png", "-timecode", "00:00:59;28", str(out)])  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("fmt", "name", "pix_fmt"),
    [
        ("prores4444", "o.mov", "yuva444p10le"),
        ("luma", "l.mov", None),
        ("luma-ffv1", "l.mkv", "gray16le"),
        ("webm", "o.webm", None),
    ],
)
def test_odd_size_and_drop_frame_timecode(
    odd_clip: Path, fmt: str, name: str, pix_fmt: str | None, tmp_path: Path
) -> None:
    clip = load_clip(odd_clip)
    assert (clip.info.width, clip.info.height) == (321, 181)
    out = export_mattes(
        clip.frame, clip.info, lambda i: disc_matte(i, 181, 321), fmt, tmp_path / name,
        frame_range=(2, 8),
    )  # fmt: skip
    probe = ffprobe(out)
    assert (probe["width"], probe["height"]) == (321, 181)
    assert probe["r_frame_rate"] == "30000/1001"
    assert int(probe["nb_read_frames"]) == 6
    # 00:00:59;28 + 2 frames: 00:01:00;00 and ;01 do not exist in drop-frame counting
    assert timecode_of(probe) == "00:01:00;02"
    if pix_fmt == "yuva444p10le":
        alpha = ffmpeg_raw(out, pix_fmt, 321, 181)[:, 3].astype(int)
        want = np.stack([np.rint(disc_matte(i, 181, 321) * 1023) for i in range(2, 8)])
        assert np.abs(alpha - want).max() <= 1
    elif pix_fmt == "gray16le":
        grey = ffmpeg_raw(out, pix_fmt, 321, 181)[:, 0]
        want = np.stack([np.rint(disc_matte(i, 181, 321) * 65535) for i in range(2, 8)])
        assert np.array_equal(grey, want.astype(np.uint16))


def test_variable_frame_rate_source_keeps_every_frame_once(tmp_path: Path) -> None:
    """A VFR source becomes a constant-rate output with exactly one output frame per source
    frame, in order: frame k of the output carries frame k's matte and colour."""
    clip = load_clip(make_vfr_clip(tmp_path / "vfr.mkv"))
    assert clip.info.frame_count == 16
    h, w = clip.frames[0].shape[:2]
    out = export_mattes(
        clip.frame, clip.info, lambda i: disc_matte(i, h, w), "prores4444", tmp_path / "v.mov"
    )
    probe = ffprobe(out)
    assert int(probe["nb_read_frames"]) == 16
    assert probe["r_frame_rate"] == probe["avg_frame_rate"] == "30/1"
    planes = ffmpeg_raw(out, "yuva444p10le", w, h)
    rgb = ffmpeg_raw(out, "rgb24", w, h)
    for k in range(16):
        assert np.abs(planes[k, 3].astype(int) - np.rint(disc_matte(k, h, w) * 1023)).max() <= 1
        assert abs(int(rgb[k, 0].mean()) - (10 + 14 * k)) <= 2  # the grey level of frame k


def test_rotation_flag_output_is_upright(tmp_path: Path) -> None:
    """A phone clip coded 160×96 with a 90° display matrix: frames arrive upright (96×160),
    the matte is drawn upright, and the output is written upright with no rotation flag,
    so it lines up with the clip as every NLE displays it."""
    clip = load_clip(make_rotated_clip(tmp_path / "rot.mp4"))
    assert (clip.info.width, clip.info.height, clip.info.rotation) == (160, 96, 90)
    h, w = clip.frames[0].shape[:2]
    assert (w, h) == (96, 160)
    out = export_mattes(
        clip.frame, clip.info, lambda i: disc_matte(i, h, w), "prores4444", tmp_path / "r.mov"
    )
    probe = ffprobe(out)
    assert (probe["width"], probe["height"]) == (96, 160)
    assert not any("rotation" in sd for sd in probe.get("side_data_list", []))
    alpha = ffmpeg_raw(out, "yuva444p10le", 96, 160)[:, 3].astype(int)
    assert np.abs(alpha[0] - np.rint(disc_matte(0, 160, 96) * 1023)).max() <= 1
    png = export_mattes(clip.frame, clip.info, lambda i: disc_matte(i, h, w), "png",
                        tmp_path / "rp")  # fmt: skip
    img = cv2.imread(str(png / "rp.000000.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (160, 96, 4)
    assert np.array_equal(img[..., 2::-1], clip.frames[0])


def test_non_square_pixels_survive_rotation(tmp_path: Path) -> None:
    """Rotating a 4:3-pixel picture by 90° makes its pixels 3:4."""
    from etam_plugin.export import OutputSpec
    from etam_plugin.media.info import VideoInfo

    info = VideoInfo(
        path=tmp_path / "x.mov",
        width=160,
        height=96,
        frame_count=4,
        frame_rate=Fraction(25),
        sample_aspect_ratio=Fraction(4, 3),
        rotation=270,
    )
    spec = OutputSpec.from_video_info(info)
    assert (spec.width, spec.height, spec.sample_aspect_ratio) == (96, 160, Fraction(3, 4))


def test_webcam_rate_without_timecode(tmp_path: Path) -> None:
    """15 fps (webcams, phones) has no SMPTE timecode in OpenTimelineIO's list; the output
    still gets a start timecode counted from 00:00:00:00, in 15-frame seconds."""
    src = tmp_path / "cam.mkv"
    run([need("ffmpeg"), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=15",
         "-frames:v", "20", "-c:v", "ffv1", str(src)])  # fmt: skip
    clip = load_clip(src)
    assert clip.info.frame_rate == 15 and clip.info.start_timecode is None
    out = export_mattes(clip.frame, clip.info, lambda i: disc_matte(i, 64, 96), "prores4444",
                        tmp_path / "cam.mov", frame_range=(17, 20))  # fmt: skip
    probe = ffprobe(out)
    assert probe["r_frame_rate"] == "15/1"
    assert timecode_of(probe) == "00:00:01:02"


def test_through_the_media_frame_source(tmp_path: Path) -> None:
    """The way the CLI and panel call it: the media layer's FrameSource and its VideoInfo,
    here for a rotated phone clip and a VFR clip conformed to its nominal rate."""
    from etam_plugin.media import open_source

    rotated = make_rotated_clip(tmp_path / "rot.mp4")
    with_pyav = load_clip(rotated)
    src = open_source(rotated)
    h, w = src[0].shape[:2]
    out = export_mattes(src, src.info, lambda i: disc_matte(i, h, w), "png", tmp_path / "p")
    for i in range(len(src)):
        img = cv2.imread(str(out / f"p.{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(img[..., 2::-1], with_pyav.frames[i])  # same upright pixels
    vfr = open_source(make_vfr_clip(tmp_path / "vfr.mkv"), vfr="conform")
    h, w = vfr[0].shape[:2]
    out = export_mattes(vfr, vfr.info, lambda i: disc_matte(i, h, w), "luma-ffv1",
                        tmp_path / "v.mkv")  # fmt: skip
    probe = ffprobe(out)
    assert int(probe["nb_read_frames"]) == len(vfr)
    assert (
        probe["r_frame_rate"]
        == f"{vfr.info.frame_rate.numerator}/{vfr.info.frame_rate.denominator}"
    )
