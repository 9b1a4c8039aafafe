"""``read_timeline``: list a timeline's video clips with media and exact ranges."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from etam_plugin.errors import TimelineError, TimelineMediaError, TimelineRateError
from etam_plugin.timeline.formats import read_otio
from etam_plugin.timeline.model import TimelineClip, exact_rate

_SOURCE_FILE = re.compile(r"^\s*SOURCE FILE:\s*(.+?)\s*$", re.IGNORECASE)


def _path_from_url(url: str, base: Path) -> Path:
    p = Path(otio.url_utils.filepath_from_url(url)) if url.startswith("file:") else Path(url)
    return p if p.is_absolute() else (base / p)


def media_path_of(clip: otio.schema.Clip, base: Path) -> Path | None:
    """Where a clip's media is, resolved against the timeline file's folder.

    EDLs have no media references; the path then comes from a ``* SOURCE FILE:`` comment
    (Avid) or a clip name that looks like a file name (Resolve's ``* FROM CLIP NAME:``).
    """
    ref = clip.media_reference
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        return _path_from_url(ref.target_url, base)
    if isinstance(ref, otio.schema.ImageSequenceReference) and ref.target_url_base:
        return _path_from_url(ref.target_url_base, base)
    comments = clip.metadata.get("cmx_3600", {}).get("comments", []) or []
    return _named_media(comments, clip.name, base)


def _named_media(comments: Iterable[object], name: str | None, base: Path) -> Path | None:
    """How EDLs name media: a ``SOURCE FILE:`` comment (Avid), else a clip name that looks
    like a file name (Resolve's ``FROM CLIP NAME:``)."""
    for comment in comments:
        if m := _SOURCE_FILE.match(str(comment)):
            return _path_from_url(m[1], base)
    if name and Path(name).suffix:
        return base / name
    return None


def _frames(t: otio.opentime.RationalTime, rate: Fraction) -> int:
    return round(t.rescaled_to(float(rate)).value)


_CLIP_NAME = re.compile(r"^\s*\*\s*FROM CLIP NAME:\s*(.+?)\s*$", re.IGNORECASE)


def _edl_media(text: str, base: Path) -> list[Path]:
    """The media an EDL's comment lines name, read from its text (see ``_named_media``)."""
    found = []
    for line in text.splitlines():
        name = m[1] if (m := _CLIP_NAME.match(line)) else None
        media = _named_media([line.strip().lstrip("*").strip()], name, base)
        if media is not None:
            found.append(media)
    return found


def _edl_rate(path: Path) -> Fraction:
    """An EDL stores no frame rate: take it from the first event's media that exists, or
    from a drop-frame marker (only 29.97 uses it), or give up with a clear error."""
    text = path.read_text(errors="replace")
    drop = re.search(r"^\s*FCM:\s*DROP FRAME", text, re.MULTILINE | re.IGNORECASE) or re.search(
        r"\d\d;\d\d\b", text
    )
    from etam_plugin.timeline.probe import probe_media

    # The media are found from the text, not by reading the EDL at a guessed rate: at a
    # wrong rate its frame fields or its durations do not parse (a 25 fps EDL at 24).
    for media in _edl_media(text, path.parent):
        if media.is_file():
            try:
                return probe_media(media).frame_rate
            except TimelineMediaError:
                continue
    if drop:
        return Fraction(30000, 1001)
    raise TimelineRateError(
        f"{path.name}: an EDL does not say its frame rate and none of its media was found; "
        "give the rate (e.g. --rate 24000/1001)",
        path=path,
    )


def read_timeline(path: str | Path, *, rate: Fraction | None = None) -> list[TimelineClip]:
    """The video clips of a timeline file (``.otio``, FCP 7 ``.xml``, ``.fcpxml``, ``.edl``,
    ``.kdenlive``), tracks bottom-up, each in time order, numbered from 1.

    ``rate`` is needed only for EDLs whose media cannot be found (EDLs carry no rate).
    Missing media is reported per clip (:attr:`TimelineClip.media_exists`), not raised, so
    a timeline can be listed before its media is relinked.
    """
    p = Path(path).expanduser().absolute()
    if p.suffix.lower() == ".edl" and rate is None and p.is_file():
        rate = _edl_rate(p)
    timeline = read_otio(p, rate)
    clips: list[TimelineClip] = []
    for track_no, track in enumerate(timeline.video_tracks(), start=1):
        name = track.name or f"V{track_no}"
        clips += _track_clips(track, track_no, name, p, len(clips), None, track.enabled)
    return clips


_Window = tuple[otio.opentime.RationalTime, otio.opentime.TimeRange]
"""Where a nested sequence sits: its record start on the parent track, and the part of
its own time that is used."""


def _track_clips(
    track: otio.schema.Track,
    track_no: int,
    track_name: str,
    path: Path,
    before: int,
    window: _Window | None,
    enabled: bool,
) -> list[TimelineClip]:
    """The clips of one track, in time order; a nested sequence's clips where they show
    on the parent track (trimmed to the part of the sequence that is used)."""
    clips: list[TimelineClip] = []
    for item in track:
        if isinstance(item, otio.schema.Stack):  # a nested sequence (compound clip)
            nested = (track.range_of_child(item).start_time, item.trimmed_range())
            if window is not None:
                nested = (_to_parent(nested[0], window), nested[1])
            for inner in item:
                if isinstance(inner, otio.schema.Track) and inner.kind == "Video":
                    clips += _track_clips(
                        inner, track_no, f"{track_name} › {item.name or 'nested'}", path,
                        before + len(clips), nested, enabled and item.enabled and inner.enabled,
                    )  # fmt: skip
            continue
        if not isinstance(item, otio.schema.Clip):
            continue
        try:
            clip = _clip(item, track, track_no, track_name, before + len(clips) + 1, path)
            if window is not None:
                clip = _in_window(clip, item, track, window)
        except (AttributeError, TypeError, ValueError) as exc:
            raise TimelineError(
                f"{path.name}: clip {item.name!r} on track {track_no} has no usable range: {exc}",
                path=path,
            ) from exc
        if clip is not None:
            clips.append(replace(clip, enabled=enabled and item.enabled))
    return clips


def _to_parent(t: otio.opentime.RationalTime, window: _Window) -> otio.opentime.RationalTime:
    start, used = window
    return start + (t - used.start_time)


def _in_window(
    clip: TimelineClip, item: otio.schema.Clip, track: otio.schema.Track, window: _Window
) -> TimelineClip | None:
    """A nested clip placed on the parent track: only its part inside the used window."""
    _, used = window
    record = track.range_of_child(item)
    start = max(record.start_time, used.start_time)
    end = min(record.end_time_exclusive(), used.end_time_exclusive())
    if end <= start:
        return None  # outside the part of the nested sequence that is used
    return replace(
        clip,
        source_start=clip.source_start + _frames(start - record.start_time, clip.rate),
        duration=_frames(end - start, clip.rate),
        record_start=_frames(_to_parent(start, window), clip.timeline_rate),
    )


def _clip(
    item: otio.schema.Clip,
    track: otio.schema.Track,
    track_no: int,
    track_name: str,
    index: int,
    path: Path,
) -> TimelineClip:
    source = item.trimmed_range()
    record = track.range_of_child(item)
    rate = exact_rate(source.start_time.rate)
    timeline_rate = exact_rate(record.start_time.rate)
    available = item.media_reference.available_range if item.media_reference else None
    return TimelineClip(
        index=index,
        name=item.name or "",
        track=track_no,
        track_name=track_name,
        media_path=media_path_of(item, path.parent),
        rate=rate,
        source_start=_frames(source.start_time, rate),
        duration=_frames(source.duration, rate),
        record_start=_frames(record.start_time, timeline_rate),
        timeline_rate=timeline_rate,
        available_start=_frames(available.start_time, rate) if available else None,
        available_duration=_frames(available.duration, rate) if available else None,
        timeline_path=path,
    )
