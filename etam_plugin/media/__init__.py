"""Media reading: video files (PyAV) and image sequences as frame-exact frame sources.

``open_source(path)`` picks the right reader; both implement the model's ``FrameSource``
(``len(src)``, ``src[i]`` → uint8 RGB (H, W, 3)) plus ``info`` (:class:`VideoInfo`),
``timestamp(i)``, ``index_at(seconds)``, ``clone()`` and ``close()``.
"""

from __future__ import annotations

from etam_plugin.media.info import VideoInfo
from etam_plugin.media.opener import is_sequence_spec, open_source
from etam_plugin.media.probe import FrameIndex, probe, scan
from etam_plugin.media.sequence import IMAGE_EXTENSIONS, ImageSequenceSource, find_sequence
from etam_plugin.media.timecode import (
    frame_to_seconds,
    frame_to_timecode,
    offset_timecode,
    seconds_to_frame,
    timecode_to_frame,
)
from etam_plugin.media.timing import ConformReport
from etam_plugin.media.video import VFR_POLICIES, VideoFileSource

__all__ = [
    "IMAGE_EXTENSIONS",
    "VFR_POLICIES",
    "ConformReport",
    "FrameIndex",
    "ImageSequenceSource",
    "VideoFileSource",
    "VideoInfo",
    "find_sequence",
    "frame_to_seconds",
    "frame_to_timecode",
    "is_sequence_spec",
    "offset_timecode",
    "open_source",
    "probe",
    "scan",
    "seconds_to_frame",
    "timecode_to_frame",
]
