"""Projects in the panel (fake session, real threads and files): save / open restores the
work, unsaved work asks, autosave and its recovery area, model switches keep prompts.
The crash-recovery proof on the real model is in test_crash_recovery.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gui_fake_session import FakeSessionFactory
from PySide6.QtWidgets import QFileDialog

from etam_plugin.gui._qt.controller import EditorController, SessionState
from etam_plugin.gui._qt.main_window import MainWindow
from etam_plugin.gui._qt.recovery_dialog import RecoveryChoice
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.project import data_folder, read_project
from etam_plugin.gui.components.recovery import OWNER_NAME, RecoveryArea
from etam_plugin.gui.components.render import ViewMode
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus

pytestmark = pytest.mark.gui
WAIT = 10_000
T, P, S = FrameStatus.TRACKED, FrameStatus.PROMPTED, FrameStatus.STALE


@pytest.fixture
def make_window(make_window):
    """The panel's window (``tests/gui/conftest.py``), saving its work 50 ms after a change."""

    def make(factory=None, recovery: RecoveryArea | None = None) -> MainWindow:
        w = make_window(factory, recovery=recovery)
        w.controller.autosave_delay_ms = 50
        return w

    return make


def open_and_wait(qtbot, w: MainWindow, path: Path) -> EditorController:
    w.open_path(path)
    c = w.controller
    qtbot.waitUntil(
        lambda: c.session_state is SessionState.READY and c.displayed_frame is not None,
        timeout=WAIT,
    )
    return c


def do_some_work(qtbot, c: EditorController) -> None:
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    second = c.add_object("Shadow")
    c.add_point(60, 20)
    qtbot.waitUntil(lambda: c.masks.has(0, second.obj_id), timeout=WAIT)
    c.set_object_color(second.obj_id, (10, 200, 30))
    c.set_object_visible(second.obj_id, False)
    c.transport.set_out(15)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("forward")
    c.view.mode = ViewMode.MATTE
    c.view.opacity = 0.8
    c.set_finishing(MatteOps(grow=1.5, feather=2.0))


def test_save_close_and_open_restores_everything(qtbot, make_window, tmp_path) -> None:
    w = make_window()
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    do_some_work(qtbot, c)
    assert c.changes.dirty and w.isWindowModified()
    path = tmp_path / "shot.etam"
    with qtbot.waitSignal(c.projectSaved, timeout=WAIT):
        assert c.save_project(path)
    assert not c.changes.dirty and not w.isWindowModified()
    assert c.project_path == path and w.windowTitle().startswith("shot.etam")
    masks = {(f, o): c.masks.get(f, o) for f in range(16) for o in (1, 2)}
    coverage = {o: c.coverage.statuses(o) for o in (1, 2)}
    objects = list(c.objects)
    w.close()  # saved: no question

    w2 = make_window()
    c2 = open_and_wait(qtbot, w2, path)
    assert c2.project_path == path and not c2.changes.dirty
    assert list(c2.objects) == objects  # names, colours, visibility
    assert (c2.transport.in_point, c2.transport.out_point) == (0, 15)
    assert c2.view.mode is ViewMode.MATTE and c2.view.opacity == pytest.approx(0.8)
    assert w2.actions["mode_matte"].isChecked() and w2.opacity_slider.value() == 80
    assert c2.finishing == MatteOps(grow=1.5, feather=2.0)
    assert w2.finishing_panel.ops() == c2.finishing
    assert {o: c2.coverage.statuses(o) for o in (1, 2)} == coverage
    assert c2.prompts.get(0, 1) == c.prompts.get(0, 1)
    for f in (0, 7, 15):
        c2.seek(f)
        qtbot.waitUntil(lambda f=f: c2.masks.has(f, 1) and c2.masks.has(f, 2), timeout=WAIT)
        for o in (1, 2):
            np.testing.assert_array_equal(c2.masks.get(f, o), masks[(f, o)])
    assert read_project(path).session_folder.parent == data_folder(path)


