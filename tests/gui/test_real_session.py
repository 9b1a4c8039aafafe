"""The panel on the real parts: a real H.264 file read by ``etam_plugin.media`` and the real
``VideoSession`` (a tiny, seeded random network, so masks mean nothing but every call,
status and file is real). Phase 2 runs the full flow on an official-size network."""

from __future__ import annotations

import numpy as np
import pytest
from gui_frames import decode_clip, write_clip
from gui_tiny_model import TinyModelFactory

from etam_plugin.gui._qt.controller import EditorController, SessionState
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.prompts import with_point
from etam_plugin.model import FrameStatus

pytestmark = [pytest.mark.gui, pytest.mark.slow]
WAIT = 120_000
N = 6


@pytest.fixture(scope="module")
def factory() -> TinyModelFactory:
    return TinyModelFactory()


def test_panel_flow_on_a_real_file_and_session(qtbot, media_dir, tmp_path, factory) -> None:
    clip = write_clip(
        tmp_path / "bedroom_small.mp4", decode_clip(media_dir / "bedroom.mp4", N, 160)
    )
    c = EditorController(factory)  # the real frames factory: etam_plugin.media
    results: list = []
    c.inference_worker.resultReady.connect(results.append)
    try:
        c.open_source(clip)
        qtbot.waitUntil(
            lambda: c.session_state is SessionState.READY and c.displayed_frame == 0, timeout=WAIT
        )
        assert c.info.num_frames == N and c.info.frame_size == (90, 160) and c.info.fps == 25

        def applied(prompt) -> bool:
            return any(
                isinstance(r, m.PromptApplied) and r.request.prompt == prompt for r in results
            )

        p1 = with_point(None, (80, 45), True)
        c.add_point(80, 45, True)
        qtbot.waitUntil(lambda: applied(p1), timeout=WAIT)
        assert c.masks.get(0, 1).shape == (90, 160)
        assert c.coverage.status(1, 0) is FrameStatus.PROMPTED
        c.add_point(100, 50, False)
        p2 = with_point(p1, (100, 50), False)
        qtbot.waitUntil(lambda: applied(p2), timeout=WAIT)
        results.clear()
        c.undo_stack.undo()
        qtbot.waitUntil(lambda: applied(p1), timeout=WAIT)  # undo re-sent the old prompt

        progress = []
        c.trackingProgress.connect(progress.append)
        with qtbot.waitSignal(c.trackingFinished, timeout=WAIT) as done:
            assert c.track("forward")
        assert not done.args[0].cancelled and done.args[0].frames_done == N - 1  # 0 is done
        assert [p.done for p in progress] == list(range(1, N))
        assert c.coverage.statuses(1) == [FrameStatus.PROMPTED] + [FrameStatus.TRACKED] * (N - 1)
        assert all(c.masks.has(f, 1) for f in range(N))

        c.seek(2)
        qtbot.waitUntil(lambda: c.displayed_frame == 2, timeout=WAIT)
        c.add_point(60, 40, True)
        qtbot.waitUntil(lambda: c.coverage.status(1, 2) is FrameStatus.PROMPTED, timeout=WAIT)
        assert c.coverage.statuses(1)[3:] == [FrameStatus.STALE] * (N - 3)
        with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
            assert c.retrack_from_here()
        assert c.coverage.statuses(1)[3:] == [FrameStatus.TRACKED] * (N - 3)
        last_mask = c.masks.get(N - 1, 1)

        folder = tmp_path / "work.session"
        with qtbot.waitSignal(c.sessionSaved, timeout=WAIT):
            c.save_session(folder)
        statuses = c.coverage.statuses(1)
    finally:
        c.shutdown()

    d = EditorController(factory)
    try:
        d.open_source(clip, session_folder=folder)
        qtbot.waitUntil(lambda: d.session_state is SessionState.READY, timeout=WAIT)
        assert d.coverage.statuses(1) == statuses
        assert set(d.prompts.frames(1)) == {0, 2}
        d.seek(N - 1)
        qtbot.waitUntil(lambda: d.masks.has(N - 1, 1), timeout=WAIT)
        np.testing.assert_array_equal(d.masks.get(N - 1, 1), last_mask)
    finally:
        d.shutdown()
