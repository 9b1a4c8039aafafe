"""Test clips whose frames carry their own index, written with PyAV or the ffmpeg CLI.

Each frame shows its index as 16 big black/white blocks (a 4×4 grid, most significant bit
top-left), which survive any codec at any quality, so a decoded frame tells which frame it
really is. A red square in the top-left corner shows the orientation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GRID = 4  # 4×4 blocks = 16 bits


def pattern_frame(index: int, width: int, height: int) -> np.ndarray:
    """uint8 RGB (height, width, 3) showing ``index`` in 16 blocks."""
    frame = np.full((height, width, 3), 96, np.uint8)
    bw, bh = width // GRID, height // GRID
    for bit in range(GRID * GRID):
        row, col = divmod(bit, GRID)
        on = (index >> (GRID * GRID - 1 - bit)) & 1
        frame[row * bh + 2 : (row + 1) * bh - 2, col * bw + 2 : (col + 1) * bw - 2] = (
            235 if on else 20
        )
    s = max(4, min(bw, bh) // 3)
    frame[:s, :s] = (220, 30, 30)  # orientation marker
    return frame


def read_index(frame: np.ndarray) -> int:
    """The index a decoded ``pattern_frame`` shows (coded orientation)."""
    h, w = frame.shape[:2]
    bw, bh = w // GRID, h // GRID
    value = 0
    for bit in range(GRID * GRID):
        row, col = divmod(bit, GRID)
        block = frame[
            row * bh + bh // 4 : (row + 1) * bh - bh // 4,
            col * bw + bw // 4 : (col + 1) * bw - bw // 4,
        ]
        if row == 0 and col == 0:  # the marker sits in this block's corner
            block = block[block.shape[0] // 2 :, block.shape[1] // 2 :]
        value = (value << 1) | int(block.mean() > 128)
    return value


def write_pyav(
    path: Path,
    count: int,
    *,
    rate: Fraction | int = 25,
    size: tuple[int, int] = (128, 96),
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    gop: int = 12,
    b_frames: int = 2,
) -> Path:
    """Encode ``count`` pattern frames with PyAV (``pts`` in ``time_base`` for VFR)."""
    width, height = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=Fraction(rate))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.gop_size = gop
        if codec in ("libx264", "libx265"):
            stream.codec_context.max_b_frames = b_frames
        stream.options = {**(options or {})}
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(pattern_frame(i, width, height), format="rgb24")
            frame = frame.reformat(format=pix_fmt)
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = time_base
            else:
                frame.pts = i
                frame.time_base = 1 / Fraction(rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def need_tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise RuntimeError(f"{name} is not installed (apt-get install ffmpeg)")
    return exe


def write_ffmpeg(
    path: Path,
    count: int,
    *,
    rate: Fraction | int | str = 25,
    size: tuple[int, int] = (256, 144),
    args: Sequence[str] = ("-c:v", "libx264", "-pix_fmt", "yuv420p"),
    before_output: Sequence[str] = (),
    first_index: int = 0,
) -> Path:
    """Encode ``count`` pattern frames with the ffmpeg CLI from raw RGB on stdin."""
    width, height = size
    frames = b"".join(pattern_frame(first_index + i, width, height).tobytes() for i in range(count))
    cmd = [
        need_tool("ffmpeg"), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-s", f"{width}x{height}", "-r", str(rate), "-i", "-", *args, *before_output,
        str(path),
    ]  # fmt: skip
    done = subprocess.run(cmd, input=frames, capture_output=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr.decode()[-2000:]}")
    return path


def ffprobe(path: Path, *, count_frames: bool = False) -> dict:
    """ffprobe's JSON for the first video stream and the format."""
    cmd = [need_tool("ffprobe"), "-v", "error", "-select_streams", "v:0"]
    if count_frames:
        cmd.append("-count_frames")
    cmd += ["-show_streams", "-show_format", "-of", "json", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    data = json.loads(done.stdout)
    return {"stream": data["streams"][0], "format": data["format"]}


def ffmpeg_frames(path: Path, *extra: str, size: tuple[int, int] | None = None) -> np.ndarray:
    """Every frame ffmpeg itself decodes (after ``extra`` options such as ``-vf``), as
    uint8 RGB (N, H, W, 3); with autorotation, as ffmpeg does by default."""
    if size is None:
        s = ffprobe(path)["stream"]
        size = (int(s["width"]), int(s["height"]))
    cmd = [need_tool("ffmpeg"), "-v", "error", "-i", str(path), *extra, "-f", "rawvideo"]
    cmd += ["-pix_fmt", "rgb24", "-"]
    done = subprocess.run(cmd, capture_output=True, timeout=300, check=True)
    w, h = size
    return np.frombuffer(done.stdout, np.uint8).reshape(-1, h, w, 3)


def rational(text: str) -> Fraction:
    num, _, den = text.partition("/")
    return Fraction(int(num), int(den or 1))
