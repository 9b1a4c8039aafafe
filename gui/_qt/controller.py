"""The panel's controller: the Qt side of the editor model (``components/editor.py``).

The model decides everything; this QObject owns what needs Qt (the three worker threads,
the QTimers, the QUndoStack), hands the workers' results to the model on the GUI thread
and re-emits the model's events as Signals. Widgets call its methods (the model's) and
observe its models and signals; tests drive it without a window.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QUndoStack

from etam_plugin.gui._qt.undo import AddObjectCommand, PromptCommand, RemoveObjectCommand
from etam_plugin.gui._qt.worker import MailboxWorker, WorkerThread
from etam_plugin.gui.components.backend import InferenceBackend
from etam_plugin.gui.components.editor import EditorModel, SessionState, StatusInfo, Workers
from etam_plugin.gui.components.frames import FrameBackend, FramesFactory, open_frames
from etam_plugin.gui.components.objects import TrackedObject
from etam_plugin.gui.components.recovery import RecoveryArea
from etam_plugin.gui.components.session_api import SessionFactory
from etam_plugin.gui.components.tasks import TaskBackend
from etam_plugin.model import Prompt

__all__ = ["EditorController", "SessionState", "StatusInfo"]


class _FromModel:
    """A controller attribute (or method) that is the model's, read and written there."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: EditorController | None, owner: type | None = None) -> Any:
        return self if obj is None else getattr(obj.model, self.name)

    def __set__(self, obj: EditorController, value: object) -> None:
        setattr(obj.model, self.name, value)


class _UndoStackHistory:
    """The model's undo history on a QUndoStack; its commands call the model's methods."""

    def __init__(self, stack: QUndoStack) -> None:
        self.stack = stack
        self.model: EditorModel  # set once the model exists (it is built with this)

    def push_prompt(
        self, frame: int, obj_id: int, before: Prompt | None, after: Prompt | None, text: str
    ) -> None:
        self.stack.push(PromptCommand(self.model, frame, obj_id, before, after, text))

    def push_add(self, obj: TrackedObject) -> None:
        self.stack.push(AddObjectCommand(self.model, obj))

    def push_remove(self, obj_id: int) -> None:
        self.stack.push(RemoveObjectCommand(self.model, obj_id))

    def forget_add(self, obj_id: int) -> None:
        index = self.stack.index()
        top = self.stack.command(index - 1) if index > 0 else None
        if isinstance(top, AddObjectCommand) and top.obj.obj_id == obj_id:
            top.setObsolete(True)
            self.stack.undo()  # an obsolete command is not undone, only dropped

    def clear(self) -> None:
        self.stack.clear()

    def set_clean(self) -> None:
        self.stack.setClean()


def _event_name(signal_name: str) -> str:
    """``sourceOpened`` → ``source_opened``: each Signal re-emits the model's event."""
    return re.sub(r"[A-Z]", lambda c: "_" + c.group().lower(), signal_name)


