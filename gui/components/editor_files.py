"""Opening clips, projects and timeline clips, starting their session, and saving and
autosaving the work: the editor model's files (``ClipFiles``, a part of ``EditorModel``)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from etam_plugin.errors import ProjectError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.editor_ports import SessionState
from etam_plugin.gui.components.export_job import ExportSettings
from etam_plugin.gui.components.project import LoadedProject, ProjectState, read_project
from etam_plugin.gui.components.recovery import RecoveryCandidate
from etam_plugin.model import FrameStatus
from etam_plugin.timeline import TimelineClip


class ClipFiles:
    """The editor model's clips and projects: opening a clip, a project or a timeline clip,
    starting its session, saving and autosaving (part of :class:`EditorModel`, whose
    ``__init__`` holds the state)."""

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
        self._fetching = None
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
