"""``export_mattes``: the one call the CLI and the panel make to write a matte output."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from etam_plugin.errors import CancelledError, ExportFrameError
from etam_plugin.export.base import OutputSpec, ProgressCallback, writer_class
from etam_plugin.media.info import VideoInfo

#: Per-frame data, looked up by *source* frame index: a callable, a mapping, anything
#: indexable with ``len`` (a media ``FrameSource``, a list, an array: ``feed[i]``), or an
#: iterator of ``(frame_index, array)`` pairs in order (extra leading frames are skipped).
FrameFeed = (
    Callable[[int], np.ndarray]
    | Mapping[int, np.ndarray]
    | Sequence[np.ndarray]
    | Iterable[tuple[int, np.ndarray]]
)


class _Sequential:
    """Random access over an in-order ``(index, array)`` stream, refusing gaps and repeats."""

    def __init__(self, pairs: Iterable[tuple[int, np.ndarray]], what: str) -> None:
        self._it: Iterator[tuple[int, np.ndarray]] = iter(pairs)
        self._what = what

    def __call__(self, index: int) -> np.ndarray:
        for item in self._it:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ExportFrameError(
                    f"{self._what} iterables must yield (frame_index, array) pairs, "
                    f"got {type(item).__name__}",
                    frame_index=index,
                )
            i, value = item
            if i < index:
                continue
            if i > index:
                raise ExportFrameError(
                    f"{self._what} for frame {index} is missing (the next one is {i})",
                    frame_index=index, expected=index, found=i,
                )  # fmt: skip
            return value
        raise ExportFrameError(
            f"{self._what} ran out before frame {index}", frame_index=index, expected=index
        )


def _accessor(feed: FrameFeed, what: str) -> Callable[[int], np.ndarray]:
    if isinstance(feed, Mapping):
        mapping = feed

        def get(index: int) -> np.ndarray:
            try:
                return mapping[index]
            except KeyError:
                raise ExportFrameError(f"no {what} for frame {index}", frame_index=index) from None

        return get
    if callable(feed):
        return feed
    if hasattr(feed, "__getitem__") and hasattr(feed, "__len__"):
        indexable = feed

        def item(index: int) -> np.ndarray:
            value = indexable[index]  # type: ignore[index]
            if isinstance(value, tuple):
                raise ExportFrameError(
                    f"{what} sequences are indexed by frame number; for (index, array) pairs "
                    "pass an iterator (iter(pairs))",
                    frame_index=index,
                )
            return value

        return item
    return _Sequential(feed, what)


def export_mattes(
    frames: FrameFeed | None,
    info: VideoInfo,
    mattes: FrameFeed,
    fmt: str,
    out_path: str | Path,
    *,
    frame_range: tuple[int, int] | range | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    options: Mapping[str, Any] | None = None,
) -> Path:
    """Write source frames ``frame_range`` (``[start, stop)``, default all) of the clip
    described by ``info`` with their mattes as format ``fmt``; return the final path.

    ``frames`` gives the clip's RGB uint8 (H, W, 3) in display orientation — typically the
    media ``FrameSource`` itself (``open_source(path)``, with ``info=source.info``); it is
    not read at all for matte-only formats, and may then be None. ``mattes`` gives finished
    float32 (H, W) mattes in [0, 1] (see :data:`FrameFeed` for the accepted shapes).
    ``progress(done, total)`` is called after each frame. Setting ``cancel`` stops at the
    next frame with :class:`CancelledError`; on that or any error nothing is left at
    ``out_path`` (an older file there is kept).
    """
    spec = OutputSpec.from_video_info(info, frame_range)
    cls = writer_class(fmt)
    get_matte = _accessor(mattes, "matte")
    with cls(out_path, spec, **dict(options or {})) as writer:
        get_rgb = None
        if writer.needs_rgb:
            if frames is None:
                raise ExportFrameError(f"{fmt} needs the clip's frames", path=writer.path)
            get_rgb = _accessor(frames, "frame")
        for done, index in enumerate(range(spec.first_frame, spec.stop_frame), start=1):
            if cancel is not None and cancel.is_set():
                raise CancelledError(f"export to {writer.path} cancelled; nothing was written")
            rgb = get_rgb(index) if get_rgb is not None else None
            writer.write(index, rgb, get_matte(index))
            if progress is not None:
                progress(done, spec.frame_count)
        if cancel is not None and cancel.is_set():
            raise CancelledError(f"export to {writer.path} cancelled; nothing was written")
        return writer.commit()
