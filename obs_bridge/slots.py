"""Size-1 "latest value" slots that join the bridge's stages.

A producer never waits for a consumer and nothing queues up: a value that nobody took
before the next one arrived is dropped and counted. Stale frames are worth nothing live, and
a growing queue would turn a slow stage into growing latency.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class SlotClosed(Exception):
    """Raised by :meth:`LatestSlot.get` once the slot is closed (the pipeline is stopping)."""


class LatestSlot(Generic[T]):
    """Holds the newest value only; readers wait for a value newer than the one they saw.

    Every ``put`` gets a sequence number (1, 2, …). ``get(after=n)`` returns the newest
    value with a sequence number above ``n`` — so each reader keeps its own position and
    several readers can watch one slot. ``dropped`` counts values overwritten before any
    reader took them.
    """

    def __init__(self, name: str = "slot") -> None:
        self.name = name
        self._cond = threading.Condition()
        self._value: T | None = None
        self._seq = 0
        self._taken_seq = 0
        self._dropped = 0
        self._closed = False

    def put(self, value: T) -> int:
        """Replace the held value; returns its sequence number."""
        with self._cond:
            if self._closed:
                raise SlotClosed(self.name)
            if self._seq > self._taken_seq:
                self._dropped += 1
            self._value = value
            self._seq += 1
            self._cond.notify_all()
            return self._seq

    def get(self, after: int = 0, timeout: float | None = None) -> tuple[int, T] | None:
        """Wait for a value with sequence number > ``after``; ``None`` on timeout.

        Returns ``(seq, value)``. Raises :class:`SlotClosed` when closed while waiting.
        """
        with self._cond:
            ok = self._cond.wait_for(lambda: self._closed or self._seq > after, timeout)
            if self._closed:
                raise SlotClosed(self.name)
            if not ok:
                return None
            self._taken_seq = self._seq
            return self._seq, self._value  # type: ignore[return-value]

    def peek(self) -> tuple[int, T | None]:
        """The current ``(seq, value)`` without waiting and without marking it taken."""
        with self._cond:
            return self._seq, self._value

    def close(self) -> None:
        """Wake every waiting reader with :class:`SlotClosed`; later puts raise too."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def dropped(self) -> int:
        """Values replaced before any reader took them."""
        return self._dropped
