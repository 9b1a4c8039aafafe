"""The add-on's Blender side: preferences, per-strip settings, the sidebar, the operators,
and the wiring of a matte strip under its source. Only this module touches ``bpy``.

No ``from __future__ import annotations`` here: Blender reads the property annotations of
registered classes as objects."""

import collections
import os
import queue
import subprocess
import threading
from pathlib import Path

import bpy

from . import jobs, strips

ADDON = __package__
MODIFIER = "EfficientTAM matte"
MATTE_OF = "etam_matte_of"  # custom property on a matte strip: its source strip's name


def strip_type() -> type:
    """Blender 4.4 renamed Sequence to Strip."""
    return getattr(bpy.types, "Strip", None) or bpy.types.Sequence


def _top(editor) -> bpy.types.bpy_prop_collection:
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def _all(editor) -> bpy.types.bpy_prop_collection:
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def _addon_folder() -> Path:
    return Path(__file__).resolve().parent


def preferences(context) -> tuple[str, str]:
    """(python, checkpoint): the preferences' values, else what the installer recorded."""
    config = jobs.read_config(_addon_folder())
    addon = context.preferences.addons.get(ADDON)
    prefs = addon.preferences if addon else None
    python = (prefs.python if prefs else "") or config.get("python", "")
    checkpoint = (prefs.checkpoint if prefs else "") or config.get("checkpoint", "")
    return bpy.path.abspath(python) if python else "", checkpoint


def _absolute(path: str) -> str:
    """A strip's path as a plain absolute one (Blender keeps ``//../x`` relative paths)."""
    return os.path.normpath(bpy.path.abspath(path))


def _weights(checkpoint: str) -> str:
    """A checkpoint file (``//`` relative to the .blend) or a variant name, as given."""
    return _absolute(checkpoint) if checkpoint.startswith("//") else checkpoint


def strip_facts(scene, strip) -> strips.StripFacts:
    """Reads what :func:`strips.source_range` needs off a strip."""
    render = scene.render
    images: tuple[str, ...] = ()
    folder_images: tuple[str, ...] = ()
    media = ""
    media_fps = None
    if strip.type == "MOVIE":
        media = _absolute(strip.filepath)
        media_fps = float(getattr(strip, "fps", 0.0)) or None
    elif strip.type == "IMAGE":
        media = _absolute(strip.directory)
        images = tuple(e.filename for e in strip.elements)
        suffix = Path(images[0]).suffix.lower() if images else ""
        folder = Path(media)
        if folder.is_dir():
            folder_images = tuple(
                p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() == suffix
            )
    editor = scene.sequence_editor
    effects = tuple(
        s.name for s in _all(editor) if s.type == "SPEED" and getattr(s, "input_1", None) == strip
    )
    proxy = None
    if getattr(strip, "use_proxy", False) and getattr(strip, "proxy", None) is not None:
        proxy = getattr(strip.proxy, "timecode", "NONE")
    keys = getattr(strip, "retiming_keys", None)
    return strips.StripFacts(
        name=strip.name,
        kind=strip.type,
        frame_start=strip.frame_start,
        frame_final_start=strip.frame_final_start,
        frame_final_end=strip.frame_final_end,
        scene_fps=render.fps / render.fps_base,
        media=media,
        animation_offset_start=int(getattr(strip, "animation_offset_start", 0)),
        speed_factor=float(getattr(strip, "speed_factor", 1.0)),
        reversed=bool(getattr(strip, "use_reverse_frames", False)),
        media_fps=media_fps,
        proxy_timecode=proxy,
        speed_effects=effects,
        retimed=keys is not None and len(keys) > 0,
        images=images,
        folder_images=folder_images,
    )


def matte_folder(settings) -> Path:
    """Where a strip's mattes go (``//`` is the .blend's folder, so it must be saved)."""
    folder = settings.matte_folder or "//etam_mattes"
    if folder.startswith("//") and not bpy.data.filepath:
        raise jobs.SetupError("save the .blend first: its mattes are kept next to it")
    return Path(bpy.path.abspath(folder))


