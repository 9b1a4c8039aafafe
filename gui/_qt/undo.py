"""Undo/redo commands (QUndoStack): every prompt change, adding and deleting objects.

Each command stores both states and re-applies one through the editor model's public
methods (``components/editor.py``), which update the panel's mirror at once and send the
change to the inference worker (the session recomputes that frame).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from etam_plugin.gui.components.objects import TrackedObject
from etam_plugin.gui.components.prompts import describe
from etam_plugin.model import Prompt

if TYPE_CHECKING:
    from etam_plugin.gui.components.editor import EditorModel


class PromptCommand(QUndoCommand):
    """One prompt edit of one object on one frame: a click, a box, a clear."""

    def __init__(
        self,
        controller: EditorModel,
        frame: int,
        obj_id: int,
        before: Prompt | None,
        after: Prompt | None,
        text: str,
    ) -> None:
        super().__init__(f"{text} (frame {frame}, {describe(after)})")
        self._c = controller
        self.frame, self.obj_id = frame, obj_id
        self.before, self.after = before, after

    def redo(self) -> None:
        self._c.apply_prompt(self.frame, self.obj_id, self.after)

    def undo(self) -> None:
        self._c.apply_prompt(self.frame, self.obj_id, self.before)


class AddObjectCommand(QUndoCommand):
    def __init__(self, controller: EditorModel, obj: TrackedObject) -> None:
        super().__init__(f"Add {obj.name}")
        self._c = controller
        self.obj = obj

    def redo(self) -> None:
        self._c.insert_object(self.obj)

    def undo(self) -> None:
        self._c.drop_object(self.obj.obj_id)


class RemoveObjectCommand(QUndoCommand):
    """Deleting keeps the object, its prompts and finishing, and the session keeps its
    records, so undo brings it back as it was, tracked frames too (no re-track)."""

    def __init__(self, controller: EditorModel, obj_id: int) -> None:
        self._c = controller
        self.obj = controller.objects.get(obj_id)
        self.prompts = controller.prompts.of_object(obj_id)
        self.finishing = controller.object_finishing.of(obj_id)
        super().__init__(f"Delete {self.obj.name}")

    def redo(self) -> None:
        self._c.drop_object(self.obj.obj_id, keep=True)

    def undo(self) -> None:
        self._c.restore_object(self.obj, self.prompts, self.finishing)
