"""The panel's editor model with no Qt at all: the real backends served in the test's thread.

``HeadlessEditor`` builds an :class:`EditorModel` as the QObject controller does, but its
workers are plain mailboxes (the real newest-wins ``Mailbox``) that the test serves with
``settle()``, its timers are ones the test fires, and its undo history is a list whose steps
call the model's public methods as the panel's QUndoCommands do. Results go to the model as
the backends emit them (a tracking run streams its frames, as the queued signal does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from etam_plugin.gui.components.backend import InferenceBackend
from etam_plugin.gui.components.editor import EditorModel, Workers
from etam_plugin.gui.components.frames import FrameBackend, FramesFactory
from etam_plugin.gui.components.mailbox import Mailbox
from etam_plugin.gui.components.objects import TrackedObject
from etam_plugin.gui.components.session_api import SessionFactory
from etam_plugin.gui.components.tasks import TaskBackend
from etam_plugin.matte import MatteOps
from etam_plugin.model import Prompt


class InlineWorker:
    """A worker without a thread: ``submit`` files, ``serve_one`` handles the next request."""

    def __init__(self, handle: Callable[[object, Callable[[object], None]], None]) -> None:
        self._handle = handle
        self.mailbox: Mailbox[object] = Mailbox()
        self.deliver: Callable[[object], None] = lambda _msg: None
        self.served: list[object] = []

    def submit(self, request: object, priority: int = 0) -> None:
        self.mailbox.put(request, key=getattr(request, "key", None), priority=priority)

    def serve_one(self) -> bool:
        request = self.mailbox.pop()
        if request is None:
            return False
        self.served.append(request)
        self._handle(request, self.deliver)
        return True


class ManualTimer:
    """A timer the test fires by hand (``fire()``) when it is running."""

    def __init__(self) -> None:
        self.running = False
        self.msec = 0
        self.timeout: Callable[[], object] = lambda: None

    def start(self, msec: int) -> None:
        self.running, self.msec = True, msec

    def stop(self) -> None:
        self.running = False

    def isActive(self) -> bool:  # the Timer protocol has QTimer's spelling
        return self.running

    def fire(self, single_shot: bool = False) -> None:
        assert self.running, "the timer is not running"
        if single_shot:
            self.running = False
        self.timeout()


@dataclass
class _Step:
    do: Callable[[], None]
    undo: Callable[[], None]
    text: str
    obj_id: int | None = None  # an object added by this step


class ListHistory:
    """An undo history as a list: the steps call what ``gui/_qt/undo.py``'s commands call."""

    def __init__(self) -> None:
        self.model: EditorModel
        self.steps: list[_Step] = []
        self.index = 0
        self.clean_index: int | None = 0

    def _push(self, step: _Step) -> None:
        del self.steps[self.index :]
        self.steps.append(step)
        step.do()
        self.index += 1
        self.model.mark_changed()  # what QUndoStack.indexChanged does in the panel

    def push_prompt(
        self, frame: int, obj_id: int, before: Prompt | None, after: Prompt | None, text: str
    ) -> None:
        model = self.model
        self._push(
            _Step(
                lambda: model.apply_prompt(frame, obj_id, after),
                lambda: model.apply_prompt(frame, obj_id, before),
                text,
            )
        )

    def push_add(self, obj: TrackedObject) -> None:
        model = self.model
        self._push(
            _Step(
                lambda: model.insert_object(obj),
                lambda: model.drop_object(obj.obj_id),
                f"Add {obj.name}",
                obj.obj_id,
            )
        )

    def push_remove(self, obj_id: int) -> None:
        model = self.model
        obj = model.objects.get(obj_id)
        prompts: dict[int, Prompt] = model.prompts.of_object(obj_id)
        finishing: MatteOps = model.object_finishing.of(obj_id)
        self._push(
            _Step(
                lambda: model.drop_object(obj_id, keep=True),
                lambda: model.restore_object(obj, prompts, finishing),
                f"Delete {obj.name}",
            )
        )

    def forget_add(self, obj_id: int) -> None:
        if self.index and self.steps[self.index - 1].obj_id == obj_id:
            del self.steps[self.index - 1 :]
            self.index -= 1

    def clear(self) -> None:
        self.steps.clear()
        self.index = 0
        self.clean_index = 0

    def set_clean(self) -> None:
        self.clean_index = self.index

    def undo(self) -> None:
        assert self.index > 0, "nothing to undo"
        self.index -= 1
        self.steps[self.index].undo()
        self.model.mark_changed()

    def redo(self) -> None:
        assert self.index < len(self.steps), "nothing to redo"
        self.steps[self.index].do()
        self.index += 1
        self.model.mark_changed()


class HeadlessEditor:
    """An :class:`EditorModel` wired to inline workers, manual timers and a list history."""

    def __init__(
        self, session_factory: SessionFactory, frames_factory: FramesFactory, recovery=None
    ) -> None:
        self.backend = InferenceBackend(frames_factory, session_factory)
        self.inference = InlineWorker(self.backend.handle)
        frames = FrameBackend(frames_factory)
        self.frames = InlineWorker(frames.handle)
        self.tasks = InlineWorker(TaskBackend().handle)
        self._closers = [self.backend.close, frames.close]
        self.history = ListHistory()
        self.play_timer, self.autosave_timer = ManualTimer(), ManualTimer()
        workers = Workers(self.inference.submit, self.frames.submit, self.tasks.submit)
        self.model = model = EditorModel(
            session_factory, workers, self.history, self.play_timer, self.autosave_timer, recovery
        )
        self.history.model = model
        self.inference.deliver = model.on_inference_result
        self.frames.deliver = model.on_frames_result
        self.tasks.deliver = model.on_task_result
        self.play_timer.timeout = model.transport.tick
        self.autosave_timer.timeout = model.autosave_now

    def settle(self, limit: int = 10_000) -> int:
        """Serve every worker until none has anything left; returns the requests served."""
        served = 0
        while served < limit:
            if not any(w.serve_one() for w in (self.frames, self.inference, self.tasks)):
                return served
            served += 1
        raise AssertionError(f"the workers were still busy after {limit} requests")

    def close(self) -> None:
        self.model.shutdown()
        for close in self._closers:
            close()