def find_matte(editor, source) -> object | None:
    for strip in _all(editor):
        if strip.get(MATTE_OF) == source.name:
            return strip
    return None


def wire_matte(scene, source, span: strips.SourceRange, out: Path) -> object:
    """Puts the matte on the channel above ``source``, frame for frame (the same first
    timeline frame and length as the used part of the source), and masks the source with
    it; an earlier matte of the same strip is replaced, not added to."""
    files = jobs.matte_files(out, span.first, span.last)
    editor = scene.sequence_editor
    old = find_matte(editor, source)
    channel = old.channel if old is not None else source.channel + 1
    name = old.name if old is not None else f"{source.name} matte"
    if old is not None:
        _top(editor).remove(old)
    matte = _top(editor).new_image(
        name=name, filepath=str(out / files[0]), channel=channel, frame_start=span.timeline_start
    )
    for file in files[1:]:
        matte.elements.append(file)
    matte[MATTE_OF] = source.name
    matte.mute = True  # it only feeds the mask modifier
    if matte.frame_final_start != span.timeline_start or matte.frame_final_duration != len(files):
        raise jobs.SetupError(
            f"Blender placed the matte at {matte.frame_final_start} for "
            f"{matte.frame_final_duration} frames, not {span.timeline_start} for {len(files)}"
        )
    modifier = source.modifiers.get(MODIFIER) or source.modifiers.new(MODIFIER, "MASK")
    modifier.input_mask_type = "STRIP"
    modifier.input_mask_strip = matte
    if source.blend_type == "REPLACE":  # let the cut-out composite over the channels below
        source.blend_type = "ALPHA_OVER"
    return matte


class EtamPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON

    python: bpy.props.StringProperty(
        name="etam-plugin Python",
        description="The Python that has etam-plugin installed (recorded by "
        "`etam-plugin blender install`; empty: that one)",
        subtype="FILE_PATH",
    )
    checkpoint: bpy.props.StringProperty(
        name="Checkpoint",
        description="EfficientTAM weights: a .pt file or a variant name (empty: the one "
        "recorded at install)",
        subtype="FILE_PATH",
    )

    def draw(self, context) -> None:
        python, checkpoint = preferences(context)
        self.layout.prop(self, "python")
        self.layout.prop(self, "checkpoint")
        self.layout.label(text=f"Using: {python or '(none)'} · {checkpoint or '(no weights)'}")


class EtamStripSettings(bpy.types.PropertyGroup):
    """What a strip is tracked with: kept in the .blend, per strip."""

    points: bpy.props.StringProperty(
        name="Points",
        description="FRAME:OBJ:X,Y[:neg], space-separated; FRAME is the media's frame "
        "number, X,Y its pixels (as `etam-plugin track --point`)",
    )
    boxes: bpy.props.StringProperty(
        name="Boxes", description="FRAME:OBJ:X0,Y0,X1,Y1, space-separated"
    )
    prompts_file: bpy.props.StringProperty(
        name="Prompts file",
        description="a prompts.json (as `track --prompts`)",
        subtype="FILE_PATH",
    )
    objects: bpy.props.StringProperty(
        name="Objects", description="objects in the matte: all, or 1,2", default="all"
    )
    matte_ops: bpy.props.StringProperty(
        name="Finishing", description='matte ops, e.g. "feather=2,grow=1,smooth=3"'
    )
    direction: bpy.props.EnumProperty(
        name="Direction",
        items=[(d, d.title(), "") for d in ("both", "forward", "backward")],
        default="both",
    )
    matte_folder: bpy.props.StringProperty(
        name="Matte folder", default="//etam_mattes", subtype="DIR_PATH"
    )


_FIELDS = ("points", "boxes", "prompts_file", "objects", "matte_ops", "direction")


