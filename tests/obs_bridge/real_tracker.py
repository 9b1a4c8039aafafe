"""The model's real LiveTracker for bridge tests: a tiny test network of the same
architecture (fast), wrapped to record what the bridge calls it with."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch

from etam_plugin.model import FrameResult, LiveTracker, Prompt, build_model, tiny_test_config

OBJ_SCORE_BIAS = "sam_mask_decoder.pred_obj_score_head.layers.2.bias"


def tiny_model(seed: int = 0, image_size: int = 64) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(tiny_test_config(image_size=image_size))
    with torch.no_grad():
        model.state_dict()[OBJ_SCORE_BIAS].fill_(5.0)  # objects present
    return model


class SpyTracker(LiveTracker):
    """The real LiveTracker, recording what it is called with (and optionally slowed down,
    to be slower than the camera as EfficientTAM-Mobile is on a CPU).

    ``selects`` holds, per ``select``, the frame stepped just before it (the frame the
    prompt was applied to, by the tracker protocol) and the selected object's result.
    """

    def __init__(self, model: torch.nn.Module, delay_s: float = 0.0) -> None:
        super().__init__(model)
        self.delay_s = delay_s
        self.stepped: list[np.ndarray] = []
        self.selects: list[tuple[np.ndarray, Any]] = []
        self.lock = threading.Lock()

    def advance(self, frame_rgb: np.ndarray) -> None:
        """The image-encoder half of every step (``step`` is ``advance`` + ``track``); a
        click on a new frame calls it alone first."""
        if self.delay_s:
            time.sleep(self.delay_s)
        super().advance(frame_rgb)
        with self.lock:
            self.stepped.append(frame_rgb)

    def select(self, obj_id: int, prompt: Prompt) -> FrameResult:
        result = super().select(obj_id, prompt)
        with self.lock:
            self.selects.append((self.stepped[-1], result.objects[obj_id]))
        return result

    def steps(self) -> int:
        with self.lock:
            return len(self.stepped)
