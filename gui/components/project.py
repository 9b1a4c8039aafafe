"""The panel's project file (``.etam``) and its session folder, saved atomically as a whole.

A project is a small versioned JSON naming the clip and the panel's own state (objects'
names, colours, visibility and finishing ops, the in/out range, the view, the model
options, the timeline clip it came from) plus a folder holding the tracking session (the
prompts, records and masks, as ``VideoSession.save`` writes them).

Why the layout ``NAME.etam`` + ``NAME.etam.d/session-XXXX``: the JSON is the commit
point. A save copies the session into a *new* folder, then replaces the JSON (temp file,
fsync, rename) so that it names the new folder, then removes the older folders. A crash
or a full disk at any step leaves either the previous save or the new one, complete.
The live session never works inside a saved folder (it works on a private copy), so a
saved project stays exactly as saved until the next save.

Files the model's record store only ever *replaces* (``0000123.npy`` / ``0000123.png``,
written to a temp name and renamed) are hard-linked into the copy instead of copied, so
saving a long clip costs metadata, not gigabytes; everything else is copied.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

from etam_plugin.atomic import write_bytes_atomic
from etam_plugin.errors import ProjectError
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.objects import TrackedObject
from etam_plugin.gui.components.render import ViewMode
from etam_plugin.matte import MatteOps
from etam_plugin.timeline import TimelineClip

PROJECT_SUFFIX = ".etam"
FORMAT = "etam-plugin-project"
VERSION = 1
DATA_SUFFIX = ".d"
SESSION_PREFIX = "session-"
# Written once by the record store and then only replaced by rename: safe to share.
_LINKABLE = re.compile(r"^\d{7}\.(npy|png)$")


@dataclass(frozen=True)
class ProjectState:
    """Everything the panel restores besides the session itself."""

    source: Path
    objects: tuple[TrackedObject, ...] = ()
    active: int | None = None
    in_point: int = 0
    out_point: int | None = None  # None: the clip's last frame
    playhead: int = 0
    view_mode: ViewMode = ViewMode.OVERLAY
    opacity: float = 0.5
    markers: bool = True
    finishing: MatteOps = field(default_factory=MatteOps)  # the active object's (see below)
    # Each object's finishing; an object not here has ``finishing`` (a project saved before
    # finishing was per object has only that one, for every object).
    object_finishing: Mapping[int, MatteOps] = field(default_factory=dict)
    model: ModelOptions | None = None
    clip: TimelineClip | None = None  # the timeline clip the source was opened from
    export: Mapping[str, Any] | None = None  # the export dialog's last settings


@dataclass(frozen=True)
class LoadedProject:
    path: Path
    state: ProjectState
    session_folder: Path
    extra: Mapping[str, Any]  # e.g. an autosave's "autosave" block


def data_folder(project: Path) -> Path:
    """Where ``project``'s session folders live: ``NAME.etam.d`` next to it."""
    return project.with_name(project.name + DATA_SUFFIX)


# ---------------------------------------------------------------------------- JSON
def _clip_to_json(clip: TimelineClip) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in TimelineClip.__dataclass_fields__:
        value = getattr(clip, name)
        if isinstance(value, (Fraction, Path)):
            value = str(value)
        out[name] = value
    return out


def _clip_from_json(data: Mapping[str, Any]) -> TimelineClip:
    values = dict(data)
    for name in ("rate", "timeline_rate"):
        values[name] = Fraction(values[name])
    for name in ("media_path", "timeline_path"):
        values[name] = Path(values[name]) if values.get(name) else None
    return TimelineClip(**values)


def state_to_json(state: ProjectState, project: Path) -> dict[str, Any]:
    """The JSON object for ``state`` (paths also relative to ``project``'s folder, so a
    project moved together with its media still finds it)."""
    source = Path(state.source).absolute()
    try:
        relative: str | None = os.path.relpath(source, project.absolute().parent)
    except ValueError:  # another drive (Windows)
        relative = None
    model = state.model
    return {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": {"path": str(source), "relative": relative},
        "objects": [
            {
                "id": o.obj_id,
                "name": o.name,
                "color": list(o.color),
                "visible": o.visible,
                "finishing": str(state.object_finishing.get(o.obj_id, state.finishing)),
            }
            for o in state.objects
        ],
        "active": state.active,
        "range": [state.in_point, state.out_point],
        "playhead": state.playhead,
        "view": {
            "mode": ViewMode(state.view_mode).value,
            "opacity": state.opacity,
            "markers": state.markers,
        },
        "finishing": str(state.finishing),
        "model": None
        if model is None
        else {
            "variant": model.variant,
            "attention": model.attention,
            "device": model.device,
            "precision": model.precision,
            "checkpoint": str(model.checkpoint) if model.checkpoint else None,
            "cpu_threads": model.cpu_threads,
            "backend": model.backend,
            "onnx_dir": str(model.onnx_dir) if model.onnx_dir else None,
            "onnx_precision": model.onnx_precision,
        },
        "timeline_clip": _clip_to_json(state.clip) if state.clip is not None else None,
        "export": dict(state.export) if state.export is not None else None,
    }


