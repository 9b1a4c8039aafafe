"""Listing the clips of real-world-shaped timelines: FCP 7 XML as Premiere writes it, FCPXML
as Final Cut writes it, CMX 3600 EDLs, OTIO and Kdenlive, with exact frames and handles."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote

import opentimelineio as otio
import pytest

from etam_plugin.cli import main
from etam_plugin.errors import TimelineError, TimelineMediaError, TimelineRateError
from etam_plugin.media.timecode import timecode_to_frame
from etam_plugin.timeline import read_timeline
from tests.etam_plugin.export_helpers import make_clip

NTSC24 = Fraction(24000, 1001)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny real clips (one with a space in its folder name) at 23.976 fps."""
    root = tmp_path_factory.mktemp("media") / "Shoot day 1"
    root.mkdir()
    a = make_clip(None, root / "A001.mov", frames=48, size=(64, 36), rate="24000/1001",
                  timecode="01:00:00:00")  # fmt: skip
    b = make_clip(None, root / "B002.mov", frames=48, size=(64, 36), rate="24000/1001")
    return {"a": a, "b": b}


def _url(p: Path) -> str:
    return "file://localhost" + quote(str(p))


def _premiere_xml(media: dict[str, Path], missing: Path) -> str:
    """The shape of a Premiere Pro FCP 7 XML export (23.976 sequence, 2 video tracks)."""

    def file_el(fid: str, path: Path, tc_frame: int, duration: int) -> str:
        return f"""<file id="{fid}"><name>{path.name}</name><pathurl>{_url(path)}</pathurl>
          <rate><timebase>24</timebase><ntsc>TRUE</ntsc></rate><duration>{duration}</duration>
          <timecode><rate><timebase>24</timebase><ntsc>TRUE</ntsc></rate>
            <frame>{tc_frame}</frame><displayformat>NDF</displayformat></timecode>
          <media><video><samplecharacteristics><width>64</width><height>36</height>
          </samplecharacteristics></video></media></file>"""

    def clip(cid: str, name: str, start: int, end: int, in_: int, out: int, f: str) -> str:
        return f"""<clipitem id="{cid}"><name>{name}</name><enabled>TRUE</enabled>
          <duration>48</duration><rate><timebase>24</timebase><ntsc>TRUE</ntsc></rate>
          <start>{start}</start><end>{end}</end><in>{in_}</in><out>{out}</out>{f}</clipitem>"""

    v1 = clip("c1", "A001", 0, 20, 10, 30, file_el("f1", media["a"], 86400, 48))
    v1 += clip("c2", "B002", 20, 44, 4, 28, file_el("f2", media["b"], 0, 48))
    v2 = clip("c3", "lost", 30, 40, 0, 10, file_el("f3", missing, 0, 100))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4"><sequence id="seq-1"><name>Cut 1</name><duration>44</duration>
  <rate><timebase>24</timebase><ntsc>TRUE</ntsc></rate>
  <media><video><format/><track>{v1}</track><track>{v2}</track></video><audio/></media>
  <timecode><rate><timebase>24</timebase><ntsc>TRUE</ntsc></rate><frame>86400</frame>
    <displayformat>NDF</displayformat></timecode>
