"""Brush corrections (issue 14): paint onto an object's mask on any frame, as with After
Effects' Roto Brush or Resolve's Magic Mask; the painted mask becomes that frame's mask
prompt, undoable like a click, and it is saved with the project.

The real window, driven by the mouse and keys; the real VideoSession on a tiny seeded
network where the session's own behaviour matters (undo, save and reopen)."""

from __future__ import annotations

import numpy as np
import pytest
from gui_actions import click, key, open_clip, shows, type_into
from PySide6.QtCore import QPoint, Qt
from test_journeys import CTRL, WAIT, go_to, tracked_on_a_real_session

from etam_plugin.model import FrameStatus

pytestmark = pytest.mark.gui
T, P, S, E = FrameStatus.TRACKED, FrameStatus.PROMPTED, FrameStatus.STALE, FrameStatus.EMPTY


def at(w, x: int, y: int) -> QPoint:
    centre = w.viewer.viewport_point(x, y)
    return QPoint(int(np.floor(centre.x())), int(np.floor(centre.y())))


def drag(qtbot, w, path, button=Qt.MouseButton.LeftButton, mods=None, before_release=None):
    """Press on the first source pixel of ``path``, move through the others, release."""
    viewport = w.viewer.viewport()
    mods = mods or Qt.KeyboardModifier.NoModifier
    qtbot.mousePress(viewport, button, mods, at(w, *path[0]))
    for x, y in path[1:]:
        qtbot.mouseMove(viewport, at(w, x, y))
    if before_release is not None:
        before_release()
    qtbot.mouseRelease(viewport, button, mods, at(w, *path[-1]))


def type_size(qtbot, w, text: str) -> None:
    type_into(qtbot, w.brush_size, text)
    w.viewer.setFocus()


