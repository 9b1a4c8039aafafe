"""Final Cut Pro X XML (FCPXML 1.9), read and written with exact rational time.

Our own module rather than ``otio-fcpx-xml-adapter`` 1.0.0, which truncates frame rates to
integers (``int(29.97)`` → 29, so NTSC timelines read with wrong frame numbers) and fails
to write any 29.97/23.976 timeline (its rate table lookup misses and it crashes on an empty
``frameDuration``); ``tests/etam_plugin/test_timeline_fcpxml.py`` keeps checking that, so
we can switch back when it is fixed.

Scope: the primary storyline (``asset-clip``, ``clip`` with ``video``, ``gap``) and
connected clips in lanes, which is what an NLE exports for plain cut timelines and what
we write (clip in the storyline, matte connected in lane 1). Compound, multicam, sync
clips and generators are skipped when reading.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from etam_plugin.errors import TimelineError

VERSION = "1.9"


# -- time ---------------------------------------------------------------------------------
def parse_time(value: str | None, default: Fraction = Fraction(0)) -> Fraction:
    """'1001/30000s', '10s', '0s' → seconds as a Fraction."""
    if value is None or value == "":
        return default
    v = value.strip()
    if not v.endswith("s"):
        raise TimelineError(f"not an FCPXML time: {value!r}")
    return Fraction(v[:-1])


def format_time(seconds: Fraction) -> str:
    s = Fraction(seconds)
    if s == 0:
        return "0s"
    return f"{s.numerator}s" if s.denominator == 1 else f"{s.numerator}/{s.denominator}s"


def _frames(seconds: Fraction, frame_duration: Fraction) -> int:
    return round(seconds / frame_duration)


# -- reading ------------------------------------------------------------------------------
@dataclass
class _Placed:
    lane: int
    record: Fraction  # sequence time (seconds from the sequence start)
    clip: otio.schema.Clip


@dataclass
class _Reader:
    path: Path
    root: ET.Element
    formats: dict[str, Fraction] = field(default_factory=dict)
    assets: dict[str, ET.Element] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fmt in self.root.iter("format"):
            fd = fmt.get("frameDuration")
            if fmt.get("id") and fd:
                self.formats[fmt.get("id", "")] = parse_time(fd)
        for asset in self.root.iter("asset"):
            if asset.get("id"):
                self.assets[asset.get("id", "")] = asset

    def frame_duration(self, format_id: str | None, fallback: Fraction) -> Fraction:
        return self.formats.get(format_id or "", fallback)

    def asset_src(self, asset: ET.Element) -> str | None:
        src = asset.get("src")
        if src:
            return src
        rep = asset.find("media-rep")
        return rep.get("src") if rep is not None else None

    def media_clip(
        self, el: ET.Element, seq_fd: Fraction
    ) -> tuple[otio.schema.Clip, Fraction] | None:
        """An OTIO clip for an asset-clip / clip element, and its local start time."""
        if el.tag == "asset-clip":
            asset, video = self.assets.get(el.get("ref", "")), None
        elif el.tag == "clip":
            video = el.find("video")
            asset = self.assets.get(video.get("ref", "")) if video is not None else None
        else:
            return None
        if asset is None or asset.get("hasVideo", "1") == "0":
            return None
        fd = self.frame_duration(asset.get("format") or el.get("format"), seq_fd)
        rate = 1 / fd
        a_start = parse_time(asset.get("start"))
        local_start = parse_time(el.get("start"), a_start if el.tag == "asset-clip" else 0)
        src_start = local_start
        if video is not None:  # media time = video.start + (clip time - video.offset)
            src_start = parse_time(video.get("start"), a_start) + (
                local_start - parse_time(video.get("offset"))
            )
        duration = parse_time(el.get("duration"))
        available = None
        if asset.get("duration"):
            available = TimeRange(
                RationalTime(_frames(a_start, fd), float(rate)),
                RationalTime(_frames(parse_time(asset.get("duration")), fd), float(rate)),
            )
        src = self.asset_src(asset)
        ref: otio.core.MediaReference = (
            otio.schema.ExternalReference(target_url=src, available_range=available)
            if src
            else otio.schema.MissingReference()
        )
        clip = otio.schema.Clip(
            name=el.get("name") or asset.get("name") or "",
            media_reference=ref,
            source_range=TimeRange(
                RationalTime(_frames(src_start, fd), float(rate)),
                RationalTime(_frames(duration, fd), float(rate)),
            ),
        )
        for marker in el.findall("marker"):
            m_start = parse_time(marker.get("start")) - local_start + src_start
            clip.markers.append(
                otio.schema.Marker(
                    name=marker.get("value", ""),
                    marked_range=TimeRange(
                        RationalTime(_frames(m_start, fd), float(rate)),
                        RationalTime(
                            max(1, _frames(parse_time(marker.get("duration")), fd)), float(rate)
                        ),
                    ),
                )
            )
        note = el.find("note")
        if note is not None and note.text:
            clip.metadata["fcpx_note"] = note.text
        return clip, local_start

    def walk_spine(
        self, spine: ET.Element, origin: Fraction, seq_fd: Fraction, lane: int, out: list[_Placed]
    ) -> None:
        """Place the spine's items; ``origin`` is the sequence time of the spine's time 0."""
        for el in spine:
            if el.tag == "spine":  # a secondary storyline inside a spine: skip (rare)
                continue
            offset = parse_time(el.get("offset"))
            record = origin + offset
            made = self.media_clip(el, seq_fd)
            local_start = parse_time(el.get("start"))
            if made is not None:
                clip, local_start = made
                out.append(_Placed(lane, record, clip))
            # connected clips and secondary storylines: offsets are in this item's local
            # time, which starts at its `start`
            for child in el:
                child_lane = child.get("lane")
                if child_lane is None:
                    continue
                child_record = record + parse_time(child.get("offset")) - local_start
                if child.tag == "spine":
                    self.walk_spine(child, child_record, seq_fd, lane + int(child_lane), out)
                    continue
                made_child = self.media_clip(child, seq_fd)
                if made_child is not None:
                    out.append(_Placed(lane + int(child_lane), child_record, made_child[0]))


def read_fcpxml(path: Path) -> otio.schema.Timeline:
    """The first project of an FCPXML file as an OTIO timeline (video lanes → tracks)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise TimelineError(f"{path.name} is not valid XML: {exc}", path=path) from exc
    if root.tag != "fcpxml":
        raise TimelineError(f"{path.name} is not an FCPXML document", path=path)
    reader = _Reader(path, root)
    sequence = root.find(".//project/sequence")
    if sequence is None:
        raise TimelineError(f"{path.name} has no project with a sequence", path=path)
    seq_fd = reader.frame_duration(sequence.get("format"), Fraction(1, 24))
    spine = sequence.find("spine")
    placed: list[_Placed] = []
    if spine is not None:
        reader.walk_spine(spine, -parse_time(sequence.get("tcStart")), seq_fd, 0, placed)
    project = root.find(".//project")
    timeline = otio.schema.Timeline(name=(project.get("name") if project is not None else ""))
    seq_rate = float(1 / seq_fd)
    for lane in sorted({p.lane for p in placed}):
        track = otio.schema.Track(name=f"lane {lane}", kind=otio.schema.TrackKind.Video)
        position = 0
        for p in sorted((p for p in placed if p.lane == lane), key=lambda p: p.record):
            start = _frames(p.record, seq_fd)
            if start < position:
                raise TimelineError(
                    f"{path.name}: clips overlap in lane {lane} at frame {start}", path=path
                )
            if start > position:
                track.append(
                    otio.schema.Gap(
                        source_range=TimeRange(
                            RationalTime(0, seq_rate), RationalTime(start - position, seq_rate)
                        )
                    )
                )
            track.append(p.clip)
            position = start + round(p.clip.source_range.duration.rescaled_to(seq_rate).value)
        timeline.tracks.append(track)
    return timeline


