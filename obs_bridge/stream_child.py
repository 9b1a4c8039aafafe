"""The stream server process: accept OBS, send it the newest frames, accept it again.

One reader at a time, the newest: a client that connects while another is served replaces it
(OBS re-created its deleted source, whose old player may never let go).

Started by :class:`~etam_plugin.obs_bridge.stream_server.StreamServer` as
``python -m etam_plugin.obs_bridge.stream_child ...``; it imports only the standard
library, numpy, PyAV and the shared buffer, so it stays small (importing the package's
errors would pull the model, and torch, into it). Frames arrive through a
:class:`SharedFrameBuffer`; one byte on the ``--notify-fd`` pipe per new frame wakes it, and
the pipe's end (the parent closed it or died) stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import time
from fractions import Fraction

from etam_plugin.obs_bridge.shared_frame import SharedFrameBuffer

# Indexes into SharedFrameBuffer.counters.
SENT, SKIPPED, CONNECTS, CONNECTED, ERRORS, WRITE_MS, ALIVE = range(7)


class _Notify:
    """Waits for the parent's "new frame" bytes; ``closed`` once the pipe has ended."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False

    def wait(self, timeout: float) -> None:
        if self.closed:
            return
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready and not os.read(self.fd, 4096):
            self.closed = True


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, open for the whole run.

    Why not ffmpeg's own ``tcp://…?listen=1``: it listens only while a write waits for a
    client, and between two listens the port is closed. OBS's Media Source meets a refused
    connection by reconnecting a second later — except when the refusal comes back before
    the source has finished creating its player (a race inside OBS 29's ffmpeg_source, seen
    under CPU load): then it never tries again. With the port always open a connection is
    never refused; it waits in the backlog until it is accepted.
    """
    server = socket.create_server((host, port), backlog=4)
    server.setblocking(False)
    return server


def _accept(server: socket.socket, notify: _Notify) -> socket.socket | None:
    """The next client, or None once the parent has closed the notify pipe."""
    while not notify.closed:
        ready, _, _ = select.select([server, notify.fd], [], [], 0.5)
        if notify.fd in ready:
            notify.wait(0)  # reads the wake-up byte, or finds the pipe closed
        if server in ready:
            try:
                conn, _addr = server.accept()
            except (BlockingIOError, InterruptedError):
                continue
            conn.setblocking(True)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn
    return None


def _waiting(server: socket.socket) -> bool:
    """Whether another client is waiting to be accepted (one syscall, no wait)."""
    ready, _, _ = select.select([server], [], [], 0)
    return bool(ready)


class _SocketWriter:
    """The file PyAV writes the stream to. Every byte must go out: a plain socket write may
    send only part of a frame when the reader is slower (OBS then sees damaged frames), so
    ``write`` is ``sendall``."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn

    def write(self, data: bytes) -> int:
        self._conn.sendall(data)
        return len(data)


def serve(buf: SharedFrameBuffer, server: socket.socket, fps: float, notify: _Notify) -> None:
    """Accept a client, stream frames to it until it goes, accept the next; until stopped."""
    import av

    c = buf.counters
    last_seq = 0
    while not notify.closed:
        conn = _accept(server, notify)
        if conn is None:
            return
        c[CONNECTED] = 1
        c[CONNECTS] += 1
        container = av.open(_SocketWriter(conn), "w", format="nut", buffer_size=1 << 20)
        stream = container.add_stream("rawvideo", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = buf.width, buf.height, "rgba"
        # Milliseconds of wall time: OBS plays a live stream by its timestamps. Set on the
        # codec and each frame explicitly: the muxer rewrites stream.time_base (1/64000).
        ms = Fraction(1, 1000)
        stream.time_base = stream.codec_context.time_base = ms
        t0: float | None = None
        last_pts = -1
        try:
            while not notify.closed:
                if _waiting(server):
                    # a newer reader replaces this one: OBS re-created its source (the old
                    # one, deleted, may read on for ever) or reconnects after a hang
                    buf.set_error("a new client replaced the previous one")
                    break
                got = buf.latest(last_seq)
                if got is None:
                    notify.wait(0.25)
                    continue
                seq, _stamp, rgba = got
                if t0 is not None and seq > last_seq + 1:  # a client reads, but slower
                    c[SKIPPED] += seq - last_seq - 1
                last_seq = seq
                now = time.monotonic()
                pts = 0 if t0 is None else max(last_pts + 1, int((now - t0) * 1000))
                last_pts = pts
                if t0 is None:
                    t0 = now  # the clock starts with the client's first frame
                frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
                frame.pts, frame.time_base = pts, ms
                w0 = time.perf_counter()
                for packet in stream.encode(frame):
                    container.mux(packet)
                c[WRITE_MS] = (time.perf_counter() - w0) * 1000.0
                c[SENT] += 1
        except Exception as exc:  # the client went away (or sent garbage): serve the next
            buf.set_error(f"client disconnected: {type(exc).__name__}: {exc}")
        finally:
            c[CONNECTED] = 0
            with contextlib.suppress(Exception):
                container.close()
            with contextlib.suppress(OSError):
                conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--buffer", required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--fps", type=float, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--notify-fd", type=int, required=True)
    args = p.parse_args(argv)
    buf = SharedFrameBuffer(args.buffer, args.width, args.height)
    try:
        server = listen(args.host, args.port)
    except OSError as exc:
        buf.set_error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        buf.counters[ERRORS] += 1
        buf.close()
        return 3
    buf.counters[ALIVE] = 1  # listening: a client that connects from now on is never refused
    try:
        serve(buf, server, args.fps, _Notify(args.notify_fd))
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        buf.counters[ALIVE] = 0
        buf.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
