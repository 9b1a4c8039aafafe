"""How responsive the panel stays while the worker tracks: a precise timer on the GUI thread
ticks every few milliseconds and we record how late each tick comes. The longest gap is the
worst freeze a user would feel (goal: ≤ 50 ms)."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer

from etam_plugin.gui.components.gaps import GapRecorder, GapReport

if TYPE_CHECKING:
    from etam_plugin.gui._qt.controller import EditorController


class TickGapMeter(QObject):
    def __init__(self, interval_ms: int = 5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.recorder = GapRecorder(interval_ms)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self.recorder.reset()
        self.recorder.tick(time.perf_counter())
        self._timer.start()

    def stop(self) -> GapReport:
        self._timer.stop()
        self.recorder.tick(time.perf_counter())
        return self.recorder.report()

    def _on_timer_timeout(self) -> None:
        self.recorder.tick(time.perf_counter())


def measure_tracking(
    controller: EditorController,
    direction: str = "forward",
    *,
    interval_ms: int = 5,
    scrub_every_ms: int = 0,
    timeout_s: float = 600.0,
    seed: int = 0,
) -> tuple[GapReport, object]:
    """Track with ``controller`` (a clip open, a prompt set) while measuring tick gaps.

    ``scrub_every_ms`` > 0 also moves the playhead to a random frame that often, as a user
    scrubbing during tracking would. Waits in a local event loop (no ``processEvents``).
    Returns the gap report and the TrackingFinished message (None on timeout).
    """
    meter = TickGapMeter(interval_ms)
    loop = QEventLoop()
    finished: list[object] = []

    def on_finished(msg: object) -> None:
        finished.append(msg)
        loop.quit()

    rng = random.Random(seed)
    scrubber = QTimer()
    if scrub_every_ms > 0 and controller.info is not None:
        n = controller.info.num_frames
        scrubber.setInterval(scrub_every_ms)
        scrubber.timeout.connect(lambda: controller.seek(rng.randrange(n)))
    controller.trackingFinished.connect(on_finished)
    meter.start()
    try:
        if not controller.track(direction):
            raise RuntimeError("tracking did not start (no clip, no prompt, or already running)")
        if scrub_every_ms > 0:
            scrubber.start()
        QTimer.singleShot(round(timeout_s * 1000), loop.quit)
        loop.exec()
    finally:
        scrubber.stop()
        report = meter.stop()
        controller.trackingFinished.disconnect(on_finished)
    return report, finished[0] if finished else None