# -- writing ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AssetInfo:
    """What FCP wants to know about a file beyond the timeline: size and audio."""

    width: int
    height: int
    has_audio: bool = False


def write_fcpxml(
    timeline: otio.schema.Timeline,
    rate: Fraction,
    assets: dict[str, AssetInfo],
    *,
    drop_frame: bool = False,
) -> str:
    """FCPXML 1.9 for a timeline whose track 1 is the storyline and whose upper tracks are
    connected (lanes 1, 2, …) to whatever storyline item is under them.

    ``rate`` is the exact sequence rate (every clip must use it); ``assets`` maps each
    media URL to its size and audio presence.
    """
    fd = 1 / Fraction(rate)
    tracks = list(timeline.video_tracks())
    if not tracks:
        raise TimelineError("nothing to write: the timeline has no video track")

    def t(frames: int) -> str:
        return format_time(frames * fd)

    def frames_of(rt: RationalTime) -> int:
        if abs(rt.rate - float(rate)) > 1e-6:
            raise TimelineError(f"FCPXML writer: clip at {rt.rate} fps in a {rate} fps timeline")
        return round(rt.value)

    root = ET.Element("fcpxml", version=VERSION)
    resources = ET.SubElement(root, "resources")
    first = next(iter(assets.values()), AssetInfo(1920, 1080))
    ET.SubElement(
        resources,
        "format",
        id="r1",
        frameDuration=format_time(fd),
        width=str(first.width),
        height=str(first.height),
    )
    asset_ids: dict[str, str] = {}
    for track in tracks:
        for clip in track.find_clips():
            ref = clip.media_reference
            if not isinstance(ref, otio.schema.ExternalReference) or ref.available_range is None:
                raise TimelineError(f"FCPXML writer: clip {clip.name!r} needs a media file")
            if ref.target_url in asset_ids:
                continue
            info = assets.get(ref.target_url, first)
            aid = f"r{len(asset_ids) + 2}"
            asset_ids[ref.target_url] = aid
            fmt_id = "r1"
            if (info.width, info.height) != (first.width, first.height):
                fmt_id = f"f{aid}"
                ET.SubElement(
                    resources, "format", id=fmt_id, frameDuration=format_time(fd),
                    width=str(info.width), height=str(info.height),
                )  # fmt: skip
            ET.SubElement(
                resources,
                "asset",
                id=aid,
                name=Path(otio.url_utils.filepath_from_url(ref.target_url)).stem,
                src=ref.target_url,
                start=t(frames_of(ref.available_range.start_time)),
                duration=t(frames_of(ref.available_range.duration)),
                hasVideo="1",
                hasAudio="1" if info.has_audio else "0",
                format=fmt_id,
                videoSources="1",
            )
    library = ET.SubElement(root, "library")
    event = ET.SubElement(library, "event", name=timeline.name or "etam-plugin")
    project = ET.SubElement(event, "project", name=timeline.name or "etam-plugin")
    total = max(round(tr.duration().rescaled_to(float(rate)).value) for tr in tracks)
    sequence = ET.SubElement(
        project,
        "sequence",
        format="r1",
        duration=t(total),
        tcStart="0s",
        tcFormat="DF" if drop_frame else "NDF",
    )
    spine = ET.SubElement(sequence, "spine")

    def clip_element(clip: otio.schema.Clip, record: int, lane: int | None) -> ET.Element:
        src = clip.source_range
        el = ET.Element("asset-clip")
        el.set("ref", asset_ids[clip.media_reference.target_url])
        if lane is not None:
            el.set("lane", str(lane))
        el.set("name", clip.name or "")
        el.set("offset", t(record))
        el.set("start", t(frames_of(src.start_time)))
        el.set("duration", t(frames_of(src.duration)))
        note = clip.metadata.get("etam_plugin", {}).get("note")
        if note:
            ET.SubElement(el, "note").text = str(note)
        for marker in clip.markers:
            ET.SubElement(
                el,
                "marker",
                start=t(frames_of(marker.marked_range.start_time)),
                duration=t(max(1, frames_of(marker.marked_range.duration))),
                value=marker.name,
            )
        return el

    # the storyline: track 1, gaps included
    spans: list[tuple[int, int, ET.Element, int]] = []  # record start, end, element, start
    position = 0
    for item in tracks[0]:
        length = round(item.duration().rescaled_to(float(rate)).value)
        if isinstance(item, otio.schema.Clip):
            el = clip_element(item, position, None)
            local = frames_of(item.source_range.start_time)
        else:
            el = ET.Element("gap", name="Gap", offset=t(position), start="0s", duration=t(length))
            local = 0
        spine.append(el)
        spans.append((position, position + length, el, local))
        position += length
    for lane, track in enumerate(tracks[1:], start=1):
        for clip in track.find_clips():
            record = round(track.range_of_child(clip).start_time.rescaled_to(float(rate)).value)
            host = next((s for s in spans if s[0] <= record < s[1]), None)
            if host is None:  # past the storyline's end: extend it with a gap to hang it on
                gap_len = record + frames_of(clip.source_range.duration) - position
                el = ET.Element(
                    "gap", name="Gap", offset=t(position), start="0s", duration=t(gap_len)
                )
                spine.append(el)
                host = (position, position + gap_len, el, 0)
                spans.append(host)
                position += gap_len
            start, _, parent, local = host
            child = clip_element(clip, local + record - start, lane)
            # the DTD wants connected clips after the note and before the markers
            kids = list(parent)
            at = next((i for i, k in enumerate(kids) if k.tag == "marker"), len(kids))
            parent.insert(at, child)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n{body}\n'
