"""Plain data exchanged with tracking sessions: prompts in, per-object results out.

Coordinates are source pixels (x right, y down); masks are at source resolution.
These types carry no torch tensors so that the panel and the bridge can hold them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
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
    """One official prompt call for one object on one frame.

    It means what the official video predictor's ``add_new_points_or_box(points, labels,
    box, clear_old_points)`` means — or, with ``mask``, its ``add_new_mask`` — with the
    official defaults:

    - ``points_xy`` (N, 2) float source pixels with ``labels`` (N,) 1 = positive,
      0 = negative, and ``box_xyxy`` (source pixels) go into the decoder together, the box
      first (as two corner points);
    - ``clear_old_points`` True (the default): they replace the points this object already
      had on this frame; False: they are appended to them (a box needs True, as officially);
    - the mask decoder gives three candidate masks only when the call leaves at most one
      point on the frame (a box counts as two);
    - if the object already has an output on this frame (an earlier call, or the frame was
      tracked), that output's mask logits are fed to the decoder with the points;
    - ``mask`` (bool (H, W) at source resolution, a painted correction) is a call of its
      own: it replaces the frame's points and becomes the frame's output as given.

    A frame's input is the sequence of calls made on it (see :func:`clicks` for a person's
    clicks); sessions replay that sequence, so undo, reopening and rebuilding reproduce it.
    """

    points_xy: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box_xyxy: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = field(default=None, compare=False)
    clear_old_points: bool = True

    def __post_init__(self) -> None:
        if len(self.points_xy) != len(self.labels):
            raise ValueError(
                f"{len(self.points_xy)} points but {len(self.labels)} labels: "
                "give one label per point"
            )
        if any(label not in (0, 1) for label in self.labels):
            raise ValueError("point labels must be 1 (positive) or 0 (negative)")
        if not all(math.isfinite(v) for xy in self.points_xy for v in xy):
            raise ValueError(f"point coordinates must be finite numbers, got {self.points_xy}")
        if self.box_xyxy is not None:
            if not all(math.isfinite(v) for v in self.box_xyxy):
                raise ValueError(f"box coordinates must be finite numbers, got {self.box_xyxy}")
            x0, y0, x1, y1 = self.box_xyxy
            if not (x1 > x0 and y1 > y0):
                raise ValueError(f"box {self.box_xyxy} must have x1 > x0 and y1 > y0")
            if not self.clear_old_points:
                raise ValueError(
                    "a box goes before any point, so it cannot be appended to earlier "
                    "points: give it with clear_old_points true"
                )
        if self.mask is not None:
            if self.mask.ndim != 2:
                raise ValueError(f"mask prompt must be 2-D (H, W), got shape {self.mask.shape}")
            if self.points_xy or self.box_xyxy is not None:
                raise ValueError(
                    "a mask is a prompt of its own: give points or a box in a separate "
                    "prompt after it"
                )

    @property
    def is_empty(self) -> bool:
        return not self.points_xy and self.box_xyxy is None and self.mask is None


def clicks(drawing: Prompt | None) -> tuple[Prompt, ...]:
    """The calls a person makes to build ``drawing`` by clicking: its mask or its box
    first, then one call per point, each appended (``clear_old_points`` False).

    This is how the panel's clicks and repeated ``--point`` flags are applied: each click
    refines the previous click's mask, so the result of a drawing is the result of its
    clicks in order. An empty drawing has no calls.
    """
    if drawing is None or drawing.is_empty:
        return ()
    calls: list[Prompt] = []
    if drawing.mask is not None:
        calls.append(Prompt(mask=drawing.mask))
    if drawing.box_xyxy is not None:
        calls.append(Prompt(box_xyxy=drawing.box_xyxy))
    for xy, label in zip(drawing.points_xy, drawing.labels, strict=True):
        calls.append(Prompt(points_xy=(xy,), labels=(label,), clear_old_points=False))
    return tuple(calls)


def drawing(calls: Sequence[Prompt]) -> Prompt | None:
    """What a frame's calls leave on it, as one drawing (the panel's markers): the points
    and box still in force, or the mask if no points came after it. The inverse of
    :func:`clicks` for a click-built frame. None when there are no calls."""
    if not calls:
        return None
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box = None
    mask = None
    for call in calls:
        if call.mask is not None:
            points, labels, box, mask = (), (), None, call.mask
        elif call.clear_old_points:
            points, labels, box = call.points_xy, call.labels, call.box_xyxy
        else:
            points, labels = points + call.points_xy, labels + call.labels
    if mask is not None and not points and box is None:
        return Prompt(mask=mask)
    return Prompt(points_xy=points, labels=labels, box_xyxy=box)


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
