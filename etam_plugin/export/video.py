"""Shared PyAV plumbing for the movie-file writers (ProRes, FFV1, VP9).

Keeps an output frame-exact with its source: time base 1/rate (so pts = frame number, and
29.97 stays 30000/1001), the start timecode as container metadata (MOV turns it into a
``tmcd`` track, Matroska into a TIMECODE tag), pixel aspect ratio and colour tags copied
from the source.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

import av
import numpy as np

from etam_plugin.errors import ExportError
from etam_plugin.export.atomic import StagedFile
from etam_plugin.export.base import MatteWriter
from etam_plugin.export.colour import ColourTags

MPEG, JPEG = 1, 2  # AVCOL_RANGE_* (limited "tv", full "pc")


def plane_view(frame: av.VideoFrame, index: int, dtype: type = np.uint8) -> np.ndarray:
    """Writable (H, W) numpy view of one plane of a PyAV frame (without line padding)."""
    plane = frame.planes[index]
    item = np.dtype(dtype).itemsize
    rows = np.frombuffer(plane, dtype=dtype).reshape(plane.height, plane.line_size // item)
    return rows[:, : plane.width]


class AvVideoWriter(MatteWriter):
    """Base for writers that encode one video stream with PyAV into a staged file."""

    codec: ClassVar[str]
    pix_fmt: ClassVar[str]
    container_format: ClassVar[str]  # FFmpeg muxer name: the staged file has no extension
    suffixes: ClassVar[tuple[str, ...]]
    color_range: ClassVar[int] = MPEG
    io_errors = (OSError, av.FFmpegError)

    def codec_options(self) -> dict[str, str]:
        return {}

    @classmethod
    def target(cls, path: str | Path, *, make_parents: bool = False) -> Path:
        """A file with one of this format's extensions (see :meth:`MatteWriter.target`)."""
        target = Path(path)
        if target.suffix.lower() not in cls.suffixes:
            raise ExportError(
                f"{cls.format_name} writes {'/'.join(cls.suffixes)} files, not "
                f"{target.suffix or 'a name without extension'}: {target}",
                path=target,
            )
        return super().target(target, make_parents=make_parents)

    def _open(self) -> None:
        self.target(self.path)
        spec = self.spec
        self._colour = ColourTags.for_source(
            spec.height, spec.color_space, spec.color_primaries, spec.color_trc
        )
        self._staged = StagedFile(self.path)
        self._container = av.open(
            str(self._staged.tmp), "w", format=self.container_format, options=self.mux_options()
        )
        stream = self._container.add_stream(self.codec, rate=spec.frame_rate)
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = self.pix_fmt
        # The muxer may change stream.time_base when it writes its header (MOV: 1/30000);
        # frames are stamped in 1/rate and PyAV rescales them.
        self._time_base = 1 / spec.frame_rate
        stream.time_base = self._time_base
        cc = stream.codec_context
        cc.sample_aspect_ratio = spec.sample_aspect_ratio
        cc.color_range = self.color_range
        self._colour.apply(cc)
        cc.thread_count = 0  # all cores
        stream.options = self.codec_options()
        for key, value in self.stream_metadata().items():
            stream.metadata[key] = value
        if spec.start_timecode:
            stream.metadata["timecode"] = spec.start_timecode
        self._container.metadata["comment"] = (
            f"etam-plugin {self.format_name} matte; alpha is straight (unassociated)"
        )
        self._stream = stream

    def mux_options(self) -> dict[str, str]:
        return {}

    def stream_metadata(self) -> dict[str, str]:
        return {}

    def _tag(self, frame: av.VideoFrame) -> av.VideoFrame:
        frame.color_range = self.color_range
        self._colour.apply(frame)
        return frame

    def rgb_to(self, rgb: np.ndarray, pix_fmt: str) -> av.VideoFrame:
        """RGB → Y'CbCr with the matrix the output is tagged with (limited range)."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        return frame.reformat(
            format=pix_fmt,
            dst_colorspace=self._colour.matrix,
            dst_color_range="MPEG",
        )

    def make_frame(self, rgb: np.ndarray | None, matte: np.ndarray) -> av.VideoFrame:
        raise NotImplementedError

    def _write(self, frame_index: int, rgb: np.ndarray | None, matte: np.ndarray) -> None:
        frame = self._tag(self.make_frame(rgb, matte))
        frame.pts = frame_index - self.spec.first_frame
        frame.time_base = self._time_base
        self._container.mux(self._stream.encode(frame))

    def _finish(self) -> Path:
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._staged.commit()

    def _discard(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            # already failing: a close error changes nothing, the staged file goes next
            with contextlib.suppress(Exception):
                container.close()
        staged: Any = getattr(self, "_staged", None)
        if staged is not None:
            staged.discard()
