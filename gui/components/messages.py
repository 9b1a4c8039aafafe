"""Small request/result dataclasses exchanged with the panel's workers over queued signals.

Requests go GUI → worker, results worker → GUI. They carry plain data (numpy masks, Prompt,
FrameResult), never the session itself: the session lives in the inference worker's thread
only. ``key`` on a request names what "the same request" means for newest-wins coalescing.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from etam_plugin.model import FrameResult, FrameStatus, ObjectResult, Progress, Prompt

DIRECTIONS = ("forward", "backward", "both")


@dataclass(frozen=True)
class SourceSpec:
    """What to open: a video file, an image sequence (folder or pattern), later a timeline
    clip (phase 2: its media path plus in/out)."""

    path: Path


@dataclass(frozen=True)
class SourceInfo:
    """What the panel needs to know about an opened source before any model runs."""

    path: Path
    num_frames: int
    frame_size: tuple[int, int]  # (height, width)
    fps: Fraction

    @property
    def name(self) -> str:
        return self.path.name


# ---------------------------------------------------------------- inference requests
@dataclass(frozen=True)
class Request:
    @property
    def key(self) -> Hashable | None:
        return None


@dataclass(frozen=True)
class StartSession(Request):
    """Open the source in the worker and create (or, with ``folder``, reopen) a session."""

    spec: SourceSpec
    objects: tuple[tuple[int, str], ...] = ()
    folder: Path | None = None


@dataclass(frozen=True)
class AddObject(Request):
    obj_id: int
    name: str


@dataclass(frozen=True)
class RemoveObject(Request):
    obj_id: int


@dataclass(frozen=True)
class RenameObject(Request):
    obj_id: int
    name: str

    @property
    def key(self) -> Hashable:
        return ("rename", self.obj_id)


@dataclass(frozen=True)
class SetPrompt(Request):
    """Replace one object's prompt on one frame (None/empty clears it)."""

    frame: int
    obj_id: int
    prompt: Prompt | None

    @property
    def key(self) -> Hashable:
        return ("prompt", self.frame, self.obj_id)


@dataclass(frozen=True)
class Propagate(Request):
    """Track from ``start`` (the playhead) to the range end: "forward" to ``last``,
    "backward" to ``first``, "both" forward then backward (ends inclusive)."""

    direction: str
    start: int
    first: int
    last: int
    obj_ids: tuple[int, ...] | None = None
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction {self.direction!r} is not one of {DIRECTIONS}")
        if not self.first <= self.start <= self.last:
            raise ValueError(f"start {self.start} is outside the range {self.first}..{self.last}")

    def legs(self) -> list[tuple[str, int, int]]:
        """``(direction, start, end)`` of each session.propagate call, in order; "both" goes
        back from the frame before ``start`` (the forward leg already did ``start``)."""
        if self.direction == "forward":
            return [("forward", self.start, self.last)]
        if self.direction == "backward":
            return [("backward", self.start, self.first)]
        legs = [("forward", self.start, self.last)]
        if self.start > self.first:
            legs.append(("backward", self.start - 1, self.first))
        return legs

    @property
    def total(self) -> int:
        """Frames visited over all legs."""
        return sum(abs(end - start) + 1 for _d, start, end in self.legs())


@dataclass(frozen=True)
class FetchResults(Request):
    """Ask for a frame's stored results (e.g. after reopening a session); newest wins."""

    frame: int
    obj_ids: tuple[int, ...]

    @property
    def key(self) -> Hashable:
        return ("fetch",)


@dataclass(frozen=True)
class SaveSession(Request):
    folder: Path


# ---------------------------------------------------------------- inference results
@dataclass(frozen=True)
class SessionStarted:
    num_frames: int
    frame_size: tuple[int, int]
    objects: dict[int, str]
    statuses: dict[int, list[FrameStatus]]
    prompts: dict[tuple[int, int], Prompt]
    elapsed_s: float


@dataclass(frozen=True)
class PromptApplied:
    request: SetPrompt
    result: FrameResult
    statuses: dict[int, list[FrameStatus]]
    elapsed_s: float


@dataclass(frozen=True)
class ObjectsChanged:
    request: Request
    statuses: dict[int, list[FrameStatus]]


@dataclass(frozen=True)
class FrameTracked:
    result: FrameResult
    progress: Progress


@dataclass(frozen=True)
class TrackingFinished:
    request: Propagate
    cancelled: bool
    frames_done: int
    statuses: dict[int, list[FrameStatus]]
    elapsed_s: float


@dataclass(frozen=True)
class ResultsFetched:
    frame: int
    objects: dict[int, ObjectResult]


@dataclass(frozen=True)
class SessionSaved:
    folder: Path


@dataclass(frozen=True)
class Failed:
    """A request raised; ``error`` is shown to the user, the worker carries on."""

    request: object
    error: BaseException
    details: str = ""


# ---------------------------------------------------------------- frame loader
@dataclass(frozen=True)
class OpenFrames(Request):
    spec: SourceSpec


@dataclass(frozen=True)
class LoadFrame(Request):
    index: int

    @property
    def key(self) -> Hashable:
        return ("frame",)


@dataclass(frozen=True)
class LoadThumbnail(Request):
    index: int
    height: int

    @property
    def key(self) -> Hashable:
        return ("thumb", self.index)


@dataclass(frozen=True)
class FramesOpened:
    info: SourceInfo


@dataclass(frozen=True)
class FrameLoaded:
    index: int
    image: np.ndarray


@dataclass(frozen=True)
class ThumbnailLoaded:
    index: int
    image: np.ndarray
