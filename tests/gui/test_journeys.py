"""Journeys through the main window as a person makes them (issue 14): track, stop, move Out,
track again; correct, retrack, undo, redo; type into dialogs. Each ends in what the user sees.

The fake session stands in for the network; everything else is the real window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gui_actions import click, key, open_clip
from gui_fake_session import FakeSession, FakeSessionFactory
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor

from etam_plugin.errors import ModelError
from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.model import FrameStatus

pytestmark = pytest.mark.gui
WAIT = 10_000
T, P, S, E = FrameStatus.TRACKED, FrameStatus.PROMPTED, FrameStatus.STALE, FrameStatus.EMPTY
CTRL = Qt.KeyboardModifier.ControlModifier


def go_to(qtbot, w, frame: int) -> None:
    """Arrow keys to ``frame``, as a person steps through the clip."""
    c = w.controller
    while c.transport.current != frame:
        key(qtbot, w, Qt.Key.Key_Right if c.transport.current < frame else Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: c.displayed_frame == frame, timeout=WAIT)


def track(qtbot, w, k: Qt.Key) -> None:
    """Ctrl+arrow key, until tracking finishes (a loaded machine may take its time)."""
    with qtbot.waitSignal(w.controller.trackingFinished, timeout=6 * WAIT):
        key(qtbot, w, k, CTRL)


def tracked_on_a_real_session(qtbot, make_window, tmp_path):
    """The window on the real VideoSession (a tiny seeded network): a clip opened, object 1
    clicked on frame 0 and tracked forward through the clip."""
    from test_real_session import TinyModelFactory

    w = make_window(TinyModelFactory(seed=2))
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: w.controller.coverage.status(1, 0) is P, timeout=WAIT)
    track(qtbot, w, Qt.Key.Key_Right)
    return w


def propagations(w) -> list[tuple]:
    session = w.controller.backend.session
    return [args for name, _t, args in session.calls if name == "propagate"]


def test_track_forward_carries_on_from_where_tracking_stopped(qtbot, make_window, tmp_path):
    """Issue 14 item 3: with 0–8 tracked, Out moved to 20 and the playhead on it, Track
    Forward tracked frame 20 only and left 9–19 untracked, silently."""
    w = make_window()
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    go_to(qtbot, w, 8)
    key(qtbot, w, Qt.Key.Key_O)
    track(qtbot, w, Qt.Key.Key_Right)
    assert c.coverage.statuses(1)[:9] == [P] + [T] * 8
    go_to(qtbot, w, 20)
    key(qtbot, w, Qt.Key.Key_O)
    assert (c.transport.in_point, c.transport.out_point, c.transport.current) == (0, 20, 20)
    track(qtbot, w, Qt.Key.Key_Right)
    assert c.coverage.statuses(1)[:21] == [P] + [T] * 20  # no gap left behind
    assert propagations(w)[-1] == ("forward", 9, 20, [1])  # frames 1–8 were not redone

    # Track Both over a range that is all done: nothing recomputed, and the user is told.
    calls = len(propagations(w))
    key(qtbot, w, Qt.Key.Key_T, CTRL)
    assert c.tracking is None and len(propagations(w)) == calls
    assert "already tracked" in w.statusBar().currentMessage()

    # A correction in the middle, Out to the end: Both fills exactly the stale and new frames.
    go_to(qtbot, w, 12)
    click(qtbot, w, 60, 20)
    qtbot.waitUntil(lambda: c.coverage.status(1, 12) is P, timeout=WAIT)
    qtbot.waitUntil(lambda: c.coverage.statuses(1)[13:21] == [S] * 8, timeout=WAIT)
    go_to(qtbot, w, 23)
    key(qtbot, w, Qt.Key.Key_O)
    track(qtbot, w, Qt.Key.Key_T)
    assert propagations(w)[-1] == ("forward", 13, 23, [1])
    assert c.coverage.statuses(1) == [P] + [T] * 11 + [P] + [T] * 11


def test_track_backward_and_both_fill_every_gap_and_say_what_is_left(qtbot, make_window, tmp_path):
    """Forward from a prompt in the middle leaves the frames before it: the user is told
    so; Both then fills only those, from the prompted frame backwards."""
    w = make_window()
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    go_to(qtbot, w, 10)
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.coverage.status(1, 10) is P, timeout=WAIT)
    go_to(qtbot, w, 4)  # the playhead before any done frame: forward starts at the prompt
    track(qtbot, w, Qt.Key.Key_Right)
    assert propagations(w)[-1] == ("forward", 11, 23, [1])
    message = w.statusBar().currentMessage()
    assert "Not tracked yet in 0–23" in message and "frames 0–9" in message
    track(qtbot, w, Qt.Key.Key_T)
    assert propagations(w)[-1] == ("backward", 9, 0, [1])
    assert c.coverage.statuses(1) == [T] * 10 + [P] + [T] * 13
    assert "Not tracked" not in w.statusBar().currentMessage()


def seen_masks(qtbot, w, frames: range) -> list:
    """Step through ``frames`` and take the mask the viewer shows of object 1 on each."""
    c = w.controller
    out = []
    for f in frames:
        go_to(qtbot, w, f)
        qtbot.waitUntil(lambda f=f: c.masks.has(f, 1), timeout=WAIT)
        out.append(c.masks.get(f, 1).copy())
    return out


def test_undo_redo_of_a_correction_restores_what_the_user_saw(qtbot, make_window, tmp_path):
    """Issue 14 item 4, on the real VideoSession (a tiny seeded network): track, correct a
    frame, re-track, undo → the masks from before the correction, tracked, no re-track;
    redo → the re-tracked ones. Undo used to leave the later frames stale with the
    correction's masks, and redo left them stale."""
    w = tracked_on_a_real_session(qtbot, make_window, tmp_path)
    c = w.controller
    frames = range(24)
    before = seen_masks(qtbot, w, frames)
    go_to(qtbot, w, 12)
    click(qtbot, w, 70, 20)  # the correction
    qtbot.waitUntil(lambda: c.coverage.statuses(1)[12:] == [P] + [S] * 11, timeout=WAIT)
    track(qtbot, w, Qt.Key.Key_R)
    after = seen_masks(qtbot, w, frames)
    changed = [f for f in frames if not np.array_equal(before[f], after[f])]
    assert changed and min(changed) == 12  # the correction changed what is shown from 12 on
    started: list = []
    c.trackingStarted.connect(started.append)

    key(qtbot, w, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: c.coverage.statuses(1) == [P] + [T] * 23, timeout=WAIT)
    undone = seen_masks(qtbot, w, frames)
    assert [f for f in frames if not np.array_equal(undone[f], before[f])] == []

    key(qtbot, w, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: c.coverage.statuses(1)[11:] == [T, P] + [T] * 11, timeout=WAIT)
    redone = seen_masks(qtbot, w, frames)
    assert [f for f in frames if not np.array_equal(redone[f], after[f])] == []
    assert started == []  # neither direction cost a re-track


