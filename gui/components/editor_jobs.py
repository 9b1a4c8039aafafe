"""The editor model's long jobs: switching the model, downloading weights, tracking and
exporting (``Jobs``, a part of ``EditorModel``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from etam_plugin.errors import EtamError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.editor_ports import SessionState
from etam_plugin.gui.components.export_job import ExportJob, ExportSettings, plan_export
from etam_plugin.gui.components.fill import Leg, describe_gaps, plan_fill
from etam_plugin.gui.components.model_options import ModelOptions


class Jobs:
    """The editor model's long jobs: switching the model, downloading weights, tracking and
    exporting (part of :class:`EditorModel`, whose ``__init__`` holds the state)."""

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
