"""The panel's editing state machine, without Qt: session state, objects and prompts, the
tracking plan, problem-frame navigation, status and busy text, gap reports.

Its parts live in modules of their own: ``editor_files`` (opening, saving), ``editor_edits``
(prompts, objects), ``editor_jobs`` (model switch, downloads, tracking, export) and
``editor_results`` (what the workers send back); ``editor_ports`` holds what its host gives it.
This module holds the state, the display, the busy text and status.

It sends requests to the workers and takes their results through plain callables, keeps
time with timers it is given and records edits in an undo history it is given; it tells
its views what changed through events (``Event``). The panel's ``EditorController`` (a
QObject) adapts it to Qt: QThread workers, QTimers, a QUndoStack, Signals. Tests drive
it with none of those (``tests/gui/test_editor_model.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from etam_plugin.errors import ModelError
from etam_plugin.gui.components import editor_results as results
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.changes import ChangeTracker
from etam_plugin.gui.components.coverage import Coverage
from etam_plugin.gui.components.editor_edits import Edits
from etam_plugin.gui.components.editor_files import ClipFiles
from etam_plugin.gui.components.editor_jobs import Jobs
from etam_plugin.gui.components.editor_ports import (
    AUTOSAVE_DELAY_MS,
    CHECKPOINT_EVERY_S,
    History,
    SessionState,
    StatusInfo,
    Timer,
    Workers,
)
from etam_plugin.gui.components.errors import ErrorReport, describe_error
from etam_plugin.gui.components.events import Event
from etam_plugin.gui.components.export_job import ExportJob, ExportSettings, RenderedMattes
from etam_plugin.gui.components.finishing import ObjectFinishing, finished_layers
from etam_plugin.gui.components.masks import MaskStore
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.objects import ObjectList
from etam_plugin.gui.components.problems import describe_problem, problem_start
from etam_plugin.gui.components.project import ProjectState
from etam_plugin.gui.components.prompts import PromptStore
from etam_plugin.gui.components.recovery import RecoveryArea, RecoveryCandidate
from etam_plugin.gui.components.render import Layer
from etam_plugin.gui.components.session_api import SessionFactory
from etam_plugin.gui.components.transport import Transport
from etam_plugin.gui.components.view import ViewOptions
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus, Prompt
from etam_plugin.timeline import TimelineClip

__all__ = ["EditorModel", "SessionState", "StatusInfo", "Workers"]


class EditorModel(ClipFiles, Edits, Jobs):
    """The panel's state; views read its attributes and connect to its events."""

    def __init__(
        self,
        session_factory: SessionFactory,
        workers: Workers,
        history: History,
        play_timer: Timer,
        autosave_timer: Timer,
        recovery: RecoveryArea | None = None,
    ) -> None:
        self.source_opened = Event()  # SourceInfo
        self.session_state_changed = Event()  # SessionState
        self.display_changed = Event()  # the shown frame's image, masks, markers or styling
        self.thumbnail_ready = Event()  # frame index
        self.tracking_started = Event()  # Propagate
        self.tracking_progress = Event()  # Progress
        self.tracking_finished = Event()  # TrackingFinished
        self.error_occurred = Event()  # ErrorReport
        self.status_changed = Event()  # StatusInfo
        self.session_saved = Event()  # Path
        self.project_saved = Event()  # ProjectSaved (explicit saves and autosaves)
        self.project_save_failed = Event()  # SaveProject
        self.export_started = Event()  # ExportJob
        self.export_progress = Event()  # ExportProgress
        self.export_finished = Event()  # ExportFinished
        self.download_progress = Event()  # DownloadProgress
        self.download_finished = Event()  # bool: True when the weights are there now
        self.download_retrying = Event()  # DownloadRetrying
        self.weights_missing = Event()  # WeightsUnavailableError: the window offers a download
        self.timeline_read = Event()  # TimelineRead
        self.timeline_rate_needed = Event()  # Path of an EDL whose rate nothing says
        self.model_options_applied = Event()  # ModelOptions now in use (after a revert too)
        self.state_restored = Event()  # view, finishing, range restored from a project
        self.busy_changed = Event()  # str: what the panel waits for the model to do ("": nothing)

        self.session_factory = session_factory
        self.recovery = recovery
        self._workers = workers
        self._history = history
        self._play_timer = play_timer
        self._play_interval_ms = 40
        self._autosave_timer = autosave_timer
        self.changes = ChangeTracker()
        self.dirty_changed = self.changes.changed  # bool: unsaved work appeared / was saved
        self.project_path: Path | None = None
        self.clip: TimelineClip | None = None
        self.export_settings = ExportSettings()
        self.export_folder: Path | None = None  # of the last export, for the next clip's
        self.exporting: ExportJob | None = None
        self.rendered = RenderedMattes()  # the last export's mattes, for another timeline
        self._export_revision = 0
        self.downloading: m.DownloadWeights | None = None
        self.autosave_delay_ms = AUTOSAVE_DELAY_MS
        self.checkpoint_every_s = CHECKPOINT_EVERY_S
        self._restore: ProjectState | None = None
        self._pending_project: Path | None = None
        self._recovered: RecoveryCandidate | None = None
        self._start_request: m.StartSession | None = None
        self._after_download: Callable[[], None] | None = None
        self._reload_from: ModelOptions | None = None
        self._pending_prompts: tuple[list[tuple[int, int, Prompt]], str | None] | None = None
        self._autosave_failed = False
        self.objects = ObjectList()
        self.transport = Transport(0)
        self.coverage = Coverage(0)
        self.prompts = PromptStore()
        self.masks = MaskStore()
        self.view = ViewOptions()
        self.object_finishing = ObjectFinishing()  # each object's; the dock edits the active's
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
        # The frame of the newest FetchResults not answered yet. Fetches are newest-wins in
        # the worker's mailbox, so an older one may be dropped unanswered: only the newest
        # is remembered, else a dropped frame would never be asked for again.
        self._fetching: int | None = None
        self.tracking: m.Propagate | None = None
        self._follow = False
        self._seeking_to_follow = False
        self._last_step_ms: float | None = None
        self._tracking_fps: float | None = None
        self._shut_down = False
        self._frame_error_shown = False
        self._failed_adds: set[int] = set()  # objects the session refused (see add_object)
        self._waiting: dict[object, str] = {}  # requests the user waits for → what they do

        self.transport.frame_changed.connect(self._on_frame_changed)
        self.transport.speed_changed.connect(self._on_speed_changed)
        self.transport.range_changed.connect(self._on_range_changed)
        self.objects.changed.connect(self._on_objects_changed)
        self.view.changed.connect(self.display_changed.emit)

    def shutdown(self) -> None:
        """Stop the timers and cancel what runs (the host then stops its workers)."""
        if self._shut_down:
            return
        self._shut_down = True
        self._play_timer.stop()
        self._autosave_timer.stop()
        if self.tracking is not None:
            self.tracking.cancel.set()
        if self.exporting is not None:
            self.exporting.cancel.set()
        if self.downloading is not None:
            self.downloading.cancel.set()

    # ------------------------------------------------------------------ display
    def seek(self, index: int) -> None:
        """A move asked by the user (scrubber, keys): stops following the tracker."""
        self._follow = False
        self.transport.seek(index)

    def next_problem(self, step: int = 1) -> bool:
        """Move to where the next (``step`` 1) or previous (-1) run of problem frames
        starts: frames that still need tracking (untracked or stale for any prompted
        object), or done frames where the model lost an object or scored it low. On a
        long clip these are invisible in the strip; the status bar says what is wrong
        there. False, and a word, when there is none that way."""
        if self.info is None:
            return False
        ids = [o for o in self.objects.ids if self.prompts.frames(o)] or self.objects.ids
        here = self.transport.current
        f = problem_start(self.coverage, ids, here, self.transport.num_frames, step)
        if f is not None:
            self.seek(f)
            self._report_info(
                f"Frame {f}: {describe_problem(self.coverage, self.objects, f, ids)}."
            )
            return True
        where = "after" if step > 0 else "before"
        self._report_info(
            f"No untracked, stale, lost or low-score frames start {where} frame {here}."
        )
        return False

    @property
    def finishing(self) -> MatteOps:
        """The active object's finishing (what the dock shows and edits)."""
        return self.object_finishing.of(self.objects.active_id)

    def set_finishing(self, finishing: MatteOps) -> bool:
        """Set the active object's finishing; False when there is no object to set it for."""
        obj_id = self.objects.active_id
        if obj_id is None:
            return False
        if self.object_finishing.set(obj_id, finishing):
            self.mark_changed()
            self.display_changed.emit()
        return True

    def layers(self, frame: int) -> list[Layer]:
        """The visible objects' mattes on ``frame`` (finishing previewed), bottom to top."""
        guide = self.image if frame == self.displayed_frame else None
        return finished_layers(
            self.objects, self.object_finishing, self.masks, self.coverage.num_frames, frame, guide
        )

    def request_thumbnails(self, indices: list[int], height: int) -> None:
        if height != self._thumb_height:
            self._thumb_height = height
            self.thumbnails.clear()
            self._thumb_asked.clear()
        for index in indices:
            if index not in self.thumbnails and index not in self._thumb_asked:
                self._thumb_asked.add(index)
                self._workers.frames(m.LoadThumbnail(index, height), 1)

    def _on_frame_changed(self, index: int) -> None:
        if not self._seeking_to_follow:
            self._follow = False
        self._workers.frames(m.LoadFrame(index), 0)

    def _fetch_missing_masks(self, frame: int) -> None:
        if self.session_state is not SessionState.READY or frame == self._fetching:
            return
        empty = FrameStatus.EMPTY
        missing = tuple(
            o
            for o in self.objects.ids
            if not self.masks.has(frame, o) and self.coverage.status(o, frame) is not empty
        )
        if missing:
            self._fetching = frame
            self._workers.inference(m.FetchResults(frame, missing))

    # ------------------------------------------------------------------ playback
    def _on_speed_changed(self, speed: int) -> None:
        if speed and self.info is not None:
            self._follow = False
            self._play_timer.start(self._play_interval_ms)
        else:
            self._play_timer.stop()

    # ------------------------------------------------------------------ results
    def on_inference_result(self, msg: object) -> None:
        """A result of the inference worker (see ``editor_results.py``)."""
        results.on_inference_result(msg, self)

    def on_frames_result(self, msg: object) -> None:
        """A result of the frame loader."""
        results.on_frames_result(msg, self)

    def on_task_result(self, msg: object) -> None:
        """A result of the task worker (downloads, timelines)."""
        results.on_task_result(msg, self)

    # ------------------------------------------------------------------ busy
    @property
    def busy(self) -> str:
        """What the user waits for the model to do now ("" when nothing; tracking and
        exports show their own progress)."""
        return next(reversed(self._waiting.values()), "")

    def _ask_model(self, request: m.Request) -> None:
        """Submit a request whose result the user waits for: busy until it comes back (a
        newer request of the same kind replaces it, as the mailbox does)."""
        self._waiting.pop(request.wait_key, None)
        self._waiting[request.wait_key] = request.action
        self._workers.inference(request)
        self.busy_changed.emit(self.busy)
        self._emit_status()

    def _done_waiting(self, *keys: object) -> None:
        before = self.busy
        for key in keys:
            self._waiting.pop(key, None)
        if self.busy != before:
            self.busy_changed.emit(self.busy)
            self._emit_status()

    # ------------------------------------------------------------------ status & errors
    def _set_session_state(self, state: SessionState) -> None:
        self.session_state = state
        self.session_state_changed.emit(state)
        self._emit_status()

    def status(self) -> StatusInfo:
        return StatusInfo(
            model=self.session_factory.describe(),
            session=self.session_state,
            last_step_ms=self._last_step_ms,
            tracking_fps=self._tracking_fps,
            masks_mb=self.masks.nbytes() / 2**20,
            activity=self._activity(),
        )

    def _activity(self) -> str:
        """Never "ready" while the model is busy for the user."""
        if self.tracking is not None:
            return "tracking"
        if self.exporting is not None:
            return "exporting"
        if self.session_state is SessionState.READY and self.busy:
            return "computing"
        return self.session_state.value

    def _emit_status(self) -> None:
        self.status_changed.emit(self.status())

    def _report(
        self, error: BaseException, action: str = "", details: str = "", severity: str = ""
    ) -> None:
        report = describe_error(error, action, details)
        if severity:
            report = ErrorReport(report.title, report.text, report.details, severity)
        self.error_occurred.emit(report)

    def _report_failure(self, msg: m.Failed, severity: str = "") -> None:
        self._report(msg.error, msg.request.action, msg.details, severity)

    def _no_session(self, action: str) -> bool:
        """The one guard of edits that need the session: True (and said) when it failed."""
        if self.session_state is not SessionState.FAILED:
            return False
        self._report(ModelError(f"No tracking session: {self.session_error}"), action)
        return True

    def _report_info(self, text: str) -> None:
        self.error_occurred.emit(ErrorReport("", text, severity="info"))