def test_undo_of_the_first_click_and_its_redo_bring_the_tracked_frames_back(
    qtbot, make_window, tmp_path
):
    """Issue 14, on the real VideoSession: click, track, then an undo chain through a
    correction and the first click, and a redo chain back: every step shows exactly what
    was shown at that point, with no re-track. Undoing the first click used to throw the
    tracked frames away, so redoing it showed one prompted frame and nothing else."""
    w = tracked_on_a_real_session(qtbot, make_window, tmp_path)
    c = w.controller
    frames = range(1, 24)
    tracked = seen_masks(qtbot, w, frames)
    go_to(qtbot, w, 12)
    click(qtbot, w, 70, 20)  # a correction, not re-tracked: 13.. are stale
    qtbot.waitUntil(lambda: c.coverage.statuses(1)[12:] == [P] + [S] * 11, timeout=WAIT)
    started: list = []
    c.trackingStarted.connect(started.append)

    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo the correction
    qtbot.waitUntil(lambda: c.coverage.statuses(1) == [P] + [T] * 23, timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo the first click: nothing was tracked then
    qtbot.waitUntil(lambda: c.coverage.statuses(1) == [E] * 24, timeout=WAIT)
    redo = CTRL | Qt.KeyboardModifier.ShiftModifier
    key(qtbot, w, Qt.Key.Key_Z, redo)
    qtbot.waitUntil(lambda: c.coverage.statuses(1) == [P] + [T] * 23, timeout=WAIT)
    assert [
        f
        for f, a, b in zip(frames, tracked, seen_masks(qtbot, w, frames), strict=True)
        if not np.array_equal(a, b)
    ] == []
    key(qtbot, w, Qt.Key.Key_Z, redo)  # the correction again, its later frames stale
    qtbot.waitUntil(lambda: c.coverage.statuses(1)[12:] == [P] + [S] * 11, timeout=WAIT)
    assert started == []  # no step of the chain cost a re-track


def test_typing_paths_into_the_export_dialog_keeps_every_key(qtbot, make_window, tmp_path):
    """Issue 14 item 2: with a timeline chosen, the first "/" typed into the matte path
    raised "PosixPath('/') has an empty name" (the timeline name followed it) and the
    error took the typing away; so did clearing the field, and a format change on it."""
    w = make_window()
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    key(qtbot, w, Qt.Key.Key_E, CTRL)
    dialog = w.export_dialog
    qtbot.waitExposed(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("prores4444"))
    dialog.timeline.setCurrentIndex(dialog.timeline.findData(".otio"))
    for field, typed in (
        (dialog.out, "/tmp/x/out.mov"),
        (dialog.timeline_out, "/tmp/x/out.otio"),
        (dialog.out, "/"),
    ):
        field.setFocus()
        qtbot.keyClick(field, Qt.Key.Key_A, CTRL)
        qtbot.keyClick(field, Qt.Key.Key_Delete)  # cleared
        assert field.text() == ""
        for n, char in enumerate(typed, 1):
            qtbot.keyClicks(field, char)
            assert field.text() == typed[:n] and dialog.focusWidget() is field
            assert w.error_boxes == []
    assert dialog.timeline_out.text() == "/tmp/x/out.otio"  # typed by the user: kept
    dialog.format.setCurrentIndex(dialog.format.findData("webm"))  # with "/" in the field
    assert dialog.out.text() == "/" and w.error_boxes == []
    dialog.close()


class RefusingSession(FakeSession):
    """A session that takes only its first object (as one would that ran out of memory)."""

    def add_object(self, obj_id: int | None = None, name: str | None = None) -> int:
        if self.object_ids:
            raise ModelError("no room for another object")
        return super().add_object(obj_id, name)


def test_add_object_needs_a_clip_and_a_refused_add_leaves_nothing(qtbot, make_window, tmp_path):
    """Issue 14 item 5: "Add" was enabled with no clip, failed with a message but added the
    object anyway, which then carried into the next clip."""
    w = make_window(FakeSessionFactory(session_class=RefusingSession))
    c = w.controller
    add = w.objects_panel.add_button
    assert not add.isEnabled() and not w.actions["add_object"].isEnabled()
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    key(qtbot, w, Qt.Key.Key_N, CTRL)
    assert len(c.objects) == 0 and c.undo_stack.count() == 0
    assert c.add_object() is None and len(c.objects) == 0  # what the button would do

    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    assert add.isEnabled()
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)  # the session refuses it
    qtbot.waitUntil(lambda: any(b.isVisible() for b in w.error_boxes), timeout=WAIT)
    assert "no room for another object" in w.error_boxes[-1].informativeText()
    qtbot.waitUntil(lambda: c.objects.ids == [1], timeout=WAIT)
    assert [w.objects_panel.list.item(r).text() for r in range(w.objects_panel.list.count())] == [
        "Object 1"
    ]
    assert c.undo_stack.count() == 0
    w.error_boxes[-1].close()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT)
    click(qtbot, w, 30, 36)  # the panel goes on with the object it has
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is P, timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo takes back the click, not a phantom object
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is E, timeout=WAIT)
    assert c.objects.ids == [1] and c.undo_stack.count() == 1  # the click, to redo


