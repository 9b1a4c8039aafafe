"""``write_matte_timeline``: the clip on V1 and its matte on V2, at the same record range."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from etam_plugin.atomic import write_bytes_atomic
from etam_plugin.errors import TimelineError, TimelineMediaError, TimelineRateError
from etam_plugin.media.timecode import is_drop_frame
from etam_plugin.timeline import fcpxml, kdenlive
from etam_plugin.timeline.formats import WRITE_EXTENSIONS, quiet
from etam_plugin.timeline.model import TimelineClip
from etam_plugin.timeline.probe import MediaFacts, probe_media

KINDS = ("cutout", "luma")

LUMA_NOTE = (
    "Luma matte: white = object, black = background. Use it as a track matte for the clip "
    "below: Premiere - Track Matte Key on the clip (Composite using: Matte Luma) and hide "
    "this track; Final Cut - Image Mask with this clip as the mask source; Resolve - use it "
    "as an external matte on the Color page or a Fusion MatteControl."
)
CUTOUT_NOTE = (
    "Cutout: the clip with the object's matte as straight alpha (ProRes 4444). It composites "
    "over the track below as is; put a new background between the two tracks."
)


@dataclass(frozen=True)
class MatteTimeline:
    """The resolved placement: frames in the timeline's numbering for clip and matte."""

    clip: TimelineClip  # with available_start/duration filled in
    media: MediaFacts
    matte: MediaFacts
    matte_start: int  # matte frame 0 in the clip's media numbering
    kind: str
    name: str

    @property
    def note(self) -> str:
        return LUMA_NOTE if self.kind == "luma" else CUTOUT_NOTE


def clip_for_media(
    media_path: str | Path, *, frame_range: tuple[int, int] | range | None = None
) -> TimelineClip:
    """A timeline clip for a plain file (no editing timeline): frames ``[start, stop)``
    (default: all) placed at the start of the timeline, numbered by its timecode."""
    media = probe_media(media_path)
    start, stop = (0, media.frame_count) if frame_range is None else _pair(frame_range)
    if not 0 <= start < stop <= media.frame_count:
        raise TimelineError(
            f"frames {start}..{stop - 1} are outside {media.path.name} "
            f"(0..{media.frame_count - 1})",
            path=media.path,
        )
    origin = media.start_frame
    return TimelineClip(
        index=1,
        name=media.path.stem,
        track=1,
        track_name="V1",
        media_path=media.path,
        rate=media.frame_rate,
        source_start=origin + start,
        duration=stop - start,
        record_start=0,
        timeline_rate=media.frame_rate,
        available_start=origin,
        available_duration=media.frame_count,
    )


def _pair(r: tuple[int, int] | range) -> tuple[int, int]:
    return (r.start, r.stop) if isinstance(r, range) else (int(r[0]), int(r[1]))


