"""Optional output: a virtual camera through pyvirtualcam, for apps other than OBS.

pyvirtualcam is not a dependency: it is imported only when a virtual camera is asked for,
and needs a virtual camera device on the platform (v4l2loopback on Linux, OBS's virtual
camera on Windows/macOS). Virtual cameras carry no alpha, so the RGBA frame is composited
over a flat background colour first.
"""

from __future__ import annotations

import numpy as np

from etam_plugin.errors import StreamError


class VirtualCameraSink:
    """Sends each composited frame to a virtual camera (alpha flattened onto ``background``)."""

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        *,
        device: str | None = None,
        background: tuple[int, int, int] = (0, 177, 64),
    ) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise StreamError(
                "a virtual camera needs the optional package pyvirtualcam "
                "(pip install pyvirtualcam) and a virtual camera device "
                "(Linux: the v4l2loopback kernel module)"
            ) from None
        try:
            self._cam = pyvirtualcam.Camera(
                width, height, fps, device=device, fmt=pyvirtualcam.PixelFormat.RGB
            )
        except Exception as exc:  # pyvirtualcam raises RuntimeError when no device exists
            raise StreamError(f"cannot open a virtual camera: {exc}") from None
        self._bg = np.asarray(background, np.float32)
        self.device = self._cam.device

    def put(self, rgba: np.ndarray, stamp: float = 0.0) -> None:
        a = rgba[..., 3:4].astype(np.float32) * np.float32(1 / 255)
        rgb = rgba[..., :3] * a + self._bg * (1 - a)
        self._cam.send(rgb.astype(np.uint8))

    def close(self) -> None:
        self._cam.close()
