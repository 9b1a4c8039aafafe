"""One entry point for every kind of source: a video file or an image sequence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etam_plugin.media.sequence import IMAGE_EXTENSIONS, ImageSequenceSource, is_pattern
from etam_plugin.media.video import VideoFileSource


def is_sequence_spec(path: str | Path) -> bool:
    """A folder, a PNG/JPEG/TIFF file (one of a sequence) or a ``%04d``/``####`` pattern.

    A path that exists is what it is, whatever characters its name has (``take#1.mp4`` is
    a video file): a name is a pattern only when no such file exists."""
    p = Path(path)
    if p.is_dir():
        return True
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    return not p.exists() and is_pattern(p.name)


def open_source(path: str | Path, **options: Any) -> VideoFileSource | ImageSequenceSource:
    """Open ``path`` as an :class:`ImageSequenceSource` (folder, pattern, or an image file)
    or else a :class:`VideoFileSource`; ``options`` go to that class (e.g. ``vfr="keep"``
    for a video, ``frame_rate=25`` for a sequence)."""
    if is_sequence_spec(path):
        return ImageSequenceSource(path, **options)
    return VideoFileSource(path, **options)