def test_the_saved_project_does_not_follow_later_edits(qtbot, make_window, tmp_path):
    w = make_window()
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    path = tmp_path / "shot.etam"
    with qtbot.waitSignal(c.projectSaved, timeout=WAIT):
        c.save_project(path)
    saved = c.prompts.get(0, 1)
    c.add_point(40, 20, positive=False)  # after the save, then discarded
    qtbot.waitUntil(lambda: c.changes.dirty, timeout=WAIT)
    w.ask_unsaved = lambda what: "discard"
    w.close()
    w2 = make_window()
    c2 = open_and_wait(qtbot, w2, path)
    assert c2.prompts.get(0, 1) == saved


def test_unsaved_work_asks_and_save_then_quits(qtbot, make_window, tmp_path, monkeypatch):
    w = make_window()
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.changes.dirty, timeout=WAIT)
    asked = []
    w.ask_unsaved = lambda what: asked.append(what) or "save"
    target = tmp_path / "answer"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), ""))
    )
    w.close()  # asks, saves (as: no project yet), then quits
    assert asked == ["quit"]
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=WAIT)
    assert (tmp_path / "answer.etam").is_file()
    assert read_project(tmp_path / "answer.etam").state.source == tmp_path / "synthetic.mp4"


def test_opening_another_clip_with_unsaved_work_asks(qtbot, make_window, tmp_path, clips):
    from gui_frames import synthetic_clip

    other = clips.add(tmp_path / "other.mp4", synthetic_clip(5))
    w = make_window()
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.changes.dirty, timeout=WAIT)
    w.ask_unsaved = lambda what: "cancel"
    w.open_path(other)
    qtbot.wait(100)
    assert c.info.path == tmp_path / "synthetic.mp4"
    w.ask_unsaved = lambda what: "discard"
    w.open_path(other)
    qtbot.waitUntil(lambda: c.info.path == other, timeout=WAIT)


def test_autosave_goes_to_the_recovery_area_and_a_save_clears_it(qtbot, make_window, tmp_path):
    area = RecoveryArea(tmp_path / "recovery")
    w = make_window(recovery=area)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    autosaves = []
    c.projectSaved.connect(lambda msg: msg.request.autosave and autosaves.append(msg))
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: bool(autosaves), timeout=WAIT)
    autosave = area.autosave_path
    data = json.loads(autosave.read_text())
    assert data["autosave"]["summary"] == {"objects": 1, "prompts": 1, "tracked": 0}
    assert data["autosave"]["origin"] is None
    assert c.changes.dirty and not c.changes.needs_autosave  # autosaved, not saved
    with qtbot.waitSignal(c.projectSaved, timeout=WAIT):
        c.save_project(tmp_path / "shot.etam")
    assert not autosave.exists() and not data_folder(autosave).exists()
    assert area.candidates() == []  # our own run is never offered
    w.close()
    assert not area.run_folder and list(area.root.iterdir()) == []  # clean exit


def test_tracking_checkpoints_into_the_autosave(qtbot, make_window, tmp_path):
    area = RecoveryArea(tmp_path / "recovery")
    w = make_window(FakeSessionFactory(delay_s=0.02), recovery=area)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.checkpoint_every_s = 0.1
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    during = []

    def on_saved(msg) -> None:
        if msg.request.autosave and c.tracking is not None:
            summary = json.loads(area.autosave_path.read_text())
            during.append(summary)

    c.projectSaved.connect(on_saved)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("forward")
    assert during, "no checkpoint while tracking"
    # the checkpointed session already holds tracked frames
    folder = read_project(area.autosave_path).session_folder
    statuses = json.loads((folder / "session.json").read_text())["statuses"]["1"]
    assert statuses.count("tracked") > 0


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recovery_offers_only_work_of_panels_that_are_gone(qtbot, make_window, tmp_path):
    root = tmp_path / "recovery"
    crashed = RecoveryArea(root)
    w = make_window(recovery=crashed)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: crashed.autosave_path.exists(), timeout=WAIT)
    qtbot.waitUntil(lambda: not c.changes.needs_autosave, timeout=WAIT)
    folder = crashed.run_folder
    # Pretend its owner died: the owner file names a process that has exited.
    owner = json.loads((folder / OWNER_NAME).read_text())
    (folder / OWNER_NAME).write_text(json.dumps({**owner, "pid": dead_pid()}))
    live = RecoveryArea(root)
    live.start_run()  # a running panel with nothing saved yet is neither offered nor removed
    empty_dead = root / "run-1-0"
    empty_dead.mkdir()
    (empty_dead / OWNER_NAME).write_text(json.dumps({**owner, "pid": dead_pid()}))

    other = RecoveryArea(root)
    (candidate,) = other.candidates()
    assert candidate.folder == folder and candidate.source == tmp_path / "synthetic.mp4"
    assert candidate.summary["prompts"] == 1 and "synthetic.mp4" in candidate.describe()
    assert not empty_dead.exists() and live.run_folder.exists()

    c.changes.reset()
    crashed.run_folder = None  # the "crashed" window must not clean up on close
    w.close()
    w2 = make_window(recovery=other)
    offered = []
    w2.ask_recovery = lambda cands: offered.append(cands) or (RecoveryChoice.RECOVER, cands[0])
    assert w2.offer_recovery()
    c2 = w2.controller
    qtbot.waitUntil(
        lambda: c2.session_state is SessionState.READY and c2.masks.has(0, 1), timeout=WAIT
    )
    assert c2.prompts.get(0, 1) == c.prompts.get(0, 1)
    assert c2.changes.dirty  # recovered work is not saved anywhere yet
    qtbot.waitUntil(lambda: not folder.exists(), timeout=WAIT)  # in our autosave now
    assert other.autosave_path.exists()


