"""Shared helpers for the export and timeline tests: short test clips made with the real
ffmpeg, mattes of known shape, ffprobe and decoding of what the writers produced."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from etam_plugin.media.info import VideoInfo


def need(tool: str) -> str:
    exe = shutil.which(tool)
    assert exe, f"{tool} is not installed (bash .ci/install installs it)"
    return exe


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]
    assert out.returncode == 0, f"{cmd[0]} failed: {out.stderr[-2000:]}"
    return out


@dataclass
class Clip:
    """A test clip on disk and its frames, decoded once, in display orientation."""

    path: Path
    info: VideoInfo
    frames: list[np.ndarray]

    def frame(self, index: int) -> np.ndarray:
        return self.frames[index]


def make_clip(
    src: Path | None,
    out: Path,
    *,
    frames: int,
    size: tuple[int, int] | None = None,
    rate: str | None = None,
    timecode: str | None = None,
    sar: str | None = None,
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    audio: bool = False,
) -> Path:
    """A short (scaled) copy of ``src``, or a testsrc2 pattern when ``src`` is None."""
    cmd = [need("ffmpeg"), "-v", "error", "-y"]
    if src is None:
        w, h = size or (320, 180)
        cmd += ["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={rate or 24}"]
        if audio:
            cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    else:
        cmd += ["-i", str(src)]
    vf = []
    if src is not None and size is not None:
        vf.append(f"scale={size[0]}:{size[1]}")
    if sar:
        vf.append(f"setsar={sar}")
    if vf:
        cmd += ["-vf", ",".join(vf)]
    cmd += ["-frames:v", str(frames), "-c:v", codec, "-pix_fmt", pix_fmt]
    if codec == "libx264":
        cmd += ["-preset", "ultrafast", "-crf", "12", "-colorspace", "bt709"]
        cmd += ["-color_primaries", "bt709", "-color_trc", "bt709"]
    if timecode:
        cmd += ["-timecode", timecode]
    if audio:
        cmd += ["-c:a", "aac", "-shortest"] if src is None else ["-c:a", "aac"]
    else:
        cmd += ["-an"]
    cmd += [str(out)]
    run(cmd)
    return out


def load_clip(path: Path) -> Clip:
    """Decode every frame with PyAV (RGB, display orientation) and describe the clip the
    way the media layer's VideoInfo does."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        rate = Fraction(s.guessed_rate or s.average_rate)
        tc = None
        for other in (s, *c.streams):  # MOV: "timecode" (also on tmcd); Matroska: TIMECODE
            tc = tc or next((v for k, v in other.metadata.items() if k.lower() == "timecode"), None)
        frames, rotation = [], 0
        cc = s.codec_context
        sar = Fraction(cc.sample_aspect_ratio or 1) or Fraction(1)
        space = None
        for f in c.decode(s):
            rotation = int(getattr(f, "rotation", 0) or 0) % 360
            rgb = f.to_ndarray(format="rgb24")
            if rotation:
                rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
            frames.append(rgb)
            space = {1: "bt709", 5: "bt470bg", 6: "smpte170m"}.get(int(f.colorspace))
    info = VideoInfo(
        path=path,
        width=cc.width,
        height=cc.height,
        frame_count=len(frames),
        frame_rate=rate,
        start_timecode=tc,
        sample_aspect_ratio=sar,
        rotation=rotation,
        color_space=space,
    )
    return Clip(path, info, frames)


def disc_matte(index: int, height: int, width: int, *, soft: bool = True) -> np.ndarray:
    """A disc that moves right by 3 px per frame: a matte whose every frame differs, so a
    shifted, dropped or doubled frame shows. ``soft`` adds a 6-px ramp of partial values."""
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    cx, cy, r = width * 0.25 + 3 * index, height * 0.5, min(height, width) * 0.25
    d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
    if not soft:
        return (d < r).astype(np.float32)
    return np.clip((r - d) / 6.0 + 0.5, 0.0, 1.0).astype(np.float32)


def ffprobe(path: Path, *, count: bool = True) -> dict:
    """ffprobe (Debian's) of the first video stream plus all streams' tags."""
    cmd = [need("ffprobe"), "-v", "error", "-print_format", "json", "-show_streams"]
    if count:
        cmd.append("-count_frames")
    data = json.loads(run([*cmd, str(path)]).stdout)
    video = next(s for s in data["streams"] if s["codec_type"] == "video")
    video["all_streams"] = data["streams"]
    return video


def timecode_of(probe: dict) -> str | None:
    for s in probe["all_streams"]:
        for key, value in (s.get("tags") or {}).items():
            if key.lower() == "timecode":
                return value
    return None


def ffmpeg_raw(
    path: Path, pix_fmt: str, width: int, height: int, *, decoder: str | None = None
) -> np.ndarray:
    """All frames decoded by Debian's ffmpeg into ``pix_fmt`` planes: (N, planes, H, W)."""
    cmd = [need("ffmpeg"), "-v", "error"]
    if decoder:
        cmd += ["-c:v", decoder]
    cmd += ["-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    out = subprocess.run(cmd, capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    dtype = np.uint16 if ("10" in pix_fmt or "16" in pix_fmt or "64" in pix_fmt) else np.uint8
    data = np.frombuffer(out.stdout, dtype=dtype)
    if pix_fmt in ("rgba", "rgb24", "rgba64le", "rgb48le"):
        channels = {"rgba": 4, "rgb24": 3, "rgba64le": 4, "rgb48le": 3}[pix_fmt]
        return data.reshape(-1, height, width, channels).transpose(0, 3, 1, 2)
    planes = {"yuva444p10le": 4, "yuv444p10le": 3, "gray16le": 1, "gray": 1, "yuv422p10le": 3}
    if pix_fmt == "yuv422p10le":
        n = data.size // (height * width * 2)
        frames = data.reshape(n, -1)
        return frames[:, : height * width].reshape(n, 1, height, width)
    return data.reshape(-1, planes[pix_fmt], height, width)


def make_vfr_clip(out: Path, *, frames: int = 16, size: tuple[int, int] = (160, 96)) -> Path:
    """A variable-frame-rate clip (PyAV, FFV1 in Matroska, 1 ms time base): frame gaps of
    33, 17, 50 … ms, about 30 fps on average; each frame shows its index as a grey level."""
    w, h = size
    gaps = [33, 17, 50, 33, 33, 67, 17, 33]
    with av.open(str(out), "w") as c:
        s = c.add_stream("ffv1", rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv444p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for i in range(frames):
            rgb = np.full((h, w, 3), 10 + 14 * i, np.uint8)
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = pts, Fraction(1, 1000)
            c.mux(s.encode(f))
            pts += gaps[i % len(gaps)]
        c.mux(s.encode(None))
    return out


def make_rotated_clip(out: Path, *, frames: int = 8, rotate: int = 90) -> Path:
    """A 160×96 coded clip whose display-matrix says rotate by ``rotate`` degrees (a phone
    shot held upright): it displays 96×160."""
    plain = out.with_name(out.stem + "_plain.mp4")
    make_clip(None, plain, frames=frames, size=(160, 96))
    run([need("ffmpeg"), "-v", "error", "-y", "-i", str(plain), "-c", "copy",
         "-metadata:s:v:0", f"rotate={rotate}", str(out)])  # fmt: skip
    return out