def test_missing_weights_offer_both_ways_and_a_chosen_file_starts_the_session(
    qtbot, make_window, tmp_path, monkeypatch
):
    """Issue 14 item 6: offline, the weights dialog offered only a download (which retried
    for 30 s) and never said Model ▸ Checkpoint File…; now it names both and its second
    button picks the file, after which the clip's session starts on it."""
    from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

    from etam_plugin.errors import WeightsUnavailableError

    error = WeightsUnavailableError(
        "No weights for ti_512x512 on this computer.",
        variant="ti_512x512",
        url="https://huggingface.co/x",
        target=tmp_path / "w.pt",
    )
    factory = FakeSessionFactory(fail=error)
    w = make_window(factory)
    del w.ask_download  # the real dialog
    weights = tmp_path / "mine.pt"

    def pick(*_args, **_kw):
        factory.fail = None  # the file the user has
        return str(weights), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", pick)
    seen = {}

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, answer)
            return
        seen["text"] = box.informativeText()
        seen["buttons"] = [b.text() for b in box.buttons()]
        choose = [b for b in box.buttons() if b.text() == "Choose File…"]
        (choose[0] if choose else box.button(QMessageBox.StandardButton.Cancel)).click()

    QTimer.singleShot(50, answer)
    w.open_path(tmp_path / "synthetic.mp4")
    c = w.controller
    qtbot.waitUntil(lambda: c.session_state is SessionState.READY, timeout=WAIT)
    assert "Download" in seen["buttons"] and "Choose File…" in seen["buttons"]
    assert "Model ▸ Checkpoint File…" in seen["text"]
    assert factory.options.checkpoint == weights
    assert not any(b.isVisible() for b in w.error_boxes)


