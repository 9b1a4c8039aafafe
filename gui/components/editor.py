"""The panel's editing state machine, without Qt: session state, objects and prompts, the
tracking plan, problem-frame navigation, status and busy text, gap reports.

It sends requests to the workers and takes their results through plain callables, keeps
time with timers it is given and records edits in an undo history it is given; it tells
its views what changed through events (``Event``). The panel's ``EditorController`` (a
QObject) adapts it to Qt: QThread workers, QTimers, a QUndoStack, Signals. Tests drive
it with none of those (``tests/gui/test_editor_model.py``).
"""

from __future__ import annotations

import enum
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from etam_plugin.errors import (
    EtamError,
    ModelError,
    ProjectError,
    TimelineRateError,
    WeightsUnavailableError,
)
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.changes import ChangeTracker
from etam_plugin.gui.components.coverage import LOST, Coverage
from etam_plugin.gui.components.errors import ErrorReport, describe_error
from etam_plugin.gui.components.events import Event
from etam_plugin.gui.components.export_job import (
    ExportJob,
    ExportSettings,
    RenderedMattes,
    plan_export,
)
from etam_plugin.gui.components.fill import DONE, Leg, describe_gaps, plan_fill
from etam_plugin.gui.components.finishing import ObjectFinishing, is_identity, preview_alpha
from etam_plugin.gui.components.masks import MaskStore
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.objects import Color, ObjectList, TrackedObject, color_for
from etam_plugin.gui.components.progress import rate_known
from etam_plugin.gui.components.project import LoadedProject, ProjectState, read_project
from etam_plugin.gui.components.prompts import PromptStore, with_box, with_point
from etam_plugin.gui.components.recovery import RecoveryArea, RecoveryCandidate
from etam_plugin.gui.components.render import Layer
from etam_plugin.gui.components.session_api import SessionFactory
from etam_plugin.gui.components.transport import Transport
from etam_plugin.gui.components.view import ViewOptions
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus, Prompt, clicks, drawing
from etam_plugin.timeline import TimelineClip

# Autosave a few seconds after the first unsaved change (not after the last: a user who
# keeps clicking is still saved every few seconds).
AUTOSAVE_DELAY_MS = 3000
# While tracking, the worker also checkpoints to the autosave this often.
CHECKPOINT_EVERY_S = 30.0


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
    activity: str = ""  # what the session does now: "tracking", "exporting", … or its state


@dataclass(frozen=True)
class Workers:
    """Where requests go: each call files one request in a worker's newest-wins mailbox
    (``frames`` takes a priority: thumbnails wait behind the shown frame). Their results
    come back through :meth:`EditorModel.on_inference_result` and its siblings."""

    inference: Callable[[m.Request], None]
    frames: Callable[[m.Request, int], None]
    tasks: Callable[[m.Request], None]


class Timer(Protocol):
    """A timer the host runs (a QTimer in the panel); its timeout calls back the model."""

    def start(self, msec: int) -> None: ...

    def stop(self) -> None: ...

    def isActive(self) -> bool: ...  # QTimer's spelling, so a QTimer is one


class History(Protocol):
    """The undo history edits are recorded in (a QUndoStack in the panel). Its commands
    call the model's public methods: ``apply_prompt``, ``insert_object``, ``drop_object``,
    ``restore_object``."""

    def push_prompt(
        self, frame: int, obj_id: int, before: Prompt | None, after: Prompt | None, text: str
    ) -> None: ...

    def push_add(self, obj: TrackedObject) -> None: ...

    def push_remove(self, obj_id: int) -> None: ...

    def forget_add(self, obj_id: int) -> None:
        """Drop the last step if it added ``obj_id`` (the session refused the object)."""

    def clear(self) -> None: ...

    def set_clean(self) -> None: ...


