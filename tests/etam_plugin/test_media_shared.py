"""Real footage (``../shared/media``): probe against ffprobe, random access against
sequential decoding, frame for frame."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from etam_plugin.media import VideoFileSource, probe

from .media_clips import ffprobe, rational

pytestmark = [pytest.mark.realtool, pytest.mark.slow]

CLIPS = {
    "bedroom.mp4": (960, 540, Fraction(30), 200),
    "dog.mp4": (1280, 720, Fraction(30000, 1001), 289),
    "juggle.mp4": (1280, 720, Fraction(24), 247),
}


def digest(frame: np.ndarray) -> str:
    return hashlib.blake2b(frame.tobytes(), digest_size=16).hexdigest()


@pytest.mark.parametrize("name", list(CLIPS))
def test_probe_matches_ffprobe_on_real_footage(media_dir: Path, name: str) -> None:
    path = media_dir / name
    theirs = ffprobe(path, count_frames=True)
    stream = theirs["stream"]
    info = probe(path)
    width, height, rate, count = CLIPS[name]
    assert (info.width, info.height) == (stream["width"], stream["height"]) == (width, height)
    assert info.frame_rate == rational(stream["r_frame_rate"]) == rate
    assert info.frame_rate == rational(stream["avg_frame_rate"])
    assert info.frame_count == int(stream["nb_read_frames"]) == int(stream["nb_frames"]) == count
    assert (info.codec, info.pix_fmt) == (stream["codec_name"], stream["pix_fmt"])
    assert info.codec_profile == stream["profile"]
    assert info.color_range == stream.get("color_range")
    assert info.color_space == stream.get("color_space")
    assert info.time_base == rational(stream["time_base"])
    assert info.start_pts == stream["start_pts"]
    assert info.start_timecode == stream.get("tags", {}).get("timecode")
    assert info.has_audio == any(s["codec_type"] == "audio" for s in ffprobe_all_streams(path))
    assert float(info.duration) == pytest.approx(float(stream["duration"]), abs=1e-6)
    assert not info.is_vfr and info.rotation == 0


def ffprobe_all_streams(path: Path) -> list[dict]:
    import json
    import subprocess

    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)["streams"]


@pytest.mark.parametrize("name", list(CLIPS))
def test_random_access_matches_sequential_on_real_footage(media_dir: Path, name: str) -> None:
    path = media_dir / name
    src = VideoFileSource(path)
    sequential = [digest(f) for f in src]
    assert len(sequential) == CLIPS[name][3]
    assert len(set(sequential)) > 0.9 * len(sequential)  # frames really differ
    # These clips have one or two keyframes, so every jump decodes from far back:
    # a handful of frames, in an order that jumps both ways, with a cache of two.
    picks = [len(src) - 1, 0, 137, 5, len(src) // 2, 136, 61]
    jumper = VideoFileSource(path, cache_frames=2)
    for i in picks:
        assert digest(jumper[i]) == sequential[i], f"{name}: frame {i} differs"
