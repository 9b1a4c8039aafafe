"""The control window driven like a user would, on a real bridge (no OBS) with the colour
test double: click and drag select objects, Esc clears, the status line follows."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from etam_plugin.obs_bridge.bridge import Bridge, BridgeConfig
from etam_plugin.obs_bridge.control_window import ControlWindow, object_colour
from etam_plugin.obs_bridge.presence import PresencePolicy
from etam_plugin.obs_bridge.testpattern import Disc, TestPattern
from tests.obs_bridge.doubles import ColourTracker

pytestmark = pytest.mark.gui


def preview_pixels(window: ControlWindow) -> np.ndarray:
    """The RGB pixels the preview shows now."""
    image = window.preview._image
    assert image is not None
    h, w = image.height(), image.width()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(h, image.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()


@pytest.fixture
def two_discs(tmp_path: Path) -> tuple[TestPattern, Path]:
    pattern = TestPattern(
        frames=30,
        discs=(
            Disc((220, 30, 30), 0.12, centre=(0.3, 0.6), amplitude=(0.0, 0.0)),
            Disc((40, 60, 220), 0.12, centre=(0.72, 0.6), amplitude=(0.0, 0.0)),
        ),
    )
    return pattern, pattern.write(tmp_path / "two.mkv")


def test_click_drag_and_clear(qtbot, two_discs) -> None:
    pattern, clip = two_discs
    tracker = ColourTracker()
    bridge = Bridge(BridgeConfig(source=str(clip), obs=None, status_log_s=0), tracker)
    bridge.start()
    try:
        window = ControlWindow(bridge, refresh_ms=20)
        qtbot.addWidget(window)
        window.resize(800, 500)
        window.show()
        qtbot.waitUntil(lambda: window.preview._image is not None, timeout=5000)
        # before the first click nothing is tinted: the preview is the camera picture
        window._timer.stop()
        shown, image = window._shown, preview_pixels(window)
        plain = cv2.resize(shown.rgb, image.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert np.array_equal(image, plain)
        window._timer.start()

        # click the red disc: a new object
        x, y = pattern.discs[0].position(0, 320, 240)
        pos = window.preview.from_frame(x, y).toPoint()
        qtbot.mouseClick(window.preview, Qt.MouseButton.LeftButton, pos=pos)
        assert window.message.text().startswith("selecting…")
        qtbot.waitUntil(lambda: window.objects.count() == 1, timeout=5000)
        qtbot.waitUntil(lambda: window.message.text() == "object 1 selected", timeout=5000)
        assert "tracked" in window.objects.item(0).text()
        image = preview_pixels(window)  # now the object is tinted
        px, py = (round(v * image.shape[1] / 320) for v in (x, y))
        assert image[py, px, 2] > 100  # the red disc (blue 30) is tinted blue

        # drag a box around the blue disc: a second object
        bx, by = pattern.discs[1].position(0, 320, 240)
        r = 0.12 * 240 + 4
        start = window.preview.from_frame(bx - r, by - r).toPoint()
        end = window.preview.from_frame(bx + r, by + r).toPoint()
        qtbot.mousePress(window.preview, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(window.preview, pos=(start + end) / 2)
        qtbot.mouseMove(window.preview, pos=end)
        qtbot.mouseRelease(window.preview, Qt.MouseButton.LeftButton, pos=end)
        qtbot.waitUntil(lambda: window.objects.count() == 2, timeout=5000)
        assert len(tracker.colours) == 2
        assert tuple(tracker.colours[2]) == (40, 60, 220)  # the box picked the blue disc
        # each object in its own colour: the blue disc (object 2) is tinted orange
        assert object_colour(1) != object_colour(2)
        image = preview_pixels(window)
        qx, qy = (round(v * image.shape[1] / 320) for v in (bx, by))
        qtbot.waitUntil(lambda: preview_pixels(window)[qy, qx, 0] > 100, timeout=5000)
        assert all(not window.objects.item(i).icon().isNull() for i in range(2))

        # a long status line is cut, it never widens the window
        width = window.width()
        window.status.setText("OBS: " + "very long status " * 60)
        window.message.setText("message " * 80)
        qtbot.wait(50)
        assert window.width() == width

        # right-click on object 2 (highlighted): a negative point added to its clicks
        window.objects.setCurrentRow(1)
        window.objects.item(1).setSelected(True)
        qtbot.mouseClick(window.preview, Qt.MouseButton.RightButton, pos=pos)
        qtbot.waitUntil(lambda: tracker.selects == 3, timeout=5000)
        obj_id, prompt = tracker.prompts[-1]
        assert obj_id == 2 and prompt.labels == (0,)  # its box, and one negative point
        assert prompt.box_xyxy == tracker.prompts[1][1].box_xyxy is not None
        qtbot.mouseClick(window.preview, Qt.MouseButton.RightButton, pos=pos + QPoint(4, 0))
        qtbot.waitUntil(lambda: tracker.selects == 4, timeout=5000)
        assert tracker.prompts[-1][1].labels == (0, 0) and tracker.prompts[-1][1].box_xyxy

        # hold, fade and fallback from the window reach the compositor at once
        window.hold.setValue(2.0)
        window.fade.setValue(0.0)
        window.fallback.setCurrentText("keyed")
        assert bridge.composite.mixer.policy == PresencePolicy(2.0, 0.0, "keyed")
        assert "held 2 s" in window.message.text()

        # the effect switches live from the window
        window.effect.setCurrentText("highlight")
        window.effect.lineEdit().returnPressed.emit()
        qtbot.waitUntil(lambda: bridge.effect.name == "highlight", timeout=2000)
        window.effect.setCurrentText("sparkle")
        window.effect.lineEdit().returnPressed.emit()
        assert "sparkle" in window.message.text() and bridge.effect.name == "highlight"

        # with object 1 highlighted, a click re-selects it instead of adding one
        window.objects.clearSelection()
        window.objects.setCurrentRow(0)
        window.objects.item(0).setSelected(True)
        qtbot.mouseClick(window.preview, Qt.MouseButton.LeftButton, pos=pos + QPoint(3, 0))
        qtbot.waitUntil(lambda: tracker.selects == 5, timeout=5000)
        assert window.objects.count() == 2 and set(tracker.colours) == {1, 2}

        # the highlighted object gets its own effect; with none highlighted there is no choice
        window.objects.clearSelection()
        assert not window.object_effect.isEnabled()
        window.objects.setCurrentRow(1)
        window.objects.item(1).setSelected(True)
        assert window.object_effect.isEnabled()
        assert window.object_effect.currentText() == "scene effect"
        window.object_effect.setCurrentText("pixelate")
        window.object_effect.activated.emit(window.object_effect.currentIndex())
        assert bridge.object_effects[2].name == "pixelate" and 1 not in bridge.object_effects
        qtbot.waitUntil(lambda: "pixelate" in window.objects.item(1).text(), timeout=5000)
        assert window.objects.item(1).isSelected()  # still highlighted after the relabel
        window.objects.clearSelection()
        window.objects.setCurrentRow(0)
        window.objects.item(0).setSelected(True)
        assert window.object_effect.currentText() == "scene effect"  # object 1's own
        window.objects.clearSelection()
        window.objects.setCurrentRow(1)
        window.objects.item(1).setSelected(True)
        assert window.object_effect.currentText() == "pixelate"

        qtbot.waitUntil(lambda: "fps out" in window.status.text(), timeout=5000)
        qtbot.keyClick(window, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: window.objects.count() == 0, timeout=5000)
        assert tracker.colours == {} and bridge.object_effects == {}
        assert tracker.threads == {"etam-track"}  # the GUI thread never ran the tracker
        window.show_output.setChecked(True)
        qtbot.wait(100)
        window.close()
    finally:
        bridge.stop()


def test_a_click_reaches_the_real_tracker_on_the_frame_on_screen(
    qtbot, pattern: TestPattern, pattern_clip: Path
) -> None:
    """With the real LiveTracker (tiny network, slowed below camera rate) the click is
    applied to the picture clicked, which the tracker steps for it."""
    from tests.obs_bridge.real_tracker import SpyTracker, tiny_model

    tracker = SpyTracker(tiny_model(), delay_s=0.25)
    config = BridgeConfig(source=str(pattern_clip), obs=None, stream=False, status_log_s=0)
    bridge = Bridge(config, tracker)
    bridge.start()
    try:
        window = ControlWindow(bridge, refresh_ms=20)
        qtbot.addWidget(window)
        window.resize(800, 500)
        window.show()
        qtbot.waitUntil(lambda: window._shown is not None and window._shown.seq > 3, timeout=20000)
        assert tracker.steps() == 0  # nothing selected: the model waits for the click
        shown = window._shown  # the GUI thread: nothing replaces it before the click
        x, y = pattern.discs[0].position(shown.source_index, 320, 240)
        qtbot.mouseClick(
            window.preview, Qt.MouseButton.LeftButton, pos=window.preview.from_frame(x, y).toPoint()
        )
        qtbot.waitUntil(lambda: len(bridge.track.selected_on) == 1, timeout=20000)
        assert bridge.track.selected_on[0] == shown.seq
        assert tracker.selects[0][0] is shown.rgb
        qtbot.waitUntil(lambda: window.objects.count() == 1, timeout=10000)
        window.close()
    finally:
        bridge.stop()


def test_audio_sync_is_chosen_in_the_window(qtbot, pattern_clip: Path) -> None:
    """A/V sync from the window: disabled with a reason without OBS; once OBS (a double of
    its client) is connected its audio inputs are listed, checking one with sync on delays
    it by the bridge's latency on top of its own offset, and turning sync off gives it its
    own offset back."""
    from etam_plugin.obs_bridge.credentials import Secret
    from etam_plugin.obs_bridge.obs_control import ObsController, ObsSettings
    from tests.obs_bridge.test_obs_control import FakeObs

    bridge = Bridge(BridgeConfig(source=str(pattern_clip), obs=None, status_log_s=0),
                    ColourTracker())  # fmt: skip
    bridge.start()
    try:
        window = ControlWindow(bridge, refresh_ms=20)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: "no OBS" in window.audio_reason.text(), timeout=5000)
        assert not window.sync_audio.isEnabled() and not window.audio_inputs.isEnabled()

        obs = FakeObs()
        obs.audio.update({"Mic/Aux": 15, "Desktop Audio": 0})
        obs.outcomes = ["refused"]  # OBS not up yet
        settings = ObsSettings(source_name="etam", poll_s=0.05)
        bridge.obs = ObsController(
            settings, Secret("pw"), "tcp://1.2.3.4:1", client_factory=obs.factory,
            latency_ms=lambda: 120.0,
        )  # fmt: skip
        bridge.obs.backoff.initial = 1.0
        bridge.obs.start()
        qtbot.waitUntil(lambda: "not connected" in window.audio_reason.text(), timeout=5000)
        assert not window.sync_audio.isEnabled()
        qtbot.waitUntil(lambda: window.audio_inputs.count() == 2, timeout=8000)
        assert window.sync_audio.isEnabled() and not window.sync_audio.isChecked()
        names = [window.audio_inputs.item(i).text() for i in range(2)]
        assert names == ["Mic/Aux", "Desktop Audio"]

        mic = window.audio_inputs.item(0)
        mic.setCheckState(Qt.CheckState.Checked)  # picked, but sync still off
        qtbot.wait(300)
        assert obs.audio["Mic/Aux"] == 15
        window.sync_audio.setChecked(True)
        qtbot.waitUntil(lambda: obs.audio["Mic/Aux"] == 15 + 120, timeout=5000)
        assert bridge.stats()["obs"]["audio_offset_ms"] == 120
        assert obs.audio["Desktop Audio"] == 0
        qtbot.waitUntil(lambda: "delayed 120 ms" in window.audio_reason.text(), timeout=3000)

        window.sync_audio.setChecked(False)  # off: the user's own offset is back
        qtbot.waitUntil(lambda: obs.audio["Mic/Aux"] == 15, timeout=5000)
        assert "off" in window.message.text()
        window.close()
    finally:
        bridge.stop()


def test_the_selection_is_remembered_per_camera_and_restored(
    qtbot, pattern: TestPattern, pattern_clip: Path, tmp_path: Path
) -> None:
    """Start, click an object (and take a part away with a right-click), give it an
    effect, stop; start again on the same camera: the window offers the selection and one
    click selects the same object with the same clicks and effect, with the real tracker.
    Another camera is offered nothing."""
    from tests.obs_bridge.real_tracker import SpyTracker, tiny_model

    class PromptSpy(SpyTracker):
        def select(self, obj_id, prompt):
            self.prompts = [*getattr(self, "prompts", []), (obj_id, prompt)]
            return super().select(obj_id, prompt)

    store = tmp_path / "selections.json"

    def start(source: Path) -> tuple[Bridge, PromptSpy, ControlWindow]:
        tracker = PromptSpy(tiny_model())
        config = BridgeConfig(source=str(source), obs=None, stream=False, status_log_s=0,
                              remember_selection=True, selection_store=store)  # fmt: skip
        bridge = Bridge(config, tracker)
        bridge.start()
        window = ControlWindow(bridge, refresh_ms=20)
        qtbot.addWidget(window)
        window.resize(800, 500)
        window.show()
        qtbot.waitUntil(lambda: window.preview._image is not None, timeout=5000)
        return bridge, tracker, window

    bridge, tracker, window = start(pattern_clip)
    try:
        assert not window.restore_button.isVisible()  # nothing remembered yet
        x, y = pattern.discs[0].position(0, 320, 240)
        pos = window.preview.from_frame(x, y).toPoint()
        qtbot.mouseClick(window.preview, Qt.MouseButton.LeftButton, pos=pos)
        qtbot.waitUntil(lambda: window.objects.count() == 1, timeout=10000)
        window.objects.setCurrentRow(0)
        window.objects.item(0).setSelected(True)
        qtbot.mouseClick(window.preview, Qt.MouseButton.RightButton, pos=pos + QPoint(30, 0))
        qtbot.waitUntil(lambda: len(tracker.prompts) == 2, timeout=10000)
        window.object_effect.setCurrentText("outline")
        window.object_effect.activated.emit(window.object_effect.currentIndex())
        clicked = tracker.prompts[-1][1]
        assert clicked.labels == (1, 0)
        window.close()
    finally:
        bridge.stop()
    assert store.is_file()

    bridge, tracker, window = start(pattern_clip)  # same camera: offered
    try:
        assert window.restore_button.isVisible() and "(1)" in window.restore_button.text()
        assert getattr(tracker, "prompts", []) == []  # offered, not applied
        qtbot.mouseClick(window.restore_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.objects.count() == 1, timeout=10000)
        assert [p for _, p in tracker.prompts] == [clicked]  # the same clicks
        assert bridge.object_effects[tracker.prompts[0][0]].name == "outline"
        assert not window.restore_button.isVisible()
        window.close()
    finally:
        bridge.stop()

    bridge, tracker, window = start(pattern_clip)  # offered again, but a new object is chosen
    try:
        assert window.restore_button.isVisible()
        qtbot.mouseClick(window.preview, Qt.MouseButton.LeftButton, pos=pos)
        assert not window.restore_button.isVisible()  # it would add the old objects beside it
        qtbot.waitUntil(lambda: window.objects.count() == 1, timeout=10000)
        window.close()
    finally:
        bridge.stop()

    other = pattern.write(tmp_path / "other-camera.mkv")
    bridge, tracker, window = start(other)  # another camera: nothing to offer
    try:
        assert bridge.saved_selection is None and not window.restore_button.isVisible()
        window.close()
    finally:
        bridge.stop()


def test_the_live_command_loop_with_its_window(qapp, pattern_clip: Path, tmp_path: Path) -> None:
    """``run_live(window=True)``: the window runs until ``--frames`` are out (exit 0), or
    until Ctrl-C (the stop event; exit 130) — stats written either way."""
    import json
    import threading

    from etam_plugin.obs_bridge.live_run import run_live

    def bridge() -> Bridge:
        config = BridgeConfig(source=str(pattern_clip), obs=None, status_log_s=0)
        return Bridge(config, ColourTracker())

    stats = tmp_path / "stats.json"
    assert run_live(bridge(), frames=20, window=True, stats_path=stats) == 0
    assert json.loads(stats.read_text())["run"]["frames_composited"] >= 20

    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    assert run_live(bridge(), window=True, stats_path=stats, stop=stop) == 130
    assert json.loads(stats.read_text())["run"]["cancelled"] is True