def test_discarding_recovery_removes_it(qtbot, make_window, tmp_path):
    root = tmp_path / "recovery"
    first = RecoveryArea(root)
    w = make_window(recovery=first)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: not c.changes.needs_autosave, timeout=WAIT)
    folder = first.run_folder
    owner = json.loads((folder / OWNER_NAME).read_text())
    (folder / OWNER_NAME).write_text(json.dumps({**owner, "pid": dead_pid()}))
    c.changes.reset()
    first.run_folder = None
    w.close()
    w2 = make_window(recovery=RecoveryArea(root))
    w2.ask_recovery = lambda cands: (RecoveryChoice.LATER, None)
    assert not w2.offer_recovery() and folder.exists()  # "not now" keeps it
    w2.ask_recovery = lambda cands: (RecoveryChoice.DISCARD, None)
    assert not w2.offer_recovery() and not folder.exists()


def _session_ready(qtbot, c):
    """Waits (as a ``with`` block) for the session to be rebuilt on the new model."""
    return qtbot.waitSignal(
        c.sessionStateChanged, timeout=WAIT, check_params_cb=lambda s: s is SessionState.READY
    )


def test_switching_the_model_keeps_prompts_and_retracks(qtbot, make_window, tmp_path):
    factory = FakeSessionFactory()
    w = make_window(factory)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    c.transport.set_out(9)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("forward")
    assert c.coverage.statuses(1)[:10] == [P] + [T] * 9
    with _session_ready(qtbot, c):
        w.set_model_options(variant="s", attention="pooled")
    assert factory.options.variant == "s" and factory.sessions[-1].model.variant == "s"
    assert w.settings.model_options().variant == "s"
    assert c.prompts.get(0, 1) is not None and c.coverage.statuses(1)[:2] == [P, FrameStatus.EMPTY]
    assert factory.sessions[-1].prompt(0, 1) == c.prompts.get(0, 1)
    assert "fake s" in w.model_label.text()
    c.undo_stack.undo()  # the undo stack still works on the new session
    qtbot.waitUntil(lambda: factory.sessions[-1].prompt(0, 1) is None, timeout=WAIT)


def test_a_failed_model_switch_goes_back(qtbot, make_window, tmp_path):
    from etam_plugin.errors import DeviceError

    factory = FakeSessionFactory()
    w = make_window(factory)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    factory.fail = DeviceError("CUDA was asked for but this PyTorch build sees no CUDA GPU")
    w.set_model_options(device="cuda")
    qtbot.waitUntil(
        lambda: w.last_report is not None and "CUDA" in w.last_report.text, timeout=WAIT
    )
    assert w.last_report.title == "Cannot run on this device"
    qtbot.waitUntil(lambda: c.session_state is SessionState.READY, timeout=WAIT)
    assert factory.options.device == "auto" and w.settings.model_options().device == "auto"
    assert w.model_groups["device"].checkedAction().data() == "auto"
    c.add_point(30, 30)  # the old session still serves
    qtbot.waitUntil(
        lambda: len(c.prompts.get(0, 1).points_xy) == 2 and c.masks.has(0, 1), timeout=WAIT
    )


