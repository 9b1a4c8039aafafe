"""The add-on's pure parts (no Blender): which media frames a strip shows, what it refuses,
and how the job it runs is built and read back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from etam_plugin.hosts.blender.etam_vse import jobs, strips

MOVIE = strips.StripFacts(
    name="shot", kind="MOVIE", frame_start=10, frame_final_start=13, frame_final_end=19,
    scene_fps=25.0, media_fps=25.0,
)  # fmt: skip


def test_a_trimmed_moved_strip_shows_media_frames_from_its_offset() -> None:
    assert strips.source_range(MOVIE) == strips.SourceRange(3, 8, 13)
    hard_cut = dataclasses.replace(MOVIE, animation_offset_start=5)
    assert strips.source_range(hard_cut) == strips.SourceRange(8, 13, 13)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"speed_factor": 0.5}, "another speed"),
        ({"retimed": True}, "has retiming keys"),
        ({"speed_effects": ("Speed",)}, "speed effect Speed"),
        ({"reversed": True}, "reversed"),
        ({"proxy_timecode": "RECORD_RUN"}, "RECORD_RUN timecode"),
        ({"media_fps": 29.97}, "29.970 fps in a 25.000 fps scene"),
        ({"frame_start": 10.5}, "between frames"),
        ({"kind": "SOUND"}, "sound strip"),
        ({"frame_final_end": 13}, "shows no frames"),
    ],
)
def test_what_a_frame_for_frame_matte_cannot_follow_is_refused(change: dict, says: str) -> None:
    with pytest.raises(strips.StripRefused, match=says):
        strips.source_range(dataclasses.replace(MOVIE, **change))


def test_a_proxy_without_a_timecode_index_shows_the_same_frames() -> None:
    assert strips.source_range(dataclasses.replace(MOVIE, proxy_timecode="NONE")).first == 3


def test_image_strips_must_list_their_folder_in_name_order() -> None:
    names = ("f9.png", "f10.png", "f11.png")
    images = dataclasses.replace(
        MOVIE, kind="IMAGE", media_fps=None, images=names, folder_images=names[::-1]
    )
    assert strips.source_range(images).first == 3
    with pytest.raises(strips.StripRefused, match="2 of the 3 images"):
        strips.source_range(dataclasses.replace(images, images=names[:2]))


def test_output_names_are_safe_and_distinct() -> None:
    assert jobs.output_name("clip") == "clip"
    a, b = jobs.output_name("shot #1"), jobs.output_name("shot _1")
    assert a != b and a.startswith("shot__1-") and "#" not in a
    assert jobs.output_name("../..") not in ("", "..", ".")


def test_the_command_asks_for_a_grey_matte_of_exactly_the_used_frames(tmp_path: Path) -> None:
    spec = jobs.JobSpec(python="/py", checkpoint="w.pt", media="/m.mp4", first=3, last=8,
                        out=tmp_path / "clip", points=("5:1:10,20",), boxes=("5:2:1,2,3,4",),
                        matte_ops="grow=1")  # fmt: skip
    cmd = jobs.command(spec)
    assert cmd[:5] == ["/py", "-m", "etam_plugin", "track", "/m.mp4"]
    pairs = dict(zip(cmd[5::2], cmd[6::2], strict=False))
    assert pairs["--start"] == "3" and pairs["--end"] == "8"
    assert pairs["--export"] == "png" and pairs["--export-option"] == "content=matte"
    assert pairs["--progress"] == "json" and pairs["--matte-ops"] == "grow=1"
    assert "--point" in cmd and "--box" in cmd


def test_progress_and_the_failing_line_are_read_back() -> None:
    lines = ['{"stage": "track", "done": 2, "total": 6}', "Traceback-free noise",
             "etam-plugin track: error: no checkpoint at /w.pt"]  # fmt: skip
    assert jobs.progress_of(lines[0]) == ("track", 2, 6)
    assert jobs.progress_of(lines[1]) is None
    assert jobs.failure(lines, 2) == "no checkpoint at /w.pt"
    assert "exit code 9" in jobs.failure([lines[0]], 9)


def test_a_matte_missing_frames_is_not_placed(tmp_path: Path) -> None:
    out = tmp_path / "clip"
    out.mkdir()
    for frame in (3, 4, 6):
        (out / f"clip_matte.{frame:06d}.png").write_bytes(b"")
    with pytest.raises(jobs.SetupError, match=r"lacks 1 of frames 3\.\.6 \(first missing: 5\)"):
        jobs.matte_files(out, 3, 6)
    assert jobs.matte_files(out, 3, 4) == ["clip_matte.000003.png", "clip_matte.000004.png"]
