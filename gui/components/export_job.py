"""What the export dialog asks for, checked and turned into one job for the inference worker.

The dialog edits an :class:`ExportSettings` (remembered in the project); :func:`plan_export`
checks it against the clip (objects, range, paths) and makes the :class:`ExportJob` the
worker runs with ``etam_plugin.export.session.export_session_mattes`` — the CLI's own export.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from etam_plugin.errors import ExportError
from etam_plugin.export import writer_class
from etam_plugin.export.session import check_timeline_export, separate_path, timeline_kinds
from etam_plugin.export.targets import file_target, refuse_inputs, refuse_inputs_inside
from etam_plugin.matte import MatteOps
from etam_plugin.timeline import TimelineClip, timeline_target

OBJECT_MODES = ("all", "chosen", "separate")
TIMELINE_TYPES: dict[str, str] = {
    ".otio": "OpenTimelineIO (.otio) — Resolve, Premiere 25+, any OTIO tool",
    ".xml": "FCP 7 XML (.xml) — Premiere, Resolve",
    ".fcpxml": "Final Cut Pro X (.fcpxml)",
    ".kdenlive": "Kdenlive project (.kdenlive)",
}
DEFAULT_FORMAT = "prores4444"


def format_suffix(fmt: str) -> str:
    """The file extension a format writes ('' for a folder of images)."""
    from etam_plugin.export import writer_class

    suffixes = getattr(writer_class(fmt), "suffixes", ())
    return suffixes[0] if suffixes else ""


def timeline_capable(fmt: str) -> bool:
    """Can an NLE place this format's output on a track (a movie matte)?"""
    return fmt in timeline_kinds()


@dataclass(frozen=True)
class ExportSettings:
    fmt: str = DEFAULT_FORMAT
    objects: str = "all"  # "all" visible-or-not objects in one matte, "chosen", "separate"
    chosen: tuple[int, ...] = ()
    whole_clip: bool = False  # False: the in/out range
    out: Path | None = None
    timeline: str = ""  # "" or one of TIMELINE_TYPES
    timeline_out: Path | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["chosen"] = list(self.chosen)
        data["out"] = str(self.out) if self.out else None
        data["timeline_out"] = str(self.timeline_out) if self.timeline_out else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ExportSettings:
        """Settings read back from a project; anything odd falls back to the defaults."""
        if not data:
            return cls()
        try:
            return cls(
                fmt=str(data.get("fmt", DEFAULT_FORMAT)),
                objects=str(data.get("objects", "all")),
                chosen=tuple(int(i) for i in data.get("chosen", ())),
                whole_clip=bool(data.get("whole_clip", False)),
                out=Path(data["out"]) if data.get("out") else None,
                timeline=str(data.get("timeline", "")),
                timeline_out=Path(data["timeline_out"]) if data.get("timeline_out") else None,
            )
        except (TypeError, ValueError):
            return cls()


@dataclass(frozen=True)
class ExportJob:
    """One export, as the worker runs it (frames ``first..last`` inclusive)."""

    fmt: str
    out: Path
    obj_ids: tuple[int, ...]
    combine: str  # "union" | "separate"
    first: int
    last: int
    ops: MatteOps | Mapping[int, MatteOps]  # one for all, or each object's finishing
    source: Path
    timeline_out: Path | None = None
    clip: TimelineClip | None = None  # the timeline clip to place; None: the source file
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)
    # Matte files an earlier export rendered from the same inputs: only the timeline is
    # written (a second timeline format must not decode and render the clip again).
    reuse: tuple[Path, ...] = ()

    @property
    def frame_count(self) -> int:
        return self.last - self.first + 1

    def matte_key(self) -> tuple:
        """What the matte files depend on, besides the session's masks."""
        return (self.fmt, self.out, self.obj_ids, self.combine, self.first, self.last)

    def writes(self) -> list[Path]:
        """The files this job will (over)write: its outputs less the mattes it reuses."""
        return [p for p in self.outputs() if p not in self.reuse]

    def outputs(self) -> list[Path]:
        """The files (or folders) this job writes, timeline last."""
        paths = (
            [separate_path(self.out, o) for o in self.obj_ids]
            if self.combine == "separate" and len(self.obj_ids) > 1
            else [self.out]
        )
        return paths + ([self.timeline_out] if self.timeline_out else [])


def default_output(
    source: Path, fmt: str, first: int, last: int, num_frames: int, folder: Path | None = None
) -> Path:
    """``clip_matte.mov`` (``clip_120-239_matte.mov`` for a range) in ``folder``, by
    default :func:`output_folder`'s choice for the clip."""
    stem = Path(source).stem if Path(source).suffix else Path(source).name
    part = "" if (first, last) == (0, num_frames - 1) else f"_{first}-{last}"
    folder = folder if folder is not None else output_folder(Path(source))
    return folder / f"{stem}{part}_matte{format_suffix(fmt)}"


def output_folder(source: Path, last_used: Path | None = None) -> Path:
    """Where exports go unless the user says: the folder of the last export (editors keep
    renders together), else next to the clip, else the home folder, whichever can be
    written to (a clip on a read-only card or share is common)."""
    for folder in (last_used, Path(source).absolute().parent, Path.home()):
        if folder is not None and folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return Path.home()