def test_a_click_the_model_works_on_shows_busy_at_once_and_ready_never_lies(
    qtbot, make_window, tmp_path
):
    """Issue 14 item 6: a first click waited seconds with no busy sign, the status bar said
    "ready" while tracking, and progress opened on "9865.7 fps · ETA 0:00"."""
    import time

    w = make_window(FakeSessionFactory(prompt_delay_s=0.6, delay_s=0.02))
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    assert w.busy_label.isHidden() and w.cursor().shape() == Qt.CursorShape.ArrowCursor
    t0 = time.perf_counter()
    click(qtbot, w, 30, 36)
    shown_ms = (time.perf_counter() - t0) * 1000
    assert w.busy_label.isVisible() and shown_ms < 100, shown_ms
    assert w.busy_label.text() == "Updating the mask on frame 0…"
    assert w.cursor().shape() == Qt.CursorShape.BusyCursor
    assert "ready" not in w.model_label.text() and "computing" in w.model_label.text()
    assert not w.actions["track_forward"].isEnabled()  # it would plan from old coverage
    assert not w.actions["export"].isEnabled()
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is P, timeout=WAIT)
    assert w.busy_label.isHidden() and w.cursor().shape() == Qt.CursorShape.ArrowCursor
    assert w.actions["track_forward"].isEnabled() and "ready" in w.model_label.text()

    labels, messages, progress = [], [], []
    c.statusChanged.connect(lambda _info: labels.append(w.model_label.text()))
    w.statusBar().messageChanged.connect(messages.append)
    c.trackingProgress.connect(lambda _p: progress.append(w.progress.label.text()))
    track(qtbot, w, Qt.Key.Key_Right)
    during = labels[: len(labels) - 1]  # the last one is after tracking
    assert during and all("tracking" in t and "ready" not in t for t in during)
    assert not any(t.lower().startswith("ready") for t in messages)
    assert progress[0] == "1/23 frames · estimating…"
    assert "ready" in w.model_label.text()