def stroke_pixels(path, size: int, shape) -> np.ndarray:
    """The source pixels a round brush of diameter ``size`` covers along ``path``: what the
    painted correction adds, give or take its rim."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    out = np.zeros(shape, bool)
    r = size / 2 - 1.5  # inside the rim
    for (x0, y0), (x1, y1) in zip(path, path[1:] or path, strict=False):
        for t in np.linspace(0, 1, 50):
            cx, cy = x0 + (x1 - x0) * t + 0.5, y0 + (y1 - y0) * t + 0.5
            out |= (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r
    return out


def test_brush_paints_a_mask_prompt_that_undo_and_redo_take_back_and_bring_back(
    qtbot, make_window, tmp_path
):
    """Track, then on frame 12 paint onto the tracked mask and paint part of it away: each
    stroke is a correction (frame 12 prompted, later frames stale) shown while painting,
    and undo / redo walk back and forth through exactly the masks the user saw."""
    w = tracked_on_a_real_session(qtbot, make_window, tmp_path)
    c = w.controller
    go_to(qtbot, w, 12)
    qtbot.waitUntil(lambda: c.masks.has(12, 1), timeout=WAIT)
    tracked = c.masks.get(12, 1).copy()

    key(qtbot, w, Qt.Key.Key_B)  # the brush
    assert w.actions["brush"].isChecked() and w.viewer.brush.enabled
    type_size(qtbot, w, "8")
    assert w.viewer.brush.size == 8
    key(qtbot, w, Qt.Key.Key_BracketRight)  # bigger, not the next object
    assert w.viewer.brush.size == 10 and w.brush_size.value() == 10
    key(qtbot, w, Qt.Key.Key_BracketLeft)
    assert w.viewer.brush.size == 8 and c.objects.active_id == 1

    qtbot.mouseMove(w.viewer.viewport(), at(w, 50, 10))
    circle = w.viewer.brush.cursor_rect  # the brush's size shows at the pointer
    assert circle is not None and circle.width() == pytest.approx(8)
    assert circle.center().x() == pytest.approx(50.5, abs=0.6)

    add_path = [(10, 10), (20, 10), (30, 10), (40, 12)]
    seen = {}

    def while_painting() -> None:
        image = w.viewer.brush.stroke_image
        seen["shown"] = image is not None and image.pixelColor(20, 10).alpha() > 0
        seen["undo_steps"] = c.undo_stack.count()

    before_steps = c.undo_stack.count()
    drag(qtbot, w, add_path, before_release=while_painting)
    assert seen == {"shown": True, "undo_steps": before_steps}  # visible, not yet applied
    assert w.viewer.brush.stroke_image is None  # the stroke becomes the mask
    qtbot.waitUntil(lambda: c.coverage.status(1, 12) is P, timeout=WAIT)
    qtbot.waitUntil(lambda: c.coverage.statuses(1)[13:] == [S] * 11, timeout=WAIT)
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    added = c.masks.get(12, 1).copy()
    painted = stroke_pixels(add_path, 8, tracked.shape)
    prompt = c.prompts.get(12, 1).mask  # what went to the model
    assert prompt[painted].all()  # the stroke is in the mask prompt
    assert (prompt | ~tracked).all()  # and all that was tracked stays in it
    assert added[painted].mean() > 0.95  # shown: the model's output for it (resampled)

    cut_path = [(20, 10), (30, 10)]
    drag(qtbot, w, cut_path, button=Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: c.undo_stack.count() == before_steps + 2, timeout=WAIT)
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    cut = c.masks.get(12, 1).copy()
    cut_prompt = c.prompts.get(12, 1).mask
    removed = stroke_pixels(cut_path, 8, cut.shape)
    assert not cut_prompt[removed].any() and cut[removed].mean() < 0.05
    assert cut_prompt[12, 40] and cut_prompt[10, 10]  # outside the cut: still painted
    assert not (cut_prompt & ~added).any()  # cut from what was shown
    drag(qtbot, w, [(40, 12), (41, 12)], mods=Qt.KeyboardModifier.AltModifier)  # Alt: cut
    qtbot.waitUntil(lambda: c.undo_stack.count() == before_steps + 3, timeout=WAIT)
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    alt_cut = c.masks.get(12, 1).copy()
    alt_prompt = c.prompts.get(12, 1).mask
    assert not alt_prompt[12, 40] and not (alt_prompt & ~cut).any()
    assert w.error_boxes == []

    started: list = []
    c.trackingStarted.connect(started.append)
    for expected in (cut, added, tracked):
        key(qtbot, w, Qt.Key.Key_Z, CTRL)
        qtbot.waitUntil(lambda e=expected: np.array_equal(c.masks.get(12, 1), e), timeout=WAIT)
    qtbot.waitUntil(lambda: c.coverage.statuses(1) == [P] + [T] * 23, timeout=WAIT)
    for expected in (added, cut, alt_cut):
        key(qtbot, w, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
        qtbot.waitUntil(lambda e=expected: np.array_equal(c.masks.get(12, 1), e), timeout=WAIT)
    assert c.coverage.status(1, 12) is P and started == []

    key(qtbot, w, Qt.Key.Key_B)  # off: a click is a point again, ] the next object
    assert not w.viewer.brush.enabled
    key(qtbot, w, Qt.Key.Key_BracketRight)
    assert w.viewer.brush.size == 8


def test_a_painted_frame_is_saved_and_reopened_with_its_mask(qtbot, make_window, tmp_path):
    """Save–close–reopen: the painted mask prompt comes back as the frame's prompt and
    mask, so re-tracking after reopening starts from the paint, not from a click."""
    from test_real_session import TinyModelFactory

    factory = TinyModelFactory(seed=2)
    w = make_window(factory)
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    go_to(qtbot, w, 3)
    click(qtbot, w, 70, 60)
    qtbot.waitUntil(lambda: c.masks.has(3, 1) and c.masks.get(3, 1)[60, 70], timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_Delete, CTRL)  # cleared: the old mask must not linger
    qtbot.waitUntil(lambda: c.coverage.status(1, 3) is E and not c.masks.has(3, 1), timeout=WAIT)
    qtbot.waitUntil(lambda: shows(w, {}), timeout=WAIT)  # and the viewer shows no mask
    key(qtbot, w, Qt.Key.Key_B)
    type_size(qtbot, w, "12")
    path = [(20, 30), (40, 30), (40, 45)]
    drag(qtbot, w, path)  # no mask here now: the paint is the whole mask
    qtbot.waitUntil(lambda: c.coverage.status(1, 3) is P, timeout=WAIT)
    qtbot.waitUntil(lambda: not c.busy, timeout=WAIT)
    painted = c.masks.get(3, 1).copy()
    prompt = c.prompts.get(3, 1).mask
    assert prompt[stroke_pixels(path, 12, painted.shape)].all()
    assert not prompt[0, 0] and not prompt[60, 70]  # not painted over the cleared mask
    project = tmp_path / "shot.etam"
    with qtbot.waitSignal(c.projectSaved, timeout=WAIT):
        assert c.save_project(project)
    w.close()

    w2 = make_window(factory)
    c2 = w2.controller
    w2.open_path(project)
    qtbot.waitUntil(lambda: c2.displayed_frame == 3, timeout=WAIT)
    qtbot.waitUntil(lambda: c2.masks.has(3, 1), timeout=WAIT)
    np.testing.assert_array_equal(c2.masks.get(3, 1), painted)
    assert c2.coverage.status(1, 3) is P
    np.testing.assert_array_equal(c2.prompts.get(3, 1).mask, prompt)
    key(qtbot, w2, Qt.Key.Key_Z, CTRL)  # nothing to undo in a reopened project
    assert c2.coverage.status(1, 3) is P
