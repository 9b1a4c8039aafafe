"""The main window end to end on the fake session: clicks on the viewer, keys, objects panel,
timeline strip colours, view modes, finishing, errors, drag and drop, settings."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from gui_actions import open_clip
from gui_fake_session import FakeSessionFactory, draw_prompt
from gui_frames import synthetic_clip
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox

from etam_plugin.gui._qt.dialogs import ShortcutsDialog
from etam_plugin.gui._qt.images import qimage_to_rgb
from etam_plugin.gui._qt.main_window import MainWindow
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.components.coverage import EMPTY_COLOR, status_color
from etam_plugin.gui.components.objects import PALETTE
from etam_plugin.gui.components.prompts import with_point
from etam_plugin.gui.components.recovery import RecoveryArea
from etam_plugin.gui.components.render import Layer, ViewMode, compose
from etam_plugin.gui.components.shortcuts import SHORTCUTS
from etam_plugin.model import FrameStatus

pytestmark = pytest.mark.gui
WAIT = 10_000
SIZE = (72, 96)


@pytest.fixture
def window(make_window) -> MainWindow:
    return make_window()


def click(qtbot, w: MainWindow, x: int, y: int, button=Qt.MouseButton.LeftButton, mods=None):
    centre = w.viewer.viewport_point(x, y)
    pos = QPoint(int(np.floor(centre.x())), int(np.floor(centre.y())))
    if mods is None:
        qtbot.mouseClick(w.viewer.viewport(), button, pos=pos)
    else:
        qtbot.mouseClick(w.viewer.viewport(), button, mods, pos)


def key(qtbot, w: MainWindow, k, mods=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(w, k, mods)


def shown_mask(w: MainWindow, color) -> np.ndarray:
    """Where the viewer's last composite differs from the plain frame."""
    frame = w.controller.image.astype(int)
    shown = w.viewer.rendered.astype(int)
    return np.abs(shown - frame).sum(axis=2) > 0


def shows(w: MainWindow, masks: dict[int, np.ndarray]) -> bool:
    """The viewer shows exactly the frame with these objects' masks in the current mode."""
    c = w.controller
    layers = [Layer(mask, c.objects.get(o).color) for o, mask in masks.items()]
    expected = compose(c.image, layers, c.view.mode, c.view.opacity)
    return w.viewer.rendered is not None and np.array_equal(w.viewer.rendered, expected)


def test_click_shows_the_overlay_negative_shrinks_undo_restores(qtbot, window, tmp_path):
    w, c = window, window.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    assert not shown_mask(w, PALETTE[0]).any()
    click(qtbot, w, 30, 36)
    p1 = with_point(None, (30, 36), True)
    qtbot.waitUntil(lambda: shows(w, {1: draw_prompt(p1, SIZE)}), timeout=WAIT)
    click(qtbot, w, 34, 36, Qt.MouseButton.RightButton)
    p2 = with_point(p1, (34, 36), False)
    qtbot.waitUntil(lambda: shows(w, {1: draw_prompt(p2, SIZE)}), timeout=WAIT)
    assert [m.positive for m in w.viewer.markers if hasattr(m, "positive")] == [True, False]
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: shows(w, {1: draw_prompt(p1, SIZE)}), timeout=WAIT)
    key(
        qtbot,
        w,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: shows(w, {1: draw_prompt(p2, SIZE)}), timeout=WAIT)
    assert w.isWindowModified()
    assert c.undo_stack.count() == 2


def test_alt_click_and_zoomed_clicks_prompt_the_right_pixels(qtbot, window, tmp_path):
    w, c = window, window.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    w.viewer.set_zoom(5.0)
    w.viewer.centerOn(QPointF(60, 20))
    click(qtbot, w, 61, 22)
    click(qtbot, w, 58, 18, mods=Qt.KeyboardModifier.AltModifier)
    assert c.prompts.get(0, 1).points_xy == ((61.0, 22.0), (58.0, 18.0))
    assert c.prompts.get(0, 1).labels == (1, 0)


