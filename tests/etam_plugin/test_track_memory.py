"""Peak memory of a tracking job does not grow with the clip's length.

A 1080p clip of 300 frames and one of 3,000 frames, tracked end to end by the same library
call the CLI makes (``run_track``), each in a fresh process; peak RSS must differ by
≤ 10 %. The property is about frames and state, not the network, so a tiny test network
runs (the real ones only add a constant).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import json, resource, sys
from pathlib import Path
import torch
from etam_plugin.model import build_model, tiny_test_config
from etam_plugin.prompts import build_prompts
from etam_plugin.track import TrackRequest, run_track

torch.manual_seed(0)
torch.set_num_threads(1)  # the tiny network's ops are too small to share; spinning threads
model = build_model(tiny_test_config(image_size=32))
request = TrackRequest(source=Path(sys.argv[1]), prompts=build_prompts(None, ["0:1:960,540"], []))
summary = run_track(request, model)
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"frames": summary.frames_tracked, "peak_rss_mb": peak_kb / 1024}))
"""


def _clip(path: Path, frames: int) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
         "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "35",
         "-g", "60", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _peak(clip: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(clip)],
        capture_output=True, text=True, timeout=1800, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.realtool
@pytest.mark.timeout(2400)
def test_peak_rss_is_flat_from_300_to_3000_frames_of_1080p(tmp_path: Path) -> None:
    short = _peak(_clip(tmp_path / "short.mp4", 300))
    long = _peak(_clip(tmp_path / "long.mp4", 3000))
    assert short["frames"] == 300 and long["frames"] == 3000
    growth = (long["peak_rss_mb"] - short["peak_rss_mb"]) / short["peak_rss_mb"]
    print(f"peak RSS: 300 frames {short['peak_rss_mb']:.0f} MB, 3000 frames "
          f"{long['peak_rss_mb']:.0f} MB ({growth:+.1%})")  # fmt: skip
    assert growth <= 0.10, f"peak RSS grew {growth:.1%} with 10× the frames"
