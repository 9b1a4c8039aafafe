"""Luma mattes: white = object, black = background, for an NLE's track matte / luma key.

ProRes 422 HQ is what Premiere, Resolve and Final Cut take without a second thought; it is
video range, so the matte spans Y' 64 (black) .. 940 (white) and an NLE reads that as 0..1.
ProRes 422 is lossy: soft edges come back within a few codes (measured ≤ 3 of 876), flat
black and white within one. FFV1 in Matroska is the lossless alternative (16-bit
full-range grey) for tools built on FFmpeg (Kdenlive, Shotcut) and for archiving.
"""

from __future__ import annotations

from typing import ClassVar

import av
import numpy as np

from etam_plugin.export.base import quantize, register_writer
from etam_plugin.export.video import JPEG, AvVideoWriter, plane_view


class _LumaWriter(AvVideoWriter):
    timeline_kind = "luma"

    @property
    def needs_rgb(self) -> bool:
        return False


@register_writer
class LumaProResWriter(_LumaWriter):
    """``.mov``, ``prores_ks`` profile HQ, 10-bit 4:2:2, Y' = 64 + 876·matte, neutral chroma."""

    format_name = "luma"
    description = "Luma matte, ProRes 422 HQ (.mov): white = object"
    codec = "prores_ks"
    pix_fmt = "yuv422p10le"
    container_format = "mov"
    suffixes = (".mov",)

    def codec_options(self) -> dict[str, str]:
        return {"profile": "hq", "vendor": "apl0"}

    def make_frame(self, rgb: np.ndarray | None, matte: np.ndarray) -> av.VideoFrame:
        out = av.VideoFrame(self.spec.width, self.spec.height, self.pix_fmt)
        plane_view(out, 0, np.uint16)[:] = quantize(matte, 876) + np.uint16(64)
        plane_view(out, 1, np.uint16)[:] = 512
        plane_view(out, 2, np.uint16)[:] = 512
        return out


@register_writer
class LumaFfv1Writer(_LumaWriter):
    """``.mkv``, FFV1 (lossless), 16-bit full-range grey: code = round(65535·matte)."""

    format_name = "luma-ffv1"
    description = "Luma matte, FFV1 lossless 16-bit grey (.mkv): white = object"
    codec = "ffv1"
    pix_fmt = "gray16le"
    container_format = "matroska"
    suffixes = (".mkv",)
    color_range: ClassVar[int] = JPEG

    def codec_options(self) -> dict[str, str]:
        # level 3 with slices: multithreaded and with per-slice CRCs (archival use).
        return {"level": "3", "slicecrc": "1", "g": "1"}

    def make_frame(self, rgb: np.ndarray | None, matte: np.ndarray) -> av.VideoFrame:
        out = av.VideoFrame(self.spec.width, self.spec.height, self.pix_fmt)
        plane_view(out, 0, np.uint16)[:] = quantize(matte, 65535)
        return out