</sequence></xmeml>"""


def test_premiere_fcp7_xml(media: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_text(_premiere_xml(media, tmp_path / "gone" / "lost.mov"))
    a, b, lost = read_timeline(path)
    assert (a.index, a.track, a.name, a.media_path) == (1, 1, "A001", media["a"])
    assert a.rate == a.timeline_rate == NTSC24
    assert (a.source_start, a.duration, a.record_start) == (86400 + 10, 20, 0)
    assert (a.available_start, a.available_duration, a.handles) == (86400, 48, (10, 18))
    assert list(a.file_frames(handles=4)) == list(range(6, 34))
    assert list(a.file_frames(handles=100)) == list(range(0, 48))  # clamped to the media
    assert (b.source_start, b.duration, b.record_start, b.handles) == (4, 24, 20, (4, 20))
    assert b.media_exists and "Shoot day 1" in str(b.media_path)
    assert (lost.track, lost.record_start, lost.media_exists) == (2, 30, False)
    with pytest.raises(TimelineMediaError, match="media not found"):
        lost.require_media()


FD = Fraction(1001, 30000)  # one frame at 29.97


def _t(frames: int) -> str:
    """FCPXML time of a frame count at 29.97, as Final Cut writes it (a reduced fraction)."""
    s = frames * FD
    return f"{s.numerator}/{s.denominator}s" if s.denominator != 1 else f"{s.numerator}s"


def _fcpxml(src: str, src2: str) -> str:
    """A Final Cut Pro 10.6 (FCPXML 1.10, media-rep) export at 29.97: a gap with a connected
    clip, then a clip (asset timecode 01:00:00;00, DF) with a connected clip and a marker.
    The sequence starts at 01:00:00:00 NDF (frame 108000)."""
    seq0, asset0 = 108000, 107892
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE fcpxml>
<fcpxml version="1.10">
  <resources>
    <format id="r1" name="FFVideoFormat720p2997" frameDuration="1001/30000s" width="1280"
            height="720"/>
    <asset id="r2" name="dog" start="{_t(asset0)}" duration="{_t(300)}" hasVideo="1"
           format="r1" audioSources="1">
      <media-rep kind="original-media" src="{src}"/>
    </asset>
    <asset id="r3" name="ovl" start="0s" duration="{_t(40)}" hasVideo="1" format="r1">
      <media-rep kind="original-media" src="{src2}"/>
    </asset>
  </resources>
  <library><event name="E"><project name="P">
    <sequence format="r1" duration="{_t(90)}" tcStart="{_t(seq0)}" tcFormat="NDF">
      <spine>
        <gap name="Gap" offset="{_t(seq0)}" start="{_t(seq0)}" duration="{_t(30)}">
          <asset-clip ref="r3" lane="1" name="ovl" offset="{_t(seq0)}" start="0s"
                      duration="{_t(15)}"/>
        </gap>
        <asset-clip ref="r2" name="dog" offset="{_t(seq0 + 30)}" start="{_t(asset0 + 108)}"
                    duration="{_t(60)}" format="r1">
          <asset-clip ref="r3" lane="1" name="ovl" offset="{_t(asset0 + 114)}" start="{_t(2)}"
                      duration="{_t(30)}"/>
          <marker start="{_t(asset0 + 110)}" duration="{_t(1)}" value="hey"/>
        </asset-clip>
      </spine>
    </sequence>
  </project></event></library>
</fcpxml>"""


def test_final_cut_fcpxml_is_frame_exact_at_2997(tmp_path: Path) -> None:
    path = tmp_path / "p.fcpxml"
    path.write_text(_fcpxml("file:///media/dog.mov", "ovl.mov"))
    clips = read_timeline(path)
    by = {(c.track, c.record_start): c for c in clips}
    assert sorted(by) == [(1, 30), (2, 0), (2, 36)]
    dog = by[(1, 30)]  # after the 30-frame gap
    assert dog.rate == dog.timeline_rate == Fraction(30000, 1001)
    assert (dog.available_start, dog.source_start, dog.duration) == (107892, 108000, 60)
    assert dog.handles == (108, 300 - 108 - 60)
    assert dog.media_path == Path("/media/dog.mov")
    on_gap = by[(2, 0)]
    assert (on_gap.source_start, on_gap.duration) == (0, 15)
    on_dog = by[(2, 36)]  # connected 6 frames after dog's first frame
    assert (on_dog.source_start, on_dog.duration) == (2, 30)
    assert on_dog.media_path == tmp_path / "ovl.mov"
    bundle = tmp_path / "P.fcpxmld"  # the bundle Final Cut 10.6+ exports
    bundle.mkdir()
    (bundle / "Info.fcpxml").write_text(path.read_text())
    assert [c.source_start for c in read_timeline(bundle)] == [c.source_start for c in clips]


def test_fcpx_adapter_canary(tmp_path: Path) -> None:
    """Why .fcpxml has its own reader: otio-fcpx-xml-adapter 1.0 truncates 29.97 to 29, so
    frame numbers come out wrong. If this starts failing, the adapter was fixed: consider
    switching back to it."""
    path = tmp_path / "p.fcpxml"
    path.write_text(_fcpxml("file:///media/dog.mov", "ovl.mov"))
    result = otio.adapters.read_from_file(str(path), "fcpx_xml")
    rates = {c.source_range.start_time.rate for c in result.find_clips()}
    assert rates == {29}


