"""Opening a clip of an editing timeline: the picker lists read_timeline's clips, the media
opens with the clip's range (+ handles) as in/out, and the export's timeline places the
matte over that very clip (checked by reading the written timeline back)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from gui_fake_session import FakeSessionFactory

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui._qt.timeline_dialog import ClipPickerDialog
from etam_plugin.gui.app import create_window
from etam_plugin.gui.components.export_job import ExportSettings, plan_export
from etam_plugin.media.timecode import as_rate
from etam_plugin.timeline import read_timeline
from tests.etam_plugin.export_helpers import make_clip

pytestmark = [pytest.mark.gui, pytest.mark.realtool]
WAIT = 30_000
RATE = 25


def span(start: int, length: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, RATE), otio.opentime.RationalTime(length, RATE)
    )


@pytest.fixture(scope="module")
def cut(tmp_path_factory) -> tuple[Path, Path]:
    """A 40-frame clip and a cut using frames 10..19 of it at record frame 5, plus a clip
    whose media is missing."""
    folder = tmp_path_factory.mktemp("cut")
    media = make_clip(None, folder / "shot.mp4", frames=40, size=(128, 72), rate=str(RATE))
    ref = otio.schema.ExternalReference(media.as_uri(), available_range=span(0, 40))
    gone = otio.schema.ExternalReference((folder / "gone.mp4").as_uri(), span(0, 40))
    track = otio.schema.Track("V1")
    track.append(otio.schema.Clip("intro", gone, span(0, 5)))
    track.append(otio.schema.Clip("shot", ref, span(10, 10)))
    timeline = otio.schema.Timeline("cut")
    timeline.tracks.append(track)
    path = folder / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return media, path


@pytest.fixture
def window(qtbot, tmp_path):
    w = create_window(PanelSettings.at(tmp_path / "p.ini"), FakeSessionFactory())
    w.ask_unsaved = lambda what: "discard"
    w.show()
    yield w
    w.controller.changes.reset()
    w.close()
    w.deleteLater()


def test_picker_lists_the_clips_and_knows_missing_media(qtbot, cut) -> None:
    _media, path = cut
    clips = read_timeline(path)
    dialog = ClipPickerDialog(clips, path.name, handles=2)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 2
    assert dialog.chosen().name == "shot"  # the first clip with media is preselected
    assert dialog.table.item(0, 7).text() == "missing"
    dialog.table.selectRow(0)
    assert "not found" in dialog.note.text()
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Open).isEnabled()


def test_a_timeline_clip_opens_with_its_range_and_exports_over_it(qtbot, window, cut, tmp_path):
    media, path = cut
    picked = []

    def pick(msg):
        picked.append([c.name for c in msg.clips])
        return msg.clips[1], 3

    window.pick_clip = pick
    window.open_path(path)
    c = window.controller
    qtbot.waitUntil(
        lambda: c.session_state is SessionState.READY and c.displayed_frame is not None,
        timeout=WAIT,
    )
    assert picked == [["intro", "shot"]]
    assert c.info.path == media and c.info.num_frames == 40
    assert (c.transport.in_point, c.transport.out_point) == (7, 22)  # 10..19 ± 3 handles
    assert c.transport.current == 10 and c.clip.name == "shot"
    assert window.settings.handles() == 3 and path in window.settings.recent_files()

    c.add_point(30, 30)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("both")
    dialog = window.show_export()
    dialog.timeline.setCurrentIndex(dialog.timeline.findData(".otio"))
    assert "clip 2 “shot” of cut.otio" in dialog.timeline_note.text()
    assert dialog.timeline_out.text().endswith("cut_clip2_matte.otio")
    job = plan_export(
        ExportSettings(timeline=".otio", out=tmp_path / "shot_matte.mov"),
        source=c.info.path, objects=c.objects.ids,
        in_out=(c.transport.in_point, c.transport.out_point), num_frames=40, ops=c.finishing,
        clip=c.clip,
    )  # fmt: skip
    assert job.clip == c.clip and (job.first, job.last) == (7, 22)
    with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
        c.export(job)
    matte, written = done.args[0].paths
    v1, v2 = read_timeline(written)
    assert v1.media_path == media and v1.source_start == 10 and v1.duration == 10
    assert v1.record_start == 5  # where the clip sits in the cut
    assert v2.media_path == matte and v2.record_start == 5 and v2.duration == 10
    assert v2.source_start - v2.available_start == 3  # the matte starts 3 frames early
    assert v1.rate == Fraction(RATE)


def test_command_line_clip_number_skips_the_picker(qtbot, window, cut) -> None:
    media, path = cut
    window.pick_clip = lambda msg: pytest.fail("the picker should not be shown")
    window.open_timeline_clip_number(path, 2, 0)
    c = window.controller
    qtbot.waitUntil(lambda: c.info is not None and c.info.path == media, timeout=WAIT)
    qtbot.waitUntil(lambda: c.transport.in_point == 10, timeout=WAIT)
    assert c.transport.out_point == 19
    window.open_timeline_clip_number(path, 9, 0)
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=WAIT)
    assert "no clip 9" in window.last_report.text


def test_a_clip_without_media_is_explained(qtbot, window, cut) -> None:
    _media, path = cut
    window.pick_clip = lambda msg: (msg.clips[0], 0)
    window.open_path(path)
    qtbot.waitUntil(lambda: window.last_report is not None, timeout=WAIT)
    assert window.last_report.title == "Cannot use the timeline"
    assert "gone.mp4" in window.last_report.text


def test_an_edl_without_rate_or_media_asks_the_rate_then_lists_its_clips(
    qtbot, window, tmp_path
) -> None:
    """An EDL carries no rate; with its media gone the window asks (the user types 25, past
    24's 23-frame limit), reads it at that rate and offers the clips; a cancel opens nothing
    and shows no error."""
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: cut\n\n001  X        V     C        00:00:01:20 00:00:02:05 "
        "01:00:00:00 01:00:00:10\n"
    )
    asked, listed = [], []
    window.ask_rate = lambda path: asked.append(path.name) or None
    window.pick_clip = lambda msg: listed.append(msg.clips) or None
    window.open_path(edl)
    qtbot.waitUntil(lambda: asked == ["cut.edl"], timeout=WAIT)
    qtbot.wait(200)
    assert listed == [] and window.last_report is None  # cancelled: nothing, quietly
    window.ask_rate = lambda path: asked.append(path.name) or Fraction(25)
    window.open_path(edl)
    qtbot.waitUntil(lambda: len(listed) == 1, timeout=WAIT)
    (clip,) = listed[0]
    assert (clip.rate, clip.source_start, clip.duration) == (25, 45, 10)
    assert window.timeline_rate == 25  # kept for the next timeline of the session
    window.open_path(edl)  # no question the second time
    qtbot.waitUntil(lambda: len(listed) == 2, timeout=WAIT)
    assert asked == ["cut.edl", "cut.edl"]


def test_a_rate_that_is_not_one_is_said_as_a_timeline_error_every_time(
    qtbot, window, tmp_path
) -> None:
    edl = tmp_path / "cut.edl"
    edl.write_text("TITLE: cut\n\n001  X        V     C        00:00:01:20 00:00:02:05 "
                   "01:00:00:00 01:00:00:10\n")  # fmt: skip
    window.ask_rate = lambda path: as_rate("12,5")
    for _ in range(2):  # error after error reaches the user
        window.last_report = None
        window.open_path(edl)
        qtbot.waitUntil(lambda: window.last_report is not None, timeout=WAIT)
        assert window.last_report.title == "Cannot use the timeline"
        assert "'12,5' is not a frame rate" in window.last_report.text


def test_a_second_timeline_format_reuses_the_rendered_matte(
    qtbot, window, cut, tmp_path, monkeypatch
):
    """Issue 14 item 11 (part): exporting an FCP XML after an OTIO of the same matte decoded
    the clip and rendered the matte again. The real export runs (real media, real ProRes
    writer, real timeline writers); renders are counted at export_mattes."""
    from PySide6.QtCore import Qt

    import etam_plugin.export.session as export_module  # where the panel's export calls it

    renders = []
    real = export_module.export_mattes

    def counting(*args, **kwargs):
        renders.append(args[4])  # the target
        return real(*args, **kwargs)

    monkeypatch.setattr(export_module, "export_mattes", counting)
    _media, path = cut
    window.pick_clip = lambda msg: (msg.clips[1], 0)
    window.open_path(path)
    c = window.controller
    qtbot.waitUntil(
        lambda: c.session_state is SessionState.READY and c.displayed_frame is not None,
        timeout=WAIT,
    )
    c.add_point(30, 30)
    with qtbot.waitSignal(c.trackingFinished, timeout=WAIT):
        c.track("both")
    dialog = window.show_export()
    dialog.confirm_overwrite = lambda existing: pytest.fail(f"asked to overwrite {existing}")
    matte = tmp_path / "shot_matte.mov"
    dialog.out.clear()
    qtbot.keyClicks(dialog.out, str(matte))

    def export_with(kind: str) -> tuple:
        dialog.timeline.setCurrentIndex(dialog.timeline.findData(kind))
        with qtbot.waitSignal(c.exportFinished, timeout=WAIT) as done:
            qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert not done.args[0].failed
        return done.args[0].paths

    first = export_with(".otio")
    stamp = matte.stat().st_mtime_ns
    assert first == (matte, tmp_path / "cut_clip2_matte.otio") and renders == [matte]
    second = export_with(".xml")
    assert second == (matte, tmp_path / "cut_clip2_matte.xml")
    assert renders == [matte] and matte.stat().st_mtime_ns == stamp  # not rendered again
    assert "reused" in dialog.status.text()
    assert read_timeline(second[1])[1].media_path == matte  # the XML places that matte

    # New masks: the matte is rendered again (after asking to overwrite it).
    c.add_point(50, 40)
    qtbot.waitUntil(lambda: c.changes.revision != 0 and not c.busy, timeout=WAIT)
    asked = []
    dialog.confirm_overwrite = lambda existing: asked.append(existing) or True
    export_with(".otio")
    assert renders == [matte, matte] and asked == [[matte, tmp_path / "cut_clip2_matte.otio"]]
    # …and so is a matte changed on disk since.
    matte.write_bytes(b"not the export")
    asked.clear()
    export_with(".fcpxml")
    assert len(renders) == 3 and asked == [[matte]]
