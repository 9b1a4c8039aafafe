"""Output to OBS: RGBA frames with straight alpha over loopback TCP (NUT, rawvideo rgba).

OBS's Media Source (ffmpeg_source) connects to ``tcp://127.0.0.1:PORT`` and keeps its alpha
intact: a screenshot of the scene shows alpha 0 where the frames have it and their colour
where alpha is 255 (``tests/obs_bridge/test_obs_real.py`` checks this in a real OBS).
Writing megabytes a frame to a socket would hold this process's GIL, so the server runs in
its own process, listening from start to stop (a connection is never refused: see
``stream_child.listen``); frames reach it through a shared "latest frame" slot, so a slow
or absent reader never stalls the pipeline. When OBS goes away (closed, crashed,
restarted) the server notices on the next write and accepts the next connection; OBS's
media source reconnects by itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np

from etam_plugin.errors import StreamError
from etam_plugin.obs_bridge.shared_frame import SharedFrameBuffer
from etam_plugin.obs_bridge.stream_child import (
    ALIVE,
    CONNECTED,
    CONNECTS,
    ERRORS,
    SENT,
    SKIPPED,
    WRITE_MS,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamStatus:
    """The stream server's state: is a client (OBS) reading, and how many frames went out."""

    url: str
    running: bool
    connected: bool
    connections: int
    sent: int
    skipped: int
    errors: int
    last_write_ms: float
    last_error: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise StreamError(
                f"cannot stream on {host}:{port}: {exc.strerror or exc}; "
                "choose another port or stop the program using it",
                port=port,
            ) from None


class StreamServer:
    """Serves the newest RGBA frame to one TCP client at a time, from a child process.

    ``put(rgba, stamp)`` from the compositor (a memory copy and a one-byte wake-up, never
    blocks on the network); ``status()`` for the status line; ``stop()`` ends the process.
    """

    def __init__(
        self, width: int, height: int, fps: float, *, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.host = host
        self.port = port or free_port(host)
        self._buf: SharedFrameBuffer | None = None
        self._proc: subprocess.Popen | None = None
        self._notify_w: int | None = None
        self._final: StreamStatus | None = None
        self._lock = threading.Lock()  # put/status vs stop closing the buffer

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start the server process; raises :class:`StreamError` if it cannot serve."""
        _check_port(self.host, self.port)
        self._buf = SharedFrameBuffer.create(self.width, self.height)
        read_fd, self._notify_w = os.pipe()
        os.set_blocking(self._notify_w, False)
        cmd = [
            sys.executable,
            "-m",
            "etam_plugin.obs_bridge.stream_child",
            "--buffer",
            str(self._buf.path),
            "--width",
            str(self.width),
            "--height",
            str(self.height),
            "--fps",
            repr(float(self.fps)),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--notify-fd",
            str(read_fd),
        ]
        try:
            self._proc = subprocess.Popen(cmd, pass_fds=(read_fd,), stdin=subprocess.DEVNULL)
        finally:
            os.close(read_fd)
        deadline = time.monotonic() + timeout
        while self._buf.counters[ALIVE] == 0:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                why = self._buf.error()
                self.stop()
                raise StreamError(
                    f"the stream server process exited at start (code {code})"
                    + (f": {why}" if why else ""),
                    port=self.port,
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StreamError("the stream server process did not start", port=self.port)
            time.sleep(0.02)
        # Both processes have it mapped now: drop the name, so nothing is left behind in
        # /dev/shm even if this process is killed.
        self._buf.unlink()

    def put(self, rgba: np.ndarray, stamp: float = 0.0) -> None:
        with self._lock:
            if self._buf is None or self._notify_w is None:
                raise StreamError("the stream server is not running", port=self.port)
            self._buf.put(rgba, stamp)
            with contextlib.suppress(BlockingIOError):  # pipe full: it is awake anyway
                os.write(self._notify_w, b"\x01")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def status(self) -> StreamStatus:
        with self._lock:
            return self._status()

    def _status(self) -> StreamStatus:
        running = self.running
        if self._buf is None:
            if self._final is not None:
                return StreamStatus(
                    **{**self._final.as_dict(), "running": False, "connected": False}
                )
            return StreamStatus(self.url, False, False, 0, 0, 0, 0, 0.0, None)
        c = self._buf.counters
        return StreamStatus(
            url=self.url,
            running=running,
            connected=running and bool(c[CONNECTED]),
            connections=int(c[CONNECTS]),
            sent=int(c[SENT]),
            skipped=int(c[SKIPPED]),
            errors=int(c[ERRORS]),
            last_write_ms=round(float(c[WRITE_MS]), 3),
            last_error=self._buf.error(),
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def stop(self, timeout: float = 3.0) -> None:
        """End the process (closing the pipe tells it to; killed if stuck) and free the
        shared buffer. The last status stays readable."""
        with self._lock:
            if self._notify_w is not None:
                os.close(self._notify_w)
                self._notify_w = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:  # stuck in a blocking write to a frozen client
                self._proc.kill()
                self._proc.wait(timeout)
        with self._lock:
            if self._buf is not None:
                self._final = self._status()
                self._buf.close()
                self._buf.unlink()
                self._buf = None
