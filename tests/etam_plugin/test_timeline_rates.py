"""Phone and webcam rates (12, 12.5, 7.5, 119.88 fps) with a start timecode: a matte
timeline written at them reads back with the clip and the matte on the frames written
(.otio, .fcpxml, .kdenlive); FCP 7 .xml is refused in one line (its OTIO adapter has no
SMPTE timecode at these rates).

The timeline writer stamps and reads timecodes with ``etam_plugin.media.timecode``; the
reader turns them back into media frames with the same module (two timecode modules
disagreed at these rates once, and OpenTimelineIO's own timecode functions refuse them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etam_plugin.errors import TimelineError
from etam_plugin.export import export_mattes
from etam_plugin.media import timecode_to_frame
from etam_plugin.timeline import clip_for_media, clip_window, read_timeline, write_matte_timeline
from tests.etam_plugin.export_helpers import disc_matte, load_clip, make_clip

pytestmark = pytest.mark.realtool

H, W = 90, 160
RATES = {  # ffmpeg rate: start timecode
    "12": "00:59:50:07",
    "25/2": "01:00:00:12",  # 12.5 fps: labels 0..12
    "15/2": "00:00:10:07",  # 7.5 fps: labels 0..7
    "120000/1001": "00:59:59:100",
}


@pytest.mark.parametrize("ext", [".otio", ".xml", ".fcpxml", ".kdenlive"])
@pytest.mark.parametrize("rate", RATES)
def test_timecodes_at_odd_rates_read_back_as_written(rate: str, ext: str, tmp_path: Path) -> None:
    source = make_clip(
        None, tmp_path / "clip.mov", frames=20, size=(W, H), rate=rate, timecode=RATES[rate]
    )
    clip = load_clip(source)
    origin = timecode_to_frame(RATES[rate], clip.info.frame_rate)
    assert timecode_to_frame(clip.info.start_timecode, clip.info.frame_rate) == origin
    matte = export_mattes(
        clip.frame, clip.info, lambda i: disc_matte(i, H, W, soft=False), "prores4444",
        tmp_path / "m.mov", frame_range=(3, 17),
    )  # fmt: skip
    tclip = clip_for_media(source, frame_range=(6, 14))
    if ext == ".xml":  # OTIO's FCP 7 adapter has no timecode at these rates: refused
        with pytest.raises(TimelineError, match="SMPTE timecode does not support this rate"):
            write_matte_timeline(tmp_path / f"t{ext}", tclip, matte)
        return
    shot, over = read_timeline(write_matte_timeline(tmp_path / f"t{ext}", tclip, matte))
    assert clip_window(shot, clip.info) == range(6, 14)  # the clip frames written
    if ext != ".kdenlive":  # MLT counts media frames from 0, not from a timecode
        assert shot.available_start == origin
    # the matte (stamped with the timecode of its first frame, media frame 3) is placed
    # on the same clip frames
    assert over.record_start == shot.record_start and over.duration == shot.duration == 8
    assert over.source_start - over.available_start == 3
