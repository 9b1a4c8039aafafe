"""Editing timelines: list the clips of an NLE timeline, and write the clip with its matte
on the track above (OTIO, FCP 7 XML, FCPXML, Kdenlive)."""

from etam_plugin.timeline.formats import READ_EXTENSIONS, WRITE_EXTENSIONS
from etam_plugin.timeline.model import TimelineClip, clip_window, exact_rate
from etam_plugin.timeline.read import read_timeline
from etam_plugin.timeline.write import (
    KINDS,
    MatteTimeline,
    build_otio,
    clip_for_media,
    plan_matte_timeline,
    timeline_target,
    write_matte_timeline,
)

__all__ = [
    "KINDS",
    "READ_EXTENSIONS",
    "WRITE_EXTENSIONS",
    "MatteTimeline",
    "TimelineClip",
    "build_otio",
    "clip_for_media",
    "clip_window",
    "exact_rate",
    "plan_matte_timeline",
    "read_timeline",
    "timeline_target",
    "write_matte_timeline",
]
