"""The inference worker's logic, without Qt: it owns the session and serves requests.

Runs in the worker thread only (the session is not thread-safe and the model is not
re-entrant); the Qt worker in ``_qt/worker.py`` feeds it from a newest-wins mailbox and sends
what ``emit`` receives back to the GUI over queued signals.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from etam_plugin.errors import CancelledError, ExportError, ModelError, ProjectError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.project import (
    copy_session_folder,
    delete_project_files,
    save_project,
)
from etam_plugin.gui.components.session_api import SessionFactory, SessionLike
from etam_plugin.heap import HeapTrimmer
from etam_plugin.model import FrameSource, FrameStatus, Progress, clicks, drawing

FramesFactory = Callable[[m.SourceSpec], FrameSource]
Emit = Callable[[object], None]


class ModelSessionFactory:
    """Sessions on the real EfficientTAM network with the Model menu's options.

    The network is loaded on first use (in the worker thread) and shared by the sessions it
    makes; :meth:`configure` (from the GUI thread) swaps the options and drops the loaded
    network so the next session loads the new one.
    """

    def __init__(self, options: ModelOptions) -> None:
        self._lock = threading.Lock()
        self._options = options
        self._loaded: tuple[object, str] | None = None  # engine, where it runs
        self.cpu_threads: int | None = None  # what set_cpu_threads chose, once used

    @property
    def options(self) -> ModelOptions:
        with self._lock:
            return self._options

    def configure(self, options: ModelOptions) -> None:
        with self._lock:
            if options != self._options:
                same_network = options.same_network(self._options)
                self._options = options
                if not same_network:
                    self._loaded = None

    def apply_threads(self) -> int:
        """Set torch's CPU threads from the options (in the worker thread)."""
        from etam_plugin.devices import set_cpu_threads

        self.cpu_threads = set_cpu_threads(self.options.cpu_threads)
        return self.cpu_threads

    def _engine(self) -> tuple[object, str]:
        """The loaded network as a tracking engine, shared by the sessions made from it, and
        where it runs: the device picked (PyTorch) or the providers line (ONNX Runtime)."""
        from etam_plugin.devices import set_cpu_threads

        with self._lock:
            options, loaded = self._options, self._loaded
        self.cpu_threads = set_cpu_threads(options.cpu_threads)
        if loaded is not None:
            return loaded
        loaded = self._load(options)
        with self._lock:
            if self._options == options:
                self._loaded = loaded
        return loaded

    @staticmethod
    def _load(options: ModelOptions) -> tuple[object, str]:
        from etam_plugin.engines import EngineOptions, build_engine

        onnx = options.backend == "onnx"
        engine = build_engine(
            EngineOptions(
                backend=options.backend,
                # the other backend's choices wait unused for a switch back (ModelOptions);
                # an ONNX export fixes its own variant and attention
                checkpoint=options.onnx_dir if onnx else options.checkpoint,
                variant=None if onnx else options.variant,
                attention=None if onnx else options.attention,
                device=options.device,
                dtype="float32" if onnx else options.precision,
                onnx_precision=options.onnx_precision if onnx else "fp32",
                threads=options.cpu_threads,
            )
        )
        if not onnx:
            return engine, str(engine.device)
        from etam_plugin.onnx_runtime import describe_engine

        return engine, describe_engine(engine)

    def create(self, frames: FrameSource) -> SessionLike:
        from etam_plugin.model import VideoSession

        return VideoSession(None, frames, engine=self._engine()[0])

    def open(self, folder: Path, frames: FrameSource) -> SessionLike:
        from etam_plugin.model import VideoSession

        return VideoSession.open(folder, None, frames, engine=self._engine()[0])

    def describe(self) -> str:
        """The options, with the device actually picked once the network is loaded."""
        with self._lock:
            options, loaded = self._options, self._loaded
        label = options.label()
        if loaded is not None and options.backend == "onnx":
            assert options.onnx_dir is not None
            return f"{loaded[1]} · {options.onnx_dir.name}"  # "onnx fp32 (CPU) · mobile-onnx"
        if loaded is not None and options.device == "auto":
            label = label.replace(" · auto · ", f" · {loaded[1]} · ")
        if loaded is not None and loaded[1] == "cpu" and self.cpu_threads:
            label += f" · {self.cpu_threads} thread{'s' if self.cpu_threads > 1 else ''}"
        return label


def _close(thing: object) -> None:
    close = getattr(thing, "close", None)
    if callable(close):
        close()


