"""What the coverage bars of the timeline strip show: per object, per frame, a FrameStatus,
and on done frames whether the model lost the object or is unsure of its mask.

The session's ``statuses(obj_id)`` is the truth; while tracking, frames are marked one by one
as results arrive so the bar grows live, and the session's lists replace them at the end.
The model's scores come with each result (tracked, prompted or fetched for display) and are
kept here, so "jump to the next problem frame" needs no round trip to the worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from etam_plugin.gui.components.events import Event
from etam_plugin.gui.components.fill import DONE
from etam_plugin.model import FrameStatus, ObjectResult

Color = tuple[int, int, int]

EMPTY_COLOR: Color = (46, 48, 54)
LOW_SCORE = 0.5  # a predicted IoU below this: the model is unsure of the mask
LOST, LOW = "lost", "low"
PROBLEM_COLORS: dict[str, Color] = {LOST: (235, 64, 52), LOW: (240, 176, 48)}


def problem_of(result: ObjectResult) -> tuple[str, float] | None:
    """``(LOST, score)`` when the model says the object is absent or its mask is empty,
    ``(LOW, score)`` when the predicted IoU is under LOW_SCORE, else None."""
    if not result.present or not result.mask.any():
        return LOST, result.score
    if result.score < LOW_SCORE:
        return LOW, result.score
    return None


def status_color(status: FrameStatus, obj_color: Color) -> Color:
    """Fill colour of one frame in an object's bar.

    Tracked and prompted frames are drawn in the object's colour (prompted frames also get a
    keyframe mark); stale frames in a dimmed, greyed version of it so they read as "needs
    re-tracking" at a glance; empty frames in the strip's background.
    """
    if status in (FrameStatus.TRACKED, FrameStatus.PROMPTED):
        return obj_color
    if status is FrameStatus.STALE:
        grey = sum(obj_color) // 3
        return tuple((c + grey) * 2 // 5 for c in obj_color)  # type: ignore[return-value]
    return EMPTY_COLOR


def runs(statuses: Sequence[FrameStatus]) -> list[tuple[int, int, FrameStatus]]:
    """Run-length encode ``statuses`` as ``(first, last, status)`` with inclusive ends, so a
    bar is drawn with a few rectangles instead of one per frame."""
    out: list[tuple[int, int, FrameStatus]] = []
    start = 0
    for i in range(1, len(statuses) + 1):
        if i == len(statuses) or statuses[i] is not statuses[start]:
            out.append((start, i - 1, statuses[start]))
            start = i
    return out


def frame_runs(frames: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive frames as ``(first, last)`` inclusive runs, in order."""
    out: list[tuple[int, int]] = []
    for f in sorted(frames):
        if out and f == out[-1][1] + 1:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


class Coverage:
    """Statuses of every object; emits ``changed(obj_id)`` (``None``: everything)."""

    def __init__(self, num_frames: int = 0) -> None:
        self.changed = Event()
        self._num_frames = num_frames
        self._statuses: dict[int, list[FrameStatus]] = {}
        self._problems: dict[int, dict[int, tuple[str, float]]] = {}

    @property
    def num_frames(self) -> int:
        return self._num_frames

    def reset(self, num_frames: int) -> None:
        self._num_frames = num_frames
        self._statuses.clear()
        self._problems.clear()
        self.changed.emit(None)

    def statuses(self, obj_id: int) -> list[FrameStatus]:
        return list(self._statuses.get(obj_id, [FrameStatus.EMPTY] * self._num_frames))

    def status(self, obj_id: int, frame: int) -> FrameStatus:
        stats = self._statuses.get(obj_id)
        return stats[frame] if stats is not None else FrameStatus.EMPTY

    def keyframes(self, obj_id: int) -> list[int]:
        stats = self._statuses.get(obj_id, ())
        return [i for i, s in enumerate(stats) if s is FrameStatus.PROMPTED]

    def set_statuses(self, obj_id: int, statuses: Iterable[FrameStatus]) -> None:
        stats = list(statuses)
        if len(stats) != self._num_frames:
            raise ValueError(
                f"object {obj_id}: {len(stats)} statuses for a {self._num_frames}-frame clip"
            )
        self._statuses[obj_id] = stats
        self.changed.emit(obj_id)

    def mark(self, obj_id: int, frame: int, status: FrameStatus) -> None:
        """Set one frame (a frame tracked just now); a prompted frame stays prompted."""
        stats = self._statuses.setdefault(obj_id, [FrameStatus.EMPTY] * self._num_frames)
        if stats[frame] is FrameStatus.PROMPTED and status is FrameStatus.TRACKED:
            return
        if stats[frame] is not status:
            stats[frame] = status
            self.changed.emit(obj_id)

    def remove(self, obj_id: int) -> None:
        self._problems.pop(obj_id, None)
        if self._statuses.pop(obj_id, None) is not None:
            self.changed.emit(obj_id)

    def record(self, frame: int, result: ObjectResult) -> None:
        """Keep what the model said of ``result``'s object on ``frame`` (a new result
        replaces the old one's verdict)."""
        if not 0 <= frame < self._num_frames:
            return
        found = problem_of(result)
        problems = self._problems.setdefault(result.obj_id, {})
        if problems.get(frame) != found:
            if found is None:
                del problems[frame]
            else:
                problems[frame] = found
            self.changed.emit(result.obj_id)

    def forget(self, frame: int, obj_id: int) -> None:
        """The frame's result was replaced by one not seen yet (an undo brought back an
        older record): its verdict is unknown until that result arrives."""
        if self._problems.get(obj_id, {}).pop(frame, None) is not None:
            self.changed.emit(obj_id)

    def problem(self, obj_id: int, frame: int) -> tuple[str, float] | None:
        """``(LOST or LOW, score)`` of a done frame whose result said so; None otherwise
        (untracked and stale frames are problems of their own kind)."""
        found = self._problems.get(obj_id, {}).get(frame)
        if found is None or self.status(obj_id, frame) not in DONE:
            return None
        return found

    def problems(self, obj_id: int) -> dict[int, str]:
        """Frame → LOST or LOW, for every done frame with a problem."""
        return {
            f: kind
            for f, (kind, _score) in self._problems.get(obj_id, {}).items()
            if self.status(obj_id, f) in DONE
        }

    def counts(self, obj_id: int) -> dict[FrameStatus, int]:
        stats = self._statuses.get(obj_id, [FrameStatus.EMPTY] * self._num_frames)
        return {s: stats.count(s) for s in FrameStatus}