class ETAM_OT_track_strip(bpy.types.Operator):
    """Track the objects of a movie or image strip with EfficientTAM and put the matte on
    the channel above, masking the strip (again: the matte is replaced)"""

    bl_idname = "sequencer.etam_track_strip"
    bl_label = "Track & Apply Matte"
    strip: bpy.props.StringProperty(name="Strip", description="empty: the active strip")
    points: bpy.props.StringProperty(name="Points")
    boxes: bpy.props.StringProperty(name="Boxes")
    prompts_file: bpy.props.StringProperty(name="Prompts file")
    objects: bpy.props.StringProperty(name="Objects", default="all")
    matte_ops: bpy.props.StringProperty(name="Finishing")
    direction: bpy.props.EnumProperty(
        items=[(d, d.title(), "") for d in ("both", "forward", "backward")], default="both"
    )

    _proc = None

    @classmethod
    def poll(cls, context) -> bool:
        return context.scene is not None and context.scene.sequence_editor is not None

    def _plan(self, context):
        """Everything checked before the job starts; the prompts given are kept on the strip."""
        scene = context.scene
        source = _named_or_active(context, self.strip)
        settings = source.etam
        for name in _FIELDS:  # given here: kept on the strip; not given: the strip's own
            if self.properties.is_property_set(name):
                setattr(settings, name, getattr(self, name))
        facts = strip_facts(scene, source)
        span = strips.source_range(facts)
        python, checkpoint = preferences(context)
        spec = jobs.JobSpec(
            python=python,
            checkpoint=_weights(checkpoint),
            media=facts.media,
            first=span.first,
            last=span.last,
            out=matte_folder(settings) / jobs.output_name(source.name),
            points=jobs.split_prompts(settings.points),
            boxes=jobs.split_prompts(settings.boxes),
            prompts_file=bpy.path.abspath(settings.prompts_file) if settings.prompts_file else "",
            objects=settings.objects,
            matte_ops=settings.matte_ops,
            direction=settings.direction,
        )
        jobs.check_setup(spec)
        return source, span, spec

    def execute(self, context):
        try:
            source, span, spec = self._plan(context)
        except (strips.StripRefused, jobs.SetupError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._source_name, self._span, self._spec = source.name, span, spec
        if bpy.app.background:  # batch and tests: the job runs to its end here
            done = subprocess.run(jobs.command(spec), capture_output=True, text=True)
            return self._finish(context, done.returncode, done.stderr.splitlines())
        return self._start(context)

    # -- with a window: the job runs beside Blender, which stays responsive --------------
    def _start(self, context):
        try:
            self._proc = subprocess.Popen(
                jobs.command(self._spec),
                stderr=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                text=True,
            )
        except OSError as exc:
            self.report({"ERROR"}, f"cannot start etam-plugin: {exc}")
            return {"CANCELLED"}
        self._lines = queue.Queue()
        self._seen = []
        threading.Thread(target=self._read, daemon=True).start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        self._status(context, "starting…")
        return {"RUNNING_MODAL"}

    def _read(self) -> None:
        for line in self._proc.stderr:
            self._lines.put(line.rstrip("\n"))

    def _status(self, context, text: str | None) -> None:
        if text is not None:
            text = f"EfficientTAM · {self._source_name}: {text} (Esc cancels)"
        context.workspace.status_text_set(text)

    def modal(self, context, event):
        if event.type == "ESC":
            self._proc.terminate()  # our CLI cleans up on SIGTERM: no half-written matte
            self._proc.wait()
            self._end(context)
            self.report({"WARNING"}, "tracking cancelled; the strip is unchanged")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        while not self._lines.empty():
            line = self._lines.get()
            self._seen.append(line)
            step = jobs.progress_of(line)
            if step is not None:
                stage, done, total = step
                self._status(context, f"{stage} {done}/{total}")
        if self._proc.poll() is None:
            return {"PASS_THROUGH"}
        self._proc.stderr.close()
        self._end(context)
        return self._finish(context, self._proc.returncode, self._seen + self._drain())

    def _drain(self) -> list[str]:
        rest = []
        while not self._lines.empty():
            rest.append(self._lines.get())
        return rest

    def _end(self, context) -> None:
        context.window_manager.event_timer_remove(self._timer)
        self._status(context, None)

    def _finish(self, context, returncode: int, lines: list[str]):
        if returncode != 0:
            self.report({"ERROR"}, f"EfficientTAM: {jobs.failure(lines, returncode)}")
            return {"CANCELLED"}
        scene = context.scene
        source = _all(scene.sequence_editor).get(self._source_name)
        if source is None:
            self.report({"ERROR"}, f"the strip '{self._source_name}' is gone; matte not placed")
            return {"CANCELLED"}
        try:
            matte = wire_matte(scene, source, self._span, self._spec.out)
        except jobs.SetupError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        span = self._span
        self.report(
            {"INFO"},
            f"EfficientTAM: '{matte.name}' masks '{source.name}' (media frames "
            f"{span.first}..{span.last} from frame {span.timeline_start})",
        )
        return {"FINISHED"}


class ETAM_OT_select_in_panel(bpy.types.Operator):
    """Open the etam-plugin panel on this strip's media, its used frames as in and out, to
    click, correct and preview the objects; when the panel closes, the strip is tracked
    with those prompts and matted"""

    bl_idname = "sequencer.etam_select_in_panel"
    bl_label = "Select & Track in Panel"

    strip: bpy.props.StringProperty(name="Strip", description="empty: the active strip")

    _proc = None

    @classmethod
    def poll(cls, context) -> bool:
        return context.scene is not None and context.scene.sequence_editor is not None

    def execute(self, context):
        try:
            source = _named_or_active(context, self.strip)
            settings = source.etam
            facts = strip_facts(context.scene, source)
            span = strips.source_range(facts)
            python, checkpoint = preferences(context)
            out = matte_folder(settings) / jobs.output_name(source.name)
            spec = jobs.PanelSpec(
                python=python,
                media=facts.media,
                first=span.first,
                last=span.last,
                prompts_out=jobs.prompts_file(out),
                prompts_in=bpy.path.abspath(settings.prompts_file) if settings.prompts_file else "",
                points=jobs.split_prompts(settings.points),
                boxes=jobs.split_prompts(settings.boxes),
                checkpoint=_weights(checkpoint),
            )
            if not python or not Path(python).is_file():
                raise jobs.SetupError(
                    f"etam-plugin's Python is gone ({python or 'none recorded'}): run "
                    "`etam-plugin blender install` again"
                )
            out.parent.mkdir(parents=True, exist_ok=True)
            self._proc = subprocess.Popen(
                jobs.panel_command(spec), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        except (strips.StripRefused, jobs.SetupError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._source_name, self._spec = source.name, spec
        self._tail = collections.deque(maxlen=20)
        threading.Thread(target=self._read, daemon=True).start()
        if bpy.app.background:
            self._proc.wait()
            return self._after_panel(context)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.5, window=context.window)
        wm.modal_handler_add(self)
        context.workspace.status_text_set(
            f"EfficientTAM · {source.name}: select in the panel, then close it to track here"
        )
        return {"RUNNING_MODAL"}

    def _read(self) -> None:
        for line in self._proc.stderr:
            self._tail.append(line.rstrip("\n"))

    def modal(self, context, event):
        if event.type != "TIMER" or self._proc.poll() is None:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        context.workspace.status_text_set(None)
        return self._after_panel(context)

    def _after_panel(self, context):
        """The panel closed: its prompts become the strip's, and the strip is tracked."""
        editor = context.scene.sequence_editor
        source = _all(editor).get(self._source_name)
        path = self._spec.prompts_out
        count = jobs.prompt_count(path)
        if source is None:
            self.report({"ERROR"}, f"the strip '{self._source_name}' is gone")
            return {"CANCELLED"}
        if count == 0:
            if self._proc.returncode:
                why = jobs.failure(list(self._tail), self._proc.returncode)
                self.report({"ERROR"}, f"the panel stopped: {why}")
            else:
                self.report({"INFO"}, "no prompts came back from the panel; strip unchanged")
            return {"CANCELLED"}
        settings = source.etam
        settings.prompts_file = bpy.path.relpath(str(path)) if bpy.data.filepath else str(path)
        settings.points = settings.boxes = ""  # they are in the file now
        mode = "EXEC_DEFAULT" if bpy.app.background else "INVOKE_DEFAULT"
        try:  # with a window the job then runs on its own, as if its button were pressed
            started = bpy.ops.sequencer.etam_track_strip(mode, strip=source.name)
        except RuntimeError as exc:  # its error report, raised to a caller in a script
            self.report({"ERROR"}, str(exc).removeprefix("Error: ").strip())
            return {"CANCELLED"}
        return {"CANCELLED"} if "CANCELLED" in started else {"FINISHED"}


def _named_or_active(context, name: str):
    editor = context.scene.sequence_editor
    if name:
        found = _all(editor).get(name)
        if found is None:
            raise jobs.SetupError(f"no strip named '{name}'")
        return found
    if editor.active_strip is None:
        raise jobs.SetupError("no active strip: click a movie or image strip first")
    return editor.active_strip


class ETAM_OT_remove_matte(bpy.types.Operator):
    """Remove the strip's EfficientTAM matte and its mask modifier (the files stay)"""

    bl_idname = "sequencer.etam_remove_matte"
    bl_label = "Remove Matte"

    @classmethod
    def poll(cls, context) -> bool:
        editor = context.scene.sequence_editor if context.scene else None
        return editor is not None and editor.active_strip is not None

    def execute(self, context):
        editor = context.scene.sequence_editor
        source = editor.active_strip
        matte = find_matte(editor, source)
        modifier = source.modifiers.get(MODIFIER)
        if modifier is not None:
            source.modifiers.remove(modifier)
        if matte is not None:
            _top(editor).remove(matte)
        return {"FINISHED"}


class SEQUENCER_PT_etam(bpy.types.Panel):
    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "EfficientTAM"
    bl_label = "EfficientTAM"

    @classmethod
    def poll(cls, context) -> bool:
        return context.scene is not None and context.scene.sequence_editor is not None

    def draw(self, context) -> None:
        layout = self.layout
        editor = context.scene.sequence_editor
        strip = editor.active_strip
        if strip is None:
            layout.label(text="Select a movie or image strip")
            return
        layout.label(text=strip.name, icon="SEQUENCE")
        try:
            span = strips.source_range(strip_facts(context.scene, strip))
        except strips.StripRefused as exc:
            layout.label(text="Cannot follow this strip:", icon="ERROR")
            for part in _wrap(str(exc)):
                layout.label(text=part)
            return
        here = context.scene.frame_current - span.timeline_start + span.first
        layout.label(text=f"Media frames {span.first}–{span.last}")
        if span.first <= here <= span.last:
            layout.label(text=f"Playhead shows media frame {here}")
        settings = strip.etam
        for name in ("points", "boxes", "prompts_file", "objects", "matte_ops", "direction"):
            layout.prop(settings, name)
        layout.prop(settings, "matte_folder")
        layout.operator(ETAM_OT_select_in_panel.bl_idname, icon="RESTRICT_SELECT_OFF")
        layout.operator(ETAM_OT_track_strip.bl_idname, icon="TRACKING")
        matte = find_matte(editor, strip)
        if matte is not None:
            layout.label(text=f"Matte: {matte.name}", icon="IMAGE_ALPHA")
            layout.operator(ETAM_OT_remove_matte.bl_idname, icon="X")


def _wrap(text: str, width: int = 40) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


CLASSES = (EtamPreferences, EtamStripSettings, ETAM_OT_track_strip, ETAM_OT_select_in_panel,
           ETAM_OT_remove_matte, SEQUENCER_PT_etam)  # fmt: skip


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    strip_type().etam = bpy.props.PointerProperty(type=EtamStripSettings)


def unregister() -> None:
    del strip_type().etam
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
