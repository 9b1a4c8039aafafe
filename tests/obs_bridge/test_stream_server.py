"""The stream server process listens from start to stop: OBS's Media Source can connect
before the first frame, between two clients, at any moment — never a refused connection
(OBS 29 can give up for good after one; see ``stream_child.listen``)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import numpy as np
import pytest

from etam_plugin.obs_bridge.stream_server import StreamServer

pytestmark = [pytest.mark.realtool]

W, H = 64, 48


def _frame(value: int) -> np.ndarray:
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = value
    rgba[..., 3] = 255 - value
    return rgba


def _decode(url: str, frames: int) -> np.ndarray:
    """One attempt, no retry: ``frames`` RGBA frames read by the ffmpeg CLI."""
    cmd = ["ffmpeg", "-v", "error", "-f", "nut", "-i", url, "-frames:v", str(frames),
           "-f", "rawvideo", "-pix_fmt", "rgba", "-"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return np.frombuffer(out.stdout, np.uint8).reshape(frames, H, W, 4)


def test_clients_are_never_refused_and_get_the_frames() -> None:
    server = StreamServer(W, H, 30.0)
    server.start()
    stop = threading.Event()

    def feed() -> None:
        value = 0
        while not stop.is_set():
            server.put(_frame(value % 200))
            value += 1
            time.sleep(1 / 60)

    try:
        # before any frame exists: the connection is accepted (kept until frames come)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5):
            pass
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        for _ in range(3):  # one reader after another, each on its first try
            frames = _decode(server.url, 5)
            assert (frames[..., 0].astype(int) + frames[..., 3] == 255).all()
            assert frames[..., 1].max() == 0  # the colour as put, straight alpha
        # a burst of connections while earlier ones are being torn down
        for _ in range(30):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.settimeout(5)
                assert s.recv(4), "the server accepted but sent nothing"
        status = server.status()
        assert status.connections >= 34 and status.sent > 0
    finally:
        stop.set()
        server.stop()
    with pytest.raises(OSError):  # stopped: the port is closed again
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
