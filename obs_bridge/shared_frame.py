"""A size-1 "latest frame" slot shared between processes (the stream server runs in its own).

The frame lives in one shared buffer guarded by a lock; writers overwrite it, the reader
waits for a newer sequence number. Like the in-process slots, nothing ever queues: if the
reader (the TCP stream to OBS) is slow, it simply gets the newest frame next time.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class SharedFrameSlot:
    """``width``×``height`` RGBA frames shared with a child process.

    Build it with :meth:`create` in the parent and hand it to the child as a
    ``Process`` argument (the synchronisation objects travel with it).
    """

    width: int
    height: int
    _buffer: Any
    _cond: Any
    _seq: Any  # shared int64: sequence number of the frame in the buffer
    _stamp: Any  # shared double: its capture time (time.monotonic of the parent)

    @classmethod
    def create(cls, width: int, height: int, ctx: Any = None) -> SharedFrameSlot:
        ctx = ctx or mp.get_context("spawn")
        buf = ctx.RawArray("B", width * height * 4)
        return cls(
            width,
            height,
            buf,
            ctx.Condition(ctx.Lock()),
            ctx.RawValue("q", 0),
            ctx.RawValue("d", 0.0),
        )

    def _view(self) -> np.ndarray:
        return np.frombuffer(self._buffer, dtype=np.uint8).reshape(self.height, self.width, 4)

    def put(self, rgba: np.ndarray, stamp: float = 0.0) -> int:
        """Copy ``rgba`` (H, W, 4) uint8 in; returns its sequence number."""
        if rgba.shape != (self.height, self.width, 4) or rgba.dtype != np.uint8:
            raise ValueError(
                f"frame must be uint8 {(self.height, self.width, 4)}, got {rgba.dtype} {rgba.shape}"
            )
        with self._cond:
            np.copyto(self._view(), rgba)
            self._seq.value += 1
            self._stamp.value = stamp
            self._cond.notify_all()
            return int(self._seq.value)

    def get(self, after: int, timeout: float) -> tuple[int, float, np.ndarray] | None:
        """Wait up to ``timeout`` s for a frame newer than ``after``: ``(seq, stamp, copy)``."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq.value > after, timeout):
                return None
            return int(self._seq.value), float(self._stamp.value), self._view().copy()

    @property
    def seq(self) -> int:
        return int(self._seq.value)