class EditorModel:
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
        self._fetching: set[int] = set()
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

    # ------------------------------------------------------------------ opening
    def open_source(
        self,
        path: str | Path,
        session_folder: Path | None = None,
        *,
        state: ProjectState | None = None,
        clip: TimelineClip | None = None,
        handles: int = 0,
    ) -> None:
        """Open a clip without blocking: with ``session_folder`` its saved session, with
        ``state`` a project's objects/range/view, with ``clip`` a timeline clip of it (in/out
        from the clip, ``handles`` frames more each side)."""
        if self.tracking is not None:
            self.tracking.cancel.set()
        if self.exporting is not None:
            self.exporting.cancel.set()
        spec = m.SourceSpec(Path(path), clip, max(int(handles), 0))
        self._pending_spec = spec
        self._session_folder = session_folder
        self._restore = state
        self._pending_project = None
        self._recovered = None
        self._workers.frames(m.OpenFrames(spec), 0)

    def open_project(self, path: Path) -> bool:
        """Open a ``.etam`` project; False (and an error dialog) when it cannot be read."""
        try:
            loaded = read_project(Path(path))
        except ProjectError as exc:
            self._report(exc, f"Opening {Path(path).name}")
            return False
        return self.open_loaded(loaded)

    def open_loaded(
        self, loaded: LoadedProject, recovered: RecoveryCandidate | None = None
    ) -> bool:
        """Open a read project (or a crashed panel's autosave, ``recovered``)."""
        state = loaded.state  # a missing clip is reported by the media layer, by name
        if state.model is not None:
            self._configure_model(state.model)
        self.open_source(state.source, loaded.session_folder, state=state, clip=state.clip)
        self._pending_project = loaded.path if recovered is None else recovered.origin
        self._recovered = recovered
        return True

    def open_timeline(self, path: Path, rate: Fraction | None = None) -> None:
        """List a timeline's clips (in the task worker); ``timeline_read`` brings them, or
        ``timeline_rate_needed`` when an EDL's rate is unknown (give it as ``rate``)."""
        self._workers.tasks(m.ReadTimeline(Path(path), rate))

    def open_timeline_clip(self, clip: TimelineClip, handles: int = 0) -> bool:
        """Open the media of a timeline clip with the clip's range (plus handles) as in/out;
        exports then default to a timeline with that clip."""
        try:
            media = clip.require_media()
        except Exception as exc:
            self._report(exc, f"Opening clip {clip.index}")
            return False
        self.open_source(media, clip=clip, handles=handles)
        return True

    def save_session(self, folder: Path) -> None:
        if self.session_state is not SessionState.READY:
            self._report_info("There is no tracking session to save yet.")
            return
        self._workers.inference(m.SaveSession(Path(folder)))

    # ------------------------------------------------------------------ projects
    def project_state(self) -> ProjectState:
        """What a project saves besides the session (see ``components/project.py``)."""
        assert self.info is not None
        t = self.transport
        return ProjectState(
            source=self.info.path,
            objects=tuple(self.objects),
            active=self.objects.active_id,
            in_point=t.in_point,
            out_point=t.out_point,
            playhead=t.current,
            view_mode=self.view.mode,
            opacity=self.view.opacity,
            markers=self.view.markers,
            finishing=self.finishing,
            object_finishing={o: self.object_finishing.of(o) for o in self.objects.ids},
            model=getattr(self.session_factory, "options", None),
            clip=self.clip,
            export=self.export_settings.to_json(),
        )

    def summary(self) -> dict[str, int]:
        """Counts shown when offering to recover an autosave."""
        tracked = sum(self.coverage.counts(o).get(FrameStatus.TRACKED, 0) for o in self.objects.ids)
        return {"objects": len(self.objects), "prompts": len(self.prompts), "tracked": tracked}

    def save_project(self, path: Path) -> bool:
        """Save the work as a project (in the inference worker; ``project_saved`` follows).
        Queued behind tracking or an export if one is running."""
        if self.info is None or self.session_state is not SessionState.READY:
            self._report_info("There is nothing to save yet: open a clip first.")
            return False
        path = Path(path)
        if path.suffix.lower() != ".etam":
            path = path.with_name(path.name + ".etam")
        autosave = self.recovery.autosave_path if self.recovery is not None else None
        self._ask_model(self._save_request(path, autosave=False, then=autosave))
        if self.tracking is not None or self.exporting is not None:
            self._report_info(f"{path.name} will be saved when the running job finishes.")
        return True

    def autosave_now(self) -> bool:
        """Autosave to the recovery area if anything changed since the last (auto)save."""
        if (
            self.recovery is None
            or self.info is None
            or self.session_state is not SessionState.READY
            or not self.changes.needs_autosave
        ):
            return False
        self._workers.inference(self._save_request(self.recovery.autosave_path, True))
        return True

    def _save_request(self, path: Path, autosave: bool, then: Path | None = None) -> m.SaveProject:
        extra = None
        if autosave:
            origin = str(self.project_path) if self.project_path else None
            extra = {"autosave": {"origin": origin, "pid": os.getpid(), "summary": self.summary()}}
        return m.SaveProject(
            Path(path), self.project_state(), self.changes.revision, autosave, extra, then
        )

    def mark_changed(self) -> None:
        """The work changed (an edit, its undo, a range): unsaved, and autosaved soon."""
        if self.info is None:
            return
        self.changes.mark()
        if self.recovery is not None and not self._autosave_timer.isActive():
            self._autosave_timer.start(self.autosave_delay_ms)

    def _on_range_changed(self, _first: int, _last: int) -> None:
        self.mark_changed()

    def _on_project_saved(self, msg: m.ProjectSaved) -> None:
        request = msg.request
        if request.autosave:
            self.changes.mark_autosaved(request.revision)
            if self._recovered is not None:  # our own autosave holds the recovered work now
                if self.recovery is not None:
                    self.recovery.discard(self._recovered)
                self._recovered = None
        else:
            self.changes.mark_saved(request.revision)
            self.project_path = request.path
        self.project_saved.emit(msg)

    # ------------------------------------------------------------------ model
    def _configure_model(self, options: ModelOptions) -> None:
        configure = getattr(self.session_factory, "configure", None)
        if callable(configure):
            configure(options)
        self.model_options_applied.emit(options)
        self._emit_status()

    def apply_model_options(self, options: ModelOptions) -> None:
        """Use ``options`` from now on; an open clip's session is rebuilt on the new model
        with the same objects and prompts (tracked frames then need tracking again)."""
        previous = getattr(self.session_factory, "options", None)
        if previous == options:
            return
        self._configure_model(options)
        if previous is not None and options.same_network(
            previous
        ):  # the same network: only torch's thread count changes, at the next request
            self._workers.inference(m.SetCpuThreads(options.cpu_threads))
            return
        if self.info is None:
            return
        if self.session_state is SessionState.FAILED:
            self.retry_session()
            return
        if self._reload_from is None:
            self._reload_from = previous
        if self.tracking is None and self.exporting is None:
            self._reload_model()
        # else: reloaded when the running job finishes

    def _reload_model(self) -> None:
        if self._reload_from is None or self.session_state is not SessionState.READY:
            return
        self._ask_model(m.ReloadModel())
        self._set_session_state(SessionState.STARTING)

    def retry_session(self) -> bool:
        """Start the clip's session again (after weights arrived, or a device change)."""
        if self._start_request is None or self.info is None:
            return False
        self._set_session_state(SessionState.STARTING)
        self._ask_model(self._start_request)
        return True

    def download_weights(self, variant: str, then: Callable[[], None] | None = None) -> bool:
        """Fetch ``variant``'s official weights in the task worker (progress through
        ``download_progress``, ``cancel_download`` stops it); ``then`` runs once they are
        there."""
        if self.downloading is not None:
            return False
        self.downloading = m.DownloadWeights(variant)
        self._after_download = then
        self._workers.tasks(self.downloading)
        return True

    def cancel_download(self) -> None:
        if self.downloading is not None:
            self.downloading.cancel.set()

    # ------------------------------------------------------------------ export
    def export(self, job: ExportJob) -> bool:
        """Run an export in the inference worker (it reads the session's results)."""
        if self.info is None or self.session_state is not SessionState.READY:
            self._report_info("Open a clip and track an object before exporting.")
            return False
        if self.tracking is not None or self.exporting is not None:
            self._report_info("Wait for the running job to finish (or cancel it) first.")
            return False
        self.exporting = job
        self._export_revision = self.changes.revision
        self._workers.inference(m.Export(job))
        self.export_started.emit(job)
        self._emit_status()
        return True

    def plan_export(self, settings: ExportSettings) -> ExportJob:
        """The export job for ``settings`` on the open clip: its objects, In–Out and each
        object's finishing, reusing the last export's matte files when they were made from
        the same masks and settings (a second timeline format writes only the timeline).
        Raises :class:`EtamError` for choices that cannot be exported."""
        if self.info is None:
            raise EtamError("open a clip before exporting")
        job = plan_export(
            settings,
            source=self.info.path,
            objects=self.objects.ids,
            in_out=(self.transport.in_point, self.transport.out_point),
            num_frames=self.info.num_frames,
            ops=self.object_finishing.as_dict(),
            clip=self.clip,
        )
        reuse = self.rendered.reusable(job, self.changes.revision)
        return replace(job, reuse=reuse) if reuse else job

    def cancel_export(self) -> None:
        if self.exporting is not None:
            self.exporting.cancel.set()

    def set_export_settings(self, settings: ExportSettings) -> None:
        if settings != self.export_settings:
            self.export_settings = settings

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

    def _on_frames_opened(self, info: m.SourceInfo) -> None:
        if self._pending_spec is None or info.path != self._pending_spec.path:
            return  # an older open that was overtaken
        spec, folder, state = self._pending_spec, self._session_folder, self._restore
        self._pending_spec = None
        self._restore = None
        self._reload_from = None  # the new session starts on the current options anyway
        self.info = info
        self.tracking = None
        self.clip = state.clip if state is not None else info.clip
        self.project_path = self._pending_project
        self._history.clear()
        self.prompts.clear()
        self.masks.reset(info.frame_size)
        self.coverage.reset(info.num_frames)
        self.thumbnails.clear()
        self._thumb_asked.clear()
        self._fetching.clear()
        self._frame_error_shown = False
        self.image, self.displayed_frame = None, None
        self.objects.clear()
        if state is not None:
            for obj in state.objects:
                self.objects.add(
                    obj.name, obj_id=obj.obj_id, color=obj.color, visible=obj.visible,
                    activate=False,
                )  # fmt: skip
            if state.active in self.objects:
                self.objects.set_active(state.active)
        if folder is None and not self.objects.ids:  # a new session starts with one object
            self.objects.add()
        self._play_interval_ms = max(1, round(1000 / float(info.fps)))
        self.transport.reset(info.num_frames)
        last = info.num_frames - 1
        if state is not None:
            self.transport.set_out(min(last, state.out_point if state.out_point is not None
                                       else last))  # fmt: skip
            self.transport.set_in(min(max(state.in_point, 0), self.transport.out_point))
            self.transport.seek(state.playhead)
            self.view.mode = state.view_mode
            self.view.opacity = state.opacity
            self.view.markers = state.markers
            self.object_finishing.reset(
                {o.obj_id: state.object_finishing.get(o.obj_id, state.finishing)
                 for o in state.objects}
            )  # fmt: skip
            self.export_settings = ExportSettings.from_json(state.export)
        else:  # a new clip (after Discard too): no finishing carried over from the last
            self.object_finishing.reset()
            self.export_settings = ExportSettings()
            if info.window is not None:
                self.transport.set_out(info.window[1])
                self.transport.set_in(info.window[0])
                self.transport.seek(info.clip_first or info.window[0])
        self._set_session_state(SessionState.STARTING)
        objects = tuple((o.obj_id, o.name) for o in self.objects)
        self._start_request = m.StartSession(spec, objects, folder)
        self._ask_model(self._start_request)
        self.changes.reset()
        self._autosave_timer.stop()
        self.source_opened.emit(info)
        self.state_restored.emit()

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

    # ------------------------------------------------------------------ tracking
    def track(self, direction: str = "forward") -> bool:
        """Fill the in/out range's untracked and stale frames in a worker, from where
        tracking stopped (``components/fill.py``); returns whether it started."""
        if self.info is None or self.tracking is not None:
            return False
        if self.exporting is not None:
            self._report_info("Tracking waits until the export finishes.")
            return False
        if self._no_session("Tracking"):
            return False
        if not any(self.prompts.frames(o) for o in self.objects.ids):
            self._report_info("Click on an object first, then track it.")
            return False
        t = self.transport
        start = min(max(t.current, t.in_point), t.out_point)
        prompted = tuple(o for o in self.objects.ids if self.prompts.frames(o))
        plan = self.track_plan(direction)
        if not plan:
            self._report_info(
                f"Frames {t.in_point}–{t.out_point} are already tracked: nothing to track. "
                "A correction marks the frames after it for re-tracking."
            )
            return False
        checkpoint = None
        if self.recovery is not None:
            self.autosave_now()  # the prompts are safe before a long run starts
            checkpoint = self._save_request(self.recovery.autosave_path, autosave=True)
        request = m.Propagate(
            direction,
            start,
            t.in_point,
            t.out_point,
            obj_ids=prompted,
            checkpoint=checkpoint,
            checkpoint_every_s=self.checkpoint_every_s,
            plan=plan,
        )
        self.transport.stop()
        self.tracking = request
        self._follow = True
        self._workers.inference(request)
        self.tracking_started.emit(request)
        self._emit_status()
        return True

    def track_plan(self, direction: str) -> tuple[Leg, ...]:
        """What ``track(direction)`` would compute now (see ``components/fill.py``)."""
        t = self.transport
        start = min(max(t.current, t.in_point), t.out_point)
        prompted = [o for o in self.objects.ids if self.prompts.frames(o)]
        statuses = {o: self.coverage.statuses(o) for o in prompted}
        return tuple(plan_fill(direction, start, t.in_point, t.out_point, statuses))

    @property
    def tracking_fps(self) -> float | None:
        """The last tracking rate measured (None before any)."""
        return self._tracking_fps

    def retrack_from_here(self) -> bool:
        """After a correction: track forward from the shown frame to the out point."""
        return self.track("forward")

    def cancel_tracking(self) -> None:
        if self.tracking is not None:
            self.tracking.cancel.set()

    def _report_gaps(self, request: m.Propagate) -> None:
        """Never a silent gap: say which frames of the range are still not tracked."""
        ids = [o for o in request.obj_ids or self.objects.ids if o in self.objects]
        statuses = {o: self.coverage.statuses(o) for o in ids}
        names = {o: self.objects.get(o).name for o in ids}
        left = describe_gaps(statuses, names, request.first, request.last)
        if not left:
            return
        span = f"{request.first}–{request.last}"
        if request.direction == "both":  # every gap was planned: these failed
            self._report_info(f"Some frames of {span} could not be tracked: {left}.")
            return
        other = "Track Backward" if request.direction == "forward" else "Track Forward"
        self._report_info(f"Not tracked yet in {span}: {left} ({other} or Both Ways fills them).")

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
        stats = {o: self.coverage.statuses(o) for o in ids}
        problems = {o: self.coverage.problems(o) for o in ids}
        n = self.transport.num_frames

        def kind(f: int) -> object:
            """What is wrong on frame ``f`` (None: nothing); a run is frames of one kind."""
            if any(s[f] not in DONE for s in stats.values()):
                return "todo"  # stale then untracked is one run: one tracking job fills it
            found = tuple((o, p[f]) for o, p in problems.items() if f in p)
            return found or None

        here = self.transport.current
        frames = range(here + 1, n) if step > 0 else range(here - 1, -1, -1)
        for f in frames:
            this = kind(f)
            if this is not None and (f == 0 or kind(f - 1) != this):
                self.seek(f)
                self._report_info(f"Frame {f}: {self._describe_problem(f, ids)}.")
                return True
        where = "after" if step > 0 else "before"
        self._report_info(
            f"No untracked, stale, lost or low-score frames start {where} frame {here}."
        )
        return False

    def _describe_problem(self, frame: int, ids: list[int]) -> str:
        """What is wrong on ``frame``, object by object ("Object 2 lost")."""
        parts = []
        for o in ids:
            name = self.objects.get(o).name
            status = self.coverage.status(o, frame)
            found = self.coverage.problem(o, frame)
            if status is FrameStatus.STALE:
                parts.append(f"{name} stale (a correction before it)")
            elif status is FrameStatus.EMPTY:
                parts.append(f"{name} not tracked")
            elif found is not None and found[0] == LOST:
                parts.append(f"{name} lost")
            elif found is not None:
                parts.append(f"{name} scores low (predicted IoU {found[1]:.2f})")
        return ", ".join(parts)

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
        out = []
        guide = self.image if frame == self.displayed_frame else None
        for obj in self.objects:
            if not obj.visible:
                continue
            ops = self.object_finishing.of(obj.obj_id)
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
                self._workers.frames(m.LoadThumbnail(index, height), 1)

    def _on_frame_changed(self, index: int) -> None:
        if not self._seeking_to_follow:
            self._follow = False
        self._workers.frames(m.LoadFrame(index), 0)

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
            self._workers.inference(m.FetchResults(frame, missing))

    # ------------------------------------------------------------------ playback
    def _on_speed_changed(self, speed: int) -> None:
        if speed and self.info is not None:
            self._follow = False
            self._play_timer.start(self._play_interval_ms)
        else:
            self._play_timer.stop()

    # ------------------------------------------------------------------ results
    # One handler per result type (``register``): a new request type is a message class in
    # ``components/messages.py`` (it describes itself) and a handler here, nothing else.
    def on_inference_result(self, msg: object) -> None:
        """A result of the inference worker: it ends the wait for its request, then its
        type's handler runs (unless it belongs to the previous clip's session)."""
        request = getattr(msg, "request", None)
        if isinstance(request, m.Request):
            self._done_waiting(request.wait_key)
        if (
            self.session_state is SessionState.STARTING
            and isinstance(msg, m.SessionResult)
            and not msg.outlives_session
        ):
            return  # from the previous clip's session: the worker serves in order
        self._on_inference_result(msg)

    @functools.singledispatchmethod
    def on_frames_result(self, msg: object) -> None:
        """A result of the frame loader (a type without a handler is ignored)."""

    @on_frames_result.register(m.FramesOpened)
    def _on_frames_opened_result(self, msg: m.FramesOpened) -> None:
        self._on_frames_opened(msg.info)

    @on_frames_result.register(m.FrameLoaded)
    def _on_frame_loaded(self, msg: m.FrameLoaded) -> None:
        if msg.index == self.transport.current:
            self.image, self.displayed_frame = msg.image, msg.index
            self._fetch_missing_masks(msg.index)
            self.display_changed.emit()
            if self._pending_prompts is not None and self.session_state is SessionState.READY:
                self.apply_prompts(*self._pending_prompts)

    @on_frames_result.register(m.ThumbnailLoaded)
    def _on_thumbnail_loaded(self, msg: m.ThumbnailLoaded) -> None:
        if msg.image.shape[0] == self._thumb_height:
            self.thumbnails[msg.index] = msg.image
            self.thumbnail_ready.emit(msg.index)

    @on_frames_result.register(m.Failed)
    def _on_loader_failed(self, msg: m.Failed) -> None:
        self._loader_failed(msg.request, msg)

    @functools.singledispatchmethod
    def _loader_failed(self, request: m.Request, msg: m.Failed) -> None:
        self._report_failure(msg)

    @_loader_failed.register(m.LoadThumbnail)
    def _thumbnail_failed(self, request: m.LoadThumbnail, msg: m.Failed) -> None:
        self._thumb_asked.discard(request.index)
        self._report_failure(msg, severity="warning")

    @_loader_failed.register(m.LoadFrame)
    def _frame_failed(self, request: m.LoadFrame, msg: m.Failed) -> None:
        # One dialog per clip; scrubbing over more bad frames only says so below.
        severity = "warning" if self._frame_error_shown else ""
        self._frame_error_shown = True
        self._report_failure(msg, severity=severity)

    @_loader_failed.register(m.OpenFrames)
    def _open_failed(self, request: m.OpenFrames, msg: m.Failed) -> None:
        self._pending_spec = None
        self._report_failure(msg)

    @functools.singledispatchmethod
    def on_task_result(self, msg: object) -> None:
        """A result of the task worker (downloads, timelines)."""

    @on_task_result.register(m.DownloadProgress)
    def _on_download_progress(self, msg: m.DownloadProgress) -> None:
        self.download_progress.emit(msg)

    @on_task_result.register(m.DownloadRetrying)
    def _on_download_retrying(self, msg: m.DownloadRetrying) -> None:
        self.download_retrying.emit(msg)

    @on_task_result.register(m.WeightsReady)
    def _on_weights_ready(self, msg: m.WeightsReady) -> None:
        self.downloading = None
        then, self._after_download = self._after_download, None
        self.download_finished.emit(True)
        self._report_info(f"The {msg.variant} weights are ready ({msg.path.name}).")
        if then is not None:
            then()

    @on_task_result.register(m.TimelineRead)
    def _on_timeline_read(self, msg: m.TimelineRead) -> None:
        self.timeline_read.emit(msg)

    @on_task_result.register(m.Failed)
    def _on_task_failed(self, msg: m.Failed) -> None:
        self._task_failed(msg.request, msg)

    @functools.singledispatchmethod
    def _task_failed(self, request: m.Request, msg: m.Failed) -> None:
        self._report_failure(msg)

    @_task_failed.register(m.DownloadWeights)
    def _download_failed(self, request: m.DownloadWeights, msg: m.Failed) -> None:
        self.downloading = None
        self._after_download = None
        self.download_finished.emit(False)
        self._report_failure(msg)

    @_task_failed.register(m.ReadTimeline)
    def _timeline_failed(self, request: m.ReadTimeline, msg: m.Failed) -> None:
        if isinstance(msg.error, TimelineRateError):
            self.timeline_rate_needed.emit(request.path)  # the window asks the rate
            return
        self._report_failure(msg)

    @functools.singledispatchmethod
    def _on_inference_result(self, msg: object) -> None:
        """What the inference worker sends (a type without a handler is ignored)."""

    _on_inference_result.register(m.ProjectSaved, _on_project_saved)  # see "projects"

    @_on_inference_result.register(m.ExportProgress)
    def _on_export_progress(self, msg: m.ExportProgress) -> None:
        self.export_progress.emit(msg)

    @_on_inference_result.register(m.ExportFinished)
    def _on_export_finished(self, msg: m.ExportFinished) -> None:
        if self.exporting is msg.job:
            self.exporting = None
        if msg.paths and not msg.failed and not msg.cancelled:
            self.export_folder = msg.job.out.absolute().parent
            mattes = [p for p in msg.paths if p != msg.job.timeline_out]
            if self.changes.revision == self._export_revision:
                self.rendered.record(msg.job, self._export_revision, mattes)
            else:  # edited while it ran: which masks it read is not known
                self.rendered.clear()
        self.export_finished.emit(msg)
        self._emit_status()
        self._reload_model()  # a model switch asked for while exporting

    @_on_inference_result.register(m.PromptApplied)
    def _on_prompt_applied(self, msg: m.PromptApplied) -> None:
        # The edit (or its undo/redo) may have brought back other frames' records (the
        # session keeps what re-tracking replaced): their shown masks are fetched again.
        for frame in msg.restored:
            self.masks.discard(frame, msg.request.obj_id)
            self.coverage.forget(frame, msg.request.obj_id)
        if msg.request.obj_id not in msg.result.objects:  # cleared: nothing to show
            self.masks.discard(msg.result.frame_index, msg.request.obj_id)
        for res in msg.result.objects.values():
            if res.obj_id in self.objects:
                self.masks.put_result(msg.result.frame_index, res)
                self.coverage.record(msg.result.frame_index, res)
        self._set_all_statuses(msg.statuses)
        self._last_step_ms = msg.elapsed_s * 1000.0
        self._emit_status()
        if self.displayed_frame is not None:
            self._fetch_missing_masks(self.displayed_frame)
        if msg.result.frame_index == self.displayed_frame:
            self.display_changed.emit()

    @_on_inference_result.register(m.TrackingFinished)
    def _on_tracking_finished(self, msg: m.TrackingFinished) -> None:
        self._set_all_statuses(msg.statuses)
        if self.tracking is msg.request:
            self.tracking = None
        self._follow = False
        if msg.frames_done:
            self.mark_changed()
        self.tracking_finished.emit(msg)
        if not msg.cancelled:
            self._report_gaps(msg.request)
        self._emit_status()
        self._reload_model()  # a model switch asked for while tracking

    @_on_inference_result.register(m.ResultsFetched)
    def _on_results_fetched(self, msg: m.ResultsFetched) -> None:
        self._fetching.discard(msg.frame)
        for res in msg.objects.values():
            if res.obj_id in self.objects:
                self.masks.put_result(msg.frame, res)
                self.coverage.record(msg.frame, res)
        if msg.frame == self.displayed_frame:
            self.display_changed.emit()

    @_on_inference_result.register(m.ObjectsChanged)
    def _on_session_objects_changed(self, msg: m.ObjectsChanged) -> None:
        self._set_all_statuses(msg.statuses)
        if isinstance(msg.request, m.RestoreObject) and self.displayed_frame is not None:
            self._fetch_missing_masks(self.displayed_frame)

    @_on_inference_result.register(m.SessionSaved)
    def _on_session_saved(self, msg: m.SessionSaved) -> None:
        self._history.set_clean()
        self.session_saved.emit(msg.folder)

    @_on_inference_result.register(m.Failed)
    def _on_inference_failed(self, msg: m.Failed) -> None:
        self._inference_failed(msg.request, msg)

    @functools.singledispatchmethod
    def _inference_failed(self, request: m.Request, msg: m.Failed) -> None:
        self._report_failure(msg)

    @_inference_failed.register(m.StartSession)
    def _start_failed(self, request: m.StartSession, msg: m.Failed) -> None:
        self.session_error = msg.error
        self._set_session_state(SessionState.FAILED)
        self._report_session_failure(msg)

    @_inference_failed.register(m.ReloadModel)
    def _reload_failed(self, request: m.ReloadModel, msg: m.Failed) -> None:
        previous, self._reload_from = self._reload_from, None
        if previous is not None:  # the old session is still there, on the old model
            self._configure_model(previous)
        self._set_session_state(SessionState.READY)
        self._report_session_failure(msg)

    @_inference_failed.register(m.FetchResults)
    def _fetch_failed(self, request: m.FetchResults, msg: m.Failed) -> None:
        self._fetching.discard(request.frame)
        self._report_failure(msg)

    @_inference_failed.register(m.AddObject)
    def _add_failed(self, request: m.AddObject, msg: m.Failed) -> None:
        self._undo_failed_add(request.obj_id)
        self._report_failure(msg)

    @_inference_failed.register(m.SaveProject)
    def _save_failed(self, request: m.SaveProject, msg: m.Failed) -> None:
        if request.autosave:
            # Said once in a dialog, then in the status bar: autosave retries on change.
            severity = "warning" if self._autosave_failed else ""
            self._autosave_failed = True
            self._report(msg.error, "Autosaving your work", msg.details, severity)
            return
        self.project_save_failed.emit(request)
        self._report_failure(msg)

    def _report_session_failure(self, msg: m.Failed) -> None:
        if isinstance(msg.error, WeightsUnavailableError):
            self.weights_missing.emit(msg.error)  # the window offers to download them
            return
        self._report_failure(msg)

    @_on_inference_result.register(m.SessionStarted)
    def _on_session_started(self, msg: m.SessionStarted) -> None:
        self._done_waiting(m.StartSession.__name__, m.ReloadModel.__name__)
        if msg.rebuilt:  # a new network: every mask shown so far belongs to the old one
            self._reload_from = None
            self.masks.reset(self.masks.size)
            self._fetching.clear()
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
        if msg.rebuilt or self._recovered is not None:
            self.mark_changed()  # recovered work goes into our own autosave at once
            if self._recovered is not None:
                self.autosave_now()
        elif self.changes.needs_autosave and not self._autosave_timer.isActive():
            self._autosave_timer.start(self.autosave_delay_ms)
        self.display_changed.emit()
        if self._pending_prompts is not None and self.displayed_frame is not None:
            self.apply_prompts(*self._pending_prompts)

    @_on_inference_result.register(m.FrameTracked)
    def _on_frame_tracked(self, msg: m.FrameTracked) -> None:
        frame = msg.result.frame_index
        for res in msg.result.objects.values():
            if res.obj_id in self.objects:
                self.masks.put_result(frame, res)
                self.coverage.mark(res.obj_id, frame, FrameStatus.TRACKED)
                self.coverage.record(frame, res)
        if rate_known(msg.progress):
            self._tracking_fps = msg.progress.fps
        self.tracking_progress.emit(msg.progress)
        if self._follow and frame != self.transport.current:
            self._seeking_to_follow = True
            try:
                self.transport.seek(frame)
            finally:
                self._seeking_to_follow = False
        elif frame == self.displayed_frame:
            self.display_changed.emit()

    def _set_all_statuses(self, statuses: dict[int, list[FrameStatus]]) -> None:
        for obj_id, stats in statuses.items():
            if obj_id in self.objects and len(stats) == self.coverage.num_frames:
                self.coverage.set_statuses(obj_id, stats)

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