def test_finishing_values_are_typed_or_dragged_and_print_the_real_flag(
    qtbot, make_window, tmp_path
):
    """Issue 14 item 8: the dock printed ``--matte grow=4.09091`` (the flag is
    ``--matte-ops``; slider values unrounded) and offered sliders only."""
    from etam_plugin.matte import MatteOps

    w = make_window()
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    panel = w.finishing_panel
    grow = panel.grow
    grow.spin.setFocus()
    qtbot.keyClick(grow.spin, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(grow.spin, "4.19")  # one decimal: the second is not taken
    qtbot.keyClick(grow.spin, Qt.Key.Key_Return)
    assert c.finishing.grow == 4.1 and grow.slider.value() == 41  # the slider followed
    grow.slider.setFocus()
    qtbot.keyClick(grow.slider, Qt.Key.Key_Right)  # one step by keyboard on the slider
    assert grow.spin.value() == 4.2 and c.finishing.grow == 4.2
    feather = panel.feather
    feather.spin.setFocus()
    qtbot.keyClick(feather.spin, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(feather.spin, "2.5")
    qtbot.keyClick(feather.spin, Qt.Key.Key_Return)
    assert panel.spec.text().replace("\u200b", "") == "--matte-ops grow=4.2,feather=2.5"
    assert MatteOps.parse("grow=4.2,feather=2.5") == c.finishing  # what `track` would read
    feather.slider.setFocus()
    qtbot.keyClick(feather.slider, Qt.Key.Key_End)  # the slider's end: the spin box follows
    assert feather.spin.value() == 30.0 and c.finishing.feather == 30.0
    assert c.transport.current == 0  # the focused slider took ← → End, not the transport


def test_the_window_docks_beside_an_editor_at_900_by_600(qtbot, make_window, tmp_path):
    """Issue 14 item 10: the window would not go below 1229×554 (under X), too wide to sit
    beside an editing program on a 1920-wide screen."""
    w = make_window()
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    hint = w.minimumSizeHint()
    assert hint.width() <= 900 and hint.height() <= 600, hint
    from etam_plugin.gui._qt.compact import TextIfRoomButton

    forward = w.actions["track_forward"]
    (track,) = [b for b in w.findChildren(TextIfRoomButton) if b.defaultAction() is forward]
    w.resize(900, 600)
    qtbot.waitUntil(lambda: w.size().width() == 900 and w.size().height() == 600, timeout=WAIT)
    assert w.viewer.width() > 200 and w.viewer.height() > 200
    w.resize(hint.width(), 600)  # narrowest: the Track Forward button keeps only its icon
    qtbot.waitUntil(lambda: track.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly)
    click(qtbot, w, 30, 36)  # still usable
    qtbot.waitUntil(lambda: w.controller.coverage.status(1, 0) is P, timeout=WAIT)
    w.resize(1600, 800)  # room again: the text comes back
    qtbot.waitUntil(
        lambda: track.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon,
        timeout=WAIT,
    )


def test_go_to_a_frame_and_jump_to_the_frames_left_to_track(qtbot, make_window, tmp_path):
    """Issue 14 item 9 (part): on a long clip a few tracked frames are invisible in the
    strip; Ctrl+G goes to a frame or timecode and Alt+→ / Alt+← to where untracked or stale
    frames start."""
    from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

    w = make_window()
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")

    def type_into_dialog(text: str) -> None:
        def answer() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QInputDialog):
                QTimer.singleShot(30, answer)
                return
            edit = box.findChild(QLineEdit)
            qtbot.keyClick(edit, Qt.Key.Key_A, CTRL)
            qtbot.keyClicks(edit, text)
            qtbot.keyClick(edit, Qt.Key.Key_Return)

        w.activateWindow()  # back from the last dialog
        qtbot.waitUntil(w.isActiveWindow, timeout=WAIT)
        QTimer.singleShot(30, answer)
        key(qtbot, w, Qt.Key.Key_G, CTRL)

    type_into_dialog("10")
    qtbot.waitUntil(lambda: c.displayed_frame == 10, timeout=WAIT)
    type_into_dialog("00:00:00:05")  # the synthetic clip runs at 25 fps
    qtbot.waitUntil(lambda: c.displayed_frame == 5, timeout=WAIT)
    type_into_dialog("99")
    assert c.transport.current == 5 and "outside the clip" in w.statusBar().currentMessage()
    type_into_dialog("ten")
    assert c.transport.current == 5 and "Not a frame number" in w.statusBar().currentMessage()

    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT)
    go_to(qtbot, w, 0)
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is P, timeout=WAIT)
    go_to(qtbot, w, 8)
    key(qtbot, w, Qt.Key.Key_O)
    track(qtbot, w, Qt.Key.Key_Right)  # 0–8 done, 9–23 not
    go_to(qtbot, w, 3)
    click(qtbot, w, 60, 20)  # a correction on 3: 4–8 stale
    qtbot.waitUntil(lambda: c.coverage.status(1, 4) is S, timeout=WAIT)
    go_to(qtbot, w, 0)
    key(qtbot, w, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert c.transport.current == 4  # 4–23: stale, then untracked, one run
    key(qtbot, w, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert c.transport.current == 4 and "No untracked, stale" in w.statusBar().currentMessage()
    key(qtbot, w, Qt.Key.Key_End)
    key(qtbot, w, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert c.transport.current == 4


def test_a_very_long_track_job_is_confirmed_first(qtbot, make_window, tmp_path):
    """Issue 14 item 9 (part): Ctrl+→ over a whole feature started a 5-hour job unasked.
    (The threshold is lowered here so the 24-frame test clip counts as long.)"""
    from PySide6.QtWidgets import QApplication, QMessageBox

    w = make_window(FakeSessionFactory(delay_s=0.15))  # 8 frames take over 1 s: a rate
    c = w.controller
    w.long_track_frames = 10
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is P, timeout=WAIT)
    seen = []

    def answer(button: str) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(30, lambda: answer(button))
            return
        seen.append((box.text(), box.informativeText()))
        next(b for b in box.buttons() if b.text() == button).click()

    QTimer.singleShot(30, lambda: answer("Cancel"))
    key(qtbot, w, Qt.Key.Key_Right, CTRL)
    assert seen[-1][0] == "Track 23 frames?" and "not known yet" in seen[-1][1]
    assert c.tracking is None and c.coverage.status(1, 5) is E  # nothing started
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT)
    go_to(qtbot, w, 8)
    key(qtbot, w, Qt.Key.Key_O)
    track(qtbot, w, Qt.Key.Key_Right)  # 8 frames: not long, not asked
    assert len(seen) == 1
    key(qtbot, w, Qt.Key.Key_End)
    key(qtbot, w, Qt.Key.Key_O)
    QTimer.singleShot(30, lambda: answer("Track"))
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        key(qtbot, w, Qt.Key.Key_Right, CTRL)
    assert seen[-1][0] == "Track 15 frames?" and "last measured" in seen[-1][1]
    assert c.coverage.statuses(1) == [P] + [T] * 23


def test_loop_playback_of_the_in_out_range(qtbot, make_window, tmp_path):
    """Issue 14 item 9 (part): no loop of in–out; a shot is judged by watching it loop."""
    w = make_window()
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    go_to(qtbot, w, 2)
    key(qtbot, w, Qt.Key.Key_I)
    go_to(qtbot, w, 5)
    key(qtbot, w, Qt.Key.Key_O)
    go_to(qtbot, w, 3)
    key(qtbot, w, Qt.Key.Key_L, CTRL)  # Loop In–Out on
    assert w.actions["loop"].isChecked()
    seen: list[int] = []
    c.transport.frame_changed.connect(seen.append)
    key(qtbot, w, Qt.Key.Key_L)  # play
    qtbot.waitUntil(lambda: seen.count(2) >= 2, timeout=WAIT)  # wrapped around twice
    key(qtbot, w, Qt.Key.Key_K)
    assert set(seen) <= {2, 3, 4, 5} and seen[seen.index(5) : seen.index(5) + 2] == [5, 2]
    key(qtbot, w, Qt.Key.Key_L, CTRL)  # off: playback runs to the clip's end and stops
    go_to(qtbot, w, 20)
    key(qtbot, w, Qt.Key.Key_L)
    qtbot.waitUntil(lambda: not c.transport.playing, timeout=WAIT)
    assert c.transport.current == 23


def test_export_dialog_swatches_keep_the_objects_colours(qtbot, make_window, tmp_path):
    """Issue 14 item 11 (part): the Export dialog's object swatches were grey (the list is
    disabled until "chosen objects" is picked, and Qt greyed the colours out)."""
    from PySide6.QtGui import QColor, QIcon

    w = make_window()
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    key(qtbot, w, Qt.Key.Key_E, CTRL)
    dialog = w.export_dialog
    qtbot.waitExposed(dialog)
    assert not dialog.object_list.isEnabled()
    item = dialog.object_list.item(0)
    shown = item.icon().pixmap(14, 14, QIcon.Mode.Disabled).toImage().pixelColor(7, 7)
    assert shown == QColor(*c.objects.get(1).color)
    dialog.close()


def test_delete_an_object_then_undo_and_redo_show_exactly_what_was_seen(
    qtbot, make_window, tmp_path
):
    """Issue 14: deleting a whole object, then undo, then redo, and undo again must show
    at each step exactly what the user saw (every frame's mask, tracked, not stale) with
    no re-track. Undo used to bring back only the prompted frame; the tracked ones were
    empty and had to be tracked again."""
    from test_real_session import TinyModelFactory

    w = make_window(TinyModelFactory(seed=2))
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is P, timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_N, CTRL)  # a second object, which stays
    click(qtbot, w, 70, 20)
    qtbot.waitUntil(lambda: c.coverage.status(2, 0) is P, timeout=WAIT)
    with qtbot.waitSignal(c.trackingFinished, timeout=60_000):  # two objects, real network
        key(qtbot, w, Qt.Key.Key_Right, CTRL)
    frames = range(24)
    seen = seen_masks(qtbot, w, frames)
    other = [c.masks.get(f, 2).copy() for f in frames]
    statuses = c.coverage.statuses(1)
    assert statuses == [P] + [T] * 23
    started: list = []
    c.trackingStarted.connect(started.append)

    c.set_active_object(1)
    for _ in range(2):
        key(qtbot, w, Qt.Key.Key_Backspace, CTRL)  # delete Object 1 (redo, the second time)
        qtbot.waitUntil(lambda: c.objects.ids == [2] and not c.busy, timeout=WAIT)
        assert w.viewer.rendered is not None
        key(qtbot, w, Qt.Key.Key_Z, CTRL)  # undo: Object 1 as it was
        qtbot.waitUntil(lambda: 1 in c.objects and not c.busy, timeout=WAIT)
        qtbot.waitUntil(lambda: c.coverage.statuses(1) == statuses, timeout=WAIT)
        back = seen_masks(qtbot, w, frames)
        assert [f for f in frames if not np.array_equal(back[f], seen[f])] == []
        assert all(np.array_equal(c.masks.get(f, 2), other[f]) for f in frames)
        key(qtbot, w, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)  # redo: gone
        qtbot.waitUntil(lambda: c.objects.ids == [2] and not c.busy, timeout=WAIT)
        assert not any(c.masks.has(f, 1) for f in frames)
        key(qtbot, w, Qt.Key.Key_Z, CTRL)  # and back again for the next round
        qtbot.waitUntil(lambda: c.coverage.statuses(1) == statuses, timeout=WAIT)
        c.set_active_object(1)
    assert started == []  # never a re-track


