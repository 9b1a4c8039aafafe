"""The responsiveness harness: it catches a frozen GUI thread, and it runs the whole window
while the worker tracks (the number it reports is printed, not asserted: timing is a
benchmark, not a test; see tests/gui/measure_responsiveness.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gui_fake_session import FakeSessionFactory
from gui_frames import synthetic_clip
from PySide6.QtCore import QEventLoop, QTimer

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.responsiveness import TickGapMeter, measure_tracking
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.app import create_window

pytestmark = pytest.mark.gui


def test_the_meter_sees_a_frozen_gui_thread(qtbot) -> None:
    meter = TickGapMeter(5)
    meter.start()
    loop = QEventLoop()
    QTimer.singleShot(60, lambda: time.sleep(0.15))  # a slot that blocks the GUI thread
    QTimer.singleShot(400, loop.quit)
    loop.exec()
    report = meter.stop()
    assert report.max_gap_ms >= 140
    assert report.over_50ms >= 1
    assert report.ticks > 20


def test_tracking_in_the_window_keeps_the_timer_ticking(qtbot, clips, tmp_path: Path) -> None:
    clips.add(tmp_path / "long.mp4", synthetic_clip(40, 180, 320))
    w = create_window(
        PanelSettings.at(tmp_path / "p.ini"),
        FakeSessionFactory(delay_s=0.02, work="numpy"),
        clips,
    )
    w.show()
    try:
        w.open_path(tmp_path / "long.mp4")
        c = w.controller
        qtbot.waitUntil(lambda: c.session_state is SessionState.READY and c.displayed_frame == 0)
        c.add_point(80, 90)
        qtbot.waitUntil(lambda: c.masks.has(0, 1))
        report, finished = measure_tracking(c, "forward", scrub_every_ms=70, timeout_s=60)
        print(f"\nGUI tick gaps while tracking 40 frames: {report}")
        assert finished is not None and not finished.cancelled
        assert report.ticks > report.duration_s * 1000 / 50  # it ticked all along
    finally:
        w.controller.changes.reset()
        w.close()
