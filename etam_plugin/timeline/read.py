"""``read_timeline``: list a timeline's video clips with media and exact ranges."""

from __future__ import annotations

import re
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
    for comment in clip.metadata.get("cmx_3600", {}).get("comments", []) or []:
        m = _SOURCE_FILE.match(str(comment))
        if m:
            return _path_from_url(m[1], base)
    if clip.name and Path(clip.name).suffix:
        return base / clip.name
    return None


def _frames(t: otio.opentime.RationalTime, rate: Fraction) -> int:
    return round(t.rescaled_to(float(rate)).value)


_CLIP_NAME = re.compile(r"^\s*\*\s*FROM CLIP NAME:\s*(.+?)\s*$", re.IGNORECASE)


def _edl_media(text: str, base: Path) -> list[Path]:
    """The media an EDL's comments name, by the rules of :func:`media_path_of`."""
    found = []
    for line in text.splitlines():
        comment = line.strip().lstrip("*").strip()
        if m := _SOURCE_FILE.match(comment):
            found.append(_path_from_url(m[1], base))
        elif (m := _CLIP_NAME.match(line)) and Path(m[1]).suffix:
            found.append(base / m[1])
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
        for item in track:
            if not isinstance(item, otio.schema.Clip):
                continue
            try:
                clips.append(_clip(item, track, track_no, len(clips) + 1, p))
            except (AttributeError, TypeError, ValueError) as exc:
                raise TimelineError(
                    f"{p.name}: clip {item.name!r} on track {track_no} has no usable range: {exc}",
                    path=p,
                ) from exc
    return clips


def _clip(
    item: otio.schema.Clip, track: otio.schema.Track, track_no: int, index: int, path: Path
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
        track_name=track.name or f"V{track_no}",
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
