"""Output to OBS: RGBA frames with straight alpha over loopback TCP (NUT, rawvideo rgba).

OBS's Media Source (ffmpeg_source) connects to ``tcp://127.0.0.1:PORT`` and keeps its alpha
intact (``notes/obs-headless.md``). PyAV's listening socket blocks in accept and in writes
while holding the GIL, so the server runs in its own process; frames reach it through a
shared "latest frame" slot, so a slow or absent reader never stalls the pipeline. When OBS
goes away (closed, crashed, restarted) the server notices on the next write and listens
again; OBS's media source reconnects by itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import socket
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from etam_plugin.errors import StreamError
from etam_plugin.obs_bridge.shared_frame import SharedFrameSlot

log = logging.getLogger(__name__)

# Counters shared with the server process (indexes into a RawArray of doubles).
_SENT, _SKIPPED, _CONNECTS, _CONNECTED, _ERRORS, _WRITE_MS, _ALIVE = range(7)
_N_COUNTERS = 7
_ERR_LEN = 400


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

    ``put(rgba, stamp)`` from the compositor (a memory copy, never blocks on the network);
    ``status()`` for the status line; ``stop()`` ends the process.
    """

    def __init__(
        self, width: int, height: int, fps: float, *, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.host = host
        self.port = port or free_port(host)
        self._ctx = mp.get_context("spawn")
        self._slot = SharedFrameSlot.create(width, height, self._ctx)
        self._counters = self._ctx.RawArray("d", _N_COUNTERS)
        self._error = self._ctx.Array("c", _ERR_LEN)
        self._stop = self._ctx.Event()
        self._proc: Any = None

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start the server process; raises :class:`StreamError` if it cannot serve."""
        _check_port(self.host, self.port)
        self._proc = self._ctx.Process(
            target=serve,
            args=(
                self._slot,
                self.host,
                self.port,
                self.fps,
                self._stop,
                self._counters,
                self._error,
            ),
            name=f"etam-stream-{self.port}",
            daemon=True,
        )
        self._proc.start()
        deadline = time.monotonic() + timeout
        while self._counters[_ALIVE] == 0:
            if not self._proc.is_alive():
                raise StreamError(
                    f"the stream server process exited at start (code {self._proc.exitcode})",
                    port=self.port,
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StreamError("the stream server process did not start", port=self.port)
            time.sleep(0.02)

    def put(self, rgba: np.ndarray, stamp: float = 0.0) -> None:
        self._slot.put(rgba, stamp)

    def status(self) -> StreamStatus:
        c = self._counters
        err = self._error.value.decode("utf-8", "replace") or None
        running = self._proc is not None and self._proc.is_alive()
        return StreamStatus(
            url=self.url,
            running=running,
            connected=running and bool(c[_CONNECTED]),
            connections=int(c[_CONNECTS]),
            sent=int(c[_SENT]),
            skipped=int(c[_SKIPPED]),
            errors=int(c[_ERRORS]),
            last_write_ms=round(float(c[_WRITE_MS]), 3),
            last_error=err,
        )

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def stop(self, timeout: float = 3.0) -> None:
        if self._proc is None:
            return
        self._stop.set()
        self._proc.join(timeout)
        if self._proc.is_alive():  # stuck in a blocking write to a frozen client
            self._proc.terminate()
            self._proc.join(timeout)
        self._proc = None


# -- the child process ----------------------------------------------------------------------
def _set_error(error: Any, text: str) -> None:
    data = text.encode("utf-8", "replace")[: _ERR_LEN - 1]
    with error.get_lock():
        error.value = data


def serve(
    slot: SharedFrameSlot,
    host: str,
    port: int,
    fps: float,
    stop: Any,
    counters: Any,
    error: Any,
) -> None:
    """Child process: accept a client, stream frames to it until it goes, listen again."""
    import av

    parent = mp.parent_process()
    counters[_ALIVE] = 1
    url = f"tcp://{host}:{port}?listen=1&listen_timeout=500"
    last_seq = 0
    while not stop.is_set() and (parent is None or parent.is_alive()):
        container = av.open(url, "w", format="nut")
        stream = container.add_stream("rawvideo", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = slot.width, slot.height, "rgba"
        # Milliseconds of wall time: OBS plays a live stream by its timestamps. Set on the
        # codec and each frame explicitly: the muxer rewrites stream.time_base (1/64000).
        ms = Fraction(1, 1000)
        stream.time_base = stream.codec_context.time_base = ms
        t0: float | None = None
        last_pts = -1
        try:
            while not stop.is_set():
                got = slot.get(last_seq, timeout=0.25)
                if got is None:
                    if parent is not None and not parent.is_alive():
                        return
                    continue
                seq, _stamp, rgba = got
                if t0 is not None and seq > last_seq + 1:  # a client is reading but slower
                    counters[_SKIPPED] += seq - last_seq - 1
                last_seq = seq
                now = time.monotonic()
                pts = 0 if t0 is None else max(last_pts + 1, int((now - t0) * 1000))
                last_pts = pts
                frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
                frame.pts, frame.time_base = pts, ms
                w0 = time.perf_counter()
                for packet in stream.encode(frame):
                    container.mux(packet)  # the first one waits for the client (accept)
                if t0 is None:
                    t0 = time.monotonic()  # the clock starts once a client is there
                    counters[_CONNECTED] = 1
                    counters[_CONNECTS] += 1
                counters[_WRITE_MS] = (time.perf_counter() - w0) * 1000.0
                counters[_SENT] += 1
        except av.error.TimeoutError:
            pass  # nobody connected within listen_timeout: listen again
        except (av.error.FFmpegError, OSError) as exc:
            if counters[_CONNECTED]:
                _set_error(error, f"client disconnected: {exc}")
            else:
                counters[_ERRORS] += 1
                _set_error(error, f"cannot serve {host}:{port}: {exc}")
                time.sleep(0.5)
        finally:
            counters[_CONNECTED] = 0
            with contextlib.suppress(Exception):
                container.close()
