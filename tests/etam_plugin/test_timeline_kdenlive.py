"""Kdenlive projects rendered by the real ``melt``: the profile matches the source, and the
rendered frames show the matte applied over the clip exactly where (and when) the mask
says: the cutout's alpha for ``cutout``, the luma matte as a track matte for ``luma``."""

from __future__ import annotations

import subprocess
import warnings
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from etam_plugin.export import export_mattes
from etam_plugin.timeline import TimelineClip, clip_for_media, read_timeline, write_matte_timeline
from tests.etam_plugin.export_helpers import (
    Clip,
    disc_matte,
    ffmpeg_raw,
    ffprobe,
    load_clip,
    make_clip,
    need,
    run,
)

pytestmark = [pytest.mark.realtool, pytest.mark.slow]

H, W = 90, 160
RADIUS = min(H, W) * 0.25  # disc_matte's radius
NTSC = Fraction(30000, 1001)


@pytest.fixture(scope="module")
def dog(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Clip:
    out = tmp_path_factory.mktemp("kd") / "dog.mov"
    make_clip(media_dir / "dog.mp4", out, frames=20, size=(W, H), timecode="01:00:00;00",
              audio=True)  # fmt: skip
    return load_clip(out)


def _shot(dog: Clip, tmp_path: Path) -> TimelineClip:
    """Clip 1 of a cut: media frames 6..13, at record frame 4 (after a 4-frame gap)."""
    rate = float(NTSC)
    rt = otio.opentime.RationalTime
    track = otio.schema.Track("V1")
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0, rate), rt(4, rate))))
    ref = otio.schema.ExternalReference(
        dog.path.as_uri(), otio.opentime.TimeRange(rt(107892, rate), rt(20, rate))
    )
    track.append(
        otio.schema.Clip("dog", ref, otio.opentime.TimeRange(rt(107898, rate), rt(8, rate)))
    )
    tl = otio.schema.Timeline("cut")
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(tmp_path / "cut.otio"))
    (shot,) = read_timeline(tmp_path / "cut.otio")
    return shot


