"""A tracked session's mattes to files, and the timeline that places them: the one export
that ``etam-plugin track`` and the panel's Export both run, with the rules both check.

The session is any object with ``frame_size`` and ``result(frame, obj, with_logits=)`` (the
model's ``VideoSession``); nothing here imports the network.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from etam_plugin.errors import ExportError
from etam_plugin.export.base import available_formats, writer_class
from etam_plugin.export.driver import export_mattes
from etam_plugin.matte import MatteOps, union

COMBINE_MODES = ("union", "separate")

ProgressCallback = Callable[[str, int, int], None]
"""(stage, done, total) with stage "track" or "export"."""


def timeline_kinds() -> dict[str, str]:
    """Format → the matte kind a timeline gets, for each format an NLE can place on a
    track (as each writer declares it: ``MatteWriter.timeline_kind``)."""
    return {
        name: kind
        for name in available_formats()
        if (kind := writer_class(name).timeline_kind) is not None
    }


def check_timeline_export(fmt: str, *, separate: bool) -> str:
    """The matte kind a timeline places for an export in ``fmt``; :class:`ExportError`
    when no timeline can be written with it (``separate``: more than one matte)."""
    kinds = timeline_kinds()
    if fmt not in kinds:
        raise ExportError(
            f"a timeline needs a movie matte an editor can place on a track: export "
            f"{' or '.join(kinds)} (not {fmt})"
        )
    if separate:
        raise ExportError("a timeline places one matte: export the objects together")
    return kinds[fmt]


def separate_path(out: Path, obj_id: int) -> Path:
    """Where ``combine="separate"`` writes one object's matte."""
    return out.with_name(f"{out.stem}_obj{obj_id}{out.suffix}")


def export_session_mattes(
    session,
    frames,
    objects: list[int],
    frame_range: tuple[int, int],
    fmt: str,
    out: Path,
    *,
    ops: MatteOps | Mapping[int, MatteOps],
    combine: str = "union",
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    options: dict[str, str] | None = None,
) -> list[Path]:
    """Export a session's finished mattes of ``objects`` over frames ``first..last``
    (inclusive): one file of their union, or one per object (``combine="separate"``),
    finished with ``ops`` (one for all, or each object's). The CLI and the panel both call
    this."""
    first, last = frame_range
    groups = [objects] if combine == "union" else [[o] for o in objects]
    paths = []
    for group in groups:
        target = separate_path(out, group[0]) if len(groups) > 1 else out
        mattes = finished_mattes(session, frames, group, first, last, ops)
        paths.append(
            export_mattes(
                frames,
                frames.info,
                mattes,
                fmt,
                target,
                frame_range=(first, last + 1),
                progress=(lambda d, t: progress("export", d, t)) if progress else None,
                cancel=cancel,
                options=options,
            )
        )
    return paths


def finished_mattes(
    session, frames, objects, first, last, ops: MatteOps | Mapping[int, MatteOps]
) -> Iterator:
    """(frame, matte) of the objects' union, each finished with its ``ops``, frame by frame."""
    h, w = session.frame_size

    def ops_of(obj: int) -> MatteOps:
        return ops.get(obj, MatteOps()) if isinstance(ops, Mapping) else ops

    def raw(obj: int, soft: bool) -> Iterator[np.ndarray]:
        for f in range(first, last + 1):
            r = session.result(f, obj, with_logits=soft)
            if r is None:
                yield np.full((h, w), -1e4, np.float32) if soft else np.zeros((h, w), bool)
            else:
                yield r.logits if soft else r.mask

    def guides(refine: float) -> Iterator[np.ndarray] | None:
        return (frames[f] for f in range(first, last + 1)) if refine else None

    per_object = []
    for obj in objects:
        o = ops_of(obj)
        soft = o.soft > 0
        per_object.append(o.apply_sequence(raw(obj, soft), guides=guides(o.refine), logits=soft))
    for f, mattes in zip(range(first, last + 1), zip(*per_object, strict=True), strict=True):
        yield f, mattes[0] if len(mattes) == 1 else union(dict(zip(objects, mattes, strict=True)))


def write_session_timeline(out: Path, clip, matte: Path, fmt: str) -> Path:
    """A timeline with ``clip`` on V1 and the exported ``matte`` (format ``fmt``) above."""
    from etam_plugin.timeline import write_matte_timeline

    return write_matte_timeline(out, clip, matte, kind=check_timeline_export(fmt, separate=False))
