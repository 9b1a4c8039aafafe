"""A test double for the tracker: it finds objects by colour, so its masks are known.

``select`` samples the colour under the prompt (the point, or the box centre) on the last
stepped frame; ``step`` marks every pixel near that colour. On the synthetic clips of
``etam_plugin.obs_bridge.testpattern`` (saturated discs over grey texture) that is exactly
the disc, so tests can compare what OBS shows with the clip's ground truth. ``cost_s``
makes each step burn that much CPU in OpenCV (which releases the GIL, like torch does), to
stand in for a model that is slower than the camera.

The benchmark loads it by path: ``--tracker tests/obs_bridge/doubles.py:ColourTracker``.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from etam_plugin.model import FrameResult, ObjectResult, Prompt


class ColourTracker:
    """Objects are colours; masks are the pixels within ``tolerance`` of them."""

    device = "cpu (colour test double)"

    def __init__(self, tolerance: float = 60.0, min_area: int = 30, cost_s: float = 0.0) -> None:
        self.tolerance = tolerance
        self.min_area = min_area
        self.cost_s = cost_s
        self.colours: dict[int, np.ndarray] = {}
        self.steps = 0
        self.selects = 0
        self.prompts: list[tuple[int, Prompt]] = []  # every select's object and prompt
        self.threads: set[str] = set()
        self._last: np.ndarray | None = None
        self._index = -1
        self._burn = np.zeros((256, 256), np.float32)

    def _mask(self, frame: np.ndarray, colour: np.ndarray) -> np.ndarray:
        diff = frame.astype(np.int16) - colour.astype(np.int16)
        return np.abs(diff).max(axis=2) <= self.tolerance

    def _result(self, obj_id: int) -> ObjectResult:
        assert self._last is not None
        mask = self._mask(self._last, self.colours[obj_id])
        present = int(mask.sum()) >= self.min_area
        return ObjectResult(obj_id, mask, 0.9 if present else 0.0, 8.0 if present else -8.0)

    def _spend(self) -> None:
        end = time.perf_counter() + self.cost_s
        while time.perf_counter() < end:
            cv2.GaussianBlur(self._burn, (31, 31), 5.0, dst=self._burn)

    def step(self, frame_rgb: np.ndarray) -> FrameResult:
        self.threads.add(threading.current_thread().name)
        self.steps += 1
        self._index += 1
        self._last = frame_rgb
        if self.cost_s:
            self._spend()
        return FrameResult(self._index, {i: self._result(i) for i in self.colours})

    def select(self, obj_id: int, prompt: Prompt) -> FrameResult:
        self.threads.add(threading.current_thread().name)
        if self._last is None:
            raise RuntimeError("no frame yet: call step() first")
        if prompt.points_xy:
            x, y = prompt.points_xy[0]
        elif prompt.box_xyxy is not None:
            x0, y0, x1, y1 = prompt.box_xyxy
            x, y = (x0 + x1) / 2, (y0 + y1) / 2
        else:
            raise ValueError("the colour double needs a point or a box")
        h, w = self._last.shape[:2]
        xi, yi = min(max(int(x), 0), w - 1), min(max(int(y), 0), h - 1)
        self.colours[obj_id] = self._last[yi, xi].copy()
        self.prompts.append((obj_id, prompt))
        self.selects += 1
        return FrameResult(self._index, {i: self._result(i) for i in self.colours})

    def remove(self, obj_id: int) -> None:
        self.colours.pop(obj_id, None)

    def clear(self) -> None:
        self.colours.clear()


def slow_colour_tracker() -> ColourTracker:
    """A double that costs ~450 ms of CPU per frame, like EfficientTAM-Mobile on this CPU."""
    return ColourTracker(cost_s=0.45)
