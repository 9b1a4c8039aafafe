"""The inference worker's logic, without Qt: it owns the session and serves requests.

Runs in the worker thread only (the session is not thread-safe and the model is not
re-entrant); the Qt worker in ``_qt/worker.py`` feeds it from a newest-wins mailbox and sends
what ``emit`` receives back to the GUI over queued signals.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from etam_plugin.errors import CancelledError, ModelError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.session_api import SessionFactory, SessionLike
from etam_plugin.model import FrameSource, FrameStatus, Progress, Prompt

FramesFactory = Callable[[m.SourceSpec], FrameSource]
Emit = Callable[[object], None]


class ModelSessionFactory:
    """Sessions on the real EfficientTAM network with the Model menu's options.

    Phase 1: ``etam_plugin.model.VideoSession`` and its model loader are being written; until
    they land this raises a ModelError that the panel shows (scrubbing still works).
    """

    def __init__(self, options: ModelOptions) -> None:
        self.options = options
        self._model: object | None = None

    def _session_class(self) -> type:
        import etam_plugin.model as model_api

        cls = getattr(model_api, "VideoSession", None)
        loader = getattr(model_api, "load_model", None)
        if cls is None or loader is None:
            raise ModelError(
                "The tracking model is not available in this build: "
                "etam_plugin.model does not provide VideoSession/load_model yet."
            )
        if self._model is None:
            self._model = loader(
                self.options.checkpoint or self.options.variant,
                variant=self.options.variant,
                attention=self.options.attention,
                device=self.options.device,
                precision=self.options.precision,
            )
        return cls

    def create(self, frames: FrameSource) -> SessionLike:
        cls = self._session_class()
        return cls(self._model, frames)

    def open(self, folder: Path, frames: FrameSource) -> SessionLike:
        cls = self._session_class()
        return cls.open(folder, self._model, frames)

    def describe(self) -> str:
        return self.options.label()


def _close(frames: object) -> None:
    close = getattr(frames, "close", None)
    if callable(close):
        close()


def save_folder_atomically(save: Callable[[Path], None], folder: Path) -> None:
    """Write a session folder next to ``folder`` then swap it in, so a failed or interrupted
    save (full disk, crash) never leaves a half-written session where the good one was."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    old = None
    try:
        save(tmp)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            if old.exists():
                shutil.rmtree(old)
            os.replace(folder, old)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not folder.exists():
            os.replace(old, folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class InferenceBackend:
    """Serves one request at a time; every outcome goes to ``emit`` as a result message."""

    def __init__(self, frames_factory: FramesFactory, session_factory: SessionFactory) -> None:
        self._frames_factory = frames_factory
        self.session_factory = session_factory
        self.session: SessionLike | None = None
        self._frames: FrameSource | None = None
        self._start_error: BaseException | None = None

    # -- public --------------------------------------------------------------------------
    def handle(self, request: object, emit: Emit) -> None:
        """Serve ``request``; errors become a :class:`messages.Failed` result, never raise."""
        try:
            self._dispatch(request, emit)
        except Exception as exc:  # every failure is reported to the user; the worker lives on
            emit(m.Failed(request, exc, traceback.format_exc()))
            if isinstance(request, m.Propagate):
                emit(m.TrackingFinished(request, True, 0, self._statuses_or_empty(), 0.0))

    def close(self) -> None:
        self.session = None
        if self._frames is not None:
            _close(self._frames)
            self._frames = None

    # -- dispatch ------------------------------------------------------------------------
    def _dispatch(self, request: object, emit: Emit) -> None:
        if isinstance(request, m.StartSession):
            self._start(request, emit)
            return
        session = self._require_session()
        t0 = time.perf_counter()
        if isinstance(request, m.SetPrompt):
            prompt = request.prompt if request.prompt is not None else Prompt()
            result = session.set_prompt(request.frame, request.obj_id, prompt)
            emit(m.PromptApplied(request, result, self._statuses(), time.perf_counter() - t0))
        elif isinstance(request, m.Propagate):
            self._propagate(session, request, emit)
        elif isinstance(request, m.AddObject):
            session.add_object(request.obj_id, request.name)
            emit(m.ObjectsChanged(request, self._statuses()))
        elif isinstance(request, m.RemoveObject):
            session.remove_object(request.obj_id)
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
            save_folder_atomically(session.save, request.folder)
            emit(m.SessionSaved(request.folder))
        else:
            raise TypeError(f"the inference worker cannot serve {type(request).__name__}")

    def _start(self, request: m.StartSession, emit: Emit) -> None:
        t0 = time.perf_counter()
        self.close()
        self._start_error = None
        try:
            self._frames = self._frames_factory(request.spec)
            if request.folder is not None:
                session = self.session_factory.open(request.folder, self._frames)
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
        prompts = {
            (frame, obj_id): p
            for obj_id in session.object_ids
            for frame in session.prompted_frames(obj_id)
            if (p := session.prompt(frame, obj_id)) is not None
        }
        emit(
            m.SessionStarted(
                num_frames=session.num_frames,
                frame_size=tuple(session.frame_size),
                objects={o: session.object_name(o) for o in session.object_ids},
                statuses=self._statuses(),
                prompts=prompts,
                elapsed_s=time.perf_counter() - t0,
            )
        )

    def _propagate(self, session: SessionLike, request: m.Propagate, emit: Emit) -> None:
        t0 = time.perf_counter()
        done = 0
        total = request.total
        cancelled = False
        obj_ids = list(request.obj_ids) if request.obj_ids is not None else None
        try:
            for direction, start, end in request.legs():
                if request.cancel.is_set():
                    break
                stream = session.propagate(
                    direction, start, end, obj_ids=obj_ids, cancel=request.cancel
                )
                for result, progress in stream:
                    done += 1
                    elapsed = time.perf_counter() - t0
                    fps = done / elapsed if elapsed > 0 else 0.0
                    eta = (total - done) / fps if fps > 0 else float("inf")
                    combined = Progress(done, total, progress.frame_index, fps, max(eta, 0.0))
                    emit(m.FrameTracked(result, combined))
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