def state_from_json(data: Any, project: Path) -> ProjectState:
    """Parse a project's JSON; anything malformed raises :class:`ProjectError`."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProjectError(
            f"{project} is not an etam-plugin project", path=project, reason="not-a-project"
        )
    if data.get("version") != VERSION:
        raise ProjectError(
            f"{project} is a version {data.get('version')} project; this panel reads "
            f"version {VERSION}",
            path=project,
            reason="version",
        )
    try:
        src = data["source"]
        source = Path(src["path"])
        if not source.exists() and src.get("relative"):
            moved = (project.absolute().parent / src["relative"]).resolve()
            if moved.exists():
                source = moved
        objects = tuple(
            TrackedObject(
                int(o["id"]),
                str(o["name"]),
                tuple(int(c) for c in o["color"]),  # type: ignore[arg-type]
                bool(o["visible"]),
            )
            for o in data["objects"]
        )
        finishing = MatteOps.parse(data.get("finishing") or "")
        object_finishing = {  # those that differ from ``finishing`` (the others have it)
            int(o["id"]): ops
            for o in data["objects"]
            if "finishing" in o and (ops := MatteOps.parse(o["finishing"] or "")) != finishing
        }
        first, last = data["range"]
        view = data["view"]
        model = data.get("model")
        clip = data.get("timeline_clip")
        return ProjectState(
            source=source,
            objects=objects,
            active=int(data["active"]) if data.get("active") is not None else None,
            in_point=int(first),
            out_point=int(last) if last is not None else None,
            playhead=int(data.get("playhead", 0)),
            view_mode=ViewMode(view["mode"]),
            opacity=float(view["opacity"]),
            markers=bool(view["markers"]),
            finishing=finishing,
            object_finishing=object_finishing,
            model=ModelOptions(
                variant=model["variant"],
                attention=model.get("attention"),
                device=model["device"],
                precision=model["precision"],
                checkpoint=Path(model["checkpoint"]) if model.get("checkpoint") else None,
                cpu_threads=int(model.get("cpu_threads", 0)),
                backend=model.get("backend", "torch"),
                onnx_dir=Path(model["onnx_dir"]) if model.get("onnx_dir") else None,
                onnx_precision=model.get("onnx_precision", "fp32"),
            )
            if model
            else None,
            clip=_clip_from_json(clip) if clip else None,
            export=data.get("export"),
        )
    except ProjectError:
        raise
    except Exception as exc:  # KeyError, TypeError, ValueError, MatteError: a damaged file
        raise ProjectError(
            f"{project} is damaged ({type(exc).__name__}: {exc})", path=project, reason="damaged"
        ) from exc


# ---------------------------------------------------------------------------- files
def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Never a half-written project (``etam_plugin.atomic``)."""
    try:
        write_bytes_atomic(path, json.dumps(data, indent=1).encode("utf-8"))
    except OSError as exc:
        raise ProjectError(
            f"cannot write {path}: {exc.strerror or exc}", path=path, reason="unwritable"
        ) from exc


def _link_or_copy(src: str, dst: str) -> str:
    if _LINKABLE.match(os.path.basename(src)):
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass  # another file system, or links not supported: copy
    return shutil.copy2(src, dst)


def copy_session_folder(src: Path, dst: Path) -> None:
    """Copy a saved session folder (linking the store's write-once files)."""
    shutil.copytree(
        src,
        dst,
        copy_function=_link_or_copy,
        ignore=shutil.ignore_patterns("*.tmp", "*.tmp.png", "*.partial"),
    )


def save_project(
    path: Path,
    state: ProjectState,
    session_folder: Path,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``path`` (``.etam``) naming a fresh copy of ``session_folder`` (already
    written by ``session.save``); returns the new session copy's folder.

    Atomic as a whole (see the module docstring); raises :class:`ProjectError` when the
    folder cannot be written, leaving any previous save of ``path`` as it was.
    """
    path = Path(path).absolute()
    if not path.parent.is_dir():
        raise ProjectError(f"folder does not exist: {path.parent}", path=path, reason="unwritable")
    data_dir = data_folder(path)
    target = data_dir / f"{SESSION_PREFIX}{time.time_ns():x}"
    try:
        data_dir.mkdir(exist_ok=True)
        copy_session_folder(Path(session_folder), target)
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ProjectError(
            f"cannot save the session next to {path.name}: {exc.strerror or exc}",
            path=path,
            reason="unwritable",
        ) from exc
    data = state_to_json(state, path)
    data["session"] = os.path.relpath(target, path.parent)
    if extra:
        data.update(extra)
    try:
        write_json_atomic(path, data)
    except ProjectError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    prune_sessions(path, keep=target)
    return target


def prune_sessions(path: Path, keep: Path) -> None:
    """Remove session copies of ``path`` other than ``keep`` (older saves, or copies
    left by a save that died before its JSON was written)."""
    for child in data_folder(path).glob(f"{SESSION_PREFIX}*"):
        if child != keep and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def read_project(path: Path) -> LoadedProject:
    """Read a project file and find its session folder; :class:`ProjectError` otherwise."""
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"no project at {path}", path=path, reason="missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}", path=path, reason="damaged") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProjectError(
            f"{path} is not a readable project (invalid JSON: {exc})", path=path, reason="damaged"
        ) from exc
    state = state_from_json(data, path)
    session = data.get("session")
    folder = (path.parent / session) if isinstance(session, str) else None
    if folder is None or not folder.is_dir():
        raise ProjectError(
            f"the session folder of {path.name} is missing ({session}); copy the "
            f"{data_folder(path).name} folder along with the project",
            path=path,
            reason="damaged",
        )
    extra = {k: v for k, v in data.items() if k == "autosave"}
    return LoadedProject(path, state, folder, extra)


def delete_project_files(path: Path) -> None:
    """Remove a project file and its data folder (an autosave that is no longer needed)."""
    path = Path(path)
    shutil.rmtree(data_folder(path), ignore_errors=True)
    with contextlib.suppress(OSError):
        path.unlink()
