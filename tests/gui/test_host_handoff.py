"""What a host add-on (Blender's) relies on when it opens the panel: the strip's range as
in/out, and a prompts.json kept equal to the panel's prompts, which `etam-plugin track`
replays into the very masks the panel showed. Real network, real clip, real window."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pytest
from gui_actions import click, key
from gui_frames import decode_clip, write_clip
from PySide6.QtCore import Qt

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.app import create_window, keep_prompts_file
from etam_plugin.gui.components.recovery import RecoveryArea
from etam_plugin.weights import checkpoint_filename
from tests.scripts import console_script

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.realtool]
WAIT = 240_000
N, WIDTH = 8, 320


def test_the_prompts_file_follows_every_edit_and_track_replays_it(
    qtbot, media_dir, shaped_weights, tmp_path, monkeypatch
) -> None:
    clip = write_clip(tmp_path / "shot #2.mp4", decode_clip(media_dir / "dog.mp4", N, WIDTH))
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(shaped_weights))
    out = tmp_path / "strip.prompts.json"
    w = create_window(PanelSettings.at(tmp_path / "panel.ini"), recovery=RecoveryArea(tmp_path))
    keep_prompts_file(w, out)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    c = w.controller
    try:
        w.open_path(clip, (2, 6))  # the strip uses media frames 2..6
        qtbot.waitUntil(
            lambda: c.session_state is SessionState.READY and c.displayed_frame == 2,
            timeout=WAIT,
        )
        assert (c.transport.in_point, c.transport.out_point) == (2, 6)
        assert c.objects.ids == [1]  # as any new clip: one object to click
        assert not out.exists()  # nothing to keep yet

        click(qtbot, w, 145, 110)
        qtbot.waitUntil(lambda: c.masks.has(2, 1), timeout=WAIT)
        one = c.masks.get(2, 1).copy()
        assert [(e["frame"], e["obj"], e["labels"]) for e in json.loads(out.read_text())] == [
            (2, 1, [1])
        ]
        click(qtbot, w, 60, 40, Qt.MouseButton.RightButton)
        qtbot.waitUntil(lambda: not np.array_equal(c.masks.get(2, 1), one), timeout=WAIT)
        two = c.masks.get(2, 1).copy()
        assert [e["labels"] for e in json.loads(out.read_text())] == [[1], [0]]
        key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: file too
        qtbot.waitUntil(lambda: np.array_equal(c.masks.get(2, 1), one), timeout=WAIT)
        assert len(json.loads(out.read_text())) == 1
        redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        key(qtbot, w, Qt.Key.Key_Z, redo)
        qtbot.waitUntil(lambda: np.array_equal(c.masks.get(2, 1), two), timeout=WAIT)
        assert len(json.loads(out.read_text())) == 2
        assert 0.001 < two.mean() < 0.999
        asked = []
        w.ask_unsaved = lambda what: asked.append(what) or "cancel"
        w.close()  # the prompts are kept in the host's file: quitting does not ask
        assert asked == [] and not w.isVisible()
    finally:
        w.ask_unsaved = lambda what: "discard"  # only when an assertion failed above
        w.close()

    masks = tmp_path / "masks"
    weights = shaped_weights / checkpoint_filename("ti_512x512")
    done = subprocess.run(
        [console_script("etam-plugin"), "track", str(clip), "--checkpoint", str(weights),
         "--prompts", str(out), "--start", "2", "--end", "6", "--masks-out", str(masks)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    replayed = cv2.imread(str(next((masks / "obj_1").glob("*2.png"))), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(replayed > 127, two)