def test_transport_keys(qtbot, window, tmp_path):
    w, t = window, window.controller.transport
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    key(qtbot, w, Qt.Key.Key_Right)
    key(qtbot, w, Qt.Key.Key_Right)
    assert t.current == 2
    key(qtbot, w, Qt.Key.Key_Left)
    assert t.current == 1
    key(qtbot, w, Qt.Key.Key_End)
    assert t.current == 23
    key(qtbot, w, Qt.Key.Key_O)
    key(qtbot, w, Qt.Key.Key_Home)
    assert t.current == 0
    key(qtbot, w, Qt.Key.Key_Right)
    key(qtbot, w, Qt.Key.Key_I)
    assert (t.in_point, t.out_point) == (1, 23)
    key(qtbot, w, Qt.Key.Key_L)
    key(qtbot, w, Qt.Key.Key_L)
    assert t.speed == 2
    qtbot.waitUntil(lambda: t.current >= 5, timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_K)
    assert not t.playing
    key(qtbot, w, Qt.Key.Key_J)
    assert t.speed == -1
    key(qtbot, w, Qt.Key.Key_K)
    assert "In 1 · Out 23" in w.range_label.text()
    qtbot.waitUntil(lambda: w.controller.displayed_frame == t.current, timeout=WAIT)
    assert w.frame_label.text().split()[0] == str(t.current)


def test_strip_coverage_colours_and_keyframes(qtbot, window, tmp_path):
    w, c = window, window.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        key(qtbot, w, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)  # track forward
    c.seek(10)
    qtbot.waitUntil(lambda: c.displayed_frame == 10, timeout=WAIT)
    click(qtbot, w, 50, 30)  # a correction: frames after 10 go stale
    qtbot.waitUntil(lambda: c.coverage.status(1, 15) is FrameStatus.STALE, timeout=WAIT)
    c.add_object("Empty one")
    c.seek(22)  # the playhead away from the frames looked at
    strip = w.strip
    qtbot.waitUntil(lambda: strip.height() == strip.sizeHint().height(), timeout=WAIT)
    image = qimage_to_rgb(strip.grab().toImage())
    dpr = strip.devicePixelRatioF()

    def colour_at(frame: int, row: int) -> tuple[int, int, int]:
        x = strip.frame_x(frame)
        y = strip.bar_rect(row).top() + 2
        return tuple(int(v) for v in image[round(y * dpr), round(x * dpr)])

    red, blue = PALETTE[0], PALETTE[1]
    assert colour_at(5, 0) == red  # tracked
    stale = colour_at(18, 0)
    assert stale != red and stale != EMPTY_COLOR
    assert abs(np.subtract(stale, status_color(FrameStatus.STALE, red))).max() <= 40  # hatched
    assert colour_at(5, 1) == EMPTY_COLOR and colour_at(20, 1) == EMPTY_COLOR
    centre = round(strip.bar_rect(0).center().y() * dpr) + 1
    for keyframe in (0, 10):
        x = round(strip.frame_x(keyframe) * dpr)
        assert tuple(image[centre, x]) == (255, 255, 255)  # keyframe diamond
    assert blue not in {colour_at(f, 1) for f in range(24)}


def test_scrubbing_the_strip_moves_the_playhead(qtbot, window, tmp_path):
    w, c = window, window.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    x = round(w.strip.frame_x(17))
    qtbot.mouseClick(w.strip, Qt.MouseButton.LeftButton, pos=QPoint(x, 30))
    assert c.transport.current == 17
    qtbot.waitUntil(lambda: c.displayed_frame == 17, timeout=WAIT)
    np.testing.assert_array_equal(w.viewer.rendered, synthetic_clip()[17])


def test_thumbnails_fill_the_strip(qtbot, window, tmp_path):
    w = window
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    frames = w.strip.thumbnail_frames()
    assert len(frames) > 3
    qtbot.waitUntil(lambda: all(f in w.strip._pixmaps for f in frames), timeout=WAIT)


def test_objects_panel_add_rename_recolour_hide_delete(qtbot, window, tmp_path):
    w, c, panel = window, window.controller, window.objects_panel
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert panel.list.count() == 2 and c.objects.active_id == 2
    click(qtbot, w, 60, 20)
    qtbot.waitUntil(lambda: c.masks.has(0, 2), timeout=WAIT)
    panel.item_for(2).setText("Ball")
    assert c.objects.get(2).name == "Ball"
    qtbot.waitUntil(
        lambda: "rename_object" in c.session_factory.sessions[0].call_names(), timeout=WAIT
    )
    c.set_object_color(2, (10, 200, 30))
    qtbot.waitUntil(lambda: (w.viewer.rendered == (10, 200, 30)).all(axis=2).any(), timeout=WAIT)
    panel.item_for(2).setCheckState(Qt.CheckState.Unchecked)
    assert not c.objects.get(2).visible
    qtbot.waitUntil(lambda: not shown_mask(w, (10, 200, 30)).any(), timeout=WAIT)
    panel.list.setCurrentRow(0)
    assert c.objects.active_id == 1
    panel.list.setCurrentRow(1)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert panel.list.count() == 1 and c.objects.ids == [1]
    key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == ["Object 1", "Ball"]


