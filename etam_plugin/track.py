"""One tracking job from prompts to files: what ``etam-plugin track`` runs (and tests call).

Source (video, image sequence, or a clip of an editing timeline) → prompts → propagation →
raw masks/logits per frame (optional) → finished mattes exported in an editing format
(optional) → a timeline with the clip and its matte (optional).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from etam_plugin.atomic import replaced_atomically, scratch_folder
from etam_plugin.errors import EtamError, ExportError, PromptError
from etam_plugin.export import writer_class
from etam_plugin.export.session import (
    COMBINE_MODES,
    ProgressCallback,
    check_timeline_export,
    export_session_mattes,
    separate_path,
    write_session_timeline,
)
from etam_plugin.export.targets import (
    distinct,
    file_target,
    folder_target,
    refuse_inputs,
    refuse_inputs_inside,
)
from etam_plugin.matte import MatteOps
from etam_plugin.media import open_source
from etam_plugin.model import EfficientTAM, Prompt, VideoSession
from etam_plugin.prompts import PromptSet
from etam_plugin.timeline import clip_window
from etam_plugin.timeline.formats import READ_EXTENSIONS


@dataclass
class TrackRequest:
    """What to track and what to write. Frame numbers are 0-based frames of the media
    file (for a timeline clip too), so outputs line up with the source frame for frame."""

    source: Path
    prompts: PromptSet
    direction: str = "forward"
    start: int | None = None
    end: int | None = None
    clip: int | None = None
    handles: int = 0
    rate: Fraction | None = None  # an EDL's rate, when its media cannot be found
    vfr: str | None = None
    masks_out: Path | None = None
    logits_out: Path | None = None
    export: str | None = None
    out: Path | None = None
    export_options: dict[str, str] = field(default_factory=dict)
    """Options of the ``export`` format's writer (e.g. ``{"content": "matte"}`` for png)."""
    matte_ops: MatteOps = field(default_factory=MatteOps)
    timeline_out: Path | None = None
    objects: list[int] | None = None
    combine: str = "union"
    reads: tuple[Path, ...] = ()
    """Other files the run reads (prompts file, checkpoint): no output may resolve to them."""


@dataclass
class TrackSummary:
    frame_range: tuple[int, int]
    frames_tracked: int
    objects: list[int]
    outputs: list[Path]
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames_tracked / self.seconds if self.seconds > 0 else 0.0


def is_timeline(path: Path) -> bool:
    return path.suffix.lower() in READ_EXTENSIONS


def open_track_source(request: TrackRequest):
    """The frame source, the timeline clip (or None) and the default frame range."""
    from etam_plugin.timeline import clip_for_media, read_timeline

    source = Path(request.source)
    clip = None
    if is_timeline(source):
        if request.clip is None:
            raise EtamError(
                f"{source} is a timeline: choose a clip with --clip N "
                f"(list them with `etam-plugin timeline list {source}`)"
            )
        clips = read_timeline(source, rate=request.rate)
        matching = [c for c in clips if c.index == request.clip]
        if not matching:
            raise EtamError(f"{source} has no clip {request.clip} (clips 1..{len(clips)})")
        clip = matching[0]
        frames = open_source(clip.require_media(), **_source_options(request))
        window = clip_window(clip, frames.info, request.handles)
        default = (window.start, window.stop - 1)
    else:
        frames = open_source(source, **_source_options(request))
        default = (0, len(frames) - 1)
        if request.timeline_out is not None:
            first = default[0] if request.start is None else request.start
            last = default[1] if request.end is None else request.end
            clip = clip_for_media(source, frame_range=(first, last + 1))
    return frames, clip, default


def _source_options(request: TrackRequest) -> dict:
    return {"vfr": request.vfr} if request.vfr else {}


