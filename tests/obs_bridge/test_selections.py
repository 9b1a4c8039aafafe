"""The live selection remembered per camera: the store, and a restart that applies it."""

from __future__ import annotations

import json
from pathlib import Path

from etam_plugin.model import Prompt
from etam_plugin.obs_bridge.bridge import Bridge, BridgeConfig
from etam_plugin.obs_bridge.selections import (
    SavedObject,
    SavedSelection,
    SelectionStore,
    camera_key,
    default_store_path,
)
from etam_plugin.obs_bridge.testpattern import TestPattern
from tests.obs_bridge.real_tracker import SpyTracker, tiny_model


def test_camera_keys_name_the_camera_not_the_password(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert camera_key(0) == "camera:0" and camera_key(2) != camera_key(0)
    assert camera_key("clip.mp4") == str(tmp_path / "clip.mp4")
    assert camera_key("/dev/v4l/by-id/usb-cam") == "/dev/v4l/by-id/usb-cam"
    key = camera_key("rtsp://me:secret@192.168.1.5:554/stream?x=1")
    assert key == "rtsp://192.168.1.5:554/stream?x=1" and "secret" not in key


def test_store_round_trip_other_cameras_kept_and_damage_tolerated(
    tmp_path: Path, _own_state_folder: Path
) -> None:
    assert default_store_path().is_relative_to(_own_state_folder)  # XDG_STATE_HOME
    store = SelectionStore(tmp_path / "sub" / "sel.json")
    assert store.load(0) is None  # no file yet
    clicks = Prompt(points_xy=((10.0, 20.0), (30.0, 40.0)), labels=(1, 0))
    box = Prompt(box_xyxy=(1.0, 2.0, 50.0, 60.0))
    saved = SavedSelection((320, 240), (SavedObject(clicks, "pixelate"), SavedObject(box)))
    store.save(0, saved)
    store.save("rtsp://u:p@host/cam", SavedSelection((320, 240), (SavedObject(box),)))
    again = store.load(0)
    assert again is not None and again.objects == saved.objects and again.size == (320, 240)
    assert store.load(1) is None and store.load("rtsp://host/cam") is not None
    assert "u:p" not in store.path.read_text()
    half = again.scaled_to(160, 120)  # the camera at another resolution
    assert half.objects[0].prompt.points_xy == ((5.0, 10.0), (15.0, 20.0))
    assert half.objects[1].prompt.box_xyxy == (0.5, 1.0, 25.0, 30.0)
    store.save(0, None)  # forgotten; the other camera stays
    assert store.load(0) is None and store.load("rtsp://host/cam") is not None
    store.path.write_text("{not json")
    assert store.load("rtsp://host/cam") is None  # damaged: an empty memory, no error
    store.path.write_text(json.dumps({"cameras": {camera_key(0): {"size": "x"}}}))
    assert store.load(0) is None


def test_a_restart_on_the_same_camera_applies_the_selection_to_its_first_frames(
    tmp_path: Path, pattern: TestPattern, pattern_clip: Path
) -> None:
    """``--restore-selection``: the clicks saved on stop are applied to the first frames of
    the next start with the same camera (real tracker); another camera gets nothing."""

    class PromptSpy(SpyTracker):
        def select(self, obj_id, prompt):
            self.prompts = [*getattr(self, "prompts", []), (obj_id, prompt)]
            return super().select(obj_id, prompt)

    store = tmp_path / "selections.json"

    def bridge(source: Path, **kw) -> tuple[Bridge, PromptSpy]:
        tracker = PromptSpy(tiny_model())
        config = BridgeConfig(source=str(source), obs=None, stream=False, status_log_s=0,
                              remember_selection=True, selection_store=store, **kw)  # fmt: skip
        return Bridge(config, tracker), tracker

    x, y = pattern.discs[0].position(0, 320, 240)
    b, tracker = bridge(pattern_clip)
    with b:
        b.select(Prompt(points_xy=((x, y),), labels=(1,)), frame=None).result(10)
        b.select(Prompt(box_xyxy=(5.0, 5.0, 60.0, 50.0))).result(10)
        b.remove(2).result(10)  # removed before stopping: not remembered
        b.run(frames=5)
    given = [p for _, p in tracker.prompts[:1]]

    b, tracker = bridge(pattern_clip, restore_selection=True)
    with b:
        [f.result(10) for f in b.initial_selections]
        b.run(frames=5)
        assert [p for _, p in tracker.prompts] == given
        assert tracker.selects[0][0] is tracker.stepped[0]  # on the first frame tracked
        assert b.saved_selection is None  # applied, not offered again
        assert [o.obj_id for o in b.composite.objects] == [1]

    other = pattern.write(tmp_path / "other.mkv")
    b, tracker = bridge(other, restore_selection=True)
    with b:
        b.run(frames=5)
        assert b.initial_selections == [] and getattr(tracker, "prompts", []) == []
