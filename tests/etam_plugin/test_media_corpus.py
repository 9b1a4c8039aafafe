"""Frame-exact reading against ffmpeg's own decode, over the files cameras and editing
tools make: every container and codec family an editor meets, B-frames, open GOP, intra
refresh, edit lists, negative composition offsets, stream-copy trims that start mid-GOP.

The oracle is the ffmpeg CLI (``-fps_mode passthrough``: every decoded picture, in
presentation order). For each file the frame count must equal ffmpeg's, and every frame,
read by random access in a shuffled order (the last ones included), must be ffmpeg's
picture of that index: the closest of all of ffmpeg's pictures, and close in value (the
YUV→RGB rounding of PyAV and of the CLI may differ by a level).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from etam_plugin.media import open_source

from .media_clips import ffmpeg_frames, need_tool, write_ffmpeg

pytestmark = [pytest.mark.realtool, pytest.mark.slow]

COUNT = 40
SIZE = (256, 144)  # DNxHR's smallest
X264 = [
    "-c:v",
    "libx264",
    "-pix_fmt",
    "yuv420p",
    "-g",
    "12",
    "-bf",
    "3",
    "-x264-params",
    "b-adapt=0",
]


def _ffmpeg(*args: str) -> None:
    subprocess.run([need_tool("ffmpeg"), "-v", "error", "-y", *args], check=True, timeout=300)


def _encode(args: list[str], ext: str, rate: str = "25") -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return write_ffmpeg(folder / f"clip.{ext}", COUNT, rate=rate, size=SIZE, args=args)

    return make


def _remux(base: Callable[[Path], Path], ext: str, *args: str) -> Callable[[Path], Path]:
    """A stream copy of ``base`` into another container (as ffmpeg users make them)."""

    def make(folder: Path) -> Path:
        src = base(folder)
        out = folder / f"remux.{ext}"
        _ffmpeg("-i", str(src), "-c", "copy", *args, str(out))
        return out

    return make


def _trim(base: Callable[[Path], Path], start: str) -> Callable[[Path], Path]:
    """``ffmpeg -ss START -i src -c copy``: starts mid-GOP (an edit list hides the lead-in)."""

    def make(folder: Path) -> Path:
        src = base(folder)
        out = folder / f"trim{src.suffix}"
        _ffmpeg("-ss", start, "-i", str(src), "-c", "copy", str(out))
        return out

    return make


def _duplicate_timestamps(folder: Path) -> Path:
    """Twelve frames whose fourth and fifth share a timestamp (a muxer bug seen in screen
    recorders): both are frames, ffmpeg decodes twelve."""
    from fractions import Fraction

    import av

    from .media_clips import pattern_frame

    path = folder / "dup.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"bf": "0", "g": "6"}
        packets = []
        for i in range(12):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, *SIZE), "rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            packets += stream.encode(frame)
        packets += stream.encode()
        for packet in packets:
            if packet.pts >= 4 * 40:  # in ms (Matroska): from the fifth frame on, 40 ms early
                packet.pts -= 40
                packet.dts -= 40
            out.mux(packet)
    return path


def _vfr(folder: Path) -> Path:
    """A phone-like variable rate: frames 10..19 at double speed, a 0.3 s gap at 30."""
    src = write_ffmpeg(folder / "cfr.mkv", COUNT, rate="25", size=SIZE, args=X264)
    out = folder / "vfr.mkv"
    times = (
        "if(lt(N,10),N*0.04,if(lt(N,20),0.4+(N-10)*0.02,"
        "if(lt(N,30),0.6+(N-20)*0.04,1.3+(N-30)*0.04)))"
    )
    _ffmpeg("-i", str(src), "-vf", f"setpts='{times}/TB'", "-fps_mode", "passthrough",
            *X264, "-enc_time_base", "1/1000", str(out))  # fmt: skip
    return out


# Files whose clock is irregular need a policy; "keep" indexes every decoded frame.
OPTIONS = {"h264-duplicate-timestamps": {"vfr": "keep"}, "h264-vfr": {"vfr": "keep"}}

CORPUS: dict[str, Callable[[Path], Path]] = {
    "h264-bframes-mp4": _encode(X264, "mp4"),
    "h264-bframes-mov": _encode(X264, "mov", "30000/1001"),
    "h264-bframes-mkv": _encode(X264, "mkv"),
    "h264-bframes-avi": _encode(X264, "avi"),
    "h264-remuxed-avi": _remux(_encode(X264, "mp4"), "avi"),
    "h264-mpegts": _encode(X264, "ts"),
    "h264-m2ts": _encode([*X264, "-f", "mpegts", "-mpegts_m2ts_mode", "1"], "m2ts"),
    "mpeg2-vob": _encode(["-c:v", "mpeg2video", "-g", "12", "-bf", "2", "-f", "vob"], "vob"),
    "mpeg2-ps": _encode(["-c:v", "mpeg2video", "-g", "12", "-bf", "2", "-f", "mpeg"], "mpg"),
    "hevc-10bit": _encode(
        [
            "-c:v",
            "libx265",
            "-pix_fmt",
            "yuv420p10le",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "keyint=12:bframes=3:log-level=error",
        ],
        "mp4",
    ),
    "prores-4444-alpha": _encode(
        ["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le"], "mov"
    ),
    "dnxhr": _encode(["-c:v", "dnxhd", "-profile:v", "dnxhr_lb", "-pix_fmt", "yuv422p"], "mov"),
    "vp9-webm": _encode(
        ["-c:v", "libvpx-vp9", "-g", "12", "-deadline", "realtime", "-cpu-used", "8"], "webm"
    ),
    "mjpeg-avi": _encode(["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"], "avi"),
    "ffv1-mkv": _encode(["-c:v", "ffv1", "-level", "3"], "mkv"),
    "h264-open-gop": _encode(
        [
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-x264-params",
            "keyint=12:min-keyint=12:open-gop=1:bframes=3",
        ],
        "mkv",
    ),
    "h264-intra-refresh": _encode(
        [
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-x264-params",
            "keyint=12:intra-refresh=1:bframes=0",
        ],
        "mp4",
    ),
    "h264-negative-cts": _encode([*X264, "-movflags", "+negative_cts_offsets"], "mp4"),
    "h264-trim-mid-gop-mp4": _trim(_encode(X264, "mp4"), "0.52"),
    "h264-trim-mid-gop-mkv": _trim(_encode(X264, "mkv"), "0.52"),
    "h264-duplicate-timestamps": _duplicate_timestamps,
    "h264-vfr": _vfr,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    root = tmp_path_factory.mktemp("corpus")

    def make(name: str) -> Path:
        folder = root / name
        folder.mkdir()
        return CORPUS[name](folder)

    return make


def _same_picture(ours: np.ndarray, theirs: np.ndarray, index: int, what: str) -> None:
    """``ours`` is ffmpeg's picture ``index``: the closest of all, and close in value."""
    diffs = np.abs(theirs.astype(np.int16) - ours.astype(np.int16)).mean(axis=(1, 2, 3))
    closest = int(np.argmin(diffs))
    assert diffs[index] < 2.0 and (closest == index or diffs[closest] == diffs[index]), (
        f"{what}: frame {index} is ffmpeg's frame {closest} "
        f"(mean |diff| {diffs[index]:.2f} to {index}, {diffs[closest]:.2f} to {closest})"
    )


@pytest.mark.parametrize("name", list(CORPUS))
def test_every_frame_is_ffmpegs_frame(corpus: Callable[[str], Path], name: str) -> None:
    path = corpus(name)
    theirs = ffmpeg_frames(path, "-fps_mode", "passthrough")
    with open_source(path, **OPTIONS.get(name, {})) as src:
        assert len(src) == len(theirs), f"{name}: {len(src)} frames, ffmpeg decodes {len(theirs)}"
        order = np.random.default_rng(7).permutation(len(theirs))
        order = [len(theirs) - 1, *[int(i) for i in order], len(theirs) - 2, 0]
        for i in order:
            _same_picture(src[i], theirs, i, name)
