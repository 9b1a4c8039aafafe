"""The stream server process: accept OBS, send it the newest frames, listen again.

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


def serve(buf: SharedFrameBuffer, host: str, port: int, fps: float, notify: _Notify) -> None:
    """Accept a client, stream frames to it until it goes, listen again; until stopped."""
    import av

    c = buf.counters
    c[ALIVE] = 1
    url = f"tcp://{host}:{port}?listen=1&listen_timeout=500"
    last_seq = 0
    while not notify.closed:
        container = av.open(url, "w", format="nut")
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
                frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
                frame.pts, frame.time_base = pts, ms
                w0 = time.perf_counter()
                for packet in stream.encode(frame):
                    container.mux(packet)  # the first one waits for the client (accept)
                if t0 is None:
                    t0 = time.monotonic()  # the clock starts once a client is there
                    c[CONNECTED] = 1
                    c[CONNECTS] += 1
                c[WRITE_MS] = (time.perf_counter() - w0) * 1000.0
                c[SENT] += 1
        except av.error.TimeoutError:
            pass  # nobody connected within listen_timeout: listen again
        except (av.error.FFmpegError, OSError) as exc:
            if c[CONNECTED]:
                buf.set_error(f"client disconnected: {exc}")
            else:
                c[ERRORS] += 1
                buf.set_error(f"cannot serve {host}:{port}: {exc}")
                notify.wait(0.5)
        finally:
            c[CONNECTED] = 0
            with contextlib.suppress(Exception):
                container.close()


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
        serve(buf, args.host, args.port, args.fps, _Notify(args.notify_fd))
    except KeyboardInterrupt:
        pass
    finally:
        buf.counters[ALIVE] = 0
        buf.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
