"""The editor model's undoable edits: prompts (clicks, boxes, brush strokes, scripted
prompts) and objects (``Edits``, a part of ``EditorModel``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from etam_plugin.errors import ModelError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.editor_ports import SessionState
from etam_plugin.gui.components.objects import Color, TrackedObject, color_for
from etam_plugin.gui.components.prompts import with_box, with_point
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus, Prompt, clicks, drawing


class Edits:
    """The editor model's undoable edits: prompts (clicks, boxes, brush strokes, scripted
    prompts) and objects (part of :class:`EditorModel`, whose ``__init__`` holds the state)."""

    # ------------------------------------------------------------------ scripted prompts
    def apply_prompts(
        self, items: Sequence[tuple[int, int, Prompt]], track: str | None = None
    ) -> None:
        """Prompt calls given from outside (``etam-plugin panel --point …``), each one an
        undoable edit of the frame's drawing, applied as clicks like every edit in the
        panel; then track ``track`` ("forward"/"backward"/"both") if given.
        Waits for the session when it is still starting."""
        if self.session_state is not SessionState.READY or self.displayed_frame is None:
            self._pending_prompts = (list(items), track)
            return
        self._pending_prompts = None
        for frame, obj_id, prompt in items:
            if obj_id not in self.objects:
                name = self.objects.default_name(obj_id)
                self._history.push_add(TrackedObject(obj_id, name, color_for(obj_id)))
            if not 0 <= frame < self.transport.num_frames:
                self._report(ModelError(f"a prompt is on frame {frame}, outside the clip"))
                continue
            before = self.prompts.get(frame, obj_id)
            after = drawing((*clicks(before), prompt))  # the panel replays it as clicks
            self._history.push_prompt(frame, obj_id, before, after, "Prompt")
        if items:
            self.seek(min(f for f, _o, _p in items))
        if track:
            self.track(track)

    # ------------------------------------------------------------------ prompts
    def add_point(self, x: float, y: float, positive: bool = True) -> bool:
        """A click on the shown frame at source pixel (x, y) for the active object."""
        kind = "Positive point" if positive else "Negative point"
        return self._edit_prompt(lambda p: with_point(p, (x, y), positive), kind)

    def set_box(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        return self._edit_prompt(lambda p: with_box(p, (x0, y0, x1, y1)), "Box")

    def clear_prompt(self) -> bool:
        return self._edit_prompt(lambda _p: None, "Clear prompt")

    def paint_mask(self, stroke: np.ndarray, add: bool = True) -> bool:
        """A brush stroke (bool pixels of the shown frame) added to, or cut from, the active
        object's mask there: the result becomes the frame's mask prompt, an undoable
        correction like a click (later frames go stale)."""
        frame = self.displayed_frame
        if frame is None or stroke.shape != self.masks.size:
            return False
        obj_id = self.objects.active_id
        if (
            obj_id is not None
            and not self.masks.has(frame, obj_id)
            and self.coverage.status(obj_id, frame) is not FrameStatus.EMPTY
        ):
            self._report_info("This frame's mask is still loading: paint again in a moment.")
            return False
        base = None
        if obj_id is not None and self.coverage.status(obj_id, frame) is not FrameStatus.EMPTY:
            base = self.masks.get(frame, obj_id)
        if base is None:
            base = np.zeros(stroke.shape, bool)
        painted = base | stroke if add else base & ~stroke
        if np.array_equal(painted, base):
            return False
        text = "Brush add" if add else "Brush subtract"
        return self._edit_prompt(lambda _p: Prompt(mask=painted), text)

    def _edit_prompt(self, change: Callable[[Prompt | None], Prompt | None], text: str) -> bool:
        if self.displayed_frame is None:
            return False
        if self.tracking is not None:
            self._report_info("Corrections wait until tracking stops (Esc cancels it).")
            return False
        if self.exporting is not None:
            self._report_info("Corrections wait until the export finishes.")
            return False
        if self._no_session("Adding a prompt"):
            return False
        self.transport.stop()
        if self.objects.active_id is None:
            self.add_object()
        frame, obj_id = self.displayed_frame, self.objects.active_id
        assert obj_id is not None
        before = self.prompts.get(frame, obj_id)
        after = change(before)
        if after == before and (after is None or after.mask is None):
            return False
        self._history.push_prompt(frame, obj_id, before, after, text)
        return True

    def apply_prompt(self, frame: int, obj_id: int, prompt: Prompt | None) -> None:
        """An edit's do or undo (the history's commands call it): the panel's mirror now,
        the session through the worker."""
        self.prompts.set(frame, obj_id, prompt)
        self._ask_model(m.SetPrompt(frame, obj_id, prompt))
        if obj_id in self.objects:
            self.objects.set_active(obj_id)
        if frame != self.transport.current:
            self.seek(frame)
        self.display_changed.emit()

    # ------------------------------------------------------------------ objects
    def add_object(self, name: str | None = None) -> TrackedObject | None:
        """A new object (undoable); None and a word why when there is no session for it."""
        if self.info is None:
            self._report_info("Open a clip first, then add objects to it.")
            return None
        if self._no_session("Adding an object"):
            return None
        obj = self.objects.new_object(name)
        self._history.push_add(obj)
        return self.objects.get(obj.obj_id)

    def delete_object(self, obj_id: int | None = None) -> bool:
        obj_id = self.objects.active_id if obj_id is None else obj_id
        if obj_id is None or obj_id not in self.objects:
            return False
        if self.tracking is not None:
            self._report_info("Objects cannot be deleted while tracking.")
            return False
        self._history.push_remove(obj_id)
        return True

    def rename_object(self, obj_id: int, name: str) -> None:
        try:
            self.objects.rename(obj_id, name)
        except ValueError as exc:
            self._report(exc, "Renaming")
            return
        self._workers.inference(m.RenameObject(obj_id, self.objects.get(obj_id).name))

    def set_object_color(self, obj_id: int, color: Color) -> None:
        self.objects.set_color(obj_id, color)

    def set_object_visible(self, obj_id: int, visible: bool) -> None:
        self.objects.set_visible(obj_id, visible)

    def set_active_object(self, obj_id: int | None) -> None:
        self.objects.set_active(obj_id)

    def insert_object(self, obj: TrackedObject) -> None:
        """A new object (an add, or its redo)."""
        self.objects.add(obj.name, obj_id=obj.obj_id, color=obj.color, visible=obj.visible)
        self._workers.inference(m.AddObject(obj.obj_id, obj.name))
        self.display_changed.emit()

    def restore_object(
        self, obj: TrackedObject, prompts: dict[int, Prompt], finishing: MatteOps
    ) -> None:
        """Undo of a delete: the object comes back as it was, its tracked frames too (the
        session kept them), so nothing needs tracking again."""
        self.object_finishing.set(obj.obj_id, finishing)
        self.objects.add(obj.name, obj_id=obj.obj_id, color=obj.color, visible=obj.visible)
        for frame, prompt in sorted(prompts.items()):
            self.prompts.set(frame, obj.obj_id, prompt)
        self._ask_model(m.RestoreObject(obj.obj_id, obj.name, tuple(sorted(prompts.items()))))
        self.display_changed.emit()

    def drop_object(self, obj_id: int, keep: bool = False) -> None:
        """Take an object out of the panel and the session (``keep``: set aside in the
        session for an undo to restore)."""
        if obj_id not in self.objects:
            return
        self.objects.remove(obj_id)
        self.object_finishing.pop(obj_id)
        self.prompts.remove_object(obj_id)
        self.masks.remove_object(obj_id)
        self.coverage.remove(obj_id)
        if obj_id in self._failed_adds:
            self._failed_adds.discard(obj_id)  # the session never had it
        else:
            self._workers.inference(m.RemoveObject(obj_id, keep))
        self.display_changed.emit()

    def _undo_failed_add(self, obj_id: int) -> None:
        """The session refused an object: it leaves the panel too (with its undo step, so
        it cannot come back into this clip or the next)."""
        self._failed_adds.add(obj_id)
        self.drop_object(obj_id)
        self._history.forget_add(obj_id)

    def _on_objects_changed(self, kind: str, _obj_id: int | None) -> None:
        if kind in ("recolored", "visibility", "removed", "added", "active", "reset"):
            self.display_changed.emit()
        if kind in ("recolored", "visibility", "renamed"):
            self.mark_changed()
