"""How the workers' results change the editor model: one handler per result type, and per
failed request type (``register``). A new request type is a message class in
``components/messages.py`` (it describes itself) and a handler here, nothing else.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from etam_plugin.errors import TimelineRateError, WeightsUnavailableError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.editor_ports import SessionState
from etam_plugin.gui.components.progress import rate_known
from etam_plugin.model import FrameStatus

if TYPE_CHECKING:
    from etam_plugin.gui.components.editor import EditorModel


def _failures(results: Any) -> Any:  # singledispatch functions
    """A worker's failed requests, one handler per request type (``register``): ``results``
    hands each ``Failed`` to it; a request type without a handler is just reported."""

    @functools.singledispatch
    def failed(request: m.Request, msg: m.Failed, ed: EditorModel) -> None:
        ed._report_failure(msg)

    @results.register(m.Failed)
    def _on_failed(msg: m.Failed, ed: EditorModel) -> None:
        failed(msg.request, msg, ed)

    return failed


def on_inference_result(msg: object, ed: EditorModel) -> None:
    """A result of the inference worker: it ends the wait for its request, then its
    type's handler runs (unless it belongs to the previous clip's session)."""
    request = getattr(msg, "request", None)
    if isinstance(request, m.Request):
        ed._done_waiting(request.wait_key)
    if (
        ed.session_state is SessionState.STARTING
        and isinstance(msg, m.SessionResult)
        and not msg.outlives_session
    ):
        return  # from the previous clip's session: the worker serves in order
    _on_inference_result(msg, ed)


@functools.singledispatch
def on_frames_result(msg: object, ed: EditorModel) -> None:
    """A result of the frame loader (a type without a handler is ignored)."""


@on_frames_result.register(m.FramesOpened)
def _on_frames_opened_result(msg: m.FramesOpened, ed: EditorModel) -> None:
    ed._on_frames_opened(msg.info)


@on_frames_result.register(m.FrameLoaded)
def _on_frame_loaded(msg: m.FrameLoaded, ed: EditorModel) -> None:
    if msg.index == ed.transport.current:
        ed.image, ed.displayed_frame = msg.image, msg.index
        ed._fetch_missing_masks(msg.index)
        ed.display_changed.emit()
        if ed._pending_prompts is not None and ed.session_state is SessionState.READY:
            ed.apply_prompts(*ed._pending_prompts)


@on_frames_result.register(m.ThumbnailLoaded)
def _on_thumbnail_loaded(msg: m.ThumbnailLoaded, ed: EditorModel) -> None:
    if msg.image.shape[0] == ed._thumb_height:
        ed.thumbnails[msg.index] = msg.image
        ed.thumbnail_ready.emit(msg.index)


_loader_failed = _failures(on_frames_result)


@_loader_failed.register(m.LoadThumbnail)
def _thumbnail_failed(request: m.LoadThumbnail, msg: m.Failed, ed: EditorModel) -> None:
    ed._thumb_asked.discard(request.index)
    ed._report_failure(msg, severity="warning")


@_loader_failed.register(m.LoadFrame)
def _frame_failed(request: m.LoadFrame, msg: m.Failed, ed: EditorModel) -> None:
    # One dialog per clip; scrubbing over more bad frames only says so below.
    severity = "warning" if ed._frame_error_shown else ""
    ed._frame_error_shown = True
    ed._report_failure(msg, severity=severity)


@_loader_failed.register(m.OpenFrames)
def _open_failed(request: m.OpenFrames, msg: m.Failed, ed: EditorModel) -> None:
    ed._pending_spec = None
    ed._report_failure(msg)


@functools.singledispatch
def on_task_result(msg: object, ed: EditorModel) -> None:
    """A result of the task worker (downloads, timelines)."""


@on_task_result.register(m.DownloadProgress)
def _on_download_progress(msg: m.DownloadProgress, ed: EditorModel) -> None:
    ed.download_progress.emit(msg)


@on_task_result.register(m.DownloadRetrying)
def _on_download_retrying(msg: m.DownloadRetrying, ed: EditorModel) -> None:
    ed.download_retrying.emit(msg)


@on_task_result.register(m.WeightsReady)
def _on_weights_ready(msg: m.WeightsReady, ed: EditorModel) -> None:
    ed.downloading = None
    then, ed._after_download = ed._after_download, None
    ed.download_finished.emit(True)
    ed._report_info(f"The {msg.variant} weights are ready ({msg.path.name}).")
    if then is not None:
        then()


@on_task_result.register(m.TimelineRead)
def _on_timeline_read(msg: m.TimelineRead, ed: EditorModel) -> None:
    ed.timeline_read.emit(msg)


_task_failed = _failures(on_task_result)


@_task_failed.register(m.DownloadWeights)
def _download_failed(request: m.DownloadWeights, msg: m.Failed, ed: EditorModel) -> None:
    ed.downloading = None
    ed._after_download = None
    ed.download_finished.emit(False)
    ed._report_failure(msg)


@_task_failed.register(m.ReadTimeline)
def _timeline_failed(request: m.ReadTimeline, msg: m.Failed, ed: EditorModel) -> None:
    if isinstance(msg.error, TimelineRateError):
        ed.timeline_rate_needed.emit(request.path)  # the window asks the rate
        return
    ed._report_failure(msg)


@functools.singledispatch
def _on_inference_result(msg: object, ed: EditorModel) -> None:
    """What the inference worker sends (a type without a handler is ignored)."""


@_on_inference_result.register(m.ProjectSaved)
def _on_project_saved(msg: m.ProjectSaved, ed: EditorModel) -> None:
    request = msg.request
    if request.autosave:
        ed.changes.mark_autosaved(request.revision)
        if ed._recovered is not None:  # our own autosave holds the recovered work now
            if ed.recovery is not None:
                ed.recovery.discard(ed._recovered)
            ed._recovered = None
    else:
        ed.changes.mark_saved(request.revision)
        ed.project_path = request.path
    ed.project_saved.emit(msg)


@_on_inference_result.register(m.ExportProgress)
def _on_export_progress(msg: m.ExportProgress, ed: EditorModel) -> None:
    ed.export_progress.emit(msg)


@_on_inference_result.register(m.ExportFinished)
def _on_export_finished(msg: m.ExportFinished, ed: EditorModel) -> None:
    if ed.exporting is msg.job:
        ed.exporting = None
    if msg.paths and not msg.failed and not msg.cancelled:
        ed.export_folder = msg.job.out.absolute().parent
        mattes = [p for p in msg.paths if p != msg.job.timeline_out]
        if ed.changes.revision == ed._export_revision:
            ed.rendered.record(msg.job, ed._export_revision, mattes)
        else:  # edited while it ran: which masks it read is not known
            ed.rendered.clear()
    ed.export_finished.emit(msg)
    ed._emit_status()
    ed._reload_model()  # a model switch asked for while exporting


@_on_inference_result.register(m.PromptApplied)
def _on_prompt_applied(msg: m.PromptApplied, ed: EditorModel) -> None:
    # The edit (or its undo/redo) may have brought back other frames' records (the
    # session keeps what re-tracking replaced): their shown masks are fetched again.
    for frame in msg.restored:
        ed.masks.discard(frame, msg.request.obj_id)
        ed.coverage.forget(frame, msg.request.obj_id)
    if msg.request.obj_id not in msg.result.objects:  # cleared: nothing to show
        ed.masks.discard(msg.result.frame_index, msg.request.obj_id)
    for res in msg.result.objects.values():
        if res.obj_id in ed.objects:
            ed.masks.put_result(msg.result.frame_index, res)
            ed.coverage.record(msg.result.frame_index, res)
    _set_all_statuses(ed, msg.statuses)
    ed._last_step_ms = msg.elapsed_s * 1000.0
    ed._emit_status()
    if ed.displayed_frame is not None:
        ed._fetch_missing_masks(ed.displayed_frame)
    if msg.result.frame_index == ed.displayed_frame:
        ed.display_changed.emit()


@_on_inference_result.register(m.TrackingFinished)
def _on_tracking_finished(msg: m.TrackingFinished, ed: EditorModel) -> None:
    _set_all_statuses(ed, msg.statuses)
    if ed.tracking is msg.request:
        ed.tracking = None
    ed._follow = False
    if msg.frames_done:
        ed.mark_changed()
    ed.tracking_finished.emit(msg)
    if not msg.cancelled:
        ed._report_gaps(msg.request)
    ed._emit_status()
    ed._reload_model()  # a model switch asked for while tracking


def _fetch_answered(ed: EditorModel, frame: int) -> None:
    if ed._fetching == frame:
        ed._fetching = None


@_on_inference_result.register(m.ResultsFetched)
def _on_results_fetched(msg: m.ResultsFetched, ed: EditorModel) -> None:
    _fetch_answered(ed, msg.frame)
    for res in msg.objects.values():
        if res.obj_id in ed.objects:
            ed.masks.put_result(msg.frame, res)
            ed.coverage.record(msg.frame, res)
    if msg.frame == ed.displayed_frame:
        ed.display_changed.emit()


@_on_inference_result.register(m.ObjectsChanged)
def _on_session_objects_changed(msg: m.ObjectsChanged, ed: EditorModel) -> None:
    _set_all_statuses(ed, msg.statuses)
    if isinstance(msg.request, m.RestoreObject) and ed.displayed_frame is not None:
        ed._fetch_missing_masks(ed.displayed_frame)


@_on_inference_result.register(m.SessionSaved)
def _on_session_saved(msg: m.SessionSaved, ed: EditorModel) -> None:
    ed._history.set_clean()
    ed.session_saved.emit(msg.folder)


_inference_failed = _failures(_on_inference_result)


@_inference_failed.register(m.StartSession)
def _start_failed(request: m.StartSession, msg: m.Failed, ed: EditorModel) -> None:
    ed.session_error = msg.error
    ed._set_session_state(SessionState.FAILED)
    _report_session_failure(msg, ed)


@_inference_failed.register(m.ReloadModel)
def _reload_failed(request: m.ReloadModel, msg: m.Failed, ed: EditorModel) -> None:
    previous, ed._reload_from = ed._reload_from, None
    if previous is not None:  # the old session is still there, on the old model
        ed._configure_model(previous)
    ed._set_session_state(SessionState.READY)
    _report_session_failure(msg, ed)


@_inference_failed.register(m.FetchResults)
def _fetch_failed(request: m.FetchResults, msg: m.Failed, ed: EditorModel) -> None:
    _fetch_answered(ed, request.frame)
    ed._report_failure(msg)


@_inference_failed.register(m.AddObject)
def _add_failed(request: m.AddObject, msg: m.Failed, ed: EditorModel) -> None:
    ed._undo_failed_add(request.obj_id)
    ed._report_failure(msg)


@_inference_failed.register(m.SaveProject)
def _save_failed(request: m.SaveProject, msg: m.Failed, ed: EditorModel) -> None:
    if request.autosave:
        # Said once in a dialog, then in the status bar: autosave retries on change.
        severity = "warning" if ed._autosave_failed else ""
        ed._autosave_failed = True
        ed._report(msg.error, "Autosaving your work", msg.details, severity)
        return
    ed.project_save_failed.emit(request)
    ed._report_failure(msg)


def _report_session_failure(msg: m.Failed, ed: EditorModel) -> None:
    if isinstance(msg.error, WeightsUnavailableError):
        ed.weights_missing.emit(msg.error)  # the window offers to download them
        return
    ed._report_failure(msg)


@_on_inference_result.register(m.SessionStarted)
def _on_session_started(msg: m.SessionStarted, ed: EditorModel) -> None:
    ed._done_waiting(m.StartSession.__name__, m.ReloadModel.__name__)
    if msg.rebuilt:  # a new network: every mask shown so far belongs to the old one
        ed._reload_from = None
        ed.masks.reset(ed.masks.size)
        ed._fetching = None
    for obj_id, name in msg.objects.items():
        if obj_id not in ed.objects:
            ed.objects.add(name, obj_id=obj_id, activate=False)
        elif ed.objects.get(obj_id).name != name:
            ed.objects.rename(obj_id, name)
    for (frame, obj_id), prompt in msg.prompts.items():
        ed.prompts.set(frame, obj_id, prompt)
    _set_all_statuses(ed, msg.statuses)
    ed.session_error = None
    ed._last_step_ms = msg.elapsed_s * 1000.0
    ed._set_session_state(SessionState.READY)
    if ed.displayed_frame is not None:
        ed._fetch_missing_masks(ed.displayed_frame)
    if msg.rebuilt or ed._recovered is not None:
        ed.mark_changed()  # recovered work goes into our own autosave at once
        if ed._recovered is not None:
            ed.autosave_now()
    elif ed.changes.needs_autosave and not ed._autosave_timer.isActive():
        ed._autosave_timer.start(ed.autosave_delay_ms)
    ed.display_changed.emit()
    if ed._pending_prompts is not None and ed.displayed_frame is not None:
        ed.apply_prompts(*ed._pending_prompts)


@_on_inference_result.register(m.FrameTracked)
def _on_frame_tracked(msg: m.FrameTracked, ed: EditorModel) -> None:
    frame = msg.result.frame_index
    for res in msg.result.objects.values():
        if res.obj_id in ed.objects:
            ed.masks.put_result(frame, res)
            ed.coverage.mark(res.obj_id, frame, FrameStatus.TRACKED)
            ed.coverage.record(frame, res)
    if rate_known(msg.progress):
        ed._tracking_fps = msg.progress.fps
    ed.tracking_progress.emit(msg.progress)
    if ed._follow and frame != ed.transport.current:
        ed._seeking_to_follow = True
        try:
            ed.transport.seek(frame)
        finally:
            ed._seeking_to_follow = False
    elif frame == ed.displayed_frame:
        ed.display_changed.emit()


def _set_all_statuses(ed: EditorModel, statuses: dict[int, list[FrameStatus]]) -> None:
    for obj_id, stats in statuses.items():
        if obj_id in ed.objects and len(stats) == ed.coverage.num_frames:
            ed.coverage.set_statuses(obj_id, stats)
