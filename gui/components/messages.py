"""Small request/result dataclasses exchanged with the panel's workers over queued signals.

Requests go GUI → worker, results worker → GUI. They carry plain data (numpy masks, Prompt,
FrameResult), never the session itself: the session lives in the inference worker's thread
only. ``key`` on a request names what "the same request" means for newest-wins coalescing.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from etam_plugin.gui.components.fill import Leg
from etam_plugin.model import FrameResult, FrameStatus, ObjectResult, Progress, Prompt

if TYPE_CHECKING:
    from etam_plugin.gui.components.export_job import ExportJob
    from etam_plugin.gui.components.project import ProjectState
    from etam_plugin.timeline import TimelineClip

DIRECTIONS = ("forward", "backward", "both")


@dataclass(frozen=True)
class SourceSpec:
    """What to open: a video file or an image sequence (folder or pattern); for a clip of
    an editing timeline, its media file plus the clip (in/out come from the clip's range
    with ``handles`` extra frames each side)."""

    path: Path
    clip: TimelineClip | None = None
    handles: int = 0


@dataclass(frozen=True)
class SourceInfo:
    """What the panel needs to know about an opened source before any model runs."""

    path: Path
    num_frames: int
    frame_size: tuple[int, int]  # (height, width)
    fps: Fraction
    window: tuple[int, int] | None = None  # a timeline clip's frames (+ handles), inclusive
    clip: TimelineClip | None = None
    clip_first: int | None = None  # the clip's own first frame (without handles)

    @property
    def name(self) -> str:
        return self.path.name


# ---------------------------------------------------------------- inference requests
@dataclass(frozen=True)
class Request:
    """A request describes itself: ``key`` (what "the same request" is, for newest-wins),
    ``action`` (what the panel says it does meanwhile: the busy text, an error's title)."""

    @property
    def key(self) -> Hashable | None:
        return None

    @property
    def action(self) -> str:
        return ""

    @property
    def wait_key(self) -> Hashable:
        """Requests that replace each other (the mailbox's key) are waited for as one."""
        key = self.key
        return key if key is not None else type(self).__name__


@dataclass(frozen=True)
class StartSession(Request):
    """Open the source in the worker and create (or, with ``folder``, reopen) a session."""

    spec: SourceSpec
    objects: tuple[tuple[int, str], ...] = ()
    folder: Path | None = None

    @property
    def action(self) -> str:
        return "Starting the tracking session"


@dataclass(frozen=True)
class AddObject(Request):
    obj_id: int
    name: str

    @property
    def action(self) -> str:
        return "Adding an object"


@dataclass(frozen=True)
class RemoveObject(Request):
    obj_id: int
    keep: bool = False  # set aside for RestoreObject (a delete that can be undone)

    @property
    def action(self) -> str:
        return "Deleting an object"


@dataclass(frozen=True)
class RestoreObject(Request):
    """Undo of a delete: the object as it was (or, if the session kept nothing, added
    and prompted again)."""

    obj_id: int
    name: str
    prompts: tuple[tuple[int, Prompt], ...] = ()

    @property
    def action(self) -> str:
        return f"Bringing back {self.name}"


@dataclass(frozen=True)
class RenameObject(Request):
    obj_id: int
    name: str

    @property
    def key(self) -> Hashable:
        return ("rename", self.obj_id)

    @property
    def action(self) -> str:
        return "Renaming an object"


@dataclass(frozen=True)
class SetPrompt(Request):
    """Replace one object's prompt on one frame (None/empty clears it)."""

    frame: int
    obj_id: int
    prompt: Prompt | None

    @property
    def key(self) -> Hashable:
        return ("prompt", self.frame, self.obj_id)

    @property
    def action(self) -> str:
        return f"Updating the mask on frame {self.frame}"


@dataclass(frozen=True)
class SaveProject(Request):
    """Save the session and ``state`` as a project at ``path`` (an autosave goes to the
    recovery area; ``then_delete`` names an autosave the save makes unnecessary)."""

    path: Path
    state: ProjectState
    revision: int
    autosave: bool = False
    extra: Mapping[str, Any] | None = None
    then_delete: Path | None = None

    @property
    def key(self) -> Hashable | None:
        return ("autosave",) if self.autosave else None

    @property
    def action(self) -> str:
        return "Autosaving" if self.autosave else f"Saving {self.path.name}"


@dataclass(frozen=True)
class Propagate(Request):
    """Track over the in/out range ``first..last``: the ``plan``'s legs (what the Track
    commands send: the range's gaps, see ``components/fill.py``), or without a plan from
    ``start``: "forward" to ``last``, "backward" to ``first``, "both" forward then backward
    (ends inclusive).

    ``checkpoint`` (an autosave request) is carried out every ``checkpoint_every_s``
    seconds while tracking, so a crash during a long run keeps the frames done."""

    direction: str
    start: int
    first: int
    last: int
    obj_ids: tuple[int, ...] | None = None
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)
    checkpoint: SaveProject | None = field(default=None, compare=False)
    checkpoint_every_s: float = 30.0
    plan: tuple[Leg, ...] = ()

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction {self.direction!r} is not one of {DIRECTIONS}")
        if not self.first <= self.start <= self.last:
            raise ValueError(f"start {self.start} is outside the range {self.first}..{self.last}")

    def legs(self) -> list[Leg]:
        """Each session.propagate call, in order; "both" without a plan goes back from the
        frame before ``start`` (the forward leg already did ``start``)."""
        if self.plan:
            ids = self.obj_ids
            return [
                leg if leg.obj_ids is not None else replace(leg, obj_ids=ids) for leg in self.plan
            ]
        ids = self.obj_ids
        if self.direction == "forward":
            return [Leg("forward", self.start, self.last, ids)]
        if self.direction == "backward":
            return [Leg("backward", self.start, self.first, ids)]
        legs = [Leg("forward", self.start, self.last, ids)]
        if self.start > self.first:
            legs.append(Leg("backward", self.start - 1, self.first, ids))
        return legs

    @property
    def total(self) -> int:
        """Frames visited over all legs."""
        return sum(leg.frames for leg in self.legs())

    @property
    def action(self) -> str:
        return "Tracking"