def test_cpu_threads_change_needs_no_reload(qtbot, make_window, tmp_path):
    factory = FakeSessionFactory()
    w = make_window(factory)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    sessions = len(factory.sessions)
    w.set_model_options(cpu_threads=1)
    qtbot.wait(100)
    assert factory.options.cpu_threads == 1 and len(factory.sessions) == sessions
    assert c.session_state is SessionState.READY
    assert ModelOptions(cpu_threads=1).cpu_threads == 1
    with pytest.raises(ValueError):
        ModelOptions(cpu_threads=-1)


def test_a_damaged_project_is_a_readable_dialog(qtbot, make_window, tmp_path):
    bad = tmp_path / "bad.etam"
    bad.write_text('{"format": "etam-plugin-project", "version": 7}')
    w = make_window()
    w.open_path(bad)
    qtbot.waitUntil(lambda: any(b.isVisible() for b in w.error_boxes), timeout=WAIT)
    box = w.error_boxes[-1]
    assert box.text() == "Cannot use the project"
    assert "version 7" in box.informativeText() and "reason: version" in box.detailedText()
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")  # the panel goes on
    assert c.project_path is None


def _onnx_export_folder(path: Path, int8: bool = False) -> Path:
    """A folder ``read_manifest`` accepts (the graphs are placeholders: the fake sessions
    never run them; the real export is exercised in test_model_factory)."""
    path.mkdir()
    graph = {"file": "stage.onnx", "inputs": [{"name": "x"}], "outputs": [{"name": "y"}]}
    (path / "stage.onnx").write_bytes(b"")
    manifest = {
        "format": "etam-plugin-onnx",
        "format_version": 1,
        "variant": "mobile",
        "image_size": 512,
        "feature_size": 32,
        "hidden_dim": 256,
        "mem_dim": 64,
        "attention": {
            "mode": "pooled-keys",
            "pool_window": 2,
            "num_layers": 4,
            "num_heads": 1,
            "kv_dim": 64,
        },
        "graphs": {"image_encoder": graph},
        "int8": {"image_encoder": graph} if int8 else {},
    }
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_the_backend_menu_moves_the_session_to_an_onnx_export(qtbot, make_window, tmp_path):
    factory = FakeSessionFactory()
    w = make_window(factory)
    c = open_and_wait(qtbot, w, tmp_path / "synthetic.mp4")
    c.add_point(24, 36)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    backend = w.model_groups["backend"]
    assert backend.checkedAction().data() == "torch"

    # not an export: a readable reason, nothing switched
    assert not w.choose_onnx_folder(tmp_path / "elsewhere")
    assert w.last_report.title == "ONNX export" and "no ONNX export folder" in w.last_report.text
    assert factory.options.backend == "torch" and backend.checkedAction().data() == "torch"

    folder = _onnx_export_folder(tmp_path / "mobile-onnx")
    with _session_ready(qtbot, c):
        assert w.choose_onnx_folder(folder)
    assert (factory.options.backend, factory.options.onnx_dir) == ("onnx", folder)
    assert backend.checkedAction().data() == "onnx:fp32"
    assert factory.sessions[-1].prompt(0, 1) == c.prompts.get(0, 1)  # prompts moved along
    opts = w.settings.model_options()
    assert (opts.backend, opts.onnx_dir, opts.onnx_precision) == ("onnx", folder, "fp32")

    # int8 from the menu: this export has none, so the menu stays on fp32
    next(a for a in backend.actions() if a.data() == "onnx:int8").trigger()
    assert "no int8 graphs" in w.last_report.text
    assert factory.options.onnx_precision == "fp32"
    assert backend.checkedAction().data() == "onnx:fp32"

    # and back to PyTorch: the export folder is remembered for next time
    with _session_ready(qtbot, c):
        next(a for a in backend.actions() if a.data() == "torch").trigger()
    assert (factory.options.backend, factory.options.onnx_dir) == ("torch", folder)
    with pytest.raises(ValueError, match="export folder"):
        ModelOptions(backend="onnx")
