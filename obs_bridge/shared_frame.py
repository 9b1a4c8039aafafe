"""A size-1 "latest frame" buffer shared with the stream server process through a file
mapping (``/dev/shm`` where it exists).

The writer (the compositor) alternates between two frame slots and then publishes a
sequence number; the reader copies the slot of the newest number and checks the number
afterwards, retrying in the rare case the writer lapped it (a sequence lock). Nothing ever
queues: a slow reader simply gets the newest frame next time. The same mapping carries the
server's counters and last error back to the parent. Only the standard library and numpy
are used, so the server process stays small.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from pathlib import Path

import numpy as np

_HEADER = 64  # int64 seq, float64 stamp (rest reserved)
N_COUNTERS = 16
_COUNTERS = N_COUNTERS * 8
_ERROR = 512  # int64 length + utf-8 text


def _shm_dir() -> str:
    return (
        "/dev/shm"
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
        else (tempfile.gettempdir())
    )


class SharedFrameBuffer:
    """``width``×``height`` RGBA frames in a mapped file; one writer, one reader."""

    def __init__(self, path: str | Path, width: int, height: int) -> None:
        self.path = Path(path)
        self.width, self.height = width, height
        self.frame_bytes = width * height * 4
        size = _HEADER + _COUNTERS + _ERROR + 2 * self.frame_bytes
        with open(self.path, "r+b") as fh:
            self._map = mmap.mmap(fh.fileno(), size)
        buf = memoryview(self._map)
        self._seq = np.frombuffer(buf, np.int64, 1, 0)
        self._stamp = np.frombuffer(buf, np.float64, 1, 8)
        self.counters = np.frombuffer(buf, np.float64, N_COUNTERS, _HEADER)
        self._err_len = np.frombuffer(buf, np.int64, 1, _HEADER + _COUNTERS)
        self._err = np.frombuffer(buf, np.uint8, _ERROR - 8, _HEADER + _COUNTERS + 8)
        base = _HEADER + _COUNTERS + _ERROR
        self._slots = [
            np.frombuffer(buf, np.uint8, self.frame_bytes, base + i * self.frame_bytes).reshape(
                height, width, 4
            )
            for i in (0, 1)
        ]

    @classmethod
    def create(cls, width: int, height: int) -> SharedFrameBuffer:
        """A new zeroed mapping in a private temporary file (removed by :meth:`unlink`)."""
        size = _HEADER + _COUNTERS + _ERROR + 2 * width * height * 4
        fd, name = tempfile.mkstemp(prefix="etam-frames-", dir=_shm_dir())
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        return cls(name, width, height)

    # -- writer ---------------------------------------------------------------------------
    def put(self, rgba: np.ndarray, stamp: float = 0.0) -> int:
        """Copy ``rgba`` (H, W, 4) uint8 in and publish it; returns its sequence number."""
        if rgba.shape != (self.height, self.width, 4) or rgba.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 {(self.height, self.width, 4)}, got {rgba.dtype} {rgba.shape}"
            )
        seq = int(self._seq[0]) + 1
        np.copyto(self._slots[seq % 2], rgba)
        self._stamp[0] = stamp
        self._seq[0] = seq  # publish last
        return seq

    # -- reader ---------------------------------------------------------------------------
    @property
    def seq(self) -> int:
        return int(self._seq[0])

    def latest(self, after: int) -> tuple[int, float, np.ndarray] | None:
        """``(seq, stamp, copy)`` of the newest frame if newer than ``after``, else None."""
        for _ in range(8):
            seq = int(self._seq[0])
            if seq <= after:
                return None
            stamp = float(self._stamp[0])
            frame = self._slots[seq % 2].copy()
            if int(self._seq[0]) - seq < 2:  # the writer did not reuse our slot meanwhile
                return seq, stamp, frame
        return None

    # -- status from the server -----------------------------------------------------------
    def set_error(self, text: str) -> None:
        data = np.frombuffer(text.encode("utf-8", "replace")[: self._err.size], np.uint8)
        self._err[: data.size] = data
        self._err_len[0] = data.size

    def error(self) -> str | None:
        n = int(self._err_len[0])
        return bytes(self._err[:n]).decode("utf-8", "replace") if n else None

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        # Drop our array views first: mmap refuses to close while buffers are exported.
        self._seq = self._stamp = self.counters = self._err_len = self._err = None  # type: ignore
        self._slots = []
        with contextlib.suppress(BufferError):  # a caller still holds a view: the mapping
            self._map.close()  # then goes when that view does

    def unlink(self) -> None:
        self.path.unlink(missing_ok=True)
