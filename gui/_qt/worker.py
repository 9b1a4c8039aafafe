"""Workers that own something slow (the tracking session, a frame decoder) in their own thread.

A worker is a QObject moved to a QThread. The GUI sends requests with a queued signal; the
worker's slot only files them in a newest-wins mailbox and schedules one serve, so a burst
of requests that arrives while it computes collapses to the latest before anything runs.
Results go back with the ``resultReady`` queued signal. Long work (tracking) is cancelled
cooperatively with a ``threading.Event`` the GUI sets directly, since the worker's event loop
is busy while it runs. Nothing here calls ``processEvents()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from etam_plugin.gui.components.mailbox import Mailbox

Handler = Callable[[object, Callable[[object], None]], None]


class MailboxWorker(QObject):
    """Serves requests one at a time with ``handle(request, emit)`` in its thread."""

    resultReady = Signal(object)
    requested = Signal(object, int)  # request, priority (emit from the GUI thread)
    _kick = Signal()

    def __init__(self, handle: Handler, close: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._handle = handle
        self._close = close
        self.mailbox: Mailbox[object] = Mailbox()
        self._scheduled = False
        self.thread_ident: int | None = None
        self.served = 0
        self.requested.connect(self._on_requested)
        # queued even from the worker's own thread: the serve runs after pending deliveries
        self._kick.connect(self._on_kick, Qt.ConnectionType.QueuedConnection)

    def submit(self, request: object, priority: int = 0) -> None:
        """Queue ``request`` from any thread (the signal carries it to the worker thread)."""
        self.requested.emit(request, priority)

    @Slot(object, int)
    def _on_requested(self, request: object, priority: int) -> None:
        self.mailbox.put(request, key=getattr(request, "key", None), priority=priority)
        if not self._scheduled:
            self._scheduled = True
            self._kick.emit()  # queued: runs after the requests already waiting are filed

    @Slot()
    def _on_kick(self) -> None:
        self._scheduled = False
        self.thread_ident = threading.get_ident()
        request = self.mailbox.pop()
        if request is None:
            return
        self._handle(request, self.resultReady.emit)
        self.served += 1
        if len(self.mailbox) and not self._scheduled:
            self._scheduled = True
            self._kick.emit()

    @Slot()
    def _on_finished(self) -> None:
        if self._close is not None:
            self._close()


class WorkerThread:
    """Owns the QThread of one worker: start on construction, ``stop()`` to join it."""

    def __init__(self, worker: MailboxWorker, name: str) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Drop pending requests, let the current one finish, join. Returns whether joined."""
        if not self.thread.isRunning():
            return True
        self.worker.mailbox.clear()
        self.thread.quit()
        joined = self.thread.wait(timeout_ms)
        if joined:
            self.worker._on_finished()  # the thread is gone: closing here is race-free
        return joined