def default_timeline_output(out: Path, kind: str, clip: TimelineClip | None) -> Path:
    """Next to the matte; named after the editing timeline when the clip came from one."""
    if clip is not None and clip.timeline_path is not None:
        stem = f"{clip.timeline_path.stem}_clip{clip.index}_matte"
    else:
        stem = out.stem if out.suffix else out.name
    if out.name in ("", ".", ".."):  # a path being typed ("/", "~/.."): a name inside it
        return out / ((stem if stem not in ("", ".", "..") else "matte") + kind)
    return out.with_name((stem or "matte") + kind)


def plan_export(
    settings: ExportSettings,
    *,
    source: Path,
    objects: Sequence[int],
    in_out: tuple[int, int],
    num_frames: int,
    ops: MatteOps | Mapping[int, MatteOps],
    clip: TimelineClip | None = None,
) -> ExportJob:
    """Check ``settings`` and make the job; a readable :class:`ExportError` otherwise."""
    from etam_plugin.export import available_formats

    formats = available_formats()
    if settings.fmt not in formats:
        raise ExportError(
            f"unknown export format {settings.fmt!r}; choose one of {', '.join(formats)}"
        )
    if settings.objects not in OBJECT_MODES:
        raise ExportError(f"objects must be one of {', '.join(OBJECT_MODES)}")
    if not objects:
        raise ExportError("there is no object to export: add one and click on it first")
    if settings.objects == "chosen":
        ids = tuple(o for o in objects if o in settings.chosen)
        if not ids:
            raise ExportError("choose at least one object to export")
    else:
        ids = tuple(objects)
    combine = "separate" if settings.objects == "separate" else "union"
    first, last = (0, num_frames - 1) if settings.whole_clip else in_out
    if not 0 <= first <= last < num_frames:
        raise ExportError(f"frames {first}..{last} are outside the clip (0..{num_frames - 1})")
    if settings.out is None or not str(settings.out).strip():
        raise ExportError("choose where to write the export")
    out = Path(settings.out).expanduser().absolute()
    suffix = format_suffix(settings.fmt)
    if suffix and out.suffix.lower() != suffix:
        out = out.with_suffix(suffix) if out.suffix else out.with_name(out.name + suffix)
    if not out.parent.is_dir():
        raise ExportError(f"the folder {out.parent} does not exist", path=out)
    inputs = {"clip": Path(source)}
    separate = combine == "separate" and len(ids) > 1
    targets = [separate_path(out, o) for o in ids] if separate else [out]
    for target in targets:  # checked before anything is rendered
        writer_class(settings.fmt).target(target)
        refuse_inputs(target, inputs, "the export")
        refuse_inputs_inside(target, inputs, "the export")
    timeline_out = None
    if settings.timeline:
        if settings.timeline not in TIMELINE_TYPES:
            raise ExportError(f"cannot write {settings.timeline} timelines")
        check_timeline_export(settings.fmt, separate=separate)
        timeline_out = Path(
            settings.timeline_out or default_timeline_output(out, settings.timeline, clip)
        )
        timeline_out = timeline_out.expanduser().absolute()
        if timeline_out.suffix.lower() != settings.timeline:
            timeline_out = timeline_out.with_suffix(settings.timeline)
        file_target(timeline_target(timeline_out), "the timeline")
        refuse_inputs(timeline_out, inputs, "the timeline")
        if clip is not None and not _clip_inside(clip, first, last, source):
            clip = None  # the range does not cover the timeline clip: place the range
    return ExportJob(
        fmt=settings.fmt,
        out=out,
        obj_ids=ids,
        combine=combine,
        first=first,
        last=last,
        ops={o: ops.get(o, MatteOps()) if isinstance(ops, Mapping) else ops for o in ids},
        source=Path(source),
        timeline_out=timeline_out,
        clip=clip if timeline_out is not None else None,
    )


def _clip_inside(clip: TimelineClip, first: int, last: int, source: Path) -> bool:
    """Does the exported range cover the timeline clip's frames of ``source``?"""
    if clip.media_path is None or Path(clip.media_path).absolute() != Path(source).absolute():
        return False
    origin = clip.available_start
    if origin is None:
        return True  # an EDL: the timeline writer checks against the matte's timecode
    start = clip.source_start - origin
    return first <= start and start + clip.duration - 1 <= last


class RenderedMattes:
    """The matte files of the last finished export and what they were made from, so a
    timeline asked for again (another format) reuses them. Reused only while the files are
    exactly as written (size and modification time) and the masks have not changed since
    (the project's revision)."""

    def __init__(self) -> None:
        self._made: tuple[tuple, tuple[tuple[Path, int, int], ...]] | None = None

    def record(self, job: ExportJob, revision: int, paths: Sequence[Path]) -> None:
        stamps = []
        for path in paths:
            try:
                st = Path(path).stat()
            except OSError:
                self._made = None
                return
            stamps.append((Path(path), st.st_size, st.st_mtime_ns))
        self._made = ((job.matte_key(), job.ops, job.source, revision), tuple(stamps))

    def reusable(self, job: ExportJob, revision: int) -> tuple[Path, ...]:
        """The files ``job`` can take as its mattes (none if anything differs)."""
        if self._made is None or job.timeline_out is None:
            return ()
        key, stamps = self._made
        if key != (job.matte_key(), job.ops, job.source, revision):
            return ()
        for path, size, mtime in stamps:
            try:
                st = path.stat()
            except OSError:
                return ()
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                return ()
        return tuple(path for path, _size, _mtime in stamps)

    def clear(self) -> None:
        self._made = None


def remember(settings: ExportSettings, job: ExportJob) -> ExportSettings:
    """The settings to offer next time: the same, with the paths actually used."""
    return replace(settings, out=job.out, timeline_out=job.timeline_out)