@dataclass(frozen=True)
class FetchResults(Request):
    """Ask for a frame's stored results (e.g. after reopening a session); newest wins."""

    frame: int
    obj_ids: tuple[int, ...]

    @property
    def key(self) -> Hashable:
        return ("fetch",)

    @property
    def action(self) -> str:
        return f"Loading the masks of frame {self.frame}"


@dataclass(frozen=True)
class SaveSession(Request):
    folder: Path

    @property
    def action(self) -> str:
        return f"Saving the session to {self.folder}"


@dataclass(frozen=True)
class ReloadModel(Request):
    """Rebuild the session on the factory's current model, keeping objects and prompts
    (tracked frames must be tracked again: they belong to the old network)."""

    @property
    def action(self) -> str:
        return "Switching the model"


@dataclass(frozen=True)
class SetCpuThreads(Request):
    """Change torch's CPU threads (0: automatic) without touching the session."""

    threads: int

    @property
    def key(self) -> Hashable:
        return ("threads",)


@dataclass(frozen=True)
class Export(Request):
    job: ExportJob

    @property
    def action(self) -> str:
        return f"Exporting {self.job.out.name}"


@dataclass(frozen=True)
class DownloadWeights(Request):
    """Fetch a variant's official weights (task worker); ``cancel`` stops it."""

    variant: str
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    @property
    def action(self) -> str:
        return f"Downloading the {self.variant} weights"


@dataclass(frozen=True)
class ReadTimeline(Request):
    """List the clips of an editing timeline (task worker); ``rate`` for an EDL whose
    media cannot be found (EDLs carry no rate)."""

    path: Path
    rate: Fraction | None = None

    @property
    def action(self) -> str:
        return f"Reading the timeline {self.path.name}"


# ---------------------------------------------------------------- inference results
class SessionResult:
    """A result about the session that made it: while another clip's session starts, the
    panel drops it (the worker serves in order, so it belongs to the previous clip)."""

    @property
    def outlives_session(self) -> bool:
        return False


@dataclass(frozen=True)
class SessionStarted:
    num_frames: int
    frame_size: tuple[int, int]
    objects: dict[int, str]
    statuses: dict[int, list[FrameStatus]]
    prompts: dict[tuple[int, int], Prompt]
    elapsed_s: float
    rebuilt: bool = False  # a ReloadModel: same clip and prompts, new network
    model: str = ""  # what the session runs on (the factory's description)


@dataclass(frozen=True)
class PromptApplied(SessionResult):
    request: SetPrompt
    result: FrameResult
    statuses: dict[int, list[FrameStatus]]
    elapsed_s: float
    restored: tuple[int, ...] = ()  # other frames whose masks the edit brought back (undo)


@dataclass(frozen=True)
class ObjectsChanged(SessionResult):
    request: Request
    statuses: dict[int, list[FrameStatus]]


@dataclass(frozen=True)
class FrameTracked(SessionResult):
    result: FrameResult
    progress: Progress


@dataclass(frozen=True)
class TrackingFinished(SessionResult):
    request: Propagate
    cancelled: bool
    frames_done: int
    statuses: dict[int, list[FrameStatus]]
    elapsed_s: float


@dataclass(frozen=True)
class ResultsFetched(SessionResult):
    frame: int
    objects: dict[int, ObjectResult]


@dataclass(frozen=True)
class SessionSaved(SessionResult):
    folder: Path


@dataclass(frozen=True)
class ProjectSaved(SessionResult):
    request: SaveProject
    session_folder: Path
    elapsed_s: float

    @property
    def outlives_session(self) -> bool:
        return self.request.autosave  # an autosave of the previous clip: its data is on disk


@dataclass(frozen=True)
class ExportProgress:
    job: ExportJob
    done: int
    total: int


@dataclass(frozen=True)
class ExportFinished:
    job: ExportJob
    paths: tuple[Path, ...]
    cancelled: bool
    failed: bool
    elapsed_s: float


@dataclass(frozen=True)
class DownloadProgress:
    variant: str
    done: int
    total: int | None


@dataclass(frozen=True)
class DownloadRetrying:
    """The Hub could not be reached; huggingface_hub tries again (``text`` says when)."""

    variant: str
    text: str


@dataclass(frozen=True)
class WeightsReady:
    variant: str
    path: Path


@dataclass(frozen=True)
class TimelineRead:
    path: Path
    clips: tuple[TimelineClip, ...]


@dataclass(frozen=True)
class Failed:
    """A request raised; ``error`` is shown to the user, the worker carries on."""

    request: Request
    error: BaseException
    details: str = ""


# ---------------------------------------------------------------- frame loader
@dataclass(frozen=True)
class OpenFrames(Request):
    spec: SourceSpec

    @property
    def action(self) -> str:
        return f"Opening {self.spec.path.name}"


@dataclass(frozen=True)
class LoadFrame(Request):
    index: int

    @property
    def key(self) -> Hashable:
        return ("frame",)

    @property
    def action(self) -> str:
        return f"Reading frame {self.index}"


@dataclass(frozen=True)
class LoadThumbnail(Request):
    index: int
    height: int

    @property
    def key(self) -> Hashable:
        return ("thumb", self.index)

    @property
    def action(self) -> str:
        return f"Reading the thumbnail of frame {self.index}"


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
