"""Runs inside Blender (``blender -b [FILE.blend] --python blender_driver.py -- JSON``, or
Blender's Python module: ``python blender_driver.py -- JSON`` with ``"open"``) for
the add-on tests: makes a scene, calls the add-on's operators, renders frames. Prints one
``DRIVER {json}`` line with what it found; the add-on's own reports print as Blender does."""

import json
import sys

import bpy


def _strips(editor):
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def make(args: dict) -> dict:
    scene = bpy.context.scene
    render = scene.render
    render.resolution_x, render.resolution_y = args["size"]
    render.resolution_percentage = 100
    render.fps, render.fps_base = args["fps"]  # e.g. [30, 1.001] for 29.97
    scene.view_settings.view_transform = "Standard"  # pixels as decoded, no film look
    editor = scene.sequence_editor_create()
    clip = _strips(editor).new_movie("clip", args["movie"], channel=1, frame_start=args["start"])
    clip.frame_offset_start = args["trim_start"]
    clip.frame_offset_end = args["trim_end"]
    if args.get("speed"):
        clip.speed_factor = args["speed"]
    if args.get("split_at"):  # a cut: the right piece becomes a strip of its own
        clip.split(frame=args["split_at"], split_method="SOFT").name = "clip right"
    scene.frame_start, scene.frame_end = 1, args["start"] + clip.frame_duration
    bpy.ops.wm.save_as_mainfile(filepath=args["blend"])
    return {"final_start": clip.frame_final_start, "final_end": clip.frame_final_end}


def track(args: dict) -> dict:
    prefs = bpy.context.preferences.addons["etam_vse"].preferences
    for key in ("python", "checkpoint"):
        if key in args:
            setattr(prefs, key, args[key])
    clip = _strips(bpy.context.scene.sequence_editor)["clip"]
    for key, value in args.get("strip_settings", {}).items():
        setattr(clip.etam, key, value)
    operator = getattr(bpy.ops.sequencer, args.get("operator_name", "etam_track_strip"))
    error = None
    try:
        result = operator(**args["operator"])
    except RuntimeError as exc:  # how a script sees an operator's error report
        result, error = {"CANCELLED"}, str(exc)
    bpy.ops.wm.save_mainfile()
    editor = bpy.context.scene.sequence_editor
    mattes = [s for s in _strips(editor) if s.get("etam_matte_of")]
    modifier = clip.modifiers.get("EfficientTAM matte")
    return {
        "result": sorted(result),
        "error": error,
        "mattes": [
            {"name": s.name, "channel": s.channel, "start": s.frame_final_start,
             "duration": s.frame_final_duration, "mute": s.mute,
             "first_file": s.elements[0].filename, "directory": s.directory}
            for s in mattes
        ],
        "modifier_strip": modifier.input_mask_strip.name if modifier else None,
        "points": clip.etam.points,
        "prompts_file": clip.etam.prompts_file,
    }  # fmt: skip


def render(args: dict) -> dict:
    scene = bpy.context.scene
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    clip = _strips(scene.sequence_editor)["clip"]
    for modifier in clip.modifiers:
        modifier.mute = not args["masked"]
    paths = {}
    for frame in args["frames"]:
        scene.frame_set(frame)
        scene.render.filepath = f"{args['out']}/{frame:04d}.png"
        bpy.ops.render.render(write_still=True)
        paths[frame] = scene.render.filepath
    return {"paths": paths}


if __name__ == "__main__":
    request = json.loads(sys.argv[sys.argv.index("--") + 1])
    if bpy.app.binary_path == "":  # Blender as a Python module: nothing loaded for us
        import addon_utils

        addon_utils.enable("etam_vse", default_set=True)
        if request.get("open"):
            bpy.ops.wm.open_mainfile(filepath=request["open"])
    found = {"make": make, "track": track, "render": render}[request["action"]](request)
    print("DRIVER " + json.dumps(found))