def run_track(
    request: TrackRequest,
    model: EfficientTAM | None,
    *,
    device: str = "cpu",
    dtype=None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    session_folder: Path | None = None,
    engine=None,
    cuda_graphs: bool = False,
) -> TrackSummary:
    """Runs the whole job; raises :class:`EtamError` subclasses on bad input.

    ``engine`` (from ``etam_plugin.onnx_runtime.make_engine``) chooses another backend;
    then ``model`` may be None. ``cuda_graphs``: see ``Engine`` (torch on CUDA only)."""
    import torch

    _validate(request)
    t0 = time.perf_counter()
    frames, clip, (lo, hi) = open_track_source(request)
    try:  # everything checkable, before the first frame is tracked
        first = lo if request.start is None else request.start
        last = hi if request.end is None else request.end
        n = len(frames)
        if not 0 <= first <= last < n:
            raise EtamError(f"frame range {first}..{last} is outside the clip (0..{n - 1})")
        items = request.prompts.items()
        if not items:
            raise PromptError("no prompts: give --point, --box or --prompts")
        height, width = frames[0].shape[:2]
        for frame, obj, call in items:
            if not 0 <= frame < n:
                raise PromptError(f"a prompt is on frame {frame}, outside the clip (0..{n - 1})")
            _check_inside(frame, obj, call, width, height)
        kwargs = _propagation(request.direction, min(request.prompts.frames), first, last)
        inputs = {"source": Path(request.source), "clip's media": Path(frames.path)}
        inputs |= {f"input {p.name}": Path(p) for p in request.reads}
        unknown = sorted(set(request.objects or []) - set(request.prompts.objects))
        if unknown:
            raise EtamError(
                f"--objects names {unknown}, but the prompts only have {request.prompts.objects}"
            )
        _check_outputs(request, request.objects or request.prompts.objects, inputs, session_folder)
    except BaseException:
        frames.close()
        raise

    outputs: list[Path] = []
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(frames.close)
        folder = session_folder or cleanup.enter_context(scratch_folder("session"))
        session = VideoSession(
            model,
            frames,
            folder=folder,
            device=device,
            dtype=dtype or torch.float32,
            engine=engine,
            cuda_graphs=cuda_graphs,
        )
        cleanup.callback(session.close)
        for obj in request.prompts.objects:
            session.add_object(obj)
        for frame, obj, call in items:
            session.add_prompt(frame, obj, call)
        done = 0
        for result, prog in session.propagate(
            **kwargs, cancel=cancel, keep_logits=bool(request.logits_out)
        ):
            _write_raw(result, request)
            done += 1
            if progress is not None:
                progress("track", prog.done, prog.total)
        if cancel is not None and cancel.is_set():
            from etam_plugin.errors import CancelledError

            raise CancelledError("tracking cancelled")
        objects = request.objects or session.object_ids
        if request.export:
            Path(request.out).absolute().parent.mkdir(parents=True, exist_ok=True)
            outputs += _export(request, session, frames, objects, (first, last), progress, cancel)
        if request.timeline_out is not None:
            Path(request.timeline_out).absolute().parent.mkdir(parents=True, exist_ok=True)
            outputs.append(_write_timeline(request, clip, outputs, first))
        return TrackSummary(
            (first, last), done, list(session.object_ids), outputs, time.perf_counter() - t0
        )


def _check_outputs(
    request: TrackRequest, objects: list[int], inputs: dict[str, Path], session: Path | None
) -> None:
    """Every output checked before the first frame is tracked: its folder exists and is
    writable, it is none of the inputs, and nothing that is not ours gets replaced."""
    outputs: list[tuple[str, Path]] = []
    if request.export:
        writer = writer_class(request.export)
        writer.check_options(request.export_options)
        out = Path(request.out)
        separate = request.combine == "separate" and len(objects) > 1
        for target in [separate_path(out, o) for o in objects] if separate else [out]:
            path = writer.target(target, make_parents=True)
            refuse_inputs(path, inputs, "--out")
            refuse_inputs_inside(path, inputs, "--out")  # a sequence's folder
            outputs.append(("--out", path))
    if request.timeline_out is not None:
        from etam_plugin.timeline import timeline_target

        path = file_target(
            timeline_target(request.timeline_out), "--timeline-out", make_parents=True
        )
        refuse_inputs(path, inputs, "--timeline-out")
        outputs.append(("--timeline-out", path))
    for flag, folder in (("--masks-out", request.masks_out), ("--logits-out", request.logits_out)):
        if folder is not None:
            path = folder_target(folder, flag, make_parents=True)
            for obj in objects:
                refuse_inputs_inside(path / f"obj_{obj}", inputs, flag)
            outputs.append((flag, path))
    if session is not None:
        path = folder_target(session, "--session", make_parents=True)
        if path.is_dir() and any(path.iterdir()) and not (path / "session.json").is_file():
            raise ExportError(
                f"--session {path} is a folder that holds other files: give a new or empty "
                "folder, or a saved session",
                path=path,
            )
        refuse_inputs_inside(path, inputs, "--session")
        outputs.append(("--session", path))
    distinct(outputs)


