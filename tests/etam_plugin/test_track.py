"""`etam-plugin track`: prompts, propagation, raw outputs, exports and timelines through the
real model (seeded random weights in the official checkpoint format) and real media."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import opentimelineio as otio
import pytest

from etam_plugin.cli import main
from etam_plugin.errors import PromptError
from etam_plugin.model import Prompt
from etam_plugin.prompts import build_prompts, parse_box, parse_point

from .conftest_track import FRAMES, HEIGHT, WIDTH


def test_point_and_box_specs_parse() -> None:
    assert parse_point("3:1:10.5,20") == (3, 1, (10.5, 20.0), 1)
    assert parse_point("3:2:10,20:neg") == (3, 2, (10.0, 20.0), 0)
    assert parse_box("0:1:1,2,30,40") == (0, 1, (1.0, 2.0, 30.0, 40.0))
    for bad in ("3:1:10", "x:1:1,2", "3:1:1,2:maybe", "1:2"):
        with pytest.raises(PromptError, match="--point"):
            parse_point(bad)
    with pytest.raises(PromptError, match="--box"):
        parse_box("0:1:1,2,3")


def test_prompts_file_and_flags_build_ordered_prompts(tmp_path: Path) -> None:
    f = tmp_path / "prompts.json"
    f.write_text(json.dumps([{"frame": 2, "obj": 1, "points": [[5, 6]], "labels": [1]}]))
    prompts = build_prompts(f, ["2:1:7,8:neg", "0:3:1,1"], ["2:1:0,0,50,50"])
    # One call per file entry, then per --box, then per --point (a click that appends).
    assert prompts.items() == [
        (2, 1, Prompt(((5.0, 6.0),), (1,))),
        (2, 1, Prompt(box_xyxy=(0.0, 0.0, 50.0, 50.0))),
        (2, 1, Prompt(((7.0, 8.0),), (0,), clear_old_points=False)),
        (0, 3, Prompt(((1.0, 1.0),), (1,), clear_old_points=False)),
    ]
    assert prompts.frames == [0, 2] and prompts.objects == [1, 3]
    f.write_text(
        json.dumps(
            [
                {
                    "frame": 2,
                    "obj": 1,
                    "points": [[5, 6], [9, 9]],
                    "labels": [1, 0],
                    "clear_old_points": False,
                }
            ]
        )
    )
    assert build_prompts(f, [], []).items() == [
        (2, 1, Prompt(((5.0, 6.0), (9.0, 9.0)), (1, 0), clear_old_points=False))
    ]
    for bad, message in [
        ({"frame": 0, "obj": 1, "points": [[1, 2]], "clear_old_points": "no"}, "true or false"),
        ({"frame": 0, "obj": 1, "box": [0, 0, 5, 5], "clear_old_points": False}, "box"),
        ({"frame": 0, "obj": 1, "points": [[float("nan"), 2]]}, "finite"),
        ({"frame": 0, "obj": 1}, "points or a box"),
        ({"frame": 1.5, "obj": 1, "points": [[1, 2]]}, "not an integer"),
    ]:
        f.write_text(json.dumps([bad]))
        with pytest.raises(PromptError, match=message):
            build_prompts(f, [], [])
    f.write_text("{not json")
    with pytest.raises(PromptError, match="not valid JSON"):
        build_prompts(f, [], [])
    f.write_text(json.dumps([{"frame": 0, "obj": 1, "points": [[1, 2]], "labels": [1, 0]}]))
    with pytest.raises(PromptError, match="1 points but 2 labels"):
        build_prompts(f, [], [])


@pytest.mark.slow
@pytest.mark.realtool
def test_track_writes_masks_logits_prores_and_timeline(tmp_path, checkpoint, clip) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "track", str(clip), "--checkpoint", str(checkpoint),
            "--point", "1:1:160,90", "--point", "1:1:120,40:neg", "--box", "1:2:10,90,100,175",
            "--direction", "both", "--end", "6",
            "--masks-out", str(out / "masks"), "--logits-out", str(out / "logits"),
            "--export", "prores4444", "--out", str(out / "matte.mov"),
            "--matte-ops", "feather=1", "--timeline-out", str(out / "edit.otio"),
        ]
    )  # fmt: skip
    assert code == 0
    for obj in (1, 2):
        masks = sorted((out / "masks" / f"obj_{obj}").glob("*.png"))
        assert [p.name for p in masks] == [f"{i:06d}.png" for i in range(7)]
        for png in masks:
            mask = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
            logits = np.load(out / "logits" / f"obj_{obj}" / png.with_suffix(".npy").name)
            assert mask.shape == logits.shape == (HEIGHT, WIDTH)
            assert logits.dtype == np.float32
            assert np.array_equal(mask == 255, logits > 0)
            assert set(np.unique(mask)) <= {0, 255}
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
             "-show_entries", "stream=codec_name,pix_fmt,nb_read_frames,r_frame_rate",
             "-show_entries", "stream_tags=timecode", "-of", "json", str(out / "matte.mov")],
            capture_output=True, text=True, check=True,
        ).stdout
    )["streams"][0]  # fmt: skip
    assert probe["codec_name"] == "prores"
    assert probe["pix_fmt"].startswith("yuva444p")
    assert int(probe["nb_read_frames"]) == 7
    assert probe["r_frame_rate"] == "30000/1001"
    timeline = otio.adapters.read_from_file(str(out / "edit.otio"))
    clip_track, matte_track = timeline.video_tracks()[:2]
    assert clip_track[0].range_in_parent() == matte_track[0].range_in_parent()
    assert matte_track[0].range_in_parent().duration.value == 7


@pytest.mark.slow
def test_track_console_script_reports_bad_input(tmp_path, checkpoint, clip) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "etam_plugin", "track", *args],
            capture_output=True,
            text=True,
            timeout=300,
        )

    missing = run(str(clip), "--checkpoint", str(tmp_path / "nope.pt"), "--point", "0:1:1,1")
    assert missing.returncode == 2 and "nope.pt" in missing.stderr
    outside = run(str(clip), "--checkpoint", str(checkpoint), "--point", "99:1:1,1")
    assert outside.returncode == 2 and "frame 99" in outside.stderr
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 100)
    broken = run(str(garbage), "--checkpoint", str(checkpoint), "--point", "0:1:1,1")
    assert broken.returncode == 2 and "garbage.mp4" in broken.stderr
    noprompt = run(str(clip), "--checkpoint", str(checkpoint))
    assert noprompt.returncode == 2 and "no prompts" in noprompt.stderr


@pytest.mark.slow
@pytest.mark.realtool
def test_track_a_timeline_clip_in_context(tmp_path, checkpoint, clip) -> None:
    """`track TIMELINE --clip N`: the clip's source range (plus handles) is what gets tracked
    and exported, and the matte lands over the clip at its record range."""
    from fractions import Fraction

    from etam_plugin.media import open_source, timecode_to_frame
    from etam_plugin.timeline import read_timeline

    with open_source(clip) as src:
        rate, first_tc = src.info.frame_rate, src.info.start_timecode
    origin = timecode_to_frame(first_tc, rate)
    fps = float(rate)
    media = otio.schema.ExternalReference(
        target_url=str(clip),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(origin, fps), otio.opentime.RationalTime(FRAMES, fps)
        ),
    )
    timeline = otio.schema.Timeline(name="edit")
    track = otio.schema.Track(name="V1")
    track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(10, fps))))  # fmt: skip
    track.append(
        otio.schema.Clip(
            name="dog",
            media_reference=media,
            source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(origin + 3, fps), otio.opentime.RationalTime(4, fps)
            ),
        )
    )
    timeline.tracks.append(track)
    edit = tmp_path / "edit.otio"
    otio.adapters.write_to_file(timeline, str(edit))
    listed = read_timeline(edit)
    assert [(c.index, c.duration, c.record_start) for c in listed] == [(1, 4, 10)]
    assert listed[0].rate == Fraction(30000, 1001)

    out = tmp_path / "out"
    code = main(
        [
            "track", str(edit), "--clip", "1", "--handles", "1", "--checkpoint", str(checkpoint),
            "--point", "3:1:160,90", "--direction", "both", "--masks-out", str(out / "masks"),
            "--export", "prores4444", "--out", str(out / "matte.mov"),
            "--timeline-out", str(out / "comp.otio"),
        ]
    )  # fmt: skip
    assert code == 0
    # clip frames 3..6 in the file, with one frame of handle each side: 2..7
    assert sorted(p.name for p in (out / "masks" / "obj_1").glob("*.png")) == [
        f"{i:06d}.png" for i in range(2, 8)
    ]
    count = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "csv=p=0", str(out / "matte.mov")],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert count == "6"
    comp = otio.adapters.read_from_file(str(out / "comp.otio"))
    clip_track, matte_track = comp.video_tracks()[:2]
    placed = next(iter(clip_track.find_clips()))
    matte = next(iter(matte_track.find_clips()))
    assert placed.range_in_parent() == matte.range_in_parent()
    assert placed.range_in_parent().start_time.value == 10
    assert placed.range_in_parent().duration.value == 4


@pytest.mark.realtool
def test_points_off_the_picture_are_refused_before_tracking(
    tmp_path, clip, checkpoint, capsys
) -> None:
    """A point or box corner outside the frame is a one-line error, and nothing is written."""
    out = tmp_path / "masks"
    for flag in (["--point", f"0:1:{WIDTH + 5},10"], ["--box", "0:1:-3,0,50,50"]):
        code = main(
            ["track", str(clip), "--checkpoint", str(checkpoint), *flag, "--masks-out", str(out)]
        )
        assert code != 0
        assert "outside the 320×180 picture" in capsys.readouterr().err
        assert not out.exists()


@pytest.mark.slow
@pytest.mark.realtool
def test_track_a_clip_of_a_25_fps_edl(tmp_path, checkpoint) -> None:
    """Frame fields past 23 (a 25 fps EDL): the clip's media frames are tracked, exactly."""
    from tests.etam_plugin.export_helpers import make_clip

    make_clip(
        None, tmp_path / "A001.mov", frames=40, size=(128, 72), rate="25", timecode="00:00:00:00"
    )
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: cut\nFCM: NON-DROP FRAME\n\n"
        "001  A001     V     C        00:00:00:20 00:00:01:05 01:00:00:00 01:00:00:10\n"
        "* FROM CLIP NAME: A001.mov\n"
    )
    out = tmp_path / "masks"
    code = main(
        ["track", str(edl), "--clip", "1", "--checkpoint", str(checkpoint),
         "--point", "20:1:64,36", "--masks-out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert sorted(p.stem for p in (out / "obj_1").glob("*.png")) == [
        f"{i:06d}" for i in range(20, 30)
    ]


def test_hostile_prompts_files_are_one_line_errors(tmp_path: Path, monkeypatch) -> None:
    import etam_plugin.prompts

    f = tmp_path / "prompts.json"
    for data, says in [
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        ('[{"frame": 0, "obj": 1, "points": [[1, 2]], "x": "caf\u00e9"}]'.encode("latin-1"),
         "not valid JSON"),
        (b'[{"frame": 0, "obj": 1, "points": [[1e999, 2]]}]', "finite"),
    ]:  # fmt: skip
        f.write_bytes(data)
        with pytest.raises(PromptError, match=says):
            build_prompts(f, [], [])
    monkeypatch.setattr(etam_plugin.prompts, "MAX_PROMPTS_BYTES", 100)
    f.write_text(json.dumps([{"frame": 0, "obj": 1, "points": [[1, 2]]}] * 10))
    with pytest.raises(PromptError, match="at most"):
        build_prompts(f, [], [])