class InferenceBackend:
    """Serves one request at a time; every outcome goes to ``emit`` as a result message."""

    def __init__(self, frames_factory: FramesFactory, session_factory: SessionFactory) -> None:
        # What the model freed goes back to the system now and then (an hour of editing
        # otherwise grew the panel by ~0.9 GB of freed but kept heap).
        self.heap = HeapTrimmer()
        self._frames_factory = frames_factory
        self.session_factory = session_factory
        self.session: SessionLike | None = None
        self._frames: FrameSource | None = None
        self._start_error: BaseException | None = None
        # A reopened project's session works on a private copy of the saved folder (so the
        # saved project stays as saved); removed with the session.
        self._work_folder: Path | None = None

    # -- public --------------------------------------------------------------------------
    def handle(self, request: object, emit: Emit) -> None:
        """Serve ``request``; errors become a :class:`messages.Failed` result, never raise."""
        try:
            self._dispatch(request, emit)
        except Exception as exc:  # every failure is reported to the user; the worker lives on
            emit(m.Failed(request, exc, traceback.format_exc()))
            if isinstance(request, m.Propagate):
                emit(m.TrackingFinished(request, True, 0, self._statuses_or_empty(), 0.0))
            elif isinstance(request, m.Export):
                emit(m.ExportFinished(request.job, (), False, True, 0.0))
        finally:
            self.heap.maybe_trim()

    def close(self) -> None:
        if self.session is not None:
            _close(self.session)
        self.session = None
        self._drop_work_folder()
        if self._frames is not None:
            _close(self._frames)
            self._frames = None

    def _drop_work_folder(self) -> None:
        if self._work_folder is not None:
            shutil.rmtree(self._work_folder, ignore_errors=True)
            self._work_folder = None

    # -- dispatch ------------------------------------------------------------------------
    def _dispatch(self, request: object, emit: Emit) -> None:
        if isinstance(request, m.StartSession):
            self._start(request, emit)
            return
        session = self._require_session()
        t0 = time.perf_counter()
        if isinstance(request, m.SetPrompt):
            result = session.set_prompts(request.frame, request.obj_id, clicks(request.prompt))
            restored = tuple(getattr(session, "last_restored", ()))  # VideoSession's undo
            elapsed = time.perf_counter() - t0
            emit(m.PromptApplied(request, result, self._statuses(), elapsed, restored))
        elif isinstance(request, m.Propagate):
            self._propagate(session, request, emit)
        elif isinstance(request, m.AddObject):
            session.add_object(request.obj_id, request.name)
            emit(m.ObjectsChanged(request, self._statuses()))
        elif isinstance(request, m.RemoveObject):
            session.remove_object(request.obj_id, keep=request.keep)
            emit(m.ObjectsChanged(request, self._statuses()))
        elif isinstance(request, m.RestoreObject):
            if not session.restore_object(request.obj_id):  # e.g. after a model switch
                session.add_object(request.obj_id, request.name)
                for frame, prompt in request.prompts:
                    session.set_prompts(frame, request.obj_id, clicks(prompt))
            emit(m.ObjectsChanged(request, self._statuses()))
        elif isinstance(request, m.RenameObject):
            session.rename_object(request.obj_id, request.name)
        elif isinstance(request, m.FetchResults):
            found = {}
            for obj_id in request.obj_ids:
                if obj_id in session.object_ids:
                    res = session.result(request.frame, obj_id)
                    if res is not None:
                        found[obj_id] = res
            emit(m.ResultsFetched(request.frame, found))
        elif isinstance(request, m.SaveSession):
            session.save(request.folder)  # the session writes its folder safely
            emit(m.SessionSaved(request.folder))
        elif isinstance(request, m.SaveProject):
            self._save_project(session, request, emit)
        elif isinstance(request, m.ReloadModel):
            self._reload(session, emit)
        elif isinstance(request, m.SetCpuThreads):
            apply = getattr(self.session_factory, "apply_threads", None)
            if callable(apply):
                apply()
        elif isinstance(request, m.Export):
            self._export(session, request.job, emit)
        else:
            raise TypeError(f"the inference worker cannot serve {type(request).__name__}")

    def _start(self, request: m.StartSession, emit: Emit) -> None:
        t0 = time.perf_counter()
        self.close()
        self._start_error = None
        try:
            self._frames = self._frames_factory(request.spec)
            if request.folder is not None:
                work = Path(tempfile.mkdtemp(prefix="etam-panel-session-"))
                self._work_folder = work
                copy_session_folder(request.folder, work / "session")
                session = self.session_factory.open(work / "session", self._frames)
            else:
                session = self.session_factory.create(self._frames)
            for obj_id, name in request.objects:
                if obj_id not in session.object_ids:
                    session.add_object(obj_id, name)
        except BaseException as exc:
            self._start_error = exc
            self.close()
            raise
        self.session = session
        emit(self._started(session, t0))

    def _started(self, session: SessionLike, t0: float, rebuilt: bool = False) -> m.SessionStarted:
        prompts = {
            (frame, obj_id): p
            for obj_id in session.object_ids
            for frame in session.prompted_frames(obj_id)
            if (p := drawing(session.prompts(frame, obj_id))) is not None
        }
        return m.SessionStarted(
            num_frames=session.num_frames,
            frame_size=tuple(session.frame_size),
            objects={o: session.object_name(o) for o in session.object_ids},
            statuses=self._statuses(),
            prompts=prompts,
            elapsed_s=time.perf_counter() - t0,
            rebuilt=rebuilt,
            model=self.session_factory.describe(),
        )

    def _reload(self, old: SessionLike, emit: Emit) -> None:
        """The same clip, objects and prompts on the factory's current network. Built
        beside the old session, which stays in use if anything fails."""
        t0 = time.perf_counter()
        assert self._frames is not None
        objects = [(o, old.object_name(o)) for o in old.object_ids]
        prompts = [
            (frame, o, old.prompts(frame, o))
            for o in old.object_ids
            for frame in old.prompted_frames(o)
        ]
        new = self.session_factory.create(self._frames)
        try:
            for obj_id, name in objects:
                new.add_object(obj_id, name)
            for frame, obj_id, calls in sorted(prompts, key=lambda t: (t[0], t[1])):
                new.set_prompts(frame, obj_id, calls)
        except BaseException:
            _close(new)
            raise
        _close(old)
        self._drop_work_folder()
        self.session = new
        emit(self._started(new, t0, rebuilt=True))

    def _save_project(self, session: SessionLike, request: m.SaveProject, emit: Emit) -> None:
        t0 = time.perf_counter()
        folder = Path(session.folder)
        session.save(folder)  # in place: the session's own folder is now complete on disk
        extra = dict(request.extra or {})
        if request.autosave:
            block = dict(extra.get("autosave", {}))
            block["saved_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            block["revision"] = request.revision
            extra["autosave"] = block
        target = save_project(request.path, request.state, folder, extra)
        if request.then_delete is not None and request.then_delete != request.path:
            delete_project_files(request.then_delete)
        emit(m.ProjectSaved(request, target, time.perf_counter() - t0))

    def _export(self, session: SessionLike, job, emit: Emit) -> None:
        from etam_plugin.export.session import export_session_mattes, write_session_timeline
        from etam_plugin.timeline import clip_for_media

        t0 = time.perf_counter()
        frames = self._frames
        if getattr(frames, "info", None) is None:
            raise ExportError(
                f"{job.source.name} has no media information (rate, timecode) to export with",
                path=job.out,
            )
        groups = len(job.obj_ids) if job.combine == "separate" else 1
        total = job.frame_count * groups
        done = [0]
        last_emit = [0.0]

        def progress(_stage: str, _d: int, _t: int) -> None:
            done[0] += 1
            now = time.monotonic()
            if now - last_emit[0] >= 0.05 or done[0] == total:
                last_emit[0] = now
                emit(m.ExportProgress(job, done[0], total))

        try:
            if job.reuse:  # rendered by the last export from the same masks and settings
                paths = list(job.reuse)
                emit(m.ExportProgress(job, total, total))
            else:
                paths = export_session_mattes(
                    session,
                    frames,
                    list(job.obj_ids),
                    (job.first, job.last),
                    job.fmt,
                    job.out,
                    ops=job.ops,
                    combine=job.combine,
                    progress=progress,
                    cancel=job.cancel,
                )
            if job.timeline_out is not None:
                clip = job.clip or clip_for_media(job.source, frame_range=(job.first, job.last + 1))
                paths.append(write_session_timeline(job.timeline_out, clip, paths[0], job.fmt))
        except CancelledError:
            emit(m.ExportFinished(job, (), True, False, time.perf_counter() - t0))
            return
        emit(m.ExportFinished(job, tuple(paths), False, False, time.perf_counter() - t0))

    def _propagate(self, session: SessionLike, request: m.Propagate, emit: Emit) -> None:
        t0 = time.perf_counter()
        done = 0
        total = request.total
        cancelled = False
        checkpoint, last_checkpoint = request.checkpoint, time.monotonic()
        try:
            for leg in request.legs():
                if request.cancel.is_set():
                    break
                obj_ids = list(leg.obj_ids) if leg.obj_ids is not None else None
                stream = session.propagate(
                    leg.direction, leg.start, leg.end, obj_ids=obj_ids, cancel=request.cancel
                )
                for result, progress in stream:
                    done += 1
                    elapsed = time.perf_counter() - t0
                    fps = done / elapsed if elapsed > 0 else 0.0
                    eta = (total - done) / fps if fps > 0 else float("inf")
                    combined = Progress(done, total, progress.frame_index, fps, max(eta, 0.0))
                    emit(m.FrameTracked(result, combined))
                    now = time.monotonic()
                    if checkpoint is not None and now - last_checkpoint >= (
                        request.checkpoint_every_s
                    ):
                        last_checkpoint = now
                        try:
                            self._save_project(session, checkpoint, emit)
                        except (OSError, ProjectError) as exc:  # tracking goes on
                            emit(m.Failed(checkpoint, exc))
                            checkpoint = None
        except CancelledError:
            cancelled = True
        cancelled = cancelled or request.cancel.is_set()
        emit(
            m.TrackingFinished(request, cancelled, done, self._statuses(), time.perf_counter() - t0)
        )

    # -- helpers -------------------------------------------------------------------------
    def _require_session(self) -> SessionLike:
        if self.session is None:
            if self._start_error is not None:
                raise ModelError(f"No tracking session: {self._start_error}")
            raise ModelError("No tracking session: open a clip first.")
        return self.session

    def _statuses(self) -> dict[int, list[FrameStatus]]:
        session = self._require_session()
        return {o: list(session.statuses(o)) for o in session.object_ids}

    def _statuses_or_empty(self) -> dict[int, list[FrameStatus]]:
        try:
            return self._statuses()
        except Exception:
            return {}
