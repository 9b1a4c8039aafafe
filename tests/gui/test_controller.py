"""The panel's controller without a window: workers, undo, tracking, coverage, errors.

The fake session stands in for the real VideoSession (phase 2 runs the same flow on the real
model); everything else is the real panel code and real threads.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from gui_fake_session import SHIFT, FakeSessionFactory, draw_prompt, shift_x
from gui_frames import ArrayFrames, synthetic_clip

from etam_plugin.errors import MediaError, ModelError
from etam_plugin.gui._qt.controller import EditorController, SessionState
from etam_plugin.gui.components.prompts import with_point
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus

pytestmark = pytest.mark.gui

T, P, S, E = FrameStatus.TRACKED, FrameStatus.PROMPTED, FrameStatus.STALE, FrameStatus.EMPTY
WAIT = 10_000


@pytest.fixture
def make(qtbot, clips, tmp_path: Path):
    made: list[EditorController] = []

    def make_controller(factory: FakeSessionFactory | None = None) -> EditorController:
        c = EditorController(factory or FakeSessionFactory(), frames_factory=clips)
        made.append(c)
        return c

    yield make_controller
    for c in made:
        c.shutdown()


def open_clip(qtbot, c: EditorController, path: Path, folder: Path | None = None) -> None:
    c.open_source(path, session_folder=folder)
    qtbot.waitUntil(
        lambda: (
            c.session_state is not SessionState.STARTING
            and c.displayed_frame == 0
            and c.info is not None
            and c.info.path == path
        ),
        timeout=WAIT,
    )


def wait_mask(qtbot, c: EditorController, frame: int, obj: int, expected: np.ndarray) -> None:
    def same() -> bool:
        got = c.masks.get(frame, obj)
        return got is not None and np.array_equal(got, expected)

    qtbot.waitUntil(same, timeout=WAIT)


def clip_path(tmp_path: Path) -> Path:
    return tmp_path / "synthetic.mp4"


def test_open_shows_the_first_frame_and_starts_a_session(qtbot, make, tmp_path) -> None:
    c = make()
    opened = []
    c.sourceOpened.connect(opened.append)
    open_clip(qtbot, c, clip_path(tmp_path))
    assert c.session_state is SessionState.READY
    assert opened[0].num_frames == 24 and opened[0].frame_size == (72, 96)
    np.testing.assert_array_equal(c.image, synthetic_clip()[0])
    assert [o.name for o in c.objects] == ["Object 1"] and c.objects.active_id == 1


def test_click_negative_click_undo_redo_update_the_mask(qtbot, make, tmp_path) -> None:
    c = make()
    open_clip(qtbot, c, clip_path(tmp_path))
    size = (72, 96)
    p1 = with_point(None, (24, 36), True)
    p2 = with_point(p1, (30, 36), False)
    assert c.add_point(24, 36, True)
    wait_mask(qtbot, c, 0, 1, draw_prompt(p1, size))
    assert c.coverage.status(1, 0) is P
    assert c.add_point(30, 36, False)
    wait_mask(qtbot, c, 0, 1, draw_prompt(p2, size))
    assert c.prompts.get(0, 1) == p2
    c.undo_stack.undo()
    assert c.prompts.get(0, 1) == p1  # the mirror changes at once
    wait_mask(qtbot, c, 0, 1, draw_prompt(p1, size))
    c.undo_stack.undo()
    wait_mask(qtbot, c, 0, 1, np.zeros(size, bool))
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is E, timeout=WAIT)
    c.undo_stack.redo()
    c.undo_stack.redo()
    wait_mask(qtbot, c, 0, 1, draw_prompt(p2, size))
    assert c.undo_stack.count() == 2


def test_a_burst_of_clicks_computes_only_the_latest(qtbot, make, tmp_path) -> None:
    factory = FakeSessionFactory(prompt_delay_s=0.15)
    c = make(factory)
    open_clip(qtbot, c, clip_path(tmp_path))
    for i in range(10):
        c.add_point(10 + 5 * i, 36, True)
    final = c.prompts.get(0, 1)
    assert len(final.points_xy) == 10
    wait_mask(qtbot, c, 0, 1, draw_prompt(final, (72, 96)))
    calls = [x for x in factory.sessions[0].calls if x[0] == "set_prompt"]
    assert len(calls) < 10  # the first runs, the queued ones collapse to the newest
    assert calls[-1][2][2] == final
    assert c.inference_worker.mailbox.superseded >= 10 - len(calls)
    assert c.undo_stack.count() == 10  # ...while every click stays undoable


def test_session_runs_only_in_the_inference_thread(qtbot, make, tmp_path) -> None:
    factory = FakeSessionFactory()
    c = make(factory)
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(20, 30)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    threads = {x[1] for x in factory.sessions[0].calls} | factory.threads
    assert threads == {c.inference_worker.thread_ident}
    assert threading.get_ident() not in threads
    frame_threads = {t for f in factory.sessions[0].frames.reads for t in [f]}
    assert threading.get_ident() not in frame_threads


def test_track_forward_reports_progress_and_masks_follow(qtbot, make, tmp_path) -> None:
    c = make(FakeSessionFactory(delay_s=0.005))
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    progress = []
    c.trackingProgress.connect(progress.append)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT) as finished:
        started = c.track("forward")
    assert started
    msg = finished.args[0]
    assert not msg.cancelled and msg.frames_done == 23  # the prompted frame is done already
    assert [p.done for p in progress] == list(range(1, 24))
    assert progress[-1].total == 23 and progress[-1].fps > 0
    assert c.coverage.statuses(1) == [P] + [T] * 23
    first = c.masks.get(0, 1)
    np.testing.assert_array_equal(c.masks.get(10, 1), shift_x(first, 10 * SHIFT))
    qtbot.waitUntil(lambda: c.displayed_frame == 23, timeout=WAIT)  # the view followed
    assert c.tracking is None


def test_scrubbing_while_tracking_shows_frames_done_so_far(qtbot, make, tmp_path) -> None:
    c = make(FakeSessionFactory(delay_s=0.08))
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    c.track("forward")
    qtbot.waitUntil(lambda: c.coverage.status(1, 3) is T, timeout=WAIT)
    c.seek(2)  # the user takes over the playhead
    qtbot.waitUntil(lambda: c.displayed_frame == 2, timeout=WAIT)
    assert c.tracking is not None  # still tracking: the GUI did not wait for it
    assert c.layers(2) and c.layers(2)[0].alpha.any()
    np.testing.assert_array_equal(c.image, synthetic_clip()[2])
    qtbot.waitUntil(lambda: c.tracking is None, timeout=WAIT)
    assert c.displayed_frame == 2  # no longer following once the user scrubbed
    c.shutdown()


def test_cancel_stops_tracking_and_keeps_what_was_done(qtbot, make, tmp_path) -> None:
    c = make(FakeSessionFactory(delay_s=0.03))
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(24, 36)

    def cancel_at_4(progress) -> None:
        if progress.done == 4:
            c.cancel_tracking()

    c.trackingProgress.connect(cancel_at_4)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT) as finished:
        c.track("forward")
    assert finished.args[0].cancelled
    stats = c.coverage.statuses(1)
    assert stats[:4] == [P, T, T, T] and stats[-1] is E
    assert c.tracking is None


def test_correction_marks_stale_and_retrack_fixes_it(qtbot, make, tmp_path) -> None:
    c = make()
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(24, 36)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("forward")
    c.seek(12)
    qtbot.waitUntil(lambda: c.displayed_frame == 12, timeout=WAIT)
    c.add_point(60, 20, True)  # a correction on frame 12
    qtbot.waitUntil(lambda: c.coverage.status(1, 12) is P, timeout=WAIT)
    assert c.coverage.statuses(1)[13:] == [S] * 11
    assert c.coverage.statuses(1)[1:12] == [T] * 11
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        assert c.retrack_from_here()
    assert c.coverage.statuses(1)[13:] == [T] * 11
    corrected = c.masks.get(12, 1)
    np.testing.assert_array_equal(c.masks.get(15, 1), shift_x(corrected, 3 * SHIFT))


def test_track_both_ways_within_in_and_out(qtbot, make, tmp_path) -> None:
    factory = FakeSessionFactory()
    c = make(factory)
    open_clip(qtbot, c, clip_path(tmp_path))
    c.transport.set_in(5)
    c.transport.set_out(15)
    c.seek(10)
    qtbot.waitUntil(lambda: c.displayed_frame == 10, timeout=WAIT)
    c.add_point(40, 36)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("both")
    stats = c.coverage.statuses(1)
    assert stats[5:16] == [T] * 5 + [P] + [T] * 5
    assert stats[:5] == [E] * 5 and stats[16:] == [E] * 8


def test_delete_object_and_undo_brings_its_prompts_back(qtbot, make, tmp_path) -> None:
    factory = FakeSessionFactory()
    c = make(factory)
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_object("Second")
    assert c.objects.active_id == 2
    c.add_point(50, 30)
    qtbot.waitUntil(lambda: c.masks.has(0, 2), timeout=WAIT)
    expected = c.masks.get(0, 2)
    c.delete_object(2)
    assert c.objects.ids == [1] and c.prompts.get(0, 2) is None and not c.masks.has(0, 2)
    c.undo_stack.undo()
    assert c.objects.ids == [1, 2] and c.prompts.get(0, 2) is not None
    wait_mask(qtbot, c, 0, 2, expected)
    names = factory.sessions[0].call_names()
    assert names[-2:] == ["remove_object", "restore_object"]  # as it was: not recomputed


def test_hidden_objects_and_finishing_change_the_layers(qtbot, make, tmp_path) -> None:
    c = make()
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(40, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    (layer,) = c.layers(0)
    assert layer.alpha.dtype == bool
    with qtbot.waitSignal(c.displayChanged, timeout=WAIT):
        c.set_finishing(MatteOps(grow=2, invert=True))
    (finished,) = c.layers(0)
    assert finished.alpha.dtype == np.float32 and finished.alpha[36, 40] == 0.0
    c.set_object_visible(1, False)
    assert c.layers(0) == []


def test_a_failed_session_explains_itself_on_click(qtbot, make, tmp_path) -> None:
    c = make(FakeSessionFactory(fail=ModelError("weights missing for ti_512x512")))
    reports = []
    c.errorOccurred.connect(reports.append)
    open_clip(qtbot, c, clip_path(tmp_path))
    assert c.session_state is SessionState.FAILED
    assert reports[0].title == "Tracking model problem"
    assert "weights missing" in reports[0].text
    assert c.displayed_frame == 0  # the clip is still shown and scrubbable
    assert not c.add_point(10, 10)
    assert "No tracking session: weights missing" in reports[-1].text
    assert c.undo_stack.count() == 0


def test_opening_a_bad_file_keeps_the_current_clip(qtbot, make, tmp_path) -> None:
    c = make()
    open_clip(qtbot, c, clip_path(tmp_path))
    reports = []
    c.errorOccurred.connect(reports.append)
    with qtbot.waitSignal(c.errorOccurred, timeout=WAIT):
        c.open_source(tmp_path / "missing.mov")
    assert reports[0].title == "Cannot read the media" and "missing.mov" in reports[0].details
    assert c.info.path == clip_path(tmp_path) and c.session_state is SessionState.READY
    c.seek(5)  # the clip on screen can still be scrubbed
    qtbot.waitUntil(lambda: c.displayed_frame == 5, timeout=WAIT)
    np.testing.assert_array_equal(c.image, synthetic_clip()[5])


def test_a_bad_frame_is_one_dialog_then_status_messages(qtbot, tmp_path) -> None:
    class CorruptFrames(ArrayFrames):
        def __getitem__(self, index: int) -> np.ndarray:
            if 4 <= index <= 6:
                raise MediaError(f"frame {index} is corrupt", path="x.mp4", frame_index=index)
            return super().__getitem__(index)

    c = EditorController(
        FakeSessionFactory(), frames_factory=lambda s: CorruptFrames(synthetic_clip(10))
    )
    try:
        reports = []
        c.errorOccurred.connect(reports.append)
        open_clip(qtbot, c, tmp_path / "x.mp4")
        for frame in (4, 5, 6, 7):
            c.seek(frame)
            qtbot.waitUntil(
                lambda frame=frame: len(reports) >= frame - 3 or frame == 7, timeout=WAIT
            )
        qtbot.waitUntil(lambda: c.displayed_frame == 7, timeout=WAIT)
        assert [r.severity for r in reports] == ["error", "warning", "warning"]
        assert reports[0].title == "Cannot read the media" and "frame 4" in reports[0].text
    finally:
        c.shutdown()


def test_save_and_reopen_restores_the_work(qtbot, make, tmp_path) -> None:
    factory = FakeSessionFactory()
    c = make(factory)
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(24, 36)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("forward")
    assert not c.undo_stack.isClean()
    folder = tmp_path / "clip.session"
    with qtbot.waitSignal(c.sessionSaved, timeout=WAIT):
        c.save_session(folder)
    assert c.undo_stack.isClean()
    saved_cov = c.coverage.statuses(1)
    saved_mask = c.masks.get(0, 1)

    d = make(factory)
    open_clip(qtbot, d, clip_path(tmp_path), folder=folder)
    assert d.session_state is SessionState.READY
    assert d.coverage.statuses(1) == saved_cov
    assert d.prompts.get(0, 1) == c.prompts.get(0, 1)
    wait_mask(qtbot, d, 0, 1, saved_mask)  # fetched from the session for display
    d.seek(9)
    wait_mask(qtbot, d, 9, 1, c.masks.get(9, 1))


def test_thumbnails_come_from_the_loader_thread(qtbot, make, tmp_path) -> None:
    c = make()
    open_clip(qtbot, c, clip_path(tmp_path))
    got = []
    c.thumbnailReady.connect(got.append)
    c.request_thumbnails([0, 8, 16], 18)
    qtbot.waitUntil(lambda: sorted(got) == [0, 8, 16], timeout=WAIT)
    assert c.thumbnails[8].shape == (18, 24, 3)
    assert c.frame_worker.thread_ident != threading.get_ident()


def test_playback_with_jkl(qtbot, make, tmp_path) -> None:
    c = make()
    open_clip(qtbot, c, clip_path(tmp_path))
    c.transport.shuttle_forward()
    qtbot.waitUntil(lambda: c.transport.current >= 3, timeout=WAIT)
    c.transport.stop()
    here = c.transport.current
    qtbot.wait(120)
    assert c.transport.current == here
    qtbot.waitUntil(lambda: c.displayed_frame == here, timeout=WAIT)


def test_opening_another_clip_while_tracking_drops_the_old_results(qtbot, make, tmp_path, clips):
    other = clips.add(tmp_path / "other.mp4", synthetic_clip(9, 40, 64))
    c = make(FakeSessionFactory(delay_s=0.03))
    open_clip(qtbot, c, clip_path(tmp_path))
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    c.track("forward")
    qtbot.waitUntil(lambda: c.coverage.status(1, 2) is T, timeout=WAIT)
    errors = []
    c.errorOccurred.connect(errors.append)
    open_clip(qtbot, c, other)
    qtbot.wait(300)  # let any in-flight results of the old session arrive
    assert c.masks.size == (40, 64) and len(c.masks) == 0
    assert c.coverage.statuses(1) == [E] * 9
    assert c.tracking is None and errors == []
    c.add_point(10, 10)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
