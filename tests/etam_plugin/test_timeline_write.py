"""Clip + matte timelines: written as .otio, FCP 7 .xml and .fcpxml, re-read with OTIO (and
our FCPXML reader), the matte sits on the track above at the clip's record range, frame
exact, at 24, 29.97 and 30 fps; and the matte frame under any record frame is the matte
of the clip frame under it (decoded and compared)."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from etam_plugin.errors import TimelineError, TimelineMediaError, TimelineRateError
from etam_plugin.export import export_mattes
from etam_plugin.timeline import clip_for_media, read_timeline, write_matte_timeline
from etam_plugin.timeline.fcpxml import read_fcpxml
from tests.etam_plugin.export_fs import listing, read_only_dir
from tests.etam_plugin.export_helpers import Clip, disc_matte, ffmpeg_raw, load_clip, make_clip

pytestmark = pytest.mark.realtool

SOURCES = {  # rate name: (file, start timecode)
    "24": ("juggle.mp4", "00:59:50:00"),
    "29.97": ("dog.mp4", "00:59:59;20"),
    "30": ("bedroom.mp4", None),
}
H, W = 90, 160


@pytest.fixture(scope="module")
def clips(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    root = tmp_path_factory.mktemp("tl_src")
    out = {}
    for name, (file, tc) in SOURCES.items():
        path = make_clip(
            media_dir / file, root / f"{file}.mov", frames=20, size=(W, H), timecode=tc, audio=True
        )
        out[name] = load_clip(path)
    return out


def _cutout(clip: Clip, out: Path, first: int, stop: int, fmt: str = "prores4444") -> Path:
    return export_mattes(
        clip.frame, clip.info, lambda i: disc_matte(i, H, W, soft=False), fmt, out,
        frame_range=(first, stop),
    )  # fmt: skip


def _tracks(path: Path) -> tuple[otio.schema.Timeline, list[list[otio.schema.Clip]]]:
    """The timeline (keep it: clips only know their parents while it lives) and its clips."""
    tl = read_fcpxml(path) if path.suffix == ".fcpxml" else otio.adapters.read_from_file(str(path))
    return tl, [list(t.find_clips()) for t in tl.video_tracks()]


@pytest.mark.parametrize("ext", [".otio", ".xml", ".fcpxml"])
@pytest.mark.parametrize("rate", SOURCES)
def test_matte_on_the_track_above_frame_exact(
    clips: dict[str, Clip], rate: str, ext: str, tmp_path: Path
) -> None:
    clip = clips[rate]
    # matte for frames 3..16 (handles), clip uses 6..13
    matte = _cutout(clip, tmp_path / "cut.mov", 3, 17)
    tclip = clip_for_media(clip.path, frame_range=(6, 14))
    out = write_matte_timeline(tmp_path / f"t{ext}", tclip, matte, kind="cutout")
    _tl, ((src,), (mat,)) = _tracks(out)
    r1, r2 = src.range_in_parent(), mat.range_in_parent()
    assert r1 == r2  # same record range
    fps = float(clip.info.frame_rate)
    assert round(r1.start_time.rescaled_to(fps).value) == 0
    assert round(r1.duration.rescaled_to(fps).value) == 8
    origin = round(src.media_reference.available_range.start_time.value)
    assert round(src.source_range.start_time.value) - origin == 6
    # every record frame shows the matte made for the clip frame under it
    matte_origin = round(mat.media_reference.available_range.start_time.value)
    alpha = ffmpeg_raw(matte, "yuva444p10le", W, H)[:, 3]
    for r in range(8):
        clip_frame = round(src.source_range.start_time.value) + r - origin
        matte_frame = round(mat.source_range.start_time.value) + r - matte_origin
        want = np.rint(disc_matte(clip_frame, H, W, soft=False) * 1023)
        assert np.array_equal(alpha[matte_frame], want)
    assert exact_rate_of(src) == exact_rate_of(mat) == clip.info.frame_rate


def exact_rate_of(c: otio.schema.Clip) -> Fraction:
    from etam_plugin.timeline import exact_rate

    return exact_rate(c.source_range.start_time.rate)


@pytest.mark.parametrize("ext", [".otio", ".xml", ".fcpxml", ".kdenlive"])
def test_clip_from_a_timeline_with_handles(
    clips: dict[str, Clip], ext: str, tmp_path: Path
) -> None:
    """Rotoscope clip 2 of a cut (record frame 5 on) with 3 frames of handles; the matte
    timeline puts clip and matte at record 5, and reads back through read_timeline."""
    clip = clips["29.97"]
    tl = otio.schema.Timeline("cut")
    track = otio.schema.Track("V1")
    rate = float(clip.info.frame_rate)
    ref = otio.schema.ExternalReference(
        clip.path.as_uri(),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(107874, rate), otio.opentime.RationalTime(20, rate)
        ),  # 00:59:59;20 is frame 107874
    )

    def span(start: int, length: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(length, rate)
        )

    track.append(otio.schema.Gap(source_range=span(0, 5)))
    track.append(otio.schema.Clip("shot", ref, span(107874 + 8, 6)))
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(tmp_path / "cut.otio"))
    (shot,) = read_timeline(tmp_path / "cut.otio")
    frames = shot.file_frames(handles=3)
    assert (frames.start, frames.stop) == (5, 17)
    matte = _cutout(clip, tmp_path / "m.mov", frames.start, frames.stop)
    out = write_matte_timeline(tmp_path / f"shot{ext}", shot, matte)
    a, b = read_timeline(out)
    assert (a.track, b.track) == (1, 2)
    assert a.record_start == b.record_start == 5
    assert a.duration == b.duration == 6
    # the matte's frame 0 is media frame 5: the matte clip starts 3 frames into the matte
    assert b.source_start - b.available_start == 3
    assert a.source_start - a.available_start == 8


def test_luma_note_travels_with_the_timeline(clips: dict[str, Clip], tmp_path: Path) -> None:
    clip = clips["24"]
    luma = _cutout(clip, tmp_path / "luma.mov", 0, 20, fmt="luma")
    tclip = clip_for_media(clip.path)
    otio_path = write_matte_timeline(tmp_path / "l.otio", tclip, luma, kind="luma")
    _tl, (_, v2) = _tracks(otio_path)
    assert "white = object" in v2[0].markers[0].name
    assert v2[0].metadata["etam_plugin"]["kind"] == "luma"
    xml = write_matte_timeline(tmp_path / "l.xml", tclip, luma, kind="luma")
    assert "Track Matte Key" in xml.read_text()
    fcpx = ET.parse(write_matte_timeline(tmp_path / "l.fcpxml", tclip, luma, kind="luma"))
    connected = fcpx.getroot().find(".//spine/asset-clip/asset-clip[@lane='1']")
    assert connected is not None and "white = object" in connected.findtext("note", "")
    cut = _cutout(clip, tmp_path / "c.mov", 0, 20)
    xml = write_matte_timeline(tmp_path / "c.xml", tclip, cut)
    assert "<alphatype>straight</alphatype>" in xml.read_text()


def test_what_does_not_line_up_is_refused(clips: dict[str, Clip], tmp_path: Path) -> None:
    clip = clips["29.97"]
    tclip = clip_for_media(clip.path, frame_range=(6, 14))
    short = _cutout(clip, tmp_path / "short.mov", 8, 12)
    with pytest.raises(TimelineError, match=r"matte covers media frames 8\.\.11"):
        write_matte_timeline(tmp_path / "t.otio", tclip, short)
    # a matte written as if the clip were 24 fps
    info24 = dataclasses.replace(clip.info, frame_rate=Fraction(24), start_timecode=None)
    wrong = export_mattes(clip.frame, info24, lambda i: disc_matte(i, H, W), "luma",
                          tmp_path / "wrong.mov")  # fmt: skip
    with pytest.raises(TimelineRateError, match="runs at 24 fps"):
        write_matte_timeline(tmp_path / "t.otio", tclip, wrong, kind="luma")
    other = clips["30"]
    small = make_clip(None, tmp_path / "small.mov", frames=20, size=(80, 44), rate="30000/1001")
    with pytest.raises(TimelineError, match="would not line up"):
        write_matte_timeline(tmp_path / "t.otio", tclip, small)
    with pytest.raises(TimelineMediaError, match="matte not found"):
        write_matte_timeline(tmp_path / "t.otio", tclip, tmp_path / "none.mov")
    gone = dataclasses.replace(tclip, media_path=tmp_path / "moved.mov")
    with pytest.raises(TimelineMediaError, match="media not found"):
        write_matte_timeline(tmp_path / "t.otio", gone, short)
    mixed = dataclasses.replace(tclip, timeline_rate=Fraction(24))
    with pytest.raises(TimelineRateError, match="mixed rates"):
        write_matte_timeline(tmp_path / "t.otio", mixed, short)
    with pytest.raises(TimelineError, match="one video track"):
        write_matte_timeline(tmp_path / "t.edl", tclip, short)
    with pytest.raises(TimelineError, match=r"cannot write \.aaf"):
        write_matte_timeline(tmp_path / "t.aaf", tclip, short)
    assert not list(tmp_path.glob("t.*"))
    assert other  # (fixture shared with the other tests)


def test_read_only_output_folder(clips: dict[str, Clip], tmp_path: Path) -> None:
    clip = clips["30"]
    matte = _cutout(clip, tmp_path / "m.mov", 0, 20)
    tclip = clip_for_media(clip.path)
    with read_only_dir(tmp_path / "ro") as ro:
        with pytest.raises(TimelineError) as exc:
            write_matte_timeline(ro / "t.fcpxml", tclip, matte)
        assert exc.value.path == ro / "t.fcpxml"
        assert listing(ro) == []


def test_fcp7_xml_keeps_drop_frame_timecode(clips: dict[str, Clip], tmp_path: Path) -> None:
    """Premiere shows the <timecode> of each file: a drop-frame source stays drop-frame
    (the adapter alone would print the NDF label of the same frame count)."""
    clip = clips["29.97"]  # starts at 00:59:59;20
    matte = _cutout(clip, tmp_path / "m.mov", 2, 18)  # starts at 00:59:59;22
    xml = write_matte_timeline(tmp_path / "t.xml", clip_for_media(clip.path, frame_range=(4, 12)),
                               matte)  # fmt: skip
    strings = [tc.findtext("string") for tc in ET.parse(xml).getroot().iter("timecode")]
    assert "00:59:59;20" in strings and "00:59:59;22" in strings