def test_edl_takes_its_rate_from_the_media(media: dict[str, Path], tmp_path: Path) -> None:
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: cut\nFCM: NON-DROP FRAME\n\n"
        "001  A001     V     C        01:00:00:10 01:00:00:20 01:00:00:00 01:00:00:10\n"
        f"* SOURCE FILE: {media['a']}\n\n"
        "002  B002     V     C        00:00:00:05 00:00:01:05 01:00:00:10 01:00:01:10\n"
        "* FROM CLIP NAME: B002.mov\n"
    )
    (tmp_path / "B002.mov").symlink_to(media["b"])
    a, b = read_timeline(edl)
    assert a.rate == NTSC24 and a.media_path == media["a"]
    assert (a.source_start, a.duration, a.record_start, a.handles) == (86410, 10, 0, None)
    assert list(a.file_frames(media_start=86400)) == list(range(10, 20))
    with pytest.raises(TimelineMediaError, match="start timecode is needed"):
        a.file_frames()
    assert (b.source_start, b.duration, b.record_start) == (5, 24, 10)
    assert b.media_path == tmp_path / "B002.mov"


@pytest.mark.parametrize(
    ("rate", "tc_in", "tc_out", "frames_in", "fcm"),
    [
        ("25", "00:00:01:24", "00:00:02:10", 49, "NON-DROP FRAME"),
        ("30", "00:00:01:29", "00:00:02:10", 59, "NON-DROP FRAME"),
        ("30000/1001", "00:00:01;29", "00:00:02;10", 59, "DROP FRAME"),
        ("50", "00:00:00:49", "00:00:01:10", 49, "NON-DROP FRAME"),
    ],
)
def test_edls_at_every_rate_read_with_their_media_beside_them(
    tmp_path: Path, rate: str, tc_in: str, tc_out: str, frames_in: int, fcm: str
) -> None:
    """Frame fields beyond 23 (a 25 or 30 fps EDL) read once the media says the rate; the
    file's rate is ffmpeg's, and so is the duration of the cut (frames between the two
    timecodes at that rate)."""
    media = make_clip(None, tmp_path / "A001.mov", frames=90, size=(64, 36), rate=rate)
    edl = tmp_path / "cut.edl"
    edl.write_text(
        f"TITLE: cut\nFCM: {fcm}\n\n"
        f"001  A001     V     C        {tc_in} {tc_out} 01:00:00:00 01:00:00:11\n"
        "* FROM CLIP NAME: A001.mov\n"
    )
    (clip,) = read_timeline(edl)
    assert clip.rate == Fraction(rate) and clip.media_path == media
    assert clip.source_start == frames_in
    assert clip.source_start + clip.duration == timecode_to_frame(tc_out, Fraction(rate))
    assert main(["timeline", "list", str(edl)]) == 0


def test_edl_without_media_needs_a_rate(tmp_path: Path) -> None:
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: cut\n\n001  X        V     C        00:00:01:00 00:00:02:00 "
        "01:00:00:00 01:00:01:00\n"
    )
    with pytest.raises(TimelineRateError, match="does not say its frame rate"):
        read_timeline(edl)
    (clip,) = read_timeline(edl, rate=Fraction(25))
    assert (clip.source_start, clip.duration, clip.rate) == (25, 25, 25)
    edl.write_text(edl.read_text().replace("TITLE: cut\n", "TITLE: cut\nFCM: DROP FRAME\n"))
    (clip,) = read_timeline(edl)
    assert clip.rate == Fraction(30000, 1001)


