"""Every keyboard shortcut of the panel in one table: the main window's actions are built
from it and the help dialog lists it, so the two can never disagree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    action: str  # the action's object name in the main window
    keys: tuple[str, ...]  # QKeySequence portable texts
    text: str  # what it does, for the help dialog
    group: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", ("Ctrl+O",), "Open a video, a project or a timeline", "File"),
    Shortcut("open_sequence", ("Ctrl+Shift+O",), "Open an image sequence (folder)", "File"),
    Shortcut("open_timeline", ("Ctrl+Alt+O",), "Open a clip of an editing timeline", "File"),
    Shortcut("save", ("Ctrl+S",), "Save the project", "File"),
    Shortcut("save_as", ("Ctrl+Shift+S",), "Save the project under another name", "File"),
    Shortcut("export", ("Ctrl+E",), "Export mattes (and a timeline)", "File"),
    Shortcut("quit", ("Ctrl+Q",), "Quit", "File"),
    Shortcut("undo", ("Ctrl+Z",), "Undo the last prompt change", "Edit"),
    Shortcut("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Edit"),
    Shortcut("add_object", ("Ctrl+N",), "Add an object", "Objects"),
    Shortcut("delete_object", ("Ctrl+Backspace",), "Delete the active object", "Objects"),
    Shortcut(
        "next_object",
        ("]",),
        "Make the next object active (with the Brush: a bigger brush)",
        "Objects",
    ),
    Shortcut(
        "previous_object",
        ("[",),
        "Make the previous object active (with the Brush: a smaller brush)",
        "Objects",
    ),
    Shortcut("brush", ("B",), "Brush: paint onto the active object's mask here", "Objects"),
    Shortcut("clear_prompt", ("Ctrl+Delete",), "Clear the active object's prompt here", "Objects"),
    Shortcut("play_backward", ("J",), "Play backward (again: faster)", "Transport"),
    Shortcut("stop", ("K",), "Stop", "Transport"),
    Shortcut("play_forward", ("L",), "Play forward (again: faster)", "Transport"),
    Shortcut("prev_frame", ("Left",), "Previous frame", "Transport"),
    Shortcut("next_frame", ("Right",), "Next frame", "Transport"),
    Shortcut("first_frame", ("Home",), "First frame", "Transport"),
    Shortcut("last_frame", ("End",), "Last frame", "Transport"),
    Shortcut("loop", ("Ctrl+L",), "Loop playback of the in–out range", "Transport"),
    Shortcut(
        "next_gap", ("Alt+Right",), "Next problem: untracked, stale, lost, low score", "Transport"
    ),
    Shortcut(
        "previous_gap",
        ("Alt+Left",),
        "Previous problem: untracked, stale, lost, low score",
        "Transport",
    ),
    Shortcut("go_to_frame", ("Ctrl+G",), "Go to a frame number or timecode", "Transport"),
    Shortcut("set_in", ("I",), "Set the range's in point", "Transport"),
    Shortcut("set_out", ("O",), "Set the range's out point", "Transport"),
    Shortcut("clear_range", ("Alt+X",), "Clear the range", "Transport"),
    Shortcut("track_forward", ("Ctrl+Right",), "Track on from where it stops to Out", "Tracking"),
    Shortcut("track_backward", ("Ctrl+Left",), "Track back from where it stops to In", "Tracking"),
    Shortcut("track_both", ("Ctrl+T",), "Track every gap of the range", "Tracking"),
    Shortcut("retrack", ("Ctrl+R",), "Re-track from this frame", "Tracking"),
    Shortcut("cancel_tracking", ("Escape",), "Cancel tracking", "Tracking"),
    Shortcut("zoom_fit", ("F", "Ctrl+0"), "Fit the frame in the viewer", "View"),
    Shortcut("zoom_100", ("Ctrl+1",), "Zoom to 100 %", "View"),
    Shortcut("toggle_markers", ("M",), "Show or hide the prompt markers", "View"),
    Shortcut("zoom_in", ("Ctrl+=", "+"), "Zoom in", "View"),
    Shortcut("zoom_out", ("Ctrl+-", "-"), "Zoom out", "View"),
    Shortcut("timeline_zoom_in", ("Alt+=", "Alt++"), "Zoom the timeline in", "View"),
    Shortcut("timeline_zoom_out", ("Alt+-",), "Zoom the timeline out", "View"),
    Shortcut("timeline_zoom_range", ("Alt+Z",), "Zoom the timeline to In–Out", "View"),
    Shortcut("timeline_zoom_all", ("Alt+0",), "Show the whole clip in the timeline", "View"),
    Shortcut("mode_overlay", ("1",), "View: overlay", "View"),
    Shortcut("mode_matte", ("2",), "View: matte", "View"),
    Shortcut("mode_cutout", ("3",), "View: cutout on checkerboard", "View"),
    Shortcut("mode_outline", ("4",), "View: outline", "View"),
    Shortcut("help_shortcuts", ("F1", "?"), "Show this list", "Help"),
)

MOUSE: tuple[tuple[str, str], ...] = (
    ("Left click", "Add a positive point (this is the object)"),
    ("Right click or Alt+click", "Add a negative point (this is not the object)"),
    ("Drag", "Draw a box around the object"),
    ("Wheel", "Zoom around the pointer"),
    ("Ctrl+wheel on the timeline", "Zoom the timeline around the pointer"),
    ("Wheel on a zoomed timeline", "Scroll the timeline"),
    ("Middle drag or Space+drag", "Pan"),
    ("Brush: drag", "Paint onto the active object's mask"),
    ("Brush: right or Alt+drag", "Paint away from the active object's mask"),
)


def by_action() -> dict[str, Shortcut]:
    return {s.action: s for s in SHORTCUTS}
