"""Matte finishing per object (issue 14 item 8): the dock edits the selected object's
settings, the preview and each object's export use that object's own, the ``--matte-ops``
line is the selected object's, projects keep them (older projects' one setting applies to
every object) and a new clip — after Discard too — starts with none.

A real window on a real (tiny) movie so that the export writes real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gui_actions import type_into
from gui_fake_session import FakeSessionFactory
from PySide6.QtCore import Qt

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.app import create_window
from etam_plugin.matte import MatteOps
from tests.etam_plugin.export_helpers import make_clip

pytestmark = [pytest.mark.gui, pytest.mark.realtool]
WAIT = 30_000
W, H, N = 128, 72, 8
CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("media")
    return (
        make_clip(None, folder / "a.mp4", frames=N, size=(W, H), rate="25"),
        make_clip(None, folder / "b.mp4", frames=N, size=(W, H), rate="25"),
    )


@pytest.fixture
def make(qtbot, tmp_path):
    made = []

    def make_one():
        w = create_window(PanelSettings.at(tmp_path / "p.ini"), FakeSessionFactory())
        w.ask_unsaved = lambda what: pytest.fail(f"unexpected 'save before you {what}?'")
        w.resize(1100, 720)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make_one
    for w in made:
        w.controller.changes.reset()
        w.close()
        w.deleteLater()


def open_and_wait(qtbot, w, path: Path) -> None:
    c = w.controller
    w.open_path(path)
    qtbot.waitUntil(
        lambda: c.session_state is SessionState.READY and c.displayed_frame is not None,
        timeout=WAIT,
    )


def type_value(qtbot, slider_spin, text: str) -> None:
    type_into(qtbot, slider_spin.spin, text)


def select(qtbot, w, row: int) -> None:
    """Click an object in the Objects dock."""
    lst = w.objects_panel.list
    rect = lst.visualItemRect(lst.item(row))
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def spec(w) -> str:
    return w.finishing_panel.spec.text().replace("\u200b", "")


def test_each_object_keeps_its_own_finishing_through_edit_export_save_and_discard(
    qtbot, make, clips, tmp_path
):
    a, b = clips
    w = make()
    c = w.controller
    panel = w.finishing_panel
    open_and_wait(qtbot, w, a)
    c.add_point(30, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    qtbot.mouseClick(w.objects_panel.add_button, Qt.MouseButton.LeftButton)
    assert c.objects.active_id == 2
    c.add_point(100, 20)
    qtbot.waitUntil(lambda: c.masks.has(0, 2), timeout=WAIT)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("forward")

    type_value(qtbot, panel.grow, "3")  # for Object 2, the active one
    assert spec(w) == "--matte-ops grow=3" and "Object 2" in panel.target.text()
    select(qtbot, w, 0)  # Object 1: its own settings, none yet
    assert c.objects.active_id == 1 and "Object 1" in panel.target.text()
    assert panel.grow.spin.value() == 0 and spec(w) == "No finishing (the raw mask)"
    type_value(qtbot, panel.feather, "2")
    type_value(qtbot, panel.grow, "-1")
    assert spec(w) == "--matte-ops grow=-1,feather=2"
    select(qtbot, w, 1)
    assert panel.grow.spin.value() == 3 and panel.feather.spin.value() == 0
    assert spec(w) == "--matte-ops grow=3"
    ops = {1: MatteOps(feather=2.0, grow=-1.0), 2: MatteOps(grow=3.0)}
    assert c.object_finishing.as_dict() == ops

    # The viewer previews each object with its own ops (object 2 grown, object 1 feathered).
    c.seek(4)
    qtbot.waitUntil(lambda: c.displayed_frame == 4 and c.masks.has(4, 2), timeout=WAIT)
    layers = c.layers(4)
    assert len(layers) == 2
    raw2 = c.masks.get(4, 2)
    assert (layers[1].alpha > 0.5).sum() > raw2.sum()  # grown
    assert 0 < np.mean((layers[0].alpha > 0) & (layers[0].alpha < 1)) < 1  # a soft edge

    # Export each object in its own file: each with its own finishing.
    key_export(qtbot, w)
    dialog = w.export_dialog
    dialog.format.setCurrentIndex(dialog.format.findData("png"))
    dialog.separate_objects.setChecked(True)
    note = dialog.finishing_note.text()
    assert "Object 1: grow=-1,feather=2" in note and "Object 2: grow=3" in note
    dialog.out.setText(str(tmp_path / "m"))
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        assert dialog.start()
    paths = done.args[0].paths
    assert [p.name for p in paths] == ["m_obj1", "m_obj2"]
    from PIL import Image

    for obj_id, folder in zip((1, 2), paths, strict=True):
        alpha = np.asarray(Image.open(sorted(folder.iterdir())[4]))[..., 3] / 255.0
        expected = ops[obj_id].apply(c.masks.get(4, obj_id))
        assert np.abs(alpha - expected).max() < 0.02, obj_id
    dialog.close()

    # Save, close, reopen: each object's settings come back.
    project = tmp_path / "shot.etam"
    with qtbot.waitSignal(c.projectSaved, timeout=WAIT):
        assert c.save_project(project)
    w.close()
    w2 = make()
    c2 = w2.controller
    open_and_wait(qtbot, w2, project)
    assert c2.object_finishing.as_dict() == ops
    assert c2.objects.active_id == 2 and spec(w2) == "--matte-ops grow=3"

    # Delete Object 1, undo: its finishing comes back with it.
    select(qtbot, w2, 0)
    qtbot.keyClick(w2, Qt.Key.Key_Backspace, CTRL)
    assert c2.objects.ids == [2]
    qtbot.keyClick(w2, Qt.Key.Key_Z, CTRL)
    qtbot.waitUntil(lambda: sorted(c2.objects.ids) == [1, 2], timeout=WAIT)
    assert c2.object_finishing.as_dict() == ops

    # Another clip, discarding the changes: it starts with no finishing at all.
    w2.ask_unsaved = lambda what: "discard"
    open_and_wait(qtbot, w2, b)
    qtbot.waitUntil(lambda: c2.info is not None and c2.info.path == b, timeout=WAIT)
    assert c2.object_finishing.as_dict() == {} and c2.finishing == MatteOps()
    assert panel_values(w2.finishing_panel) == (0.0, 0.0)
    assert spec(w2) == "No finishing (the raw mask)"


def panel_values(panel) -> tuple[float, float]:
    return panel.grow.spin.value(), panel.feather.spin.value()


def key_export(qtbot, w) -> None:
    qtbot.keyClick(w, Qt.Key.Key_E, CTRL)
    qtbot.waitExposed(w.export_dialog)


def test_a_project_from_before_per_object_finishing_applies_its_one_setting_to_all(
    qtbot, make, clips, tmp_path
):
    """Backward compatible: a project written with one finishing for the panel (no
    ``finishing`` per object) opens with that finishing on every object."""
    a, _b = clips
    w = make()
    c = w.controller
    open_and_wait(qtbot, w, a)
    c.add_point(30, 36)
    c.add_object()
    c.add_point(100, 20)
    qtbot.waitUntil(lambda: c.masks.has(0, 2), timeout=WAIT)
    project = tmp_path / "old.etam"
    with qtbot.waitSignal(c.projectSaved, timeout=WAIT):
        c.save_project(project)
    w.close()
    data = json.loads(project.read_text())
    for o in data["objects"]:
        del o["finishing"]  # as the panel wrote them before
    data["finishing"] = "feather=1.5"
    project.write_text(json.dumps(data))
    w2 = make()
    open_and_wait(qtbot, w2, project)
    c2 = w2.controller
    assert c2.object_finishing.as_dict() == {1: MatteOps(feather=1.5), 2: MatteOps(feather=1.5)}