def test_otio_relative_media_paths(media: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.mov").symlink_to(media["a"])
    rate = float(NTSC24)
    tl = otio.schema.Timeline("t")
    track = otio.schema.Track("V1")
    track.append(otio.schema.Clip(
        "a",
        otio.schema.ExternalReference("media/a.mov"),
        otio.opentime.TimeRange(otio.opentime.RationalTime(3, rate),
                                otio.opentime.RationalTime(7, rate)),
    ))  # fmt: skip
    tl.tracks.append(track)
    otio.adapters.write_to_file(tl, str(tmp_path / "t.otio"))
    (clip,) = read_timeline(tmp_path / "t.otio")
    assert clip.media_path == tmp_path / "media" / "a.mov" and clip.media_exists
    assert (clip.source_start, clip.duration, clip.rate, clip.handles) == (3, 7, NTSC24, None)


def test_unreadable_timelines_say_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.aaf").write_text("x")
    with pytest.raises(TimelineError, match=r"unknown timeline type \.aaf"):
        read_timeline(tmp_path / "x.aaf")
    with pytest.raises(TimelineError, match="timeline not found"):
        read_timeline(tmp_path / "none.xml")
    (tmp_path / "bad.xml").write_text("<xmeml><sequence>")
    with pytest.raises(TimelineError, match=r"cannot read bad\.xml"):
        read_timeline(tmp_path / "bad.xml")
    (tmp_path / "bad.fcpxml").write_text("<fcpxml version='1.9'><resources/></fcpxml>")
    with pytest.raises(TimelineError, match="no project"):
        read_timeline(tmp_path / "bad.fcpxml")
    # a machine without the adapter package: the error says what to install
    names = [n for n in otio.adapters.available_adapter_names() if n != "fcp_xml"]
    monkeypatch.setattr(otio.adapters, "available_adapter_names", lambda: names)
    (tmp_path / "ok.xml").write_text("<xmeml/>")
    with pytest.raises(TimelineError, match="pip install otio-fcp-adapter"):
        read_timeline(tmp_path / "ok.xml")


def test_cli_lists_clips(media: dict[str, Path], tmp_path: Path, capsys) -> None:
    path = tmp_path / "cut.xml"
    path.write_text(_premiere_xml(media, tmp_path / "lost.mov"))
    assert main(["timeline", "list", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["#", "track", "name"]
    assert "01:00:00:10" in out[1] and "10/18" in out[1] and str(media["a"]) in out[1]
    assert out[3].endswith("[MISSING]")
    assert main(["timeline", "list", "--json", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["index"] for r in rows] == [1, 2, 3]
    assert rows[0]["rate"] == "24000/1001" and rows[0]["handles"] == [10, 18]
    assert rows[2]["media_exists"] is False
    assert main(["timeline", "list", str(tmp_path / "nope.edl")]) == 2
    assert "timeline not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("deep.otio", '{"OTIO_SCHEMA": "Timeline.1", "tracks": ' + "[" * 100_000 + "]" * 100_000
         + "}", "nests"),
        ("strings.otio", '{"OTIO_SCHEMA": "Timeline.1", "name": "[[[[{{{{' + "[" * 1000
         + '", "tracks": [}', "cannot read"),
        ("unknown.otio", '{"OTIO_SCHEMA": "Nope.1", "name": "x"}', "holds no timeline"),
        ("deep.xml", '<?xml version="1.0"?><xmeml version="4">' + "<sequence>" * 100_000
         + "</sequence>" * 100_000 + "</xmeml>", "nests"),
        ("broken.xml", "<xmeml><sequence>", "not well-formed"),
        ("deep.fcpxml", "<fcpxml>" + "<spine>" * 5000 + "</spine>" * 5000 + "</fcpxml>", "nests"),
    ],
)  # fmt: skip
def test_hostile_timelines_are_a_one_line_error_within_a_second(
    tmp_path: Path, name: str, text: str, says: str, capsys
) -> None:
    """A crafted file never crashes the process (OTIO's reader segfaulted on deep nesting)
    nor prints a traceback: the CLI says what is wrong in one line, quickly."""
    import time

    path = tmp_path / name
    path.write_text(text)
    started = time.perf_counter()
    assert main(["timeline", "list", str(path)]) == 2
    err = capsys.readouterr().err
    assert time.perf_counter() - started < 1.0
    assert says in err and len(err.strip().splitlines()) == 1, err


def test_a_huge_timeline_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    from etam_plugin.timeline import formats

    monkeypatch.setattr(formats, "MAX_TIMELINE_BYTES", 1000)
    path = tmp_path / "big.otio"
    path.write_text('{"OTIO_SCHEMA": "Timeline.1", "name": "' + "x" * 2000 + '"}')
    with pytest.raises(TimelineError, match="larger than any timeline"):
        read_timeline(path)


def test_nested_sequences_and_disabled_clips(tmp_path: Path) -> None:
    """A nested sequence (an OTIO Stack on a track, as editors' compound clips export) lists
    its clips where they show on the parent track, trimmed to the part used; a clip that is
    switched off is listed as disabled."""
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange

    def clip(name: str, start: int, frames: int, enabled: bool = True) -> otio.schema.Clip:
        item = otio.schema.Clip(
            name=name,
            media_reference=otio.schema.ExternalReference(target_url=str(tmp_path / name)),
            source_range=tr(rt(start, 25), rt(frames, 25)),
        )
        item.enabled = enabled
        return item

    inner = otio.schema.Track(name="inner V1")
    inner.extend([clip("b.mov", 100, 10), clip("c.mov", 0, 50)])
    nested = otio.schema.Stack(name="Compound", source_range=tr(rt(5, 25), rt(20, 25)))
    nested.append(inner)
    v1 = otio.schema.Track(name="V1")
    v1.extend([clip("a.mov", 0, 20), nested])
    v2 = otio.schema.Track(name="V2")
    v2.append(clip("d.mov", 0, 8, enabled=False))
    timeline = otio.schema.Timeline(name="t")
    timeline.tracks.extend([v1, v2])
    path = tmp_path / "t.otio"
    otio.adapters.write_to_file(timeline, str(path))
    got = [
        (c.index, c.track, c.track_name, c.name, c.record_start, c.source_start, c.duration,
         c.enabled)
        for c in read_timeline(path)
    ]  # fmt: skip
    assert got == [
        (1, 1, "V1", "a.mov", 0, 0, 20, True),
        (2, 1, "V1 › Compound", "b.mov", 20, 105, 5, True),  # inner 5..10 of b (100..110)
        (3, 1, "V1 › Compound", "c.mov", 25, 0, 15, True),  # inner 10..25 of c
        (4, 2, "V2", "d.mov", 0, 0, 8, False),
    ]


def test_an_avid_style_edl_with_audio_a_dissolve_and_drop_frame(tmp_path: Path) -> None:
    """As Avid writes it: drop-frame, source timecode near 24 h, an audio event, a dissolve
    (a zero-length cut then a D event), clip names padded after the colon."""
    make_clip(None, tmp_path / "A001.mov", frames=150, size=(64, 36), rate="30000/1001",
              timecode="23:00:00;00")  # fmt: skip
    edl = tmp_path / "avid.edl"
    edl.write_text(
        "TITLE: AVID CUT\nFCM: DROP FRAME\n\n"
        "001  A001     V     C        23:00:01;00 23:00:02;00 01:00:00;00 01:00:01;00\n"
        "* FROM CLIP NAME:  A001.mov\n\n"
        "002  A001     A     C        23:00:01;00 23:00:02;00 01:00:00;00 01:00:01;00\n\n"
        "003  A001     V     C        23:00:02;15 23:00:02;15 01:00:01;00 01:00:01;00\n"
        "003  A001     V     D    010 23:00:03;00 23:00:03;20 01:00:01;00 01:00:01;20\n"
        "* FROM CLIP NAME:  A001.mov\n"
    )
    ntsc = Fraction(30000, 1001)
    first, second = read_timeline(edl)
    assert first.rate == ntsc and first.media_path == tmp_path / "A001.mov"
    assert (first.source_start, first.duration) == (timecode_to_frame("23:00:01;00", ntsc), 30)
    assert (second.source_start, second.duration) == (timecode_to_frame("23:00:03;00", ntsc), 20)
    start = timecode_to_frame("23:00:00;00", ntsc)
    assert list(first.file_frames(media_start=start)) == list(range(30, 60))


_PREMIERE_NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xmeml>
<xmeml version="4">
<sequence id="outer"><name>Outer</name><duration>120</duration>
  <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>
  <timecode><rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate><frame>107892</frame>
    <displayformat>DF</displayformat></timecode>
  <media><video>
    <track>
      <clipitem id="c1"><name>A001</name><enabled>TRUE</enabled><duration>120</duration>
        <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>
        <start>0</start><end>20</end><in>10</in><out>30</out>
        <file id="f1"><name>A001.mov</name><pathurl>{url}</pathurl>
          <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate><duration>120</duration>
          <timecode><rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate><frame>2480832</frame>
            <displayformat>DF</displayformat></timecode>
          <media><video><samplecharacteristics><width>64</width><height>36</height>
            </samplecharacteristics></video></media></file>
      </clipitem>
      <clipitem id="c2"><name>Off</name><enabled>FALSE</enabled><duration>120</duration>
        <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>
        <start>20</start><end>30</end><in>40</in><out>50</out><file id="f1"/>
      </clipitem>
      <generatoritem id="g1"><name>Slug</name><duration>10</duration>
        <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate><start>30</start><end>40</end>
          <in>0</in><out>10</out>
        <effect><name>Slug</name><effectid>Slug</effectid>
          <effectcategory>Matte</effectcategory><effecttype>generator</effecttype>
            <mediatype>video</mediatype></effect>
      </generatoritem>
      <clipitem id="n1"><name>Inner seq</name><duration>60</duration>
        <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>
        <start>40</start><end>60</end><in>5</in><out>25</out>
        <sequence id="inner"><name>Inner</name><duration>60</duration>
          <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>
          <media><video><track>
            <clipitem id="i1"><name>A001</name><duration>120</duration>
              <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate>
              <start>0</start><end>60</end><in>60</in><out>120</out><file id="f1"/>
            </clipitem>
          </track></video></media>
        </sequence>
      </clipitem>
    </track>
  </video>
  <audio><track><clipitem id="a1"><name>A001</name><duration>120</duration>
    <rate><timebase>30</timebase><ntsc>TRUE</ntsc></rate><start>0</start><end>20</end>
      <in>10</in><out>30</out><file id="f1"/></clipitem></track></audio>
  </media>
</sequence>
</xmeml>"""


def _premiere_nested(tmp_path: Path) -> Path:
    """A Premiere-style FCP 7 XML at 29.97 drop-frame, media timecode 23:00:00;00: a clip, a
    disabled clip, a slug generator, a nested sequence trimmed to 20 of its frames, audio."""
    media = make_clip(None, tmp_path / "A001.mov", frames=120, size=(64, 36),
                      rate="30000/1001", timecode="23:00:00;00")  # fmt: skip
    path = tmp_path / "nested.xml"
    path.write_text(_PREMIERE_NESTED.format(url=_url(media)))
    return path


def test_premiere_nested_sequence_disabled_clip_generator_and_audio(tmp_path: Path) -> None:
    clips = read_timeline(_premiere_nested(tmp_path))
    got = [(c.name, c.track_name, c.record_start, c.source_start, c.duration, c.enabled,
            c.media_exists) for c in clips]  # fmt: skip
    tc = 2480832  # 23:00:00;00 at 29.97 drop-frame
    assert got == [
        ("A001", "V1", 0, tc + 10, 20, True, True),
        ("Off", "V1", 20, tc + 40, 10, False, True),  # <enabled>FALSE</enabled>
        ("Slug", "V1", 30, 0, 10, True, False),  # a generator: no media
        ("A001", "V1 › Inner", 40, tc + 65, 20, True, True),  # nested 5..25 of 60..120
    ]


def test_fcp_adapter_nested_sequence_canary(tmp_path: Path) -> None:
    """Why formats._fix_fcp_xml_adapter exists: otio-fcp-adapter 1.0 reads a nested
    sequence as an empty stack and ignores <enabled>. Checked in a fresh process (the fix
    patches the adapter for the process). If this fails, the adapter was fixed: drop the fix."""
    import subprocess
    import sys

    path = _premiere_nested(tmp_path)
    code = (
        "import opentimelineio as otio\n"
        f"t = otio.adapters.read_from_file({str(path)!r})\n"
        "items = list(t.video_tracks()[0])\n"
        "print(len(list(items[3])), items[1].enabled)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "True"]
