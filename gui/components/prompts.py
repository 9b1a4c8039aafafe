"""Prompt editing (pure functions) and the panel's mirror of every prompt.

The session owns the prompts that matter for tracking; the panel keeps a mirror so that
markers redraw and undo commands know the previous prompt at once, without asking the worker.
"""

from __future__ import annotations

from etam_plugin.gui.components.events import Event
from etam_plugin.model import Prompt, clicks

Point = tuple[float, float]
Box = tuple[float, float, float, float]


def with_point(prompt: Prompt | None, xy: Point, positive: bool) -> Prompt:
    """``prompt`` plus one click. A painted mask prompt is dropped: clicks take over."""
    prompt = prompt or Prompt()
    return Prompt(
        points_xy=(*prompt.points_xy, (float(xy[0]), float(xy[1]))),
        labels=(*prompt.labels, 1 if positive else 0),
        box_xyxy=prompt.box_xyxy,
    )


def with_box(prompt: Prompt | None, box: Box) -> Prompt:
    """``prompt`` with its box replaced (one box per object and frame, as in SAM 2)."""
    prompt = prompt or Prompt()
    x0, y0, x1, y1 = box
    ordered = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return Prompt(points_xy=prompt.points_xy, labels=prompt.labels, box_xyxy=ordered)


def normalized(prompt: Prompt | None) -> Prompt | None:
    """None for "no prompt" whichever way it is spelled."""
    return None if prompt is None or prompt.is_empty else prompt


def describe(prompt: Prompt | None) -> str:
    """A short human text for undo entries and tooltips."""
    prompt = normalized(prompt)
    if prompt is None:
        return "no prompt"
    parts = []
    pos = sum(1 for label in prompt.labels if label == 1)
    neg = len(prompt.labels) - pos
    if pos:
        parts.append(f"{pos} positive")
    if neg:
        parts.append(f"{neg} negative")
    if prompt.box_xyxy is not None:
        parts.append("box")
    if prompt.mask is not None:
        parts.append("mask")
    return ", ".join(parts)


class PromptStore:
    """Prompts by ``(frame, obj_id)``; emits ``changed(frame, obj_id)``."""

    def __init__(self) -> None:
        self._prompts: dict[tuple[int, int], Prompt] = {}
        self.changed = Event()

    def get(self, frame: int, obj_id: int) -> Prompt | None:
        return self._prompts.get((frame, obj_id))

    def set(self, frame: int, obj_id: int, prompt: Prompt | None) -> None:
        key = (frame, obj_id)
        prompt = normalized(prompt)
        old = self._prompts.get(key)
        if prompt is None:
            self._prompts.pop(key, None)
        else:
            self._prompts[key] = prompt
        if old is not prompt:
            self.changed.emit(frame, obj_id)

    def for_frame(self, frame: int) -> dict[int, Prompt]:
        return {o: p for (f, o), p in self._prompts.items() if f == frame}

    def frames(self, obj_id: int) -> list[int]:
        return sorted(f for (f, o) in self._prompts if o == obj_id)

    def of_object(self, obj_id: int) -> dict[int, Prompt]:
        return {f: p for (f, o), p in self._prompts.items() if o == obj_id}

    def remove_object(self, obj_id: int) -> dict[int, Prompt]:
        """Forget an object's prompts and return them (kept by the delete's undo command)."""
        taken = self.of_object(obj_id)
        for frame in taken:
            del self._prompts[(frame, obj_id)]
            self.changed.emit(frame, obj_id)
        return taken

    def clear(self) -> None:
        self._prompts.clear()
        self.changed.emit(None, None)

    def __len__(self) -> int:
        return len(self._prompts)

    def calls(self) -> list[tuple[int, int, Prompt]]:
        """Every drawing as the clicks that build it, (frame, object, call) by frame then
        object: what the session replays, and so what ``prompts.json`` carries."""
        ordered = sorted(self._prompts.items())
        return [(frame, obj, call) for (frame, obj), d in ordered for call in clicks(d)]
