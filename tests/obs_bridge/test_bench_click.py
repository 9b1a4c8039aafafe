"""`etam-plugin bench bridge click`: how many frames after a click the output first carries
the clicked object's mask (frames carry their capture counter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from etam_plugin.obs_bridge.track_stage import CLICK_ON_STEP_S

REPO = Path(__file__).resolve().parents[2]


def test_click_benchmark_counts_frames_from_click_to_mask(
    tmp_path: Path, pattern_clip: Path
) -> None:
    out = tmp_path / "click.json"
    tracker = "tests/obs_bridge/doubles.py:ColourTracker"
    cmd = [sys.executable, "-m", "etam_plugin", "bench", "bridge", "click",
           "--source", str(pattern_clip), "--size", "320x240", "--samples", "3",
           "--tracker", tracker, "--json", str(out)]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["mode"] == "click" and result["size"] == [320, 240]
    assert len(result["clicks"]) == 3
    near = CLICK_ON_STEP_S * 30 + 1  # frames of the 30 fps camera: on its frame or near it
    for click in result["clicks"]:
        assert click["frames"] >= 0 and click["ms"] > 0 and abs(click["mask_on_frame"]) <= near
    assert result["frames_max"] == max(c["frames"] for c in result["clicks"])
    assert 0 <= result["within_bound"] <= 3
    assert "click → first output frame with its mask" in done.stdout
