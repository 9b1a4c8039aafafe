"""A synthetic camera: coloured discs moving over texture, with a frame counter drawn in.

Used to check the bridge end to end without a person in front of a webcam: the discs are
objects with a known mask on every frame (:meth:`TestPattern.truth`), and the counter —
16 bits, each drawn as a bright/dark cell pair so it survives dimming and colour
conversion — tells which frame OBS is showing (:func:`read_counter`), which is how the
latency benchmark measures frames of delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

COUNTER_BITS = 16


@dataclass(frozen=True)
class Disc:
    """A disc of ``colour`` whose centre moves as ``centre + amplitude·sin(2π(t/period) +
    phase)`` per axis, in fractions of the frame size; a large amplitude takes it out of
    the frame and back."""

    colour: tuple[int, int, int]
    radius: float  # fraction of the frame height
    centre: tuple[float, float] = (0.5, 0.6)
    amplitude: tuple[float, float] = (0.3, 0.15)
    period: float = 90.0  # frames
    phase: tuple[float, float] = (0.0, math.pi / 2)

    def position(self, index: int, width: int, height: int) -> tuple[float, float]:
        t = 2 * math.pi * index / self.period
        x = (self.centre[0] + self.amplitude[0] * math.sin(t + self.phase[0])) * width
        y = (self.centre[1] + self.amplitude[1] * math.sin(t + self.phase[1])) * height
        return x, y


DEFAULT_DISCS = (Disc((220, 30, 30), 0.16),)


@dataclass(frozen=True)
class TestPattern:
    """Frames ``0 … frames-1`` of a ``width``×``height`` synthetic clip."""

    __test__ = False  # not a pytest test class

    width: int = 320
    height: int = 240
    frames: int = 90
    fps: float = 30.0
    discs: tuple[Disc, ...] = DEFAULT_DISCS
    counter: bool = True
    cell: int = 8
    seed: int = 7
    _texture: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.counter and 2 * COUNTER_BITS * self.cell + 2 * self.cell > self.width:
            raise ValueError(f"a {self.width} px wide frame is too narrow for the counter")
        rng = np.random.default_rng(self.seed)
        # Grey, low-contrast texture: nothing in it is near a disc's saturated colour.
        noise = rng.integers(70, 170, (self.height // 4 + 1, self.width // 4 + 1), np.uint8)
        tex = np.kron(noise, np.ones((4, 4), np.uint8))[: self.height, : self.width]
        ramp = np.linspace(-20, 20, self.width, dtype=np.float32)[None, :]
        grey = np.clip(tex.astype(np.float32) + ramp, 0, 255).astype(np.uint8)
        object.__setattr__(self, "_texture", np.repeat(grey[..., None], 3, axis=2))

    def truth(self, index: int) -> list[np.ndarray]:
        """Each disc's bool (H, W) mask on frame ``index`` (later discs cover earlier ones)."""
        ys, xs = np.ogrid[: self.height, : self.width]
        masks = []
        for disc in self.discs:
            cx, cy = disc.position(index, self.width, self.height)
            r = disc.radius * self.height
            masks.append((xs - cx) ** 2 + (ys - cy) ** 2 <= r * r)
        for i in range(len(masks)):
            for later in masks[i + 1 :]:
                masks[i] &= ~later
        return masks

    def render(self, index: int) -> np.ndarray:
        """Frame ``index`` as uint8 RGB (H, W, 3)."""
        frame = self._texture.copy()
        for disc, mask in zip(self.discs, self.truth(index), strict=True):
            frame[mask] = disc.colour
        if self.counter:
            draw_counter(frame, index, self.cell)
        return frame

    def write(self, path: str | Path) -> Path:
        """Write the clip losslessly (FFV1 in Matroska) so colours and counter are exact."""
        import av

        path = Path(path)
        with av.open(str(path), "w") as out:
            stream = out.add_stream("ffv1", rate=Fraction(self.fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "bgr0"
            for i in range(self.frames):
                frame = av.VideoFrame.from_ndarray(self.render(i), format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return path


def counter_box(cell: int = 8) -> tuple[int, int, int, int]:
    """The counter's (x0, y0, x1, y1) in the frame."""
    return cell, cell, cell + 2 * COUNTER_BITS * cell, 2 * cell


def draw_counter(frame: np.ndarray, value: int, cell: int = 8) -> None:
    """Draw ``value`` (mod 2¹⁶) in place: per bit a (bright, dark) or (dark, bright) pair."""
    x0, y0, _, y1 = counter_box(cell)
    for bit in range(COUNTER_BITS):
        on = (value >> bit) & 1
        a, b = (240, 16) if on else (16, 240)
        x = x0 + 2 * bit * cell
        frame[y0:y1, x : x + cell] = a
        frame[y0:y1, x + cell : x + 2 * cell] = b


def read_counter(image: np.ndarray, cell: int = 8, min_contrast: float = 12.0) -> int | None:
    """The counter in an RGB(A) image (e.g. an OBS screenshot), or None if unreadable.

    Each bit compares its two cells, so dimming, desaturation and colour conversion do not
    matter; a bit whose cells differ by less than ``min_contrast`` makes it unreadable.
    """
    x0, y0, _, y1 = counter_box(cell)
    if image.shape[0] < y1 or image.shape[1] < x0 + 2 * COUNTER_BITS * cell:
        return None
    grey = image[..., :3].astype(np.float32).mean(axis=2)
    m = max(1, cell // 4)  # sample cell centres, away from edges
    value = 0
    for bit in range(COUNTER_BITS):
        x = x0 + 2 * bit * cell
        a = grey[y0 + m : y1 - m, x + m : x + cell - m].mean()
        b = grey[y0 + m : y1 - m, x + cell + m : x + 2 * cell - m].mean()
        if abs(a - b) < min_contrast:
            return None
        value |= int(a > b) << bit
    return value