def test_view_modes_and_opacity(qtbot, window, tmp_path):
    w, c = window, window.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    mask = c.masks.get(0, 1)
    key(qtbot, w, Qt.Key.Key_2)
    assert c.view.mode is ViewMode.MATTE and w.actions["mode_matte"].isChecked()
    qtbot.waitUntil(lambda: set(np.unique(w.viewer.rendered)) <= {0, 255}, timeout=WAIT)
    np.testing.assert_array_equal(w.viewer.rendered[..., 0] == 255, mask)
    key(qtbot, w, Qt.Key.Key_3)
    qtbot.waitUntil(
        lambda: (
            (w.viewer.rendered[mask] == c.image[mask]).all()
            and not (w.viewer.rendered[~mask] == c.image[~mask]).all()
        ),
        timeout=WAIT,
    )
    key(qtbot, w, Qt.Key.Key_4)
    assert c.view.mode is ViewMode.OUTLINE
    qtbot.waitUntil(lambda: shows(w, {1: mask}), timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_1)
    w.opacity_slider.setValue(100)
    assert c.view.opacity == 1.0
    qtbot.waitUntil(lambda: shows(w, {1: mask}), timeout=WAIT)
    assert tuple(w.viewer.rendered[36, 30]) == PALETTE[0]  # fully tinted inside
    key(qtbot, w, Qt.Key.Key_M)
    assert not c.view.markers
    qtbot.waitUntil(lambda: not w.viewer.markers, timeout=WAIT)


def test_finishing_controls_preview_live(qtbot, window, tmp_path):
    w, c = window, window.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 40, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_2)  # matte view shows the finished alpha directly
    qtbot.waitUntil(lambda: w.viewer.rendered[36, 40, 0] == 255, timeout=WAIT)
    before = (w.viewer.rendered[..., 0] > 127).sum()
    w.finishing_panel.grow.setValue(4.0)
    assert c.finishing.grow == 4.0
    qtbot.waitUntil(lambda: (w.viewer.rendered[..., 0] > 127).sum() > before, timeout=WAIT)
    w.finishing_panel.invert.setChecked(True)
    qtbot.waitUntil(lambda: w.viewer.rendered[36, 40, 0] == 0, timeout=WAIT)
    assert "grow=4" in w.finishing_panel.spec.text() and "invert" in w.finishing_panel.spec.text()
    qtbot.mouseClick(w.finishing_panel.reset, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.viewer.rendered[36, 40, 0] == 255, timeout=WAIT)


def test_tracking_progress_and_cancel_in_the_status_bar(qtbot, make_window, tmp_path):
    w = make_window(FakeSessionFactory(delay_s=0.05))
    c = w.controller
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    key(qtbot, w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # both ways
    qtbot.waitUntil(lambda: w.progress.bar.value() >= 3, timeout=WAIT)
    assert w.progress.isVisible() and "estimating…" in w.progress.label.text()  # < 1 s in
    assert not w.actions["track_forward"].isEnabled()
    click(qtbot, w, 60, 20)  # corrections wait while tracking
    assert "wait until tracking stops" in w.last_report.text
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT) as done:
        qtbot.mouseClick(w.progress.cancel, Qt.MouseButton.LeftButton)
    assert done.args[0].cancelled
    assert not w.progress.isVisible() and w.actions["track_forward"].isEnabled()
    assert "cancelled" in w.statusBar().currentMessage()


def test_errors_are_readable_dialogs_and_the_panel_lives_on(qtbot, window, tmp_path):
    w = window
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    w.open_path(tmp_path / "broken.mov")
    qtbot.waitUntil(lambda: any(b.isVisible() for b in w.error_boxes), timeout=WAIT)
    box = w.error_boxes[-1]
    assert box.text() == "Cannot read the media"
    assert "broken.mov" in box.informativeText() and box.icon() == QMessageBox.Icon.Critical
    w.open_path(tmp_path / "broken.mov")  # the same error is not stacked twice
    qtbot.wait(200)
    assert sum(b.isVisible() for b in w.error_boxes) == 1
    box.close()
    click(qtbot, w, 30, 36)  # still working
    qtbot.waitUntil(lambda: w.controller.masks.has(0, 1), timeout=WAIT)