class EditorController(QObject):
    sourceOpened = Signal(object)  # SourceInfo
    sessionStateChanged = Signal(object)  # SessionState
    displayChanged = Signal()  # the shown frame's image, masks, markers or styling changed
    thumbnailReady = Signal(int)
    trackingStarted = Signal(object)  # Propagate
    trackingProgress = Signal(object)  # Progress
    trackingFinished = Signal(object)  # TrackingFinished
    errorOccurred = Signal(object)  # ErrorReport
    statusChanged = Signal(object)  # StatusInfo
    sessionSaved = Signal(object)  # Path
    projectSaved = Signal(object)  # ProjectSaved (explicit saves and autosaves)
    projectSaveFailed = Signal(object)  # SaveProject
    dirtyChanged = Signal(bool)  # unsaved work appeared / was saved
    exportStarted = Signal(object)  # ExportJob
    exportProgress = Signal(object)  # ExportProgress
    exportFinished = Signal(object)  # ExportFinished
    downloadProgress = Signal(object)  # DownloadProgress
    downloadFinished = Signal(bool)  # True: the weights are there now
    downloadRetrying = Signal(object)  # DownloadRetrying
    weightsMissing = Signal(object)  # WeightsUnavailableError: the window offers a download
    timelineRead = Signal(object)  # TimelineRead
    timelineRateNeeded = Signal(object)  # Path of an EDL whose rate nothing says
    modelOptionsApplied = Signal(object)  # ModelOptions now in use (after a revert too)
    stateRestored = Signal()  # view, finishing, range restored from a project
    busyChanged = Signal(str)  # what the panel waits for the model to do ("": nothing)

    def __init__(
        self,
        session_factory: SessionFactory,
        frames_factory: FramesFactory = open_frames,
        parent: QObject | None = None,
        recovery: RecoveryArea | None = None,
    ) -> None:
        super().__init__(parent)
        self._shut_down = False
        backend = InferenceBackend(frames_factory, session_factory)
        self.backend = backend
        self._inference = WorkerThread(
            MailboxWorker(backend.handle, backend.close), "etam-inference"
        )
        frame_backend = FrameBackend(frames_factory)
        self._loader = WorkerThread(
            MailboxWorker(frame_backend.handle, frame_backend.close), "etam-frames"
        )
        tasks = TaskBackend()
        self._tasks = WorkerThread(MailboxWorker(tasks.handle, tasks.close), "etam-tasks")
        self.undo_stack = QUndoStack(self)
        history = _UndoStackHistory(self.undo_stack)
        self._play_timer = QTimer(self)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        workers = Workers(
            self._inference.worker.submit, self._loader.worker.submit, self._tasks.worker.submit
        )
        self.model = EditorModel(
            session_factory, workers, history, self._play_timer, self._autosave_timer, recovery
        )
        history.model = self.model

        for name, value in vars(EditorController).items():
            if isinstance(value, Signal):
                getattr(self.model, _event_name(name)).connect(getattr(self, name).emit)
        # Results arrive through slots of this GUI-thread object (queued from the workers).
        self._inference.worker.resultReady.connect(self._on_inference_result_ready)
        self._loader.worker.resultReady.connect(self._on_loader_result_ready)
        self._tasks.worker.resultReady.connect(self._on_task_result_ready)
        self.undo_stack.indexChanged.connect(self._on_undo_stack_index_changed)
        self._play_timer.timeout.connect(self.model.transport.tick)
        self._autosave_timer.timeout.connect(self.model.autosave_now)

    @property
    def inference_worker(self) -> MailboxWorker:
        return self._inference.worker

    @property
    def frame_worker(self) -> MailboxWorker:
        return self._loader.worker

    def shutdown(self) -> None:
        """Cancel tracking and join the worker threads (the window's close calls this)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.model.shutdown()
        self._inference.stop()
        self._loader.stop()
        self._tasks.stop()

    @Slot(object)
    def _on_inference_result_ready(self, msg: object) -> None:
        self.model.on_inference_result(msg)

    @Slot(object)
    def _on_loader_result_ready(self, msg: object) -> None:
        self.model.on_frames_result(msg)

    @Slot(object)
    def _on_task_result_ready(self, msg: object) -> None:
        self.model.on_task_result(msg)

    @Slot(int)
    def _on_undo_stack_index_changed(self, _index: int) -> None:
        self.model.mark_changed()


# What widgets and tests use of the panel is the model's: its state (settings such as
# ``autosave_delay_ms`` are written there too) and its methods, through the controller.
MODEL_API = """
    session_factory recovery changes project_path clip export_settings export_folder exporting
    rendered downloading autosave_delay_ms checkpoint_every_s objects transport coverage
    prompts masks view object_finishing info session_state session_error image displayed_frame
    thumbnails tracking tracking_fps finishing busy open_source open_project open_loaded
    open_timeline open_timeline_clip save_session project_state summary save_project
    autosave_now apply_model_options retry_session download_weights cancel_download export
    plan_export cancel_export set_export_settings apply_prompts add_point set_box clear_prompt
    paint_mask add_object delete_object rename_object set_active_object set_object_color
    set_object_visible track track_plan retrack_from_here cancel_tracking seek next_problem
    set_finishing layers request_thumbnails status
""".split()  # noqa: SIM905 (68 names read better as words than quoted)
for _name in MODEL_API:
    setattr(EditorController, _name, _FromModel(_name))
