"""What the bridge needs from a live tracker; the model's ``LiveTracker`` satisfies it.

The bridge depends on this protocol only, so a test double (or another model) can stand in,
and the tracker never learns about threads, OBS or effects.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from etam_plugin.model import FrameResult, Prompt


@runtime_checkable
class MaskTracker(Protocol):
    """Frame-by-frame tracking of prompted objects.

    ``step`` takes uint8 RGB (H, W, 3) and returns every tracked object's mask at frame
    size; ``select`` (re)prompts ``obj_id`` on the last stepped frame; ``remove`` forgets
    one object, ``clear`` all of them. Called from one thread only (the bridge's track
    stage), so implementations need no locking.
    """

    def step(self, frame_rgb: np.ndarray) -> FrameResult: ...

    def select(self, obj_id: int, prompt: Prompt) -> FrameResult: ...

    def remove(self, obj_id: int) -> None: ...

    def clear(self) -> None: ...


def tracker_device(tracker: object) -> str:
    """The device a tracker runs on, for the status line (``"cpu"``, ``"cuda:0"``, …)."""
    device = getattr(tracker, "device", None)
    if device is None:  # LiveTracker keeps it on its engine
        device = getattr(getattr(tracker, "engine", None), "device", None)
    return str(device) if device is not None else "unknown"
