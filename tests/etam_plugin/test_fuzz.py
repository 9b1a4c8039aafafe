"""A bounded, seeded fuzz pass over the inputs users hand the CLI (see ``fuzz_cases``):
never a traceback, never a crash of the process, never a hang; the only outcomes are
success and one-line errors. Each family runs in its own process under a time limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from .media_clips import write_ffmpeg

pytestmark = [pytest.mark.realtool, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
COUNTS = {"media": 150, "timeline": 200, "prompts": 150, "checkpoint": 12}


def _media_seeds(folder: Path) -> None:
    size = (64, 48)
    same = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]  # seeds
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "4", "-bf", "2", "-threads", "1"]
    for name, count, args in [
        ("a.mp4", 10, h264),
        ("b.mkv", 10, h264),
        ("c.ts", 10, h264),
        ("d.avi", 10, ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"]),
        ("e.mov", 6, ["-c:v", "prores_ks"]),
    ]:  # byte-identical on every run, so the seeded cases are the same cases
        write_ffmpeg(folder / name, count, size=size, args=args, before_output=same)


def _timeline_seeds(folder: Path) -> None:
    media = write_ffmpeg(folder.parent / "media.mp4", 10, size=(64, 48))
    timeline = otio.schema.Timeline(name="cut")
    track = otio.schema.Track(name="V1")
    timeline.tracks.append(track)
    for start in (0, 3):
        track.append(
            otio.schema.Clip(
                name="media.mp4",
                media_reference=otio.schema.ExternalReference(
                    target_url=str(media),
                    available_range=otio.opentime.TimeRange(
                        otio.opentime.RationalTime(0, 25), otio.opentime.RationalTime(10, 25)
                    ),
                ),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(start, 25), otio.opentime.RationalTime(4, 25)
                ),
            )
        )
    otio.adapters.write_to_file(timeline, str(folder / "cut.otio"))
    otio.adapters.write_to_file(timeline, str(folder / "cut.xml"), adapter_name="fcp_xml")
    (folder / "cut.edl").write_text(
        "TITLE: cut\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:00:00 00:00:00:04 01:00:00:00 01:00:00:04\n"
        "* FROM CLIP NAME: media.mp4\n"
    )


def _prompt_seeds(folder: Path) -> None:
    write_ffmpeg(folder / "clip.mp4", 4, size=(64, 48))


def _checkpoint_seeds(folder: Path) -> None:
    from etam_plugin.bench._reference_oracle import shaped_random_state_dict
    from etam_plugin.model import get_config, save_checkpoint

    save_checkpoint(shaped_random_state_dict(get_config("ti_512x512"), seed=1), folder / "w.pt")


SEEDS = {
    "media": _media_seeds,
    "timeline": _timeline_seeds,
    "prompts": _prompt_seeds,
    "checkpoint": _checkpoint_seeds,
}


@pytest.mark.parametrize("family", list(COUNTS))
def test_fuzzed_inputs_end_in_success_or_a_one_line_error(tmp_path: Path, family: str) -> None:
    (tmp_path / "seeds").mkdir()
    SEEDS[family](tmp_path / "seeds")
    done = subprocess.run(
        [sys.executable, "-m", "tests.etam_plugin.fuzz_cases", family, "20261206",
         str(COUNTS[family]), str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    crashes = [line for line in lines if "crash" in line]
    assert done.returncode == 0, f"the process died ({done.returncode}): {done.stderr[-2000:]}"
    assert not crashes, "\n".join(json.dumps(c) for c in crashes[:10])
    outcomes = lines[-1]["outcomes"]
    assert sum(outcomes.values()) == COUNTS[family]
    print(family, outcomes)  # the report table in the closing note comes from these