def _check_inside(frame: int, obj: int, call: Prompt, width: int, height: int) -> None:
    """Points and boxes must lie on the picture (source pixels, edges included)."""
    xs = [x for x, _ in call.points_xy]
    ys = [y for _, y in call.points_xy]
    if call.box_xyxy is not None:
        xs += [call.box_xyxy[0], call.box_xyxy[2]]
        ys += [call.box_xyxy[1], call.box_xyxy[3]]
    if any(not 0 <= x <= width for x in xs) or any(not 0 <= y <= height for y in ys):
        raise PromptError(
            f"frame {frame}, object {obj}: a point or box corner lies outside the "
            f"{width}×{height} picture ({call.points_xy or call.box_xyxy})"
        )


def _validate(request: TrackRequest) -> None:
    if request.combine not in COMBINE_MODES:
        raise EtamError(f"--combine must be one of {', '.join(COMBINE_MODES)}")
    if request.export and request.out is None:
        raise EtamError("--export needs --out PATH")
    if request.out is not None and not request.export:
        raise EtamError("--out needs --export FORMAT")
    if request.export_options and not request.export:
        raise EtamError("--export-option needs --export FORMAT")
    if request.timeline_out is not None and not request.export:
        raise EtamError("--timeline-out needs a movie matte on the timeline: add --export")
    if request.export is None:
        return
    writer = writer_class(request.export)
    if request.vfr == "keep" and not writer.numbered_frames:
        raise EtamError(
            f"--vfr keep indexes frames by their own times, but a {request.export} matte "
            "plays at a constant rate, so its frames would drift from the clip's: use "
            "--vfr conform, or --export png (files numbered by frame)"
        )
    if request.timeline_out is not None:
        objects = request.objects or request.prompts.objects
        check_timeline_export(
            request.export, separate=request.combine == "separate" and len(objects) > 1
        )


def _propagation(direction: str, origin: int, first: int, last: int) -> dict:
    """Session arguments: track from the first prompted frame (clamped into the range)
    forward to ``last`` and/or backward to ``first``."""
    start = min(max(origin, first), last)
    ends = {"forward": (last,), "backward": (first,), "both": (first, last)}.get(direction, ())
    if ends and all(start == end for end in ends):
        raise EtamError(
            f"--direction {direction} from frame {start}, the first prompted frame, covers no "
            f"other frame of {first}..{last}: track the other way, or both"
        )
    if direction == "forward":
        return {"direction": "forward", "start": start, "end": last}
    if direction == "backward":
        return {"direction": "backward", "start": start, "end": first}
    if direction == "both":
        return {"direction": "both", "start": start, "end": last, "back_to": first}
    raise EtamError(f"--direction must be forward, backward or both, not {direction!r}")


def _write_raw(result, request: TrackRequest) -> None:
    """Raw outputs, as the model made them (no finishing): 8-bit masks and float32 logits."""
    import cv2

    for obj_id, obj in result.objects.items():
        name = f"{result.frame_index:06d}"
        if request.masks_out is not None:
            folder = Path(request.masks_out) / f"obj_{obj_id}"
            folder.mkdir(parents=True, exist_ok=True)
            _atomic(folder / f"{name}.png", lambda p, m=obj.mask: _imwrite(cv2, p, m))
        if request.logits_out is not None:
            folder = Path(request.logits_out) / f"obj_{obj_id}"
            folder.mkdir(parents=True, exist_ok=True)
            _atomic(
                folder / f"{name}.npy", lambda p, lg=obj.logits: np.save(p, lg.astype(np.float32))
            )


def _imwrite(cv2, path: Path, mask: np.ndarray) -> None:
    if not cv2.imwrite(str(path), mask.astype(np.uint8) * 255):
        raise ExportError(f"cannot write {path}", path=path)


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    try:
        with replaced_atomically(path) as tmp:
            write(tmp)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}", path=path) from exc


def _export(request, session, frames, objects, frame_range, progress, cancel) -> list[Path]:
    return export_session_mattes(
        session,
        frames,
        objects,
        frame_range,
        request.export,
        Path(request.out),
        ops=request.matte_ops,
        combine=request.combine,
        progress=progress,
        cancel=cancel,
        options=request.export_options,
    )


def _write_timeline(request: TrackRequest, clip, outputs: list[Path], first: int) -> Path:
    if not outputs:
        raise EtamError("--timeline-out needs an exported matte")
    return write_session_timeline(request.timeline_out, clip, outputs[0], request.export)