def test_error_after_error_each_reaches_the_screen(qtbot, window, tmp_path):
    """A closed error box deletes itself; the next error used to die on its stale wrapper
    ("already deleted") and every later error was lost."""
    from shiboken6 import isValid

    w = window
    for name in ("first.mov", "second.mov", "third.mov"):
        w.open_path(tmp_path / name)
        qtbot.waitUntil(
            lambda n=name: any(
                isValid(b) and b.isVisible() and n in b.informativeText() for b in w.error_boxes
            ),
            timeout=WAIT,
        )
        box = next(b for b in w.error_boxes if name in b.informativeText())
        box.close()  # the user dismisses it; Qt deletes it
        qtbot.waitUntil(lambda b=box: not isValid(b), timeout=WAIT)


def test_missing_model_is_explained(qtbot, make_window, tmp_path):
    from etam_plugin.errors import WeightsUnavailableError

    error = WeightsUnavailableError(
        "No weights for ti_512x512 on this computer.",
        variant="ti_512x512",
        url="https://huggingface.co/x",
        target=tmp_path / "w.pt",
    )
    w = make_window(FakeSessionFactory(fail=error))
    offered = []
    w.ask_download = lambda e: offered.append(e) or False  # declined: the error is explained
    w.open_path(tmp_path / "synthetic.mp4")
    qtbot.waitUntil(lambda: any(b.isVisible() for b in w.error_boxes), timeout=WAIT)
    assert offered == [error]
    box = w.error_boxes[-1]
    assert box.text() == "Model weights are missing"
    assert "No weights" in box.informativeText() and "huggingface.co" in box.detailedText()
    assert "unavailable" in w.model_label.text()


def test_drop_a_file_opens_it(qtbot, window, tmp_path, clips):
    other = clips.add(tmp_path / "other.mp4", synthetic_clip(7))
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(other))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(
        lambda: window.controller.info is not None and window.controller.info.num_frames == 7,
        timeout=WAIT,
    )
    assert window.settings.recent_files()[0] == other


def test_shortcuts_dialog_lists_every_action_shortcut(qtbot, window):
    dialog = window.show_shortcuts()
    assert isinstance(dialog, ShortcutsDialog)
    listed = dialog.listed_keys()
    for s in SHORTCUTS:
        assert " or ".join(s.keys) in listed
        bound = [k.toString() for k in window.actions[s.action].shortcuts()]
        assert bound == [QKeySequence(k).toString() for k in s.keys]
    dialog.close()


def test_settings_remember_recent_files_model_and_view(qtbot, make_window, settings, tmp_path):
    w = make_window()
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    w.set_view_mode(ViewMode.OUTLINE)
    w.opacity_slider.setValue(30)
    w.model_groups["variant"].actions()[0].trigger()
    next(a for a in w.model_groups["device"].actions() if a.data() == "cuda").trigger()
    w.set_model_options(checkpoint=tmp_path / "mine.pt")
    w.close()
    again = PanelSettings.at(tmp_path / "panel.ini")
    assert again.recent_files() == [(tmp_path / "synthetic.mp4").absolute()]
    opts = again.model_options()
    assert (opts.device, opts.checkpoint) == ("cuda", tmp_path / "mine.pt")
    w2 = make_window(s=again)
    assert w2.controller.view.mode is ViewMode.OUTLINE and w2.actions["mode_outline"].isChecked()
    assert w2.opacity_slider.value() == 30
    recent = [a.text() for a in w2.recent_menu.actions()]
    assert recent[0] == "synthetic.mp4" and "Clear Recent" in recent
    assert next(a for a in w2.model_groups["device"].actions() if a.isChecked()).data() == "cuda"


def test_theme_switch_is_applied_and_remembered(qtbot, window, settings):
    app = QApplication.instance()
    assert window.dark_theme_action.isChecked()
    window.dark_theme_action.setChecked(False)
    assert settings.theme() == "system" and app.styleSheet() == ""
    window.dark_theme_action.setChecked(True)
    assert settings.theme() == "dark" and "QToolBar" in app.styleSheet()


def test_bad_settings_fall_back_to_defaults(tmp_path):
    path = tmp_path / "bad.ini"
    path.write_text("[model]\nvariant=nonsense\n[view]\nmode=psychedelic\nopacity=lots\n")
    s = PanelSettings.at(path)
    assert s.model_options().variant == "ti_512x512"
    assert s.view_mode() is ViewMode.OVERLAY and s.opacity() == 0.5


