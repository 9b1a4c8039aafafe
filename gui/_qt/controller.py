"""The panel's controller: glues the Qt-free models, the undo stack and the two workers.

It has no window, so tests drive it directly. Widgets call its methods and observe its
models and signals; the inference worker owns the session; the frame loader decodes frames
and thumbnails. All of it runs on the GUI thread except what the workers do.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QUndoStack

from etam_plugin.errors import ModelError
from etam_plugin.gui._qt.undo import AddObjectCommand, PromptCommand, RemoveObjectCommand
from etam_plugin.gui._qt.worker import MailboxWorker, WorkerThread
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.backend import InferenceBackend
from etam_plugin.gui.components.coverage import Coverage
from etam_plugin.gui.components.errors import ErrorReport, describe_error
from etam_plugin.gui.components.finishing import is_identity, preview_alpha
from etam_plugin.gui.components.frames import FrameBackend, FramesFactory, open_frames
from etam_plugin.gui.components.masks import MaskStore
from etam_plugin.gui.components.objects import Color, ObjectList, TrackedObject
from etam_plugin.gui.components.prompts import PromptStore, with_box, with_point
from etam_plugin.gui.components.render import Layer
from etam_plugin.gui.components.session_api import SessionFactory
from etam_plugin.gui.components.transport import Transport
from etam_plugin.gui.components.view import ViewOptions
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus, Prompt


class SessionState(str, enum.Enum):
    NONE = "no clip"
    STARTING = "starting"
    READY = "ready"
    FAILED = "unavailable"


@dataclass(frozen=True)
class StatusInfo:
    model: str
    session: SessionState
    last_step_ms: float | None
    tracking_fps: float | None
    masks_mb: float


def _action(request: object) -> str:
    names: dict[type, Callable[[object], str]] = {
        m.OpenFrames: lambda r: f"Opening {r.spec.path.name}",
        m.LoadFrame: lambda r: f"Reading frame {r.index}",
        m.LoadThumbnail: lambda r: f"Reading the thumbnail of frame {r.index}",
        m.StartSession: lambda r: "Starting the tracking session",
        m.SetPrompt: lambda r: f"Updating the mask on frame {r.frame}",
        m.Propagate: lambda r: "Tracking",
        m.AddObject: lambda r: "Adding an object",
        m.RemoveObject: lambda r: "Deleting an object",
        m.RenameObject: lambda r: "Renaming an object",
        m.FetchResults: lambda r: f"Loading the masks of frame {r.frame}",
        m.SaveSession: lambda r: f"Saving the session to {r.folder}",
    }
    fn = names.get(type(request))
    return fn(request) if fn else ""


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

    def __init__(
        self,
        session_factory: SessionFactory,
        frames_factory: FramesFactory = open_frames,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session_factory = session_factory
        self.objects = ObjectList()
        self.transport = Transport(0)
        self.coverage = Coverage(0)
        self.prompts = PromptStore()
        self.masks = MaskStore()
        self.view = ViewOptions()
        self.finishing = MatteOps()
        self.undo_stack = QUndoStack(self)
        self.info: m.SourceInfo | None = None
        self.session_state = SessionState.NONE
        self.session_error: BaseException | None = None
        self.image: np.ndarray | None = None
        self.displayed_frame: int | None = None
        self.thumbnails: dict[int, np.ndarray] = {}
        self._thumb_height = 0
        self._thumb_asked: set[int] = set()
        self._pending_spec: m.SourceSpec | None = None
        self._session_folder: Path | None = None
        self._fetching: set[int] = set()
        self.tracking: m.Propagate | None = None
        self._follow = False
        self._seeking_to_follow = False
        self._last_step_ms: float | None = None
        self._tracking_fps: float | None = None
        self._shut_down = False
        self._frame_error_shown = False

        backend = InferenceBackend(frames_factory, session_factory)
        self.backend = backend
        self._inference = WorkerThread(
            MailboxWorker(backend.handle, backend.close), "etam-inference"
        )
        frame_backend = FrameBackend(frames_factory)
        self._loader = WorkerThread(
            MailboxWorker(frame_backend.handle, frame_backend.close), "etam-frames"
        )
        self._inference.worker.resultReady.connect(self._on_inference_result_ready)
        self._loader.worker.resultReady.connect(self._on_loader_result_ready)

        self.transport.frame_changed.connect(self._on_frame_changed)
        self.transport.speed_changed.connect(self._on_speed_changed)
        self.objects.changed.connect(self._on_objects_changed)
        self.view.changed.connect(self.displayChanged.emit)
        self._play_timer = QTimer(self)
        self._play_timer.timeout.connect(self._on_play_timer_timeout)

    # ------------------------------------------------------------------ workers
    @property
    def inference_worker(self) -> MailboxWorker:
        return self._inference.worker

    @property
    def frame_worker(self) -> MailboxWorker:
        return self._loader.worker

    def shutdown(self) -> None:
        """Cancel tracking and join both worker threads (the window's close calls this)."""
        if self._shut_down:
            return
        self._shut_down = True
        self._play_timer.stop()
        if self.tracking is not None:
            self.tracking.cancel.set()
        self._inference.stop()
        self._loader.stop()

    # ------------------------------------------------------------------ opening
    def open_source(self, path: str | Path, session_folder: Path | None = None) -> None:
        """Open a clip (and, with ``session_folder``, its saved session) without blocking."""
        if self.tracking is not None:
            self.tracking.cancel.set()
        spec = m.SourceSpec(Path(path))
        self._pending_spec = spec
        self._session_folder = session_folder
        self._loader.worker.submit(m.OpenFrames(spec))

    def save_session(self, folder: Path) -> None:
        if self.session_state is not SessionState.READY:
            self._report_info("There is no tracking session to save yet.")
            return
        self._inference.worker.submit(m.SaveSession(Path(folder)))

    def _on_frames_opened(self, info: m.SourceInfo) -> None:
        if self._pending_spec is None or info.path != self._pending_spec.path:
            return  # an older open that was overtaken
        spec, folder = self._pending_spec, self._session_folder
        self._pending_spec = None
        self.info = info
        self.tracking = None
        self.undo_stack.clear()
        self.prompts.clear()
        self.masks.reset(info.frame_size)
        self.coverage.reset(info.num_frames)
        self.thumbnails.clear()
        self._thumb_asked.clear()
        self._fetching.clear()
        self._frame_error_shown = False
        self.image, self.displayed_frame = None, None
        self.objects.clear()
        if folder is None:
            self.objects.add()
        self._play_timer.setInterval(max(1, round(1000 / float(info.fps))))
        self.transport.reset(info.num_frames)
        self._set_session_state(SessionState.STARTING)
        objects = tuple((o.obj_id, o.name) for o in self.objects)
        self._inference.worker.submit(m.StartSession(spec, objects, folder))
        self.sourceOpened.emit(info)

    # ------------------------------------------------------------------ prompts
    def add_point(self, x: float, y: float, positive: bool = True) -> bool:
        """A click on the shown frame at source pixel (x, y) for the active object."""
        kind = "Positive point" if positive else "Negative point"
        return self._edit_prompt(lambda p: with_point(p, (x, y), positive), kind)

    def set_box(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        return self._edit_prompt(lambda p: with_box(p, (x0, y0, x1, y1)), "Box")

    def clear_prompt(self) -> bool:
        return self._edit_prompt(lambda _p: None, "Clear prompt")

    def _edit_prompt(self, change: Callable[[Prompt | None], Prompt | None], text: str) -> bool:
        if self.displayed_frame is None:
            return False
        if self.tracking is not None:
            self._report_info("Corrections wait until tracking stops (Esc cancels it).")
            return False
        if self.session_state is SessionState.FAILED:
            self._report(
                ModelError(f"No tracking session: {self.session_error}"), "Adding a prompt"
            )
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
        self.undo_stack.push(PromptCommand(self, frame, obj_id, before, after, text))
        return True

    def _apply_prompt(self, frame: int, obj_id: int, prompt: Prompt | None) -> None:
        """Called by undo commands: mirror now, session through the worker."""
        self.prompts.set(frame, obj_id, prompt)
        self._inference.worker.submit(m.SetPrompt(frame, obj_id, prompt))
        if obj_id in self.objects:
            self.objects.set_active(obj_id)
        if frame != self.transport.current:
            self.seek(frame)
        self.displayChanged.emit()

    # ------------------------------------------------------------------ objects
    def add_object(self, name: str | None = None) -> TrackedObject:
        obj = self.objects.new_object(name)
        self.undo_stack.push(AddObjectCommand(self, obj))
        return self.objects.get(obj.obj_id)

    def delete_object(self, obj_id: int | None = None) -> bool:
        obj_id = self.objects.active_id if obj_id is None else obj_id
        if obj_id is None or obj_id not in self.objects:
            return False
        if self.tracking is not None:
            self._report_info("Objects cannot be deleted while tracking.")
            return False
        self.undo_stack.push(RemoveObjectCommand(self, obj_id))
        return True

    def rename_object(self, obj_id: int, name: str) -> None:
        try:
            self.objects.rename(obj_id, name)
        except ValueError as exc:
            self._report(exc, "Renaming")
            return
        self._inference.worker.submit(m.RenameObject(obj_id, self.objects.get(obj_id).name))

    def set_object_color(self, obj_id: int, color: Color) -> None:
        self.objects.set_color(obj_id, color)

    def set_object_visible(self, obj_id: int, visible: bool) -> None:
        self.objects.set_visible(obj_id, visible)

    def set_active_object(self, obj_id: int | None) -> None:
        self.objects.set_active(obj_id)

    def _insert_object(self, obj: TrackedObject, prompts: dict[int, Prompt]) -> None:
        self.objects.add(obj.name, obj_id=obj.obj_id, color=obj.color, visible=obj.visible)
        self._inference.worker.submit(m.AddObject(obj.obj_id, obj.name))
        for frame, prompt in sorted(prompts.items()):
            self.prompts.set(frame, obj.obj_id, prompt)
            self._inference.worker.submit(m.SetPrompt(frame, obj.obj_id, prompt))
        self.displayChanged.emit()

    def _drop_object(self, obj_id: int) -> None:
        self.objects.remove(obj_id)
        self.prompts.remove_object(obj_id)
        self.masks.remove_object(obj_id)
        self.coverage.remove(obj_id)
        self._inference.worker.submit(m.RemoveObject(obj_id))
        self.displayChanged.emit()

    def _on_objects_changed(self, kind: str, _obj_id: int | None) -> None:
        if kind in ("recolored", "visibility", "removed", "added", "active", "reset"):
            self.displayChanged.emit()

    # ------------------------------------------------------------------ tracking
    def track(self, direction: str = "forward") -> bool:
        """Track from the playhead over the in/out range in a worker; returns whether started."""
        if self.info is None or self.tracking is not None:
            return False
        if self.session_state is SessionState.FAILED:
            self._report(ModelError(f"No tracking session: {self.session_error}"), "Tracking")
            return False
        if not any(self.prompts.frames(o) for o in self.objects.ids):
            self._report_info("Click on an object first, then track it.")
            return False
        t = self.transport
        start = min(max(t.current, t.in_point), t.out_point)
        prompted = tuple(o for o in self.objects.ids if self.prompts.frames(o))
        request = m.Propagate(direction, start, t.in_point, t.out_point, obj_ids=prompted)
        self.transport.stop()
        self.tracking = request
        self._follow = True
        self._inference.worker.submit(request)
        self.trackingStarted.emit(request)
        return True

    def retrack_from_here(self) -> bool:
        """After a correction: track forward from the shown frame to the out point."""
        return self.track("forward")

    def cancel_tracking(self) -> None:
        if self.tracking is not None:
            self.tracking.cancel.set()

    # ------------------------------------------------------------------ display
    def seek(self, index: int) -> None:
        """A move asked by the user (scrubber, keys): stops following the tracker."""
        self._follow = False
        self.transport.seek(index)

    def set_finishing(self, finishing: MatteOps) -> None:
        if finishing != self.finishing:
            self.finishing = finishing
            self.displayChanged.emit()

    def layers(self, frame: int) -> list[Layer]:
        """The visible objects' mattes on ``frame`` (finishing previewed), bottom to top."""
        out = []
        ops = self.finishing
        guide = self.image if frame == self.displayed_frame else None
        for obj in self.objects:
            if not obj.visible:
                continue
            if is_identity(ops):
                mask = self.masks.get(frame, obj.obj_id)
                if mask is not None:
                    out.append(Layer(mask, obj.color))
                continue

            def mask_of(i: int, obj_id: int = obj.obj_id) -> np.ndarray | None:
                return self.masks.get(i, obj_id) if 0 <= i < self.coverage.num_frames else None

            alpha = preview_alpha(ops, frame, mask_of, guide)
            if alpha is not None:
                out.append(Layer(alpha, obj.color))
        return out

    def request_thumbnails(self, indices: list[int], height: int) -> None:
        if height != self._thumb_height:
            self._thumb_height = height
            self.thumbnails.clear()
            self._thumb_asked.clear()
        for index in indices:
            if index not in self.thumbnails and index not in self._thumb_asked:
                self._thumb_asked.add(index)
                self._loader.worker.submit(m.LoadThumbnail(index, height), priority=1)

    def _on_frame_changed(self, index: int) -> None:
        if not self._seeking_to_follow:
            self._follow = False
        self._loader.worker.submit(m.LoadFrame(index))

    def _fetch_missing_masks(self, frame: int) -> None:
        if self.session_state is not SessionState.READY or frame in self._fetching:
            return
        empty = FrameStatus.EMPTY
        missing = tuple(
            o
            for o in self.objects.ids
            if not self.masks.has(frame, o) and self.coverage.status(o, frame) is not empty
        )
        if missing:
            self._fetching.add(frame)
            self._inference.worker.submit(m.FetchResults(frame, missing))

    # ------------------------------------------------------------------ playback
    def _on_speed_changed(self, speed: int) -> None:
        if speed and self.info is not None:
            self._follow = False
            self._play_timer.start()
        else:
            self._play_timer.stop()

    @Slot()
    def _on_play_timer_timeout(self) -> None:
        self.transport.tick()

    # ------------------------------------------------------------------ results
    @Slot(object)
    def _on_loader_result_ready(self, msg: object) -> None:
        if isinstance(msg, m.FrameLoaded):
            if msg.index == self.transport.current:
                self.image, self.displayed_frame = msg.image, msg.index
                self._fetch_missing_masks(msg.index)
                self.displayChanged.emit()
        elif isinstance(msg, m.ThumbnailLoaded):
            if msg.image.shape[0] == self._thumb_height:
                self.thumbnails[msg.index] = msg.image
                self.thumbnailReady.emit(msg.index)
        elif isinstance(msg, m.FramesOpened):
            self._on_frames_opened(msg.info)
        elif isinstance(msg, m.Failed):
            if isinstance(msg.request, m.LoadThumbnail):
                self._thumb_asked.discard(msg.request.index)
                self._report(msg.error, _action(msg.request), severity="warning")
            elif isinstance(msg.request, m.LoadFrame):
                # One dialog per clip; scrubbing over more bad frames only says so below.
                severity = "warning" if self._frame_error_shown else ""
                self._frame_error_shown = True
                self._report(msg.error, _action(msg.request), msg.details, severity)
            else:
                if isinstance(msg.request, m.OpenFrames):
                    self._pending_spec = None
                self._report(msg.error, _action(msg.request), msg.details)

    @Slot(object)
    def _on_inference_result_ready(self, msg: object) -> None:
        stale = (
            m.FrameTracked,
            m.PromptApplied,
            m.TrackingFinished,
            m.ResultsFetched,
            m.ObjectsChanged,
            m.SessionSaved,
        )
        if self.session_state is SessionState.STARTING and isinstance(msg, stale):
            return  # from the previous clip's session: the worker serves in order
        if isinstance(msg, m.FrameTracked):
            self._on_frame_tracked(msg)
        elif isinstance(msg, m.PromptApplied):
            for res in msg.result.objects.values():
                if res.obj_id in self.objects:
                    self.masks.put_result(msg.result.frame_index, res)
            self._set_all_statuses(msg.statuses)
            self._last_step_ms = msg.elapsed_s * 1000.0
            self._emit_status()
            if msg.result.frame_index == self.displayed_frame:
                self.displayChanged.emit()
        elif isinstance(msg, m.TrackingFinished):
            self._set_all_statuses(msg.statuses)
            if self.tracking is msg.request:
                self.tracking = None
            self._follow = False
            self.trackingFinished.emit(msg)
            self._emit_status()
        elif isinstance(msg, m.ResultsFetched):
            self._fetching.discard(msg.frame)
            for res in msg.objects.values():
                if res.obj_id in self.objects:
                    self.masks.put_result(msg.frame, res)
            if msg.frame == self.displayed_frame:
                self.displayChanged.emit()
        elif isinstance(msg, m.SessionStarted):
            self._on_session_started(msg)
        elif isinstance(msg, m.ObjectsChanged):
            self._set_all_statuses(msg.statuses)
        elif isinstance(msg, m.SessionSaved):
            self.undo_stack.setClean()
            self.sessionSaved.emit(msg.folder)
        elif isinstance(msg, m.Failed):
            if isinstance(msg.request, m.StartSession):
                self.session_error = msg.error
                self._set_session_state(SessionState.FAILED)
            if isinstance(msg.request, m.FetchResults):
                self._fetching.discard(msg.request.frame)
            self._report(msg.error, _action(msg.request), msg.details)

    def _on_session_started(self, msg: m.SessionStarted) -> None:
        for obj_id, name in msg.objects.items():
            if obj_id not in self.objects:
                self.objects.add(name, obj_id=obj_id, activate=False)
            elif self.objects.get(obj_id).name != name:
                self.objects.rename(obj_id, name)
        for (frame, obj_id), prompt in msg.prompts.items():
            self.prompts.set(frame, obj_id, prompt)
        self._set_all_statuses(msg.statuses)
        self.session_error = None
        self._last_step_ms = msg.elapsed_s * 1000.0
        self._set_session_state(SessionState.READY)
        if self.displayed_frame is not None:
            self._fetch_missing_masks(self.displayed_frame)
        self.displayChanged.emit()

    def _on_frame_tracked(self, msg: m.FrameTracked) -> None:
        frame = msg.result.frame_index
        for res in msg.result.objects.values():
            if res.obj_id in self.objects:
                self.masks.put_result(frame, res)
                self.coverage.mark(res.obj_id, frame, FrameStatus.TRACKED)
        self._tracking_fps = msg.progress.fps
        self.trackingProgress.emit(msg.progress)
        if self._follow and frame != self.transport.current:
            self._seeking_to_follow = True
            try:
                self.transport.seek(frame)
            finally:
                self._seeking_to_follow = False
        elif frame == self.displayed_frame:
            self.displayChanged.emit()

    def _set_all_statuses(self, statuses: dict[int, list[FrameStatus]]) -> None:
        for obj_id, stats in statuses.items():
            if obj_id in self.objects and len(stats) == self.coverage.num_frames:
                self.coverage.set_statuses(obj_id, stats)

    # ------------------------------------------------------------------ status & errors
    def _set_session_state(self, state: SessionState) -> None:
        self.session_state = state
        self.sessionStateChanged.emit(state)
        self._emit_status()

    def status(self) -> StatusInfo:
        return StatusInfo(
            model=self.session_factory.describe(),
            session=self.session_state,
            last_step_ms=self._last_step_ms,
            tracking_fps=self._tracking_fps,
            masks_mb=self.masks.nbytes() / 2**20,
        )

    def _emit_status(self) -> None:
        self.statusChanged.emit(self.status())

    def _report(
        self, error: BaseException, action: str = "", details: str = "", severity: str = ""
    ) -> None:
        report = describe_error(error, action, details)
        if severity:
            report = ErrorReport(report.title, report.text, report.details, severity)
        self.errorOccurred.emit(report)

    def _report_info(self, text: str) -> None:
        self.errorOccurred.emit(ErrorReport("", text, severity="info"))
