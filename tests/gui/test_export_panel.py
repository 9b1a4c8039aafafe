"""Exports from the panel: the dialog (formats from the registry, objects, range, timeline),
real files checked with ffprobe/ffmpeg/OTIO, cancel, failures, open folder, planning rules.
The session is the fake (its masks are known exactly); media, writers and timelines are real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_fake_session import FakeSessionFactory
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from etam_plugin.errors import ExportError
from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.app import create_window
from etam_plugin.gui.components.export_job import ExportJob, ExportSettings, plan_export
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus
from etam_plugin.timeline import read_timeline
from tests.etam_plugin.export_helpers import ffmpeg_raw, ffprobe, make_clip

pytestmark = [pytest.mark.gui, pytest.mark.realtool]
WAIT = 30_000
W, H, N = 128, 72, 16


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    return make_clip(None, folder / "pattern.mp4", frames=N, size=(W, H), rate="25")


@pytest.fixture
def window(qtbot, tmp_path):
    w = create_window(PanelSettings.at(tmp_path / "p.ini"), FakeSessionFactory())
    w.ask_unsaved = lambda what: "discard"
    w.show()
    yield w
    w.controller.changes.reset()
    w.close()
    w.deleteLater()


def tracked(qtbot, w, clip: Path, objects: int = 1):
    c = w.controller
    w.open_path(clip)
    qtbot.waitUntil(
        lambda: c.session_state is SessionState.READY and c.displayed_frame == 0, timeout=WAIT
    )
    c.add_point(30, 36)
    if objects > 1:
        c.add_object("Second")
        c.add_point(100, 20)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("forward")
    qtbot.waitUntil(lambda: all(c.masks.has(N - 1, o) for o in c.objects.ids), timeout=WAIT)
    return c


def alpha_of(path: Path) -> np.ndarray:
    """(N, H, W) 10-bit alpha of a ProRes 4444 file, decoded by Debian's ffmpeg."""
    return ffmpeg_raw(path, "yuva444p10le", W, H)[:, 3]


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def catch(self, url: QUrl) -> None:
        self.urls.append(url)


def test_dialog_exports_prores4444_and_otio_and_opens_the_folder(qtbot, window, clip, tmp_path):
    c = tracked(qtbot, window, clip)
    c.transport.set_in(3)
    c.transport.set_out(12)
    dialog = window.show_export()
    assert dialog.format.findData("prores4444") >= 0 and dialog.format.findData("png16") >= 0
    dialog.format.setCurrentIndex(dialog.format.findData("prores4444"))
    dialog.out.setText(str(tmp_path / "dog_matte.mov"))
    dialog._out_edited = True
    dialog.timeline.setCurrentIndex(dialog.timeline.findData(".otio"))
    assert dialog.timeline_out.text().endswith("dog_matte.otio")
    assert "3–12 (10 frames)" in dialog.in_out.text()
    progress = []
    c.exportProgress.connect(lambda msg: progress.append(msg.done))
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        assert dialog.start()
        assert dialog.cancel_button.isVisible()
    msg = done.args[0]
    assert not msg.cancelled and not msg.failed, window.last_report
    matte, timeline = msg.paths
    assert (matte, timeline) == (tmp_path / "dog_matte.mov", tmp_path / "dog_matte.otio")
    assert progress[-1] == 10 and progress == sorted(progress)
    assert "Done" in dialog.status.text() and dialog.open_button.isEnabled()

    probe = ffprobe(matte)
    assert probe["codec_name"] == "prores" and probe["profile"] == "4444"
    assert probe["pix_fmt"] == "yuva444p12le" or probe["pix_fmt"].startswith("yuva444p")
    assert int(probe["nb_read_frames"]) == 10 and probe["r_frame_rate"] == "25/1"
    alpha = alpha_of(matte)
    for i, frame in enumerate(range(3, 13)):
        expected = c.masks.get(frame, 1)
        assert np.mean((alpha[i] > 512) == expected) > 0.995, frame

    v1, v2 = read_timeline(timeline)
    assert (v1.track, v2.track) == (1, 2) and v1.media_path == clip
    assert v2.media_path == matte and v1.duration == v2.duration == 10
    assert v1.source_start - v1.available_start == 3  # the clip's frames 3..12
    assert v1.record_start == v2.record_start

    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "catch")
    try:
        dialog.open_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in catcher.urls] == [str(tmp_path)]
    # the settings are remembered for the next export (and saved with the project)
    assert c.export_settings.out == matte and c.export_settings.timeline == ".otio"