def test_closing_with_unsaved_work_asks(qtbot, window, tmp_path, monkeypatch):
    w = window
    open_clip(qtbot, w, tmp_path / "synthetic.mp4")
    click(qtbot, w, 30, 36)
    asked = []
    monkeypatch.setattr(w, "ask_unsaved", lambda what: asked.append(what) or "cancel")
    w.close()
    assert asked == ["quit"] and w.isVisible()
    monkeypatch.setattr(w, "ask_unsaved", lambda what: "discard")
    w.close()
    assert not w.isVisible()


def test_cli_does_not_load_qt_until_the_panel_runs() -> None:
    code = "import sys, etam_plugin.cli as c; c.build_parser(); print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_run_panel_starts_opens_and_quits(qtbot, settings, clips, tmp_path):
    from PySide6.QtCore import QTimer

    from etam_plugin.gui.app import run_panel

    seen = {}

    def finish() -> None:
        windows = [x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow)]
        seen["count"] = len([x for x in windows if x.isVisible()])
        for x in windows:
            if x.isVisible():
                seen["info"] = x.controller.info
                x.controller.changes.reset()
                x.close()

    def poll() -> None:
        windows = [x for x in QApplication.topLevelWidgets() if isinstance(x, MainWindow)]
        if any(x.isVisible() and x.controller.displayed_frame == 0 for x in windows):
            finish()
        else:
            QTimer.singleShot(50, poll)

    QTimer.singleShot(50, poll)
    code = run_panel(
        tmp_path / "synthetic.mp4",
        settings=settings,
        session_factory=FakeSessionFactory(),
        frames_factory=clips,
        recovery=RecoveryArea(tmp_path / "recovery"),
    )
    assert code == 0 and seen["count"] == 1 and seen["info"].num_frames == 24


def test_panel_subcommand_passes_source_and_theme(monkeypatch, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    import etam_plugin.gui.app
    from etam_plugin.cli import build_parser

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path))
    calls = []
    monkeypatch.setattr(
        etam_plugin.gui.app,
        "run_panel",
        lambda source, settings, **kw: calls.append((source, settings, kw)) or 0,
    )
    args = build_parser().parse_args(
        ["panel", "clip.mp4", "--theme", "system", "--point", "3:2:40,30", "--point",
         "3:2:50,31:neg", "--track", "both", "--rate", "29.97"]
    )  # fmt: skip
    assert args._run(args) == 0
    ((source, settings, kw),) = calls
    assert source == Path("clip.mp4") and settings.theme() == "system"
    assert str(tmp_path) in settings.q.fileName()
    assert [(f, o, c.points_xy, c.labels, c.clear_old_points) for f, o, c in kw["prompts"]] == [
        (3, 2, ((40, 30),), (1,), False),  # one appended click per --point
        (3, 2, ((50, 31),), (0,), False),
    ]
    assert kw["track"] == "both" and kw["clip"] is None
    assert kw["rate"] == Fraction(30000, 1001)  # 29.97 snapped to NTSC


def test_panel_subcommand_takes_the_weights_as_track_and_live_do(monkeypatch, tmp_path, capsys):
    """Issue 14 item 6: ``panel`` had no ``--checkpoint``: offline, with weights at hand, a
    new user had to find Model ▸ Checkpoint File…. The same arguments as ``track``."""
    from PySide6.QtCore import QSettings

    import etam_plugin.gui.app
    from etam_plugin.cli import build_parser, main

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path))
    calls = []
    monkeypatch.setattr(
        etam_plugin.gui.app,
        "run_panel",
        lambda source, settings, **kw: calls.append(settings.model_options()) or 0,
    )
    weights = tmp_path / "efficienttam_ti_512x512.pt"
    weights.write_bytes(b"")
    parse = build_parser().parse_args
    for argv in (["--checkpoint", str(weights)], ["--checkpoint", "s"], ["--variant", "mobile"]):
        args = parse(["panel", "clip.mp4", *argv])
        assert args._run(args) == 0
    file, named, variant = calls
    assert (file.checkpoint, file.variant) == (weights, "ti_512x512")  # told by the file name
    assert (named.checkpoint, named.variant) == (None, "s")  # a variant: its official weights
    assert variant.variant == "mobile" and variant.checkpoint is None
    assert main(["panel", "clip.mp4", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"etam-plugin panel: error: no checkpoint file {tmp_path / 'none.pt'}"
    assert len(calls) == 3