def plan_matte_timeline(
    clip: TimelineClip,
    matte_path: str | Path,
    *,
    kind: str = "cutout",
    matte_first_frame: int | None = None,
    name: str | None = None,
) -> MatteTimeline:
    """Check everything that must line up and return the placement (see
    :func:`write_matte_timeline`)."""
    if kind not in KINDS:
        raise TimelineError(f"matte kind must be one of {KINDS}, not {kind!r}")
    media = probe_media(clip.require_media())
    matte_p = Path(matte_path).expanduser().absolute()
    if not matte_p.is_file():
        raise TimelineMediaError(f"matte not found: {matte_p}", media_path=matte_p)
    matte = probe_media(matte_p)
    if clip.rate != clip.timeline_rate:
        raise TimelineRateError(
            f"clip {clip.index} ({clip.name}) runs at {clip.rate} fps in a "
            f"{clip.timeline_rate} fps timeline; mixed rates are not supported",
            expected=clip.timeline_rate, found=clip.rate,
        )  # fmt: skip
    for what, facts in (("media", media), ("matte", matte)):
        if facts.frame_rate != clip.rate:
            raise TimelineRateError(
                f"the {what} {facts.path.name} runs at {facts.frame_rate} fps but the clip "
                f"is {clip.rate} fps",
                expected=clip.rate, found=facts.frame_rate,
            )  # fmt: skip
    if (matte.width, matte.height) != (media.width, media.height):
        raise TimelineError(
            f"the matte is {matte.width}x{matte.height} but the clip displays at "
            f"{media.width}x{media.height}; it would not line up",
            path=matte_p,
        )
    if clip.available_start is None:  # EDL: take the extent from the file itself
        clip = replace(
            clip, available_start=media.start_frame, available_duration=media.frame_count
        )
    origin = clip.available_start
    assert origin is not None
    if matte_first_frame is None:
        # our writers stamp the matte with the timecode of its first frame (counting from
        # 00:00:00:00 when the clip has none, as start_frame does)
        matte_first_frame = matte.start_frame - media.start_frame if matte.start_timecode else 0
    matte_start = origin + matte_first_frame
    if not (
        matte_start <= clip.source_start and clip.source_end <= matte_start + matte.frame_count
    ):
        raise TimelineError(
            f"the matte covers media frames {matte_first_frame}.."
            f"{matte_first_frame + matte.frame_count - 1} but clip {clip.index} uses "
            f"{clip.source_start - origin}..{clip.source_end - origin - 1}",
            path=matte_p,
        )
    return MatteTimeline(
        clip=clip,
        media=media,
        matte=matte,
        matte_start=matte_start,
        kind=kind,
        name=name or f"{clip.name or media.path.stem} + {kind}",
    )


def build_otio(plan: MatteTimeline) -> otio.schema.Timeline:
    """The two-track OTIO timeline (V1 clip, V2 matte), frame-exact at the clip's rate."""
    clip, rate = plan.clip, float(plan.clip.rate)
    assert clip.available_start is not None and clip.available_duration is not None

    def rt(frames: int) -> RationalTime:
        return RationalTime(frames, rate)

    def track(name: str, item: otio.schema.Clip) -> otio.schema.Track:
        tr = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Video)
        if clip.record_start:
            tr.append(otio.schema.Gap(source_range=TimeRange(rt(0), rt(clip.record_start))))
        tr.append(item)
        return tr

    # FCP 7 XML prints the media's start timecode; tell it when that is drop-frame
    drop = bool(plan.media.start_timecode) and is_drop_frame(plan.media.start_timecode or "")
    tc_meta = {"fcp_xml": {"timecode": {"displayformat": "DF"}}} if drop else {}
    used = TimeRange(rt(clip.source_start), rt(clip.duration))
    source = otio.schema.Clip(
        name=clip.name or plan.media.path.stem,
        media_reference=otio.schema.ExternalReference(
            target_url=plan.media.path.as_uri(),
            available_range=TimeRange(rt(clip.available_start), rt(clip.available_duration)),
            metadata=tc_meta,
        ),
        source_range=used,
    )
    matte = otio.schema.Clip(
        name=f"{source.name} {plan.kind}",
        media_reference=otio.schema.ExternalReference(
            target_url=plan.matte.path.as_uri(),
            available_range=TimeRange(rt(plan.matte_start), rt(plan.matte.frame_count)),
            metadata=tc_meta,
        ),
        source_range=used,
        metadata={"etam_plugin": {"kind": plan.kind, "note": plan.note}},
    )
    if plan.kind == "cutout":  # FCP 7 XML: <alphatype> on the clipitem, as Premiere writes it
        matte.metadata["fcp_xml"] = {"alphatype": "straight"}
    else:
        matte.markers.append(
            otio.schema.Marker(
                name=LUMA_NOTE,
                marked_range=TimeRange(rt(clip.source_start), rt(1)),
                color=otio.schema.MarkerColor.YELLOW,
            )
        )
    timeline = otio.schema.Timeline(name=plan.name)
    timeline.tracks.append(track("V1", source))
    timeline.tracks.append(track("V2 matte" if plan.kind == "luma" else "V2 cutout", matte))
    return timeline


