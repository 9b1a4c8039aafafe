"""A thread-safe request box where the newest request wins.

The GUI may ask faster than a worker computes (a burst of clicks, a fast scrub). Each request
has an optional key; a new request drops the pending one with the same key, so only the latest
is computed, and it moves to the back so requests with other keys keep their order (an object
added before a prompt on it is still added first). Lower ``priority`` values are served first
(a frame for the viewer before thumbnails).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    priority: int
    seq: int
    key: Hashable | None
    item: T


class Mailbox(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry[T]] = []
        self._seq = itertools.count()
        self.superseded = 0
        """How many requests were dropped because a newer one with the same key came."""

    def put(self, item: T, key: Hashable | None = None, priority: int = 0) -> T | None:
        """Queue ``item``; returns the pending item it replaced, if any."""
        with self._lock:
            dropped = None
            if key is not None:
                for i, entry in enumerate(self._entries):
                    if entry.key == key:
                        dropped = self._entries.pop(i).item
                        self.superseded += 1
                        break
            self._entries.append(_Entry(priority, next(self._seq), key, item))
            return dropped

    def pop(self) -> T | None:
        """The next item to serve, or None when empty."""
        with self._lock:
            if not self._entries:
                return None
            best = min(
                range(len(self._entries)),
                key=lambda i: (self._entries[i].priority, self._entries[i].seq),
            )
            return self._entries.pop(best).item

    def discard(self, predicate: Callable[[Any], bool]) -> list[T]:
        """Remove and return the pending items for which ``predicate(item)`` is true."""
        with self._lock:
            kept, gone = [], []
            for entry in self._entries:
                (gone if predicate(entry.item) else kept).append(entry)
            self._entries = kept
            return [e.item for e in gone]

    def clear(self) -> list[T]:
        return self.discard(lambda _item: True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