def test_separate_files_chosen_objects_and_finishing(qtbot, window, clip, tmp_path):
    c = tracked(qtbot, window, clip, objects=2)
    c.set_finishing(MatteOps(grow=2.0))
    base = ExportSettings(fmt="png", objects="separate", whole_clip=True, out=tmp_path / "m")
    job = plan_export(
        base, source=clip, objects=c.objects.ids, in_out=(0, N - 1), num_frames=N,
        ops=c.finishing,
    )  # fmt: skip
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        assert c.export(job)
    paths = done.args[0].paths
    assert [p.name for p in paths] == ["m_obj1", "m_obj2"]
    for obj_id, folder in zip((1, 2), paths, strict=True):
        files = sorted(folder.iterdir())
        assert len(files) == N
        from PIL import Image

        rgba = np.asarray(Image.open(files[5]))
        grown = MatteOps(grow=2.0).apply(c.masks.get(5, obj_id))
        assert rgba.shape == (H, W, 4)
        assert np.mean((rgba[..., 3] > 127) == (grown > 0.5)) > 0.99

    chosen = plan_export(
        ExportSettings(fmt="luma-ffv1", objects="chosen", chosen=(2,), out=tmp_path / "two"),
        source=clip, objects=c.objects.ids, in_out=(0, N - 1), num_frames=N, ops=MatteOps(),
    )  # fmt: skip
    assert chosen.out == tmp_path / "two.mkv" and chosen.obj_ids == (2,)
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        c.export(chosen)
    (luma,) = done.args[0].paths
    grey = ffmpeg_raw(luma, "gray16le", W, H)[:, 0]
    np.testing.assert_array_equal(grey[7] > 32768, c.masks.get(7, 2))


def test_cancel_leaves_nothing_and_a_failure_is_a_dialog(qtbot, window, clip, tmp_path):
    c = tracked(qtbot, window, clip)
    job = plan_export(
        ExportSettings(fmt="prores4444", whole_clip=True, out=tmp_path / "x.mov"),
        source=clip, objects=[1], in_out=(0, N - 1), num_frames=N, ops=MatteOps(),
    )  # fmt: skip
    c.exportProgress.connect(lambda msg: c.cancel_export())
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        c.export(job)
    assert done.args[0].cancelled and not (tmp_path / "x.mov").exists()
    assert list(tmp_path.glob("*x.mov*")) == []  # no temp file left either
    c.exportProgress.disconnect()

    gone = ExportJob("prores4444", tmp_path / "no" / "such" / "x.mov", (1,), "union", 0, 3,
                     MatteOps(), clip)  # fmt: skip
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        c.export(gone)
    assert done.args[0].failed
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=WAIT)
    assert window.last_report.title == "Export failed"
    frame = c.displayed_frame
    c.add_point(40, 40)  # the panel goes on
    qtbot.waitUntil(lambda: c.coverage.status(1, frame) is FrameStatus.PROMPTED, timeout=WAIT)


def test_edits_wait_while_exporting(qtbot, window, clip, tmp_path):
    c = tracked(qtbot, window, clip)
    job = plan_export(
        ExportSettings(fmt="png16", whole_clip=True, out=tmp_path / "slow"),
        source=clip, objects=[1], in_out=(0, N - 1), num_frames=N, ops=MatteOps(smooth=2),
    )  # fmt: skip
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT):
        assert c.export(job)
        assert not c.add_point(10, 10) and "export" in window.last_report.text
        assert not c.track("forward")
        assert not c.export(job)


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (ExportSettings(fmt="nope", out=Path("/tmp/x")), "unknown export format"),
        (ExportSettings(objects="chosen", chosen=(), out=Path("/tmp/x")), "at least one"),
        (ExportSettings(out=None), "where to write"),
        (ExportSettings(out=Path("/no/such/folder/x.mov")), "does not exist"),
        (ExportSettings(fmt="png", timeline=".otio", out=Path("/tmp/x")), "movie matte"),
        (
            ExportSettings(objects="separate", timeline=".otio", out=Path("/tmp/x")),
            "one matte",
        ),
        (ExportSettings(timeline=".edl", out=Path("/tmp/x")), "cannot write .edl"),
    ],
)
def test_planning_explains_what_cannot_work(settings, match) -> None:
    with pytest.raises(ExportError, match=match):
        plan_export(
            settings, source=Path("/tmp/clip.mp4"), objects=[1, 2], in_out=(0, 9),
            num_frames=10, ops=MatteOps(),
        )  # fmt: skip


def test_planning_refuses_to_replace_the_clip_or_its_folder(tmp_path) -> None:
    """A PNG sequence into the clip's own folder would replace the folder (the clip
    included); a movie over the clip would replace the clip: both refused at planning."""
    clip = tmp_path / "shoot" / "A001.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"the footage")
    (tmp_path / "twin.mov").hardlink_to(clip)
    for settings, match in [
        (ExportSettings(fmt="png", out=clip.parent), "does not write"),
        (ExportSettings(fmt="prores4444", out=tmp_path / "twin.mov"), "is the clip"),
        (ExportSettings(fmt="luma", out=clip.parent / ".." / "twin.mov"), "is the clip"),
    ]:
        with pytest.raises(ExportError, match=match):
            plan_export(
                settings, source=clip, objects=[1], in_out=(0, 9), num_frames=10,
                ops=MatteOps(),
            )  # fmt: skip
    assert clip.read_bytes() == b"the footage"


