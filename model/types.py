"""Plain data exchanged with tracking sessions: prompts in, per-object results out.

Coordinates are source pixels (x right, y down); masks are at source resolution.
These types carry no torch tensors so that the panel and the bridge can hold them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


class FrameStatus(enum.Enum):
    """What a session knows about one object on one frame (drawn in the panel's coverage bar)."""

    EMPTY = "empty"  # never computed
    PROMPTED = "prompted"  # the user prompted this frame: a conditioning frame
    TRACKED = "tracked"  # computed by propagation and still valid
    STALE = "stale"  # computed, but an earlier correction invalidated it


@dataclass(frozen=True)
class Prompt:
    """The user's input for one object on one frame.

    ``points_xy`` (N, 2) float source pixels with ``labels`` (N,) 1 = positive,
    0 = negative, in the order they were clicked; ``box_xyxy`` a box in source pixels;
    ``mask`` a bool (H, W) mask at source resolution (a painted correction).

    A prompt is applied as the user built it, one step at a time, each step refining the
    previous step's mask: the mask (if any), then the box (if any), then each click. The
    result is therefore a function of the prompt alone, so undo/redo and reopening a
    session reproduce it exactly.
    """

    points_xy: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box_xyxy: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.points_xy) != len(self.labels):
            raise ValueError(
                f"{len(self.points_xy)} points but {len(self.labels)} labels: "
                "give one label per point"
            )
        if any(label not in (0, 1) for label in self.labels):
            raise ValueError("point labels must be 1 (positive) or 0 (negative)")
        if self.box_xyxy is not None:
            x0, y0, x1, y1 = self.box_xyxy
            if not (x1 > x0 and y1 > y0):
                raise ValueError(f"box {self.box_xyxy} must have x1 > x0 and y1 > y0")
        if self.mask is not None and self.mask.ndim != 2:
            raise ValueError(f"mask prompt must be 2-D (H, W), got shape {self.mask.shape}")

    @property
    def is_empty(self) -> bool:
        return not self.points_xy and self.box_xyxy is None and self.mask is None


@dataclass(frozen=True)
class ObjectResult:
    """One object's output on one frame.

    ``mask`` bool (H, W) at source resolution; ``logits`` float32 (H, W) mask logits at
    source resolution when kept (None otherwise); ``score`` the predicted IoU of the
    chosen mask in [0, 1]; ``object_score`` the presence logit (> 0 means present).
    """

    obj_id: int
    mask: np.ndarray
    score: float
    object_score: float
    logits: np.ndarray | None = None

    @property
    def present(self) -> bool:
        return self.object_score > 0.0


@dataclass(frozen=True)
class FrameResult:
    """All requested objects' outputs on one frame."""

    frame_index: int
    objects: dict[int, ObjectResult]


@dataclass(frozen=True)
class Progress:
    """Progress of a propagation, reported once per frame."""

    done: int
    total: int
    frame_index: int
    fps: float
    eta_s: float


@runtime_checkable
class FrameSource(Protocol):
    """Random-access frames of one clip, decoded on demand (PyAV file, image sequence, array).

    ``source[i]`` returns frame ``i`` (0-based, presentation order) as uint8 RGB (H, W, 3);
    ``len(source)`` is the frame count; every frame has the same size.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...
