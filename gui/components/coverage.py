"""What the coverage bars of the timeline strip show: per object, per frame, a FrameStatus.

The session's ``statuses(obj_id)`` is the truth; while tracking, frames are marked one by one
as results arrive so the bar grows live, and the session's lists replace them at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from etam_plugin.gui.components.events import Event
from etam_plugin.model import FrameStatus

Color = tuple[int, int, int]

EMPTY_COLOR: Color = (46, 48, 54)


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


class Coverage:
    """Statuses of every object; emits ``changed(obj_id)`` (``None``: everything)."""

    def __init__(self, num_frames: int = 0) -> None:
        self.changed = Event()
        self._num_frames = num_frames
        self._statuses: dict[int, list[FrameStatus]] = {}

    @property
    def num_frames(self) -> int:
        return self._num_frames

    def reset(self, num_frames: int) -> None:
        self._num_frames = num_frames
        self._statuses.clear()
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
        if self._statuses.pop(obj_id, None) is not None:
            self.changed.emit(obj_id)

    def counts(self, obj_id: int) -> dict[FrameStatus, int]:
        stats = self._statuses.get(obj_id, [FrameStatus.EMPTY] * self._num_frames)
        return {s: stats.count(s) for s in FrameStatus}