def _render(project: Path, out: Path, attempts: int = 3) -> np.ndarray:
    """melt → lossless RGB file → frames (N, H, W, 3) int.

    ``-progress`` keeps melt off its keyboard transport (it otherwise polls stdin for
    keys such as ``q`` or ``0``), and ``real_time=-1`` renders every frame. Once in a full
    CI run melt exited 0 yet left a file ffmpeg could not open ("EBML header parsing
    failed"; never seen in hundreds of runs of this module alone): an output that is not a
    readable file is rendered again, with a warning, at most ``attempts`` times. What the
    rendered frames show is never retried: every pixel check below applies to the render.
    """
    cmd = [need("melt"), "-progress", str(project), "-consumer", f"avformat:{out}",
           "vcodec=ffv1", "pix_fmt=bgr0", "an=1", "real_time=-1"]  # fmt: skip
    failures: list[str] = []
    for _ in range(attempts):
        out.unlink(missing_ok=True)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)  # fmt: skip
        assert done.returncode == 0, f"melt failed: {done.stderr[-2000:]}"
        decoded = subprocess.run(
            [need("ffmpeg"), "-v", "error", "-i", str(out), "-f", "null", "-"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if decoded.returncode == 0:
            return ffmpeg_raw(out, "rgb24", W, H).transpose(0, 2, 3, 1).astype(int)
        size = out.stat().st_size if out.exists() else None
        failures.append(f"output {size} bytes, ffmpeg: {decoded.stderr.strip()[-300:]}; "
                        f"melt: {done.stderr.strip()[-500:]}")  # fmt: skip
        warnings.warn(f"melt left an unreadable render, rendering again: {failures[-1]}",
                      stacklevel=2)  # fmt: skip
    pytest.fail("melt exited 0 but its render is unreadable every time:\n" + "\n".join(failures))


def _disc_areas(frame_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels well inside and well outside the disc of ``frame_index`` (3 px clear of the
    edge, where chroma subsampling inside MLT cannot blur them)."""
    yy, xx = np.mgrid[:H, :W]
    cx, cy = W * 0.25 + 3 * frame_index, H * 0.5
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    return d < RADIUS - 3, d > RADIUS + 3


def _centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean())


def test_cutout_composites_over_the_clip(dog: Clip, tmp_path: Path) -> None:
    shot = _shot(dog, tmp_path)
    frames = shot.file_frames(handles=3)  # 3..16
    red = np.zeros((H, W, 3), np.uint8)
    red[..., 0] = 255
    cutout = export_mattes(
        lambda i: red,  # a red "object" so the composite is visibly not the clip
        dog.info,
        lambda i: disc_matte(i, H, W, soft=False),
        "prores4444",
        tmp_path / "cut.mov",
        frame_range=(frames.start, frames.stop),
    )
    project = write_matte_timeline(tmp_path / "shot.kdenlive", shot, cutout)
    video = _render(project, tmp_path / "render.mkv")
    assert len(video) == shot.record_start + shot.duration == 12
    assert video[: shot.record_start].max() < 20  # the gap before the clip is black
    for k in range(shot.duration):
        f = 6 + k  # media frame under record frame 4 + k
        img = video[shot.record_start + k]
        inside, outside = _disc_areas(f)
        assert np.abs(img[inside] - [255, 0, 0]).mean() < 6, f"frame {f}: no cutout inside"
        src = dog.frames[f].astype(int)
        assert np.abs(img[outside] - src[outside]).mean() < 4, f"frame {f}: clip not shown"
        redness = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)
        assert abs(_centroid_x(redness) - (W * 0.25 + 3 * f)) < 1.0  # the right frame's disc


def test_luma_matte_works_as_a_track_matte(dog: Clip, tmp_path: Path) -> None:
    """The luma layout (V1 clip, V2 matte, V3 clip through the matte) renders the clip
    everywhere, which hides whether the matte did anything; so the test puts a blue clip
    on V1: then only the matte's white area shows the clip."""
    shot = clip_for_media(dog.path, frame_range=(5, 15))
    luma = export_mattes(None, dog.info, lambda i: disc_matte(i, H, W, soft=False), "luma",
                         tmp_path / "luma.mov", frame_range=(2, 18))  # fmt: skip
    project = write_matte_timeline(tmp_path / "luma.kdenlive", shot, luma, kind="luma")
    blue = tmp_path / "blue.mkv"
    run([need("ffmpeg"), "-v", "error", "-y", "-f", "lavfi",
         "-i", f"color=c=blue:s={W}x{H}:r=30000/1001", "-frames:v", "20", "-c:v", "ffv1",
         str(blue)])  # fmt: skip
    tree = ET.parse(project)
    root = tree.getroot()
    v1 = next(t for t in root.iter("tractor")
              if t.findtext("property[@name='kdenlive:track_name']") == "V1")  # fmt: skip
    playlist = root.find(f"playlist[@id='{v1.find('track').get('producer')}']")
    bg = ET.Element("producer", id="test_blue")
    ET.SubElement(bg, "property", name="resource").text = str(blue)
    ET.SubElement(bg, "property", name="mlt_service").text = "avformat"
    root.insert(1, bg)
    entry = playlist.find("entry")
    entry.set("producer", "test_blue")
    tree.write(tmp_path / "luma_test.kdenlive")
    video = _render(tmp_path / "luma_test.kdenlive", tmp_path / "render.mkv")
    assert len(video) == 10
    for k in range(10):
        f = 5 + k
        img = video[k]
        inside, outside = _disc_areas(f)
        src = dog.frames[f].astype(int)
        assert np.abs(img[inside] - src[inside]).mean() < 4, f"frame {f}: clip not inside"
        assert np.abs(img[outside] - [0, 0, 255]).mean() < 8, f"frame {f}: matte leaks"
        not_blue = np.abs(img - [0, 0, 255]).sum(axis=2) > 60
        assert abs(_centroid_x(not_blue) - (W * 0.25 + 3 * f)) < 1.0


def test_profile_matches_the_source(media_dir: Path, tmp_path: Path) -> None:
    """The deprecated adapter wrote 1920×1080 for 720p; ours follows the clip, including
    non-square pixels (display aspect = width·SAR / height)."""
    cases = [
        ((1280, 720), None, ("1280", "720", "1", "1", "16", "9", "30000", "1001")),
        ((240, 136), "4/3", ("240", "136", "4", "3", "40", "17", "30000", "1001")),
    ]
    for (w, h), sar, want in cases:
        src = make_clip(media_dir / "dog.mp4", tmp_path / f"{w}.mov", frames=3, size=(w, h),
                        sar=sar)  # fmt: skip
        clip = load_clip(src)
        luma = export_mattes(None, clip.info, lambda i, w=w, h=h: disc_matte(i, h, w),
                             "luma-ffv1", tmp_path / f"{w}_m.mkv")  # fmt: skip
        project = write_matte_timeline(tmp_path / f"{w}.kdenlive", clip_for_media(src), luma,
                                       kind="luma")  # fmt: skip
        p = ET.parse(project).getroot().find("profile")
        got = tuple(p.get(k) for k in ("width", "height", "sample_aspect_num",
                    "sample_aspect_den", "display_aspect_num", "display_aspect_den",
                    "frame_rate_num", "frame_rate_den"))  # fmt: skip
        assert got == want
        assert p.get("colorspace") == "709"
        assert ffprobe(project.with_name(f"{w}_m.mkv"))["width"] == w
