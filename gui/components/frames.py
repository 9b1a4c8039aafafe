"""Frame loading for the viewer and the timeline thumbnails, without Qt.

Runs in its own thread with its own frame source (decoders are not shared between threads),
so scrubbing stays live while the inference worker tracks.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import cv2
import numpy as np

from etam_plugin.errors import MediaError
from etam_plugin.gui.components import messages as m
from etam_plugin.model import FrameSource

FramesFactory = Callable[[m.SourceSpec], FrameSource]
Emit = Callable[[object], None]
DEFAULT_FPS = Fraction(25)


def open_frames(spec: m.SourceSpec) -> FrameSource:
    """Open a video file or an image sequence with ``etam_plugin.media``.

    The panel's only way into media reading, so tests can swap it for an in-memory source.
    """
    try:
        from etam_plugin.media import open_source
    except ImportError:
        raise MediaError(
            f"Cannot open {spec.path}: media reading (etam_plugin.media.open_source) is not "
            "part of this build yet.",
            path=spec.path,
        ) from None
    return open_source(spec.path)


def source_info(spec: m.SourceSpec, frames: FrameSource) -> m.SourceInfo:
    """Frame count, size and exact rate; sources without ``.info`` (arrays) get 25 fps; for a
    timeline clip also its frames in the file (with handles).

    The size is the first frame's: frames come in display orientation, which differs from
    the coded size of a rotated clip (``info.width``/``height``)."""
    count = len(frames)
    if count <= 0:
        raise MediaError(f"{spec.path} has no frames.", path=spec.path)
    first = frames[0]
    size = (int(first.shape[0]), int(first.shape[1]))
    info = getattr(frames, "info", None)
    rate = getattr(info, "frame_rate", None) if info is not None else None
    fps = Fraction(rate) if rate else DEFAULT_FPS
    window = clip_first = None
    if spec.clip is not None:
        from etam_plugin.timeline import clip_window

        frames_of_clip = clip_window(spec.clip, info, spec.handles)
        last = min(frames_of_clip.stop, count) - 1
        if frames_of_clip.start > last:
            raise MediaError(
                f"clip {spec.clip.index} ({spec.clip.name}) uses frames "
                f"{frames_of_clip.start}..{frames_of_clip.stop - 1} but {spec.path.name} has "
                f"{count}",
                path=spec.path,
            )
        window = (frames_of_clip.start, last)
        clip_first = min(max(clip_window(spec.clip, info, 0).start, window[0]), last)
    return m.SourceInfo(spec.path, count, size, fps, window, spec.clip, clip_first)


def thumbnail(image: np.ndarray, height: int) -> np.ndarray:
    """Area-averaged downscale to ``height`` rows, keeping the aspect ratio."""
    h, w = image.shape[:2]
    height = max(1, min(int(height), h))
    width = max(1, round(w * height / h))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def check_frame(image: np.ndarray, index: int, size: tuple[int, int], spec: m.SourceSpec) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise MediaError(
            f"frame {index} of {spec.path} is {image.dtype} {image.shape}, expected uint8 RGB",
            path=spec.path,
            frame_index=index,
        )
    if image.shape[:2] != size:
        raise MediaError(
            f"frame {index} of {spec.path} is {image.shape[1]}×{image.shape[0]}, "
            f"the clip is {size[1]}×{size[0]}",
            path=spec.path,
            frame_index=index,
        )


def _close(frames: object) -> None:
    close = getattr(frames, "close", None)
    if callable(close):
        close()


class FrameBackend:
    """Serves OpenFrames / LoadFrame / LoadThumbnail requests in the loader thread."""

    def __init__(self, frames_factory: FramesFactory) -> None:
        self._factory = frames_factory
        self._frames: FrameSource | None = None
        self._spec: m.SourceSpec | None = None
        self._info: m.SourceInfo | None = None

    def handle(self, request: object, emit: Emit) -> None:
        try:
            self._dispatch(request, emit)
        except Exception as exc:  # reported to the user; the loader lives on
            emit(m.Failed(request, exc))

    def close(self) -> None:
        if self._frames is not None:
            _close(self._frames)
        self._frames = None
        self._info = None

    def _dispatch(self, request: object, emit: Emit) -> None:
        if isinstance(request, m.OpenFrames):
            # Open the new source before letting the old one go: a file that fails to open
            # leaves the clip on screen scrubbable.
            frames = self._factory(request.spec)
            try:
                info = source_info(request.spec, frames)
            except BaseException:
                _close(frames)
                raise
            self.close()
            self._frames, self._spec, self._info = frames, request.spec, info
            emit(m.FramesOpened(info))
            return
        if self._frames is None or self._info is None or self._spec is None:
            return  # a late request for a source that failed to open or was closed
        if isinstance(request, m.LoadFrame):
            if 0 <= request.index < self._info.num_frames:
                image = self._read(request.index)
                emit(m.FrameLoaded(request.index, image))
        elif isinstance(request, m.LoadThumbnail):
            if 0 <= request.index < self._info.num_frames:
                image = self._read(request.index)
                emit(m.ThumbnailLoaded(request.index, thumbnail(image, request.height)))
        else:
            raise TypeError(f"the frame loader cannot serve {type(request).__name__}")

    def _read(self, index: int) -> np.ndarray:
        assert self._frames is not None and self._info is not None and self._spec is not None
        image = np.asarray(self._frames[index])
        check_frame(image, index, self._info.frame_size, self._spec)
        return image
