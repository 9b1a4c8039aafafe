"""The panel end to end on the real parts: the real network (ti_512x512 with seeded random
weights in the official checkpoint layout, loaded by the panel's own model factory from the
weights folder), a real H.264 clip cut from ../shared/media and read by etam_plugin.media,
the real writers, ffprobe and OpenTimelineIO. Mouse and keys go through the window.

open → click → overlay → negative click changes it → undo restores it → track forward with
progress → scrub shows masks on later frames → correct a frame → re-track → export ProRes
4444 + .otio (ffprobe, OTIO re-read) → save, close, reopen → the same masks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_actions import click, key, shows
from gui_frames import decode_clip, write_clip
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.app import create_window
from etam_plugin.gui.components.recovery import RecoveryArea
from etam_plugin.model import FrameStatus
from etam_plugin.timeline import read_timeline
from tests.etam_plugin.export_helpers import ffmpeg_raw, ffprobe

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.realtool]
WAIT = 240_000
N, WIDTH = 10, 320
P, T, S = FrameStatus.PROMPTED, FrameStatus.TRACKED, FrameStatus.STALE


@pytest.fixture
def dog(media_dir, tmp_path) -> Path:
    return write_clip(tmp_path / "dog_small.mp4", decode_clip(media_dir / "dog.mp4", N, WIDTH))


def test_click_track_correct_export_save_reopen(
    qtbot, dog, shaped_weights, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(shaped_weights))
    settings = PanelSettings.at(tmp_path / "panel.ini")
    w = create_window(settings, recovery=RecoveryArea(tmp_path / "recovery"))  # real model
    w.ask_unsaved = lambda what: pytest.fail(f"unexpected question before {what}")
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    c = w.controller
    try:
        # -- open
        w.open_path(dog)
        qtbot.waitUntil(
            lambda: c.session_state is SessionState.READY and c.displayed_frame == 0,
            timeout=WAIT,
        )
        assert c.info.frame_size == (180, 320) and c.info.num_frames == N
        assert "ti_512x512 · cpu" in w.model_label.text()

        # -- click: the mask appears as an overlay
        click(qtbot, w, 145, 110)
        qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
        first = c.masks.get(0, 1)
        assert 0.001 < first.mean() < 0.999  # a real, non-trivial mask
        qtbot.waitUntil(lambda: shows(w, {1: first}), timeout=WAIT)
        assert not np.array_equal(w.viewer.rendered, c.image)

        # -- negative click changes it; undo restores it exactly
        click(qtbot, w, 60, 40, Qt.MouseButton.RightButton)
        qtbot.waitUntil(lambda: not np.array_equal(c.masks.get(0, 1), first), timeout=WAIT)
        assert c.prompts.get(0, 1).labels == (1, 0)
        key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: np.array_equal(c.masks.get(0, 1), first), timeout=WAIT)
        assert c.prompts.get(0, 1).labels == (1,)
        qtbot.waitUntil(lambda: shows(w, {1: first}), timeout=WAIT)

        # -- track forward with progress
        progress = []
        c.trackingProgress.connect(lambda p: progress.append((p.done, w.progress.isVisible())))
        with qtbot.waitSignal(c.trackingFinished, timeout=WAIT) as done:
            key(qtbot, w, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
        assert not done.args[0].cancelled and done.args[0].frames_done == N - 1  # 0 is done
        assert [d for d, _ in progress] == list(range(1, N)) and all(v for _, v in progress)
        assert c.coverage.statuses(1) == [P] + [T] * (N - 1)

        # -- scrub: later frames show their masks
        strip = w.strip
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(round(strip.frame_x(7)), 30))
        qtbot.waitUntil(lambda: c.displayed_frame == 7 and c.masks.has(7, 1), timeout=WAIT)
        qtbot.waitUntil(lambda: shows(w, {1: c.masks.get(7, 1)}), timeout=WAIT)
        assert c.masks.get(7, 1).any()

        # -- correct frame 5: later frames go stale; re-track fixes them
        c.seek(5)
        qtbot.waitUntil(lambda: c.displayed_frame == 5, timeout=WAIT)
        before = c.masks.get(5, 1)
        click(qtbot, w, 200, 60)
        qtbot.waitUntil(lambda: c.coverage.status(1, 5) is P, timeout=WAIT)
        assert c.coverage.statuses(1)[6:] == [S] * (N - 6)
        assert not np.array_equal(c.masks.get(5, 1), before)
        with qtbot.waitSignal(c.trackingFinished, timeout=WAIT) as done:
            key(qtbot, w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
        assert done.args[0].frames_done == N - 6  # the stale frames 6.. only
        assert c.coverage.statuses(1) == [P] + [T] * 4 + [P] + [T] * (N - 6)
        masks = [c.masks.get(f, 1).copy() for f in range(N)]

        # -- export ProRes 4444 + OTIO from the dialog
        dialog = w.show_export()
        dialog.format.setCurrentIndex(dialog.format.findData("prores4444"))
        dialog.out.setText(str(tmp_path / "dog_matte.mov"))
        dialog._out_edited = True
        dialog.timeline.setCurrentIndex(dialog.timeline.findData(".otio"))
        with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as exported:
            assert dialog.start()
        matte, timeline = exported.args[0].paths
        probe = ffprobe(matte)
        assert probe["codec_name"] == "prores" and probe["profile"] == "4444"
        assert probe["pix_fmt"].startswith("yuva444p")
        assert int(probe["nb_read_frames"]) == N and probe["r_frame_rate"] == "25/1"
        assert (int(probe["width"]), int(probe["height"])) == (320, 180)
        alpha = ffmpeg_raw(matte, "yuva444p10le", 320, 180)[:, 3]
        for f in range(N):
            assert np.mean((alpha[f] > 512) == masks[f]) > 0.995, f
        v1, v2 = read_timeline(timeline)
        assert v1.media_path == dog and v2.media_path == matte
        assert v1.duration == v2.duration == N and v1.record_start == v2.record_start == 0

        # -- save, close, reopen: the same masks
        dialog.close()
        w.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=WAIT)
        project = tmp_path / "dog.etam"
        monkeypatch.setattr(
            QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(project), ""))
        )
        with qtbot.waitSignal(
            c.projectSaved, timeout=WAIT, check_params_cb=lambda msg: not msg.request.autosave
        ):
            key(qtbot, w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert project.is_file() and not w.isWindowModified()
        prompts = {f: c.prompts.get(f, 1) for f in (0, 5)}
    finally:
        w.ask_unsaved = lambda what: "discard"  # only asked when an assertion failed above
        w.close()

    w2 = create_window(settings)
    w2.show()
    c2 = w2.controller
    try:
        w2.open_path(project)
        qtbot.waitUntil(lambda: c2.session_state is SessionState.READY, timeout=WAIT)
        assert {f: c2.prompts.get(f, 1) for f in (0, 5)} == prompts
        assert c2.coverage.statuses(1) == [P] + [T] * 4 + [P] + [T] * (N - 6)
        for f in range(N):
            c2.seek(f)
            qtbot.waitUntil(lambda f=f: c2.masks.has(f, 1), timeout=WAIT)
            np.testing.assert_array_equal(c2.masks.get(f, 1), masks[f])

        # -- the Model menu moves the open session to another network, prompts kept
        with qtbot.waitSignal(
            c2.sessionStateChanged,
            timeout=WAIT,
            check_params_cb=lambda state: state is SessionState.READY,
        ):
            w2.set_model_options(attention="pooled-keys")
        assert "pooled-keys" in w2.model_label.text()
        assert {f: c2.prompts.get(f, 1) for f in (0, 5)} == prompts
        assert c2.coverage.statuses(1) == [P] + [FrameStatus.EMPTY] * 4 + [P] + [
            FrameStatus.EMPTY
        ] * (N - 6)  # tracked frames belong to the old network: track again
        c2.seek(0)
        qtbot.waitUntil(lambda: c2.masks.has(0, 1), timeout=WAIT)
        assert c2.masks.get(0, 1).any()
    finally:
        c2.changes.reset()
        w2.close()
