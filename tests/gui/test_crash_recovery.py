"""Crash recovery for real: ``etam-plugin panel`` runs in its own process (offscreen) on the
real network, is driven from its command line (clicks as --point, then --track), autosaves,
and is killed with SIGKILL mid-session. A new panel offers the work back and, recovered, it
has the same prompts, statuses and masks the killed process had computed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gui_frames import decode_clip, write_clip

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.recovery_dialog import RecoveryChoice
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.app import create_window
from etam_plugin.gui.components.recovery import RecoveryArea
from etam_plugin.model import FrameStatus, Prompt

pytestmark = [pytest.mark.gui, pytest.mark.slow]
N = 10
WAIT = 240_000
P, T = FrameStatus.PROMPTED, FrameStatus.TRACKED
CLICKS = ["0:1:145,110", "0:1:60,40:neg", "0:2:250,60"]


def wait_for_autosave(root: Path, proc: subprocess.Popen, log: Path, timeout_s: float) -> dict:
    """The killed-to-be panel's autosave once it holds every tracked frame."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"the panel exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        for autosave in root.glob("run-*/autosave.etam"):
            try:
                data = json.loads(autosave.read_text())
            except (OSError, ValueError):
                continue  # never half-written (atomic), but it may be replaced right now
            if data["autosave"]["summary"] == {"objects": 2, "prompts": 2, "tracked": 2 * (N - 1)}:
                return data
        time.sleep(0.2)
    pytest.fail(f"no complete autosave in {timeout_s} s:\n{log.read_text()[-3000:]}")


def test_kill_9_mid_session_then_recover(qtbot, media_dir, shaped_weights, tmp_path, monkeypatch):
    clip = write_clip(tmp_path / "dog_small.mp4", decode_clip(media_dir / "dog.mp4", N, 320))
    state = tmp_path / "state"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ETAM_WEIGHTS_DIR": str(shaped_weights),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the panel's QSettings
        "XDG_STATE_HOME": str(state),  # its recovery area (platformdirs)
    }
    args = [sys.executable, "-m", "etam_plugin", "panel", str(clip)]
    for spec in CLICKS:
        args += ["--point", spec]
    args += ["--track", "forward"]
    log = tmp_path / "panel.log"
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    root = state / "etam-plugin" / "recovery"
    try:
        saved = wait_for_autosave(root, proc, log, timeout_s=WAIT / 1000)
        os.kill(proc.pid, signal.SIGKILL)  # mid-session: no save, no clean exit
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert saved["autosave"]["origin"] is None and len(list(root.iterdir())) == 1

    # What the killed process had: its autosaved session, read with the real session.
    from etam_plugin.media import open_source
    from etam_plugin.model import VideoSession, load_model

    (candidate,) = RecoveryArea(root).candidates()
    assert candidate.source == clip and candidate.summary["tracked"] == 18
    reference = tmp_path / "reference"
    shutil.copytree(candidate.project.session_folder, reference)
    model = load_model(shaped_weights / "efficienttam_ti_512x512.pt", "ti_512x512")
    frames = open_source(clip)
    killed = VideoSession.open(reference, model, frames)
    try:
        expected = {(f, o): killed.result(f, o).mask for f in range(N) for o in (1, 2)}
        expected_prompts = {o: killed.prompt(0, o) for o in (1, 2)}
    finally:
        killed.close()
        frames.close()
    assert expected_prompts == {
        1: Prompt(((145.0, 110.0), (60.0, 40.0)), (1, 0)),
        2: Prompt(((250.0, 60.0),), (1,)),
    }
    assert all(0 < m.mean() < 1 for m in expected.values())  # real masks, not blanks

    # Restart: the new panel offers the work back and recovers it.
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(shaped_weights))
    area = RecoveryArea(root)
    w = create_window(PanelSettings.at(tmp_path / "new.ini"), recovery=area)
    w.show()
    offered = []
    w.ask_recovery = lambda cands: offered.append(cands) or (RecoveryChoice.RECOVER, cands[0])
    c = w.controller
    try:
        assert w.offer_recovery()
        assert [x.folder for x in offered[0]] == [candidate.folder]
        qtbot.waitUntil(lambda: c.session_state is SessionState.READY, timeout=WAIT)
        assert c.info.path == clip and c.changes.dirty  # recovered, not yet saved anywhere
        assert [o.obj_id for o in c.objects] == [1, 2]
        assert {o: c.prompts.get(0, o) for o in (1, 2)} == expected_prompts
        for o in (1, 2):
            assert c.coverage.statuses(o) == [P] + [T] * (N - 1)
        for f in range(N):
            c.seek(f)
            qtbot.waitUntil(lambda f=f: c.masks.has(f, 1) and c.masks.has(f, 2), timeout=WAIT)
            for o in (1, 2):
                np.testing.assert_array_equal(c.masks.get(f, o), expected[(f, o)])
        # it is in this panel's own autosave now; the crashed run's folder is gone
        qtbot.waitUntil(lambda: not candidate.folder.exists(), timeout=WAIT)
        assert area.autosave_path.is_file()
    finally:
        w.ask_unsaved = lambda what: "discard"
        w.close()
    assert list(root.iterdir()) == []
