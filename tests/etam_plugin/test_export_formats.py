"""Every export format, written from real footage (24, 29.97 and 30 fps) and checked with
Debian's ffprobe/ffmpeg: codec, pixel format with alpha, exact frame count and rate, start
timecode, size and SAR, and the decoded alpha/luma equal to the written matte."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from etam_plugin.export import available_formats, export_mattes
from etam_plugin.media.timecode import offset_timecode
from tests.etam_plugin.export_helpers import (
    Clip,
    disc_matte,
    ffmpeg_raw,
    ffprobe,
    load_clip,
    make_clip,
    timecode_of,
)

pytestmark = pytest.mark.realtool

# name: (file, scaled size, start timecode given to the short copy)
SOURCES = {
    "bedroom30": ("bedroom.mp4", (240, 136), None),
    "dog2997": ("dog.mp4", (320, 180), "00:59:59;28"),
    "juggle24": ("juggle.mp4", (320, 180), "10:00:00:00"),
}
RANGE = (2, 10)  # source frames written: a range that does not start at 0


@pytest.fixture(scope="module")
def clips(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    root = tmp_path_factory.mktemp("sources")
    out = {}
    for name, (file, size, tc) in SOURCES.items():
        path = make_clip(media_dir / file, root / f"{name}.mov", frames=12, size=size, timecode=tc)
        out[name] = load_clip(path)
    return out


def _write(clip: Clip, fmt: str, out: Path, **options: object) -> Path:
    h, w = clip.frames[0].shape[:2]
    return export_mattes(
        clip.frame,
        clip.info,
        lambda i: disc_matte(i, h, w),
        fmt,
        out,
        frame_range=RANGE,
        options=options or None,
    )


def _expected_mattes(clip: Clip) -> np.ndarray:
    h, w = clip.frames[0].shape[:2]
    return np.stack([disc_matte(i, h, w) for i in range(*RANGE)])


def _check_stream(probe: dict, clip: Clip) -> None:
    n = RANGE[1] - RANGE[0]
    h, w = clip.frames[0].shape[:2]
    assert int(probe["nb_read_frames"]) == n
    rate = clip.info.frame_rate
    assert probe["r_frame_rate"] == f"{rate.numerator}/{rate.denominator}"
    assert (probe["width"], probe["height"]) == (w, h)
    # a source without timecode counts from 00:00:00:00
    want = offset_timecode(clip.info.start_timecode or "00:00:00:00", RANGE[0], rate)
    assert timecode_of(probe) == want


def test_every_registered_format_is_covered() -> None:
    assert set(available_formats()) == {"prores4444", "luma", "luma-ffv1", "png", "png16", "webm"}


@pytest.mark.parametrize("name", SOURCES)
def test_prores4444(clips: dict[str, Clip], name: str, tmp_path: Path) -> None:
    clip = clips[name]
    out = _write(clip, "prores4444", tmp_path / "cut.mov")
    probe = ffprobe(out)
    assert probe["codec_name"] == "prores"
    assert probe["profile"] == "4444"
    assert probe["pix_fmt"].startswith("yuva444p")  # Debian's decoder says yuva444p12le
    assert probe.get("sample_aspect_ratio", "1:1") == "1:1"
    _check_stream(probe, clip)
    h, w = clip.frames[0].shape[:2]
    planes = ffmpeg_raw(out, "yuva444p10le", w, h)
    want = np.rint(_expected_mattes(clip) * 1023).astype(int)
    assert np.abs(planes[:, 3].astype(int) - want).max() <= 1
    # colour: the clip's own RGB, not premultiplied (also where alpha is 0)
    rgb = ffmpeg_raw(out, "rgb24", w, h).transpose(0, 2, 3, 1).astype(int)
    src = np.stack(clip.frames[RANGE[0] : RANGE[1]]).astype(int)
    assert np.abs(rgb - src).mean() < 2.0
    clear = want == 0
    assert np.abs(rgb[clear] - src[clear]).mean() < 2.0


def test_prores4444_fast_encoder(clips: dict[str, Clip], tmp_path: Path) -> None:
    """The optional prores_aw encoder: same container facts, alpha within one code."""
    clip = clips["dog2997"]
    out = _write(clip, "prores4444", tmp_path / "cut.mov", encoder="prores_aw")
    probe = ffprobe(out)
    assert (probe["codec_name"], probe["profile"]) == ("prores", "4444")
    _check_stream(probe, clip)
    h, w = clip.frames[0].shape[:2]
    alpha = ffmpeg_raw(out, "yuva444p10le", w, h)[:, 3].astype(int)
    assert np.abs(alpha - np.rint(_expected_mattes(clip) * 1023)).max() <= 1


@pytest.mark.parametrize("name", SOURCES)
def test_luma_prores_422_hq(clips: dict[str, Clip], name: str, tmp_path: Path) -> None:
    clip = clips[name]
    out = _write(clip, "luma", tmp_path / "luma.mov")
    probe = ffprobe(out)
    assert (probe["codec_name"], probe["profile"], probe["pix_fmt"]) == (
        "prores",
        "HQ",
        "yuv422p10le",
    )
    assert probe["color_range"] == "tv"
    _check_stream(probe, clip)
    h, w = clip.frames[0].shape[:2]
    luma = ffmpeg_raw(out, "yuv422p10le", w, h)[:, 0].astype(int)
    matte = _expected_mattes(clip)
    want = 64 + np.rint(matte * 876).astype(int)
    err = np.abs(luma - want)
    # ProRes 422 is a lossy DCT codec even at its finest quantiser: a few codes in the 8×8
    # blocks that hold the soft edge (measured max 3 of 876); flat areas away from the
    # edge come back exact.
    assert err.max() <= 4 and err.mean() < 0.1
    kernel = np.ones((17, 17), np.uint8)
    for k in range(len(matte)):
        flat = cv2.erode(((matte[k] == 0) | (matte[k] == 1)).astype(np.uint8), kernel)
        assert err[k][flat.astype(bool)].max() == 0


@pytest.mark.parametrize("name", SOURCES)
def test_luma_ffv1_is_lossless(clips: dict[str, Clip], name: str, tmp_path: Path) -> None:
    clip = clips[name]
    out = _write(clip, "luma-ffv1", tmp_path / "luma.mkv")
    probe = ffprobe(out)
    assert (probe["codec_name"], probe["pix_fmt"], probe["color_range"]) == (
        "ffv1",
        "gray16le",
        "pc",
    )
    _check_stream(probe, clip)
    h, w = clip.frames[0].shape[:2]
    grey = ffmpeg_raw(out, "gray16le", w, h)[:, 0]
    want = np.rint(_expected_mattes(clip) * 65535).astype(np.uint16)
    assert np.array_equal(grey, want)


@pytest.mark.parametrize("name", SOURCES)
def test_webm_vp9_alpha(clips: dict[str, Clip], name: str, tmp_path: Path) -> None:
    clip = clips[name]
    out = _write(clip, "webm", tmp_path / "overlay.webm")
    probe = ffprobe(out)
    assert probe["codec_name"] == "vp9"
    assert probe["tags"]["ALPHA_MODE"] == "1"  # what browsers and OBS look for
    _check_stream(probe, clip)
    h, w = clip.frames[0].shape[:2]
    rgba = ffmpeg_raw(out, "rgba", w, h, decoder="libvpx-vp9").astype(int)
    matte = _expected_mattes(clip)
    alpha = rgba[:, 3]
    assert np.abs(alpha - matte * 255).mean() < 3.0  # lossy, but close everywhere
    assert alpha[matte == 1.0].min() >= 240
    assert alpha[matte == 0.0].max() <= 15


@pytest.mark.parametrize("fmt", ["png", "png16"])
@pytest.mark.parametrize("name", SOURCES)
def test_png_sequences(clips: dict[str, Clip], name: str, fmt: str, tmp_path: Path) -> None:
    clip = clips[name]
    out = _write(clip, fmt, tmp_path / "shot", content="both")
    names = sorted(p.name for p in out.iterdir())
    want_names = sorted(
        [f"shot.{i:06d}.png" for i in range(*RANGE)]
        + [f"shot_matte.{i:06d}.png" for i in range(*RANGE)]
    )
    assert names == want_names  # source frame numbers, nothing else in the folder
    bits, maximum = (8, 255) if fmt == "png" else (16, 65535)
    probe = ffprobe(out / f"shot.{RANGE[0]:06d}.png", count=False)
    assert probe["pix_fmt"] == ("rgba" if bits == 8 else "rgba64be")
    for k, i in enumerate(range(*RANGE)):
        img = cv2.imread(str(out / f"shot.{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        matte = cv2.imread(str(out / f"shot_matte.{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        want = np.rint(_expected_mattes(clip)[k] * maximum)
        assert img.dtype == (np.uint8 if bits == 8 else np.uint16)
        assert np.array_equal(img[..., 3], want.astype(img.dtype))
        assert np.array_equal(matte, want.astype(img.dtype))
        rgb = img[..., 2::-1].astype(np.int64)
        src = clip.frames[i].astype(np.int64) * (1 if bits == 8 else 257)
        assert np.array_equal(rgb, src)  # straight: colour untouched, even at alpha 0


def test_png_matte_only_needs_no_frames(clips: dict[str, Clip], tmp_path: Path) -> None:
    clip = clips["dog2997"]
    h, w = clip.frames[0].shape[:2]
    out = export_mattes(
        None,
        clip.info,
        lambda i: disc_matte(i, h, w),
        "png16",
        tmp_path / "m",
        frame_range=RANGE,
        options={"content": "matte"},
    )
    assert sorted(p.name for p in out.iterdir()) == [f"m_matte.{i:06d}.png" for i in range(*RANGE)]


def test_sar_and_colour_tags_are_copied(media_dir: Path, tmp_path: Path) -> None:
    """Anamorphic 4:3-pixel SD clip tagged BT.601: both survive into the ProRes."""
    src = make_clip(
        media_dir / "bedroom.mp4", tmp_path / "sd.mov", frames=4, size=(240, 136), sar="4/3"
    )
    clip = load_clip(src)
    assert clip.info.sample_aspect_ratio == Fraction(4, 3)
    clip.info = dataclasses.replace(clip.info, color_space="smpte170m")
    h, w = clip.frames[0].shape[:2]
    out = export_mattes(clip.frame, clip.info, lambda i: disc_matte(i, h, w), "prores4444",
                        tmp_path / "sd_cut.mov")  # fmt: skip
    probe = ffprobe(out)
    assert probe["sample_aspect_ratio"] == "4:3"
    assert probe["color_space"] == "smpte170m"
    rgb = ffmpeg_raw(out, "rgb24", w, h).transpose(0, 2, 3, 1).astype(int)
    assert np.abs(rgb - np.stack(clip.frames).astype(int)).mean() < 2.0
