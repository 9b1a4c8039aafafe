"""The panel's editor model (``components/editor.py``) driven with no Qt at all.

No QApplication, no threads: the real inference, frame and task backends serve the model's
requests when the test says so (``gui_headless``), so every step is deterministic. The fake
session stands in for most tests; the last one runs a real ``VideoSession``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gui_fake_session import SHIFT, FakeSessionFactory, draw_prompt, shift_x
from gui_frames import synthetic_clip
from gui_headless import HeadlessEditor
from gui_tiny_model import TinyModelFactory

from etam_plugin.errors import ModelError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.editor import SessionState
from etam_plugin.gui.components.prompts import with_point
from etam_plugin.gui.components.recovery import RecoveryArea
from etam_plugin.model import FrameStatus, ObjectResult

T, P, S, E = FrameStatus.TRACKED, FrameStatus.PROMPTED, FrameStatus.STALE, FrameStatus.EMPTY


@pytest.fixture
def editor(clips, tmp_path: Path):
    made: list[HeadlessEditor] = []

    def make(factory=None) -> HeadlessEditor:
        h = HeadlessEditor(factory or FakeSessionFactory(), clips)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def opened(h: HeadlessEditor, path: Path) -> HeadlessEditor:
    h.model.open_source(path)
    h.settle()
    return h


def record(event) -> list:
    seen: list = []
    event.connect(lambda *args: seen.append(args[0] if len(args) == 1 else args))
    return seen


def test_the_editor_model_imports_no_qt() -> None:
    code = (
        "import sys, etam_plugin.gui.components.editor\n"
        "qt = sorted(n for n in sys.modules if n.startswith('PySide6'))\n"
        "assert not qt, qt\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_open_click_undo_redo_with_busy_text(editor, tmp_path) -> None:
    h = opened(editor(), tmp_path / "synthetic.mp4")
    model = h.model
    assert model.session_state is SessionState.READY and model.displayed_frame == 0
    np.testing.assert_array_equal(model.image, synthetic_clip()[0])
    assert [o.name for o in model.objects] == ["Object 1"]
    busy = record(model.busy_changed)

    assert model.add_point(24, 36)
    assert model.busy == "Updating the mask on frame 0"  # said while the session computes
    assert model.status().activity == "computing"
    h.settle()
    assert busy == ["Updating the mask on frame 0", ""] and model.busy == ""
    prompt = with_point(None, (24, 36), True)
    np.testing.assert_array_equal(model.masks.get(0, 1), draw_prompt(prompt, (72, 96)))
    assert model.coverage.status(1, 0) is P and model.changes.dirty

    h.history.undo()
    h.settle()
    assert model.prompts.get(0, 1) is None and model.coverage.status(1, 0) is E
    assert not model.masks.get(0, 1).any() and h.backend.session.prompt(0, 1) is None
    h.history.redo()
    h.settle()
    assert h.backend.session.prompt(0, 1) == prompt and model.coverage.status(1, 0) is P
    np.testing.assert_array_equal(model.masks.get(0, 1), draw_prompt(prompt, (72, 96)))


def test_track_fills_the_range_then_says_there_is_nothing_left(editor, tmp_path) -> None:
    h = opened(editor(), tmp_path / "synthetic.mp4")
    model = h.model
    model.transport.set_out(5)
    model.add_point(24, 36)
    h.settle()
    started, finished = record(model.tracking_started), record(model.tracking_finished)
    infos = record(model.error_occurred)
    assert model.track("forward")
    assert model.status().activity == "tracking" and not model.add_point(1, 1)  # waits
    h.settle()
    assert len(started) == 1 and not finished[0].cancelled and finished[0].frames_done == 5
    assert model.tracking is None and model.coverage.statuses(1)[:6] == [P, T, T, T, T, T]
    first = model.masks.get(0, 1)
    np.testing.assert_array_equal(model.masks.get(3, 1), shift_x(first, 3 * SHIFT))
    assert model.displayed_frame == 5  # the view followed the tracker
    assert infos[0].text == "Corrections wait until tracking stops (Esc cancels it)."
    assert not model.track("forward")
    assert "already tracked: nothing to track" in infos[-1].text


def test_a_frame_whose_fetch_a_newer_one_dropped_is_fetched_when_shown_again(
    editor, tmp_path
) -> None:
    """Fetches are newest-wins: scrubbing past a frame before its masks came drops its fetch.
    Shown again, it is asked for again (the panel once waited on a dropped fetch forever)."""
    h = opened(editor(), tmp_path / "synthetic.mp4")
    h.model.transport.set_out(5)
    h.model.add_point(24, 36)
    h.settle()
    assert h.model.track("forward")
    h.settle()
    assert h.model.save_project(tmp_path / "p.etam")
    h.settle()
    tracked = [h.model.masks.get(f, 1).copy() for f in range(6)]

    h2 = editor()
    assert h2.model.open_project(tmp_path / "p.etam")
    h2.settle()
    model = h2.model
    for f in (3, 4):  # each frame is decoded, its fetch filed, none served yet
        model.seek(f)
        while h2.frames.serve_one():
            pass
    assert h2.inference.mailbox.superseded == 1 and not model.masks.has(3, 1)
    h2.settle()
    model.seek(3)
    h2.settle()
    np.testing.assert_array_equal(model.masks.get(3, 1), tracked[3])
    np.testing.assert_array_equal(model.masks.get(4, 1), tracked[4])


def test_next_problem_walks_untracked_then_stale_runs(editor, tmp_path) -> None:
    h = opened(editor(), tmp_path / "synthetic.mp4")
    model = h.model
    model.transport.set_out(9)
    model.add_point(24, 36)
    h.settle()
    model.track("forward")
    h.settle()
    model.seek(4)
    h.settle()
    model.add_point(30, 36)  # a correction: 5..9 go stale
    h.settle()
    model.seek(0)
    infos = record(model.error_occurred)
    assert model.next_problem()
    assert model.transport.current == 5
    assert infos[-1].text == "Frame 5: Object 1 stale (a correction before it)."
    assert not model.next_problem()  # 10..23 are untracked too: the same run, one job
    assert infos[-1].text == "No untracked, stale, lost or low-score frames start after frame 5."
    assert not model.next_problem(-1) and model.transport.current == 5


def test_without_a_session_every_edit_says_why_once(editor, tmp_path) -> None:
    h = opened(
        editor(FakeSessionFactory(fail=ModelError("weights missing"))), tmp_path / "synthetic.mp4"
    )
    model = h.model
    assert model.session_state is SessionState.FAILED
    reports = record(model.error_occurred)
    assert not model.add_point(10, 10)
    assert model.add_object() is None
    assert not model.track("forward")
    said = [r.text.split("\n\n") for r in reports]
    assert said == [
        [f"{action} failed.", "No tracking session: weights missing"]
        for action in ("Adding a prompt", "Adding an object", "Tracking")
    ]
    assert h.history.steps == [] and h.inference.mailbox.pop() is None


def test_results_of_the_previous_session_are_dropped_while_the_next_starts(
    editor, tmp_path, clips
) -> None:
    other = clips.add(tmp_path / "other.mp4", synthetic_clip(9, 40, 64))
    h = opened(editor(), tmp_path / "synthetic.mp4")
    model = h.model
    model.open_source(other)
    h.frames.serve_one()  # the new clip is open, its session not started yet
    assert model.session_state is SessionState.STARTING
    old = ObjectResult(1, np.ones((72, 96), bool), score=1.0, object_score=1.0)
    model.on_inference_result(m.ResultsFetched(0, {1: old}))
    assert len(model.masks) == 0
    h.settle()
    assert model.session_state is SessionState.READY and model.masks.size == (40, 64)
    new = ObjectResult(1, np.ones((40, 64), bool), score=1.0, object_score=1.0)
    model.on_inference_result(m.ResultsFetched(0, {1: new}))  # this session's: shown
    assert model.masks.has(0, 1)


def test_delete_undo_and_a_refused_object(editor, tmp_path) -> None:
    h = opened(editor(), tmp_path / "synthetic.mp4")
    model = h.model
    second = model.add_object("Ball")
    assert second is not None and model.objects.active_id == second.obj_id
    model.add_point(24, 36)
    h.settle()
    assert model.delete_object(second.obj_id)
    h.settle()
    assert second.obj_id not in model.objects and model.prompts.frames(second.obj_id) == []
    h.history.undo()
    assert model.busy == "Bringing back Ball"
    h.settle()
    assert model.objects.get(second.obj_id).name == "Ball" and model.busy == ""
    assert model.prompts.frames(second.obj_id) == [0] and model.masks.has(0, second.obj_id)

    third = model.add_object()
    assert third is not None and len(h.history.steps) == h.history.index
    h.inference.mailbox.discard(lambda r: isinstance(r, m.AddObject))  # the session says no
    steps = h.history.index
    model.on_inference_result(m.Failed(m.AddObject(third.obj_id, third.name), ModelError("no")))
    assert third.obj_id not in model.objects and h.history.index == steps - 1


def test_playback_and_autosave_run_on_the_timers_they_are_given(clips, tmp_path) -> None:
    area = RecoveryArea(tmp_path / "recovery")
    h = HeadlessEditor(FakeSessionFactory(), clips, recovery=area)
    try:
        model = opened(h, tmp_path / "synthetic.mp4").model
        model.transport.shuttle_forward()
        assert h.play_timer.running and h.play_timer.msec == 40  # 25 fps
        h.play_timer.fire()
        h.settle()
        assert model.transport.current == 1 and model.displayed_frame == 1
        model.transport.stop()
        assert not h.play_timer.running

        assert not h.autosave_timer.running
        model.add_point(24, 36)
        assert h.autosave_timer.running and h.autosave_timer.msec == model.autosave_delay_ms
        h.autosave_timer.fire(single_shot=True)
        h.settle()
        assert area.autosave_path.exists() and not model.changes.needs_autosave
    finally:
        h.close()


@pytest.mark.slow
def test_click_track_undo_on_a_real_session(clips, tmp_path) -> None:
    """The same model on a real VideoSession (tiny seeded network): every status is real."""
    h = HeadlessEditor(TinyModelFactory(), clips)
    try:
        model = opened(h, tmp_path / "synthetic.mp4").model
        model.transport.set_out(3)
        assert model.add_point(24, 36)
        h.settle()
        assert model.masks.get(0, 1).shape == (72, 96) and model.coverage.status(1, 0) is P
        assert model.track("forward")
        h.settle()
        assert model.coverage.statuses(1)[:5] == [P, T, T, T, E]
        assert all(model.masks.has(f, 1) for f in range(4))
        h.history.undo()  # the click goes: its frame and the frames tracked from it too
        h.settle()
        assert h.backend.session.prompts(0, 1) == ()
        assert model.prompts.get(0, 1) is None and model.coverage.status(1, 0) is E
        h.history.redo()
        h.settle()
        assert model.coverage.status(1, 0) is P and model.masks.get(0, 1).shape == (72, 96)
    finally:
        h.close()
