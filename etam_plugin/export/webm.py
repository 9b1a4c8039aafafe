"""WebM VP9 with alpha, for OBS media sources and web overlays.

VP9 carries alpha as a second coded picture in Matroska BlockAdditions; the track's
``AlphaMode`` element (FFmpeg writes it from the stream tag ``alpha_mode=1``) is what
browsers and OBS look for. WebM alpha is straight (unassociated); we never premultiply.
Decoding the alpha needs the libvpx decoder (FFmpeg's native vp9 decoder drops it).
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from etam_plugin.errors import ExportError
from etam_plugin.export.base import quantize, register_writer
from etam_plugin.export.video import AvVideoWriter


@register_writer
class WebmVp9Writer(AvVideoWriter):
    """``.webm``, ``libvpx-vp9`` yuva420p, constant quality (``crf``, default 24)."""

    format_name = "webm"
    timeline_kind = "cutout"
    description = "WebM VP9 with straight alpha (.webm): for OBS and web overlays"
    codec = "libvpx-vp9"
    pix_fmt = "yuva420p"
    container_format = "webm"
    suffixes = (".webm",)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("crf", "speed")

    def _configure(self, crf: int = 24, speed: int = 4, **_: Any) -> None:
        if not 0 <= int(crf) <= 63 or not 0 <= int(speed) <= 8:
            raise ExportError(f"webm: crf must be 0..63 and speed 0..8, got {crf}, {speed}")
        self._crf, self._speed = int(crf), int(speed)

    def codec_options(self) -> dict[str, str]:
        return {
            "crf": str(self._crf),
            "b": "0",  # constant quality, no bitrate cap
            "deadline": "good",
            "cpu-used": str(self._speed),
            "row-mt": "1",
        }

    def stream_metadata(self) -> dict[str, str]:
        return {"alpha_mode": "1"}

    def make_frame(self, rgb: np.ndarray | None, matte: np.ndarray) -> av.VideoFrame:
        assert rgb is not None
        rgba = np.empty((self.spec.height, self.spec.width, 4), np.uint8)
        rgba[..., :3] = rgb
        rgba[..., 3] = quantize(matte, 255, np.uint8)
        frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
        return frame.reformat(
            format=self.pix_fmt, dst_colorspace=self._colour.matrix, dst_color_range="MPEG"
        )
