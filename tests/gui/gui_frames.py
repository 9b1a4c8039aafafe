"""In-memory frame sources for the panel's tests (media reading is tested in its own area)."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np


class ArrayFrames:
    """A FrameSource over an (N, H, W, 3) uint8 array; counts reads per thread."""

    def __init__(self, array: np.ndarray, fps: Fraction | None = None) -> None:
        assert array.dtype == np.uint8 and array.ndim == 4 and array.shape[3] == 3
        self.array = array
        self.reads: dict[int, int] = {}
        self.closed = False
        if fps is not None:
            self.info = _Info(array.shape[1], array.shape[2], fps)

    def __len__(self) -> int:
        return self.array.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise IndexError(index)
        tid = threading.get_ident()
        self.reads[tid] = self.reads.get(tid, 0) + 1
        return self.array[index]

    def close(self) -> None:
        self.closed = True


class _Info:
    def __init__(self, height: int, width: int, fps: Fraction) -> None:
        self.height, self.width, self.frame_rate = height, width, fps


def synthetic_clip(n: int = 24, height: int = 72, width: int = 96) -> np.ndarray:
    """A gradient background with a bright disc moving right by 2 px per frame."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack(
        [xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), np.full_like(xx, 60)],
        axis=-1,
    ).astype(np.uint8)
    clip = np.repeat(base[None], n, axis=0)
    r = max(3, min(height, width) // 8)
    for i in range(n):
        cx, cy = width // 4 + 2 * i, height // 2
        clip[i][(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = (250, 250, 250)
    return clip


def coordinate_image(height: int, width: int) -> np.ndarray:
    """Each pixel says where it is: R = x, G = y (both < 256), B = 77."""
    assert height <= 256 and width <= 256
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([xx, yy, np.full_like(xx, 77)], axis=-1).astype(np.uint8)


def decode_clip(path: Path, count: int, width: int) -> np.ndarray:
    """The first ``count`` frames of a real clip, scaled to ``width`` (even height), via PyAV."""
    import av

    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        height = round(stream.height * width / stream.width / 2) * 2
        for frame in container.decode(stream):
            frames.append(frame.reformat(width=width, height=height, format="rgb24").to_ndarray())
            if len(frames) == count:
                break
    return np.stack(frames)


def write_clip(path: Path, frames: np.ndarray, rate: int = 25) -> Path:
    """Encode ``frames`` as H.264 (yuv420p) with PyAV: a real file for the media layer."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "14", "preset": "veryfast"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