def strip_pixel(w, frame: int, row: int = 0):
    """The colour the strip shows in object row ``row`` at the middle of ``frame``, on the
    bar's bottom line (below keyframe marks)."""
    from PySide6.QtGui import QColor

    strip = w.strip
    image = strip.grab().toImage()
    x = math.floor(strip.frame_x(frame) * image.devicePixelRatio())
    y = math.floor(strip.bar_rect(row).bottom() * image.devicePixelRatio())
    return QColor(image.pixel(x, y)).getRgb()[:3]


def near(colour: tuple, rgb: tuple) -> bool:
    """Within antialiasing of ``rgb`` (keyframe marks are drawn smooth)."""
    return max(abs(a - b) for a, b in zip(colour, rgb, strict=True)) <= 8


def test_timeline_zooms_so_a_few_frames_of_a_long_clip_can_be_seen_and_used(
    qtbot, make_window, clips, tmp_path
):
    """Issue 14 item 9 (part): 20 tracked frames of a 17,629-frame clip were a fraction of a
    pixel in the strip, and nothing could make them bigger. Zoom to In–Out, Ctrl+wheel,
    the gutter's buttons; the view follows the playhead and scrolls while zoomed."""
    from gui_frames import synthetic_clip
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication, QToolButton

    n = 17_629
    long = clips.add(tmp_path / "long.mp4", np.broadcast_to(synthetic_clip(1)[0], (n, 72, 96, 3)))
    w = make_window()
    c, strip = w.controller, w.strip
    open_clip(qtbot, w, long)
    colour = c.objects.get(1).color
    key(qtbot, w, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: c.displayed_frame == n - 1, timeout=WAIT)
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.coverage.status(1, n - 1) is P, timeout=WAIT)
    go_to(qtbot, w, n - 20)
    key(qtbot, w, Qt.Key.Key_I)
    track(qtbot, w, Qt.Key.Key_Left)
    assert c.coverage.statuses(1)[n - 20 :] == [T] * 19 + [P]
    assert strip.frame_x(n - 1) - strip.frame_x(n - 20) < 2  # unzoomed: about a pixel
    key(qtbot, w, Qt.Key.Key_X, Qt.KeyboardModifier.AltModifier)  # no range lines over it
    key(qtbot, w, Qt.Key.Key_Home)
    assert near(strip_pixel(w, n - 10), colour)  # …but drawn, not lost between pixels
    assert not strip.scroll_bar.isVisible()
    key(qtbot, w, Qt.Key.Key_End)
    go_to(qtbot, w, n - 20)
    key(qtbot, w, Qt.Key.Key_I)

    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.AltModifier)  # zoom to In–Out
    assert strip.visible_frames() == range(n - 20, n)
    assert strip.frame_x(n - 19) - strip.frame_x(n - 20) > 20  # a frame is a button's width
    other = [f for f in range(n - 20, n) if not near(strip_pixel(w, f), colour)]
    assert other == [n - 20, n - 1]  # the playhead's line and the keyframe's mark
    assert strip.scroll_bar.isVisible()
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(round(strip.frame_x(n - 7)), 30))
    assert c.transport.current == n - 7  # a click lands on the frame under it

    def wheel(x: float, notches: int, mods=CTRL) -> None:
        pos = QPointF(x, 30)
        delta = QPoint(0, 120 * notches)
        event = QWheelEvent(
            pos, strip.mapToGlobal(pos), QPoint(), delta, Qt.MouseButton.NoButton, mods,
            Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(strip, event)

    # Ctrl+wheel out at the clip's end: the view grows leftwards, the end stays in view.
    wheel(strip.frame_x(n - 7), -3)
    assert 38 < strip.visible_count < 40 and strip.visible_frames().stop == n

    # The buttons in the gutter: the whole clip, then in by two twice around the playhead.
    buttons = {b.defaultAction().objectName(): b for b in strip.findChildren(QToolButton)}
    qtbot.mouseClick(buttons["timeline_zoom_all"], Qt.MouseButton.LeftButton)
    assert strip.visible_frames() == range(n) and not strip.scroll_bar.isVisible()
    qtbot.mouseClick(buttons["timeline_zoom_in"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons["timeline_zoom_in"], Qt.MouseButton.LeftButton)
    assert abs(strip.visible_count - n / 4) < 1 and c.transport.current in strip.visible_frames()
    # Ctrl+wheel in around the pointer: the frame under it stays under it.
    qtbot.mouseClick(buttons["timeline_zoom_all"], Qt.MouseButton.LeftButton)
    x = strip.frame_x(6000)
    wheel(x, 8)
    assert abs(strip.frame_x(6000) - x) < 2 and abs(strip.visible_count - n / 1.25**8) < 1

    # The view follows the playhead out of it, and the wheel scrolls while zoomed.
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.AltModifier)
    key(qtbot, w, Qt.Key.Key_Home)
    assert 0 in strip.visible_frames() and round(strip.visible_count) == 20
    assert not near(strip_pixel(w, 5), colour)  # untracked here
    first = strip.first_visible
    wheel(300, -1, Qt.KeyboardModifier.NoModifier)
    assert strip.first_visible == first + 2
    for _ in range(25):
        key(qtbot, w, Qt.Key.Key_Right)
    assert 25 in strip.visible_frames()
    key(qtbot, w, Qt.Key.Key_Minus, Qt.KeyboardModifier.AltModifier)
    assert round(strip.visible_count) == 40 and 25 in strip.visible_frames()


def test_jump_to_the_next_problem_stops_where_an_object_is_lost_or_unsure(
    qtbot, make_window, tmp_path
):
    """Issue 14 item 9 (part): Alt+→ / Alt+← stopped only where frames still need tracking;
    a frame where the model lost the object, or scored its mask low, was found only by
    watching every frame. The fake scores a mask cut by the frame's edge 0.4 and an empty
    one absent: object 2, clicked near the right edge and tracked right, is cut from frame 3
    and gone from frame 13."""
    w = make_window()
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.coverage.status(1, 0) is P, timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: c.objects.active_id == 2, timeout=WAIT)
    click(qtbot, w, 80, 36)
    qtbot.waitUntil(lambda: c.coverage.status(2, 0) is P, timeout=WAIT)
    track(qtbot, w, Qt.Key.Key_Right)
    assert c.coverage.statuses(2) == [P] + [T] * 23

    def jump(k: Qt.Key) -> str:
        key(qtbot, w, k, Qt.KeyboardModifier.AltModifier)
        return w.statusBar().currentMessage()

    go_to(qtbot, w, 0)
    assert jump(Qt.Key.Key_Right) == "Frame 3: Object 2 scores low (predicted IoU 0.40)."
    assert c.transport.current == 3
    assert jump(Qt.Key.Key_Right) == "Frame 13: Object 2 lost."
    assert c.transport.current == 13
    assert jump(Qt.Key.Key_Right).startswith("No untracked, stale, lost or low-score frames")
    assert c.transport.current == 13
    key(qtbot, w, Qt.Key.Key_End)
    assert jump(Qt.Key.Key_Left) == "Frame 13: Object 2 lost." and c.transport.current == 13
    assert jump(Qt.Key.Key_Left).startswith("Frame 3: ") and c.transport.current == 3

    # The strip draws them apart: an amber line over the object's colour where it is
    # unsure, a red line over a dark gap where it is lost; object 1 is fine throughout.
    from etam_plugin.gui.components.coverage import PROBLEM_COLORS

    strip = w.strip
    image = strip.grab().toImage()

    def at(frame: int, row: int, y: int) -> tuple:
        x = math.floor(strip.frame_x(frame + 0.25))  # clear of the playhead's line
        return QColor(image.pixel(x, strip.bar_rect(row).top() + y)).getRgb()[:3]

    obj2 = c.objects.get(2).color
    assert near(at(8, 1, 1), PROBLEM_COLORS["low"]) and near(at(8, 1, 8), obj2)
    assert near(at(18, 1, 1), PROBLEM_COLORS["lost"]) and near(at(18, 1, 8), (27, 30, 35))
    assert near(at(1, 1, 1), obj2) and near(at(8, 0, 1), c.objects.get(1).color)

    # A correction on frame 5 makes 6–23 stale: the jump stops there first, saying so.
    go_to(qtbot, w, 5)
    click(qtbot, w, 40, 36)
    qtbot.waitUntil(lambda: c.coverage.status(2, 6) is S, timeout=WAIT)
    go_to(qtbot, w, 4)
    message = jump(Qt.Key.Key_Right)
    assert (
        c.transport.current == 6 and message == "Frame 6: Object 2 stale (a correction before it)."
    )
    track(qtbot, w, Qt.Key.Key_Right)  # re-tracked from the correction: the disc stays in
    assert c.coverage.problems(2) == {3: "low", 4: "low"}
    go_to(qtbot, w, 4)
    assert jump(Qt.Key.Key_Right).startswith("No untracked, stale, lost or low-score frames")


def test_a_broken_timeline_says_so_and_leaves_no_reading_message(qtbot, make_window, tmp_path):
    """Issue 14 item 1 (part), found by the scripted session: a broken timeline's error
    box came, but "Reading the timeline broken.otio…" stayed in the status bar for good;
    and the second broken one must be said too."""
    w = make_window()
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    for k in range(2):
        bad = tmp_path / f"broken-{k}.otio"
        bad.write_text("{ not a timeline")
        seen = w.last_report
        w.open_path(bad)
        qtbot.waitUntil(lambda seen=seen: w.last_report is not seen, timeout=WAIT)
        assert any(b.isVisible() for b in w.error_boxes)
        assert "Reading the timeline" not in w.statusBar().currentMessage()
        for box in list(w.error_boxes):
            box.close()
    assert w.controller.info is not None  # the open clip stays