def _kdenlive(plan: MatteTimeline) -> str:
    clip = plan.clip
    assert clip.available_start is not None
    return kdenlive.kdenlive_xml(
        kdenlive.KdenliveLayout(
            title=plan.name,
            width=plan.media.width,
            height=plan.media.height,
            rate=clip.rate,
            sample_aspect_ratio=plan.media.sample_aspect_ratio,
            colorspace=kdenlive.colorspace_of(plan.media.color_space, plan.media.height),
            clip_path=plan.media.path,
            clip_name=clip.name or plan.media.path.stem,
            clip_length=plan.media.frame_count,
            clip_in=clip.source_start - clip.available_start,
            matte_path=plan.matte.path,
            matte_name=plan.matte.path.stem,
            matte_length=plan.matte.frame_count,
            matte_in=clip.source_start - plan.matte_start,
            duration=clip.duration,
            record_start=clip.record_start,
            kind=plan.kind,
            has_audio=plan.media.has_audio,
            note=plan.note,
        )
    )


def _fcpxml(plan: MatteTimeline) -> str:
    assets = {
        f.path.as_uri(): fcpxml.AssetInfo(f.width, f.height, f.has_audio)
        for f in (plan.media, plan.matte)
    }
    drop = bool(plan.media.start_timecode) and is_drop_frame(plan.media.start_timecode or "")
    return fcpxml.write_fcpxml(build_otio(plan), plan.clip.rate, assets, drop_frame=drop)


def _adapter(name: str) -> object:
    def write(plan: MatteTimeline) -> str:
        return str(quiet(lambda: otio.adapters.write_to_string(build_otio(plan), name)))

    return write


_WRITERS = {
    ".otio": _adapter("otio_json"),
    ".xml": _adapter("fcp_xml"),
    ".fcpxml": _fcpxml,
    ".kdenlive": _kdenlive,
}


def timeline_target(out_path: str | Path) -> Path:
    """``out_path`` as an absolute path, if its extension names a timeline we write
    (:class:`TimelineError` otherwise): checkable before any long work."""
    out = Path(out_path).expanduser().absolute()
    ext = out.suffix.lower()
    if ext not in _WRITERS:
        hint = " (an EDL holds one video track only)" if ext == ".edl" else ""
        raise TimelineError(
            f"cannot write {ext or 'a file without extension'} timelines{hint}; "
            f"use one of {', '.join(WRITE_EXTENSIONS)}",
            path=out,
        )
    return out


def write_matte_timeline(
    out_path: str | Path,
    clip: TimelineClip,
    matte_path: str | Path,
    *,
    kind: str = "cutout",
    matte_first_frame: int | None = None,
    name: str | None = None,
) -> Path:
    """Write a timeline with ``clip`` on V1 and the matte file above it at the same record
    range, frame exact, as ``.otio``, FCP 7 ``.xml`` (Premiere, Resolve), ``.fcpxml``
    (Final Cut, Resolve) or ``.kdenlive`` (chosen by the extension).

    ``kind`` is "cutout" (ProRes 4444 with alpha: composites as is) or "luma" (a luma
    matte; the timeline carries a note on using it as a track matte). ``matte_first_frame``
    is the 0-based media frame that the matte's frame 0 shows; by default it comes from
    the matte's start timecode (our writers stamp it; a clip without timecode counts from
    00:00:00:00), else 0.

    Raises :class:`TimelineMediaError` (missing clip media or matte),
    :class:`TimelineRateError` (rates differ) or :class:`TimelineError` (the matte does not
    cover the clip, sizes differ, unknown extension, unwritable path). Nothing partial is
    left at ``out_path``.
    """
    out = timeline_target(out_path)
    ext = out.suffix.lower()
    plan = plan_matte_timeline(
        clip, matte_path, kind=kind, matte_first_frame=matte_first_frame, name=name
    )
    try:
        text = _WRITERS[ext](plan)  # type: ignore[operator]
    except TimelineError:
        raise
    except Exception as exc:  # adapter failures
        raise TimelineError(f"cannot write {out.name}: {exc}", path=out) from exc
    write_text_atomic(out, str(text))
    return out


def write_text_atomic(path: Path, text: str) -> None:
    """Never a half-written timeline (``etam_plugin.atomic``)."""
    if not path.parent.is_dir():
        raise TimelineError(f"output folder does not exist: {path.parent}", path=path)
    try:
        write_bytes_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise TimelineError(f"cannot write {path}: {exc.strerror or exc}", path=path) from exc