def test_planning_fixes_extensions_and_defaults(tmp_path) -> None:
    job = plan_export(
        ExportSettings(fmt="webm", whole_clip=True, out=tmp_path / "a.mov", timeline=".kdenlive"),
        source=tmp_path / "clip.mp4", objects=[1, 2], in_out=(2, 5), num_frames=10,
        ops=MatteOps(),
    )  # fmt: skip
    assert job.out == tmp_path / "a.webm" and (job.first, job.last) == (0, 9)
    assert job.timeline_out == tmp_path / "a.kdenlive" and job.combine == "union"
    assert job.outputs() == [tmp_path / "a.webm", tmp_path / "a.kdenlive"]
    assert ExportSettings.from_json(ExportSettings(fmt="luma", chosen=(3,)).to_json()) == (
        ExportSettings(fmt="luma", chosen=(3,))
    )
    assert ExportSettings.from_json({"chosen": "garbage"}) == ExportSettings()


def test_a_rotated_phone_clip_opens_upright_and_exports_upright(qtbot, window, tmp_path):
    from tests.etam_plugin.export_helpers import make_rotated_clip

    rotated = make_rotated_clip(tmp_path / "phone.mp4", frames=6, rotate=90)
    assert ffprobe(rotated)["width"] == 160  # coded 160×96, displayed 96×160
    c = window.controller
    window.open_path(rotated)
    qtbot.waitUntil(
        lambda: c.session_state is SessionState.READY and c.displayed_frame == 0, timeout=WAIT
    )
    assert c.info.frame_size == (160, 96) and c.image.shape == (160, 96, 3)
    qtbot.waitUntil(lambda: window.viewer.image_size == (160, 96), timeout=WAIT)
    c.add_point(48, 120)
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)
    assert c.masks.get(0, 1)[120, 48]  # the click landed where it was made, upright
    job = plan_export(
        ExportSettings(fmt="prores4444", whole_clip=True, out=tmp_path / "phone_matte.mov"),
        source=rotated, objects=[1], in_out=(0, 5), num_frames=6, ops=MatteOps(),
    )  # fmt: skip
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        c.export(job)
    (matte,) = done.args[0].paths
    probe = ffprobe(matte)
    assert (int(probe["width"]), int(probe["height"])) == (96, 160)
    alpha = ffmpeg_raw(matte, "yuva444p10le", 96, 160)[:, 3]
    assert np.mean((alpha[0] > 512) == c.masks.get(0, 1)) > 0.995


def test_the_output_folder_carries_to_the_next_clip_and_the_next_run(qtbot, window, clip, tmp_path):
    """Issue 14 item 11: the export folder was forgotten between clips (every clip offered
    its own folder, read-only or not)."""
    from PySide6.QtCore import Qt

    renders = tmp_path / "renders"
    renders.mkdir()
    c = tracked(qtbot, window, clip)
    dialog = window.show_export()
    assert dialog.out.text() == str(clip.parent / "pattern_matte.mov")  # next to the clip
    dialog.format.setCurrentIndex(dialog.format.findData("luma"))
    dialog.out.setFocus()
    qtbot.keyClick(dialog.out, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dialog.out, str(renders / "first.mov"))
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        assert dialog.start()
    assert not done.args[0].failed and (renders / "first.mov").is_file()
    dialog.close()

    (tmp_path / "shots").mkdir()
    other = make_clip(None, tmp_path / "shots" / "second.mp4", frames=N, size=(W, H), rate="25")
    tracked(qtbot, window, other)
    dialog = window.show_export()
    assert Path(dialog.out.text()).parent == renders  # not next to second.mp4
    dialog.close()

    again = create_window(PanelSettings.at(tmp_path / "p.ini"), FakeSessionFactory())
    try:
        again.show()
        tracked(qtbot, again, other)
        assert Path(again.show_export().out.text()).parent == renders  # the next run too
    finally:
        again.controller.changes.reset()
        again.close()
        again.deleteLater()


def test_the_default_folder_is_one_that_can_be_written(tmp_path) -> None:
    from etam_plugin.gui.components.export_job import output_folder

    gone = tmp_path / "card" / "clip.mp4"  # a folder that cannot be written (here: gone)
    assert output_folder(gone) == Path.home()
    assert output_folder(gone, last_used=tmp_path) == tmp_path
    assert output_folder(tmp_path / "clip.mp4", last_used=tmp_path / "deleted") == tmp_path
