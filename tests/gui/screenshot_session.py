"""A stand-in segmenter for the README screenshots only: OpenCV's GrabCut instead of the
network. The build machine cannot download the official weights, and seeded random
weights make noise masks, which would show users nothing useful; GrabCut makes believable
masks so the screenshots show what the panel looks like at work. Nothing else is faked:
the window, the workers, media reading and compositing are the real panel.

A prompt's box (or the box around its clicks) seeds GrabCut, positive clicks are sure
foreground and negative clicks sure background; tracking warps the previous frame's mask
along the optical flow.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
from gui_fake_session import FakeSession, FakeSessionFactory

from etam_plugin.model import Prompt

WORK_WIDTH = 640  # GrabCut runs at this width (fast), masks are scaled back up
ITERATIONS = 8


class GrabCutSession(FakeSession):
    def _small(self, frame_index: int) -> tuple[np.ndarray, float]:
        image = np.asarray(self.frames[frame_index])
        scale = WORK_WIDTH / image.shape[1]
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_RGB2BGR), scale

    def _grow_back(self, mask: np.ndarray) -> np.ndarray:
        h, w = self.frame_size
        up = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
        return up.astype(bool)

    def draw(self, frame_index: int, prompt: Prompt) -> np.ndarray:
        image, scale = self._small(frame_index)
        h, w = image.shape[:2]
        if prompt.box_xyxy is not None:
            x0, y0, x1, y1 = (v * scale for v in prompt.box_xyxy)
        else:
            clicks = zip(prompt.points_xy, prompt.labels, strict=True)
            positive = [(x * scale, y * scale) for (x, y), label in clicks if label]
            xs, ys = [x for x, _ in positive], [y for _, y in positive]
            if not xs:
                return np.zeros(self.frame_size, bool)
            pad = 0.12 * w
            x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
        rect = (
            max(int(x0), 0),
            max(int(y0), 0),
            max(int(x1 - x0), 2),
            max(int(y1 - y0), 2),
        )
        mask = np.zeros((h, w), np.uint8)
        mask[rect[1] : rect[1] + rect[3], rect[0] : rect[0] + rect[2]] = cv2.GC_PR_FGD
        for (x, y), label in zip(prompt.points_xy, prompt.labels, strict=True):
            value = cv2.GC_FGD if label else cv2.GC_BGD
            cv2.circle(mask, (round(x * scale), round(y * scale)), 4, value, -1)
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(image, mask, rect, bgd, fgd, ITERATIONS, cv2.GC_INIT_WITH_MASK)
        return self._grow_back(np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)))

    def follow(self, frame_index: int, previous: np.ndarray, step: int) -> np.ndarray:
        """Warp the previous mask along the optical flow (GrabCut here would let the mask
        creep into look-alike background frame after frame)."""
        self._spend()
        image, _scale = self._small(frame_index)
        before, _ = self._small(frame_index - step)
        h, w = image.shape[:2]
        prev = cv2.resize(previous.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        if not prev.any():
            return np.zeros(self.frame_size, bool)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        flow = cv2.calcOpticalFlowFarneback(
            gray, cv2.cvtColor(before, cv2.COLOR_BGR2GRAY), None, 0.5, 3, 21, 3, 5, 1.2, 0
        )
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        warped = cv2.remap(prev, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_NEAREST)
        if not warped.any():
            return np.zeros(self.frame_size, bool)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        cleaned = cv2.morphologyEx(warped, cv2.MORPH_CLOSE, kernel)
        return self._grow_back(cv2.morphologyEx(cleaned, cv2.MORPH_OPEN, kernel) > 0)

    def _spend(self) -> None:
        if self.delay_s > 0:
            time.sleep(self.delay_s)  # slow enough to photograph tracking in progress


class GrabCutFactory(FakeSessionFactory):
    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__(session_class=GrabCutSession, delay_s=delay_s)

    def describe(self) -> str:
        return "GrabCut stand-in (screenshots) · cpu"
