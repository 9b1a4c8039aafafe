"""`etam-plugin bench bridge latency` against a real OBS Studio 29 under Xvfb: it reads the
frame counter back from OBS's picture, whatever the canvas size is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.obs_bridge.obs_studio import ObsStudio, call

pytestmark = [pytest.mark.obs, pytest.mark.realtool, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "size",
    [
        "640x480",  # the 320×240 canvas's aspect: the scene, scaled back to the stream's size
        "640x360",  # another aspect: the bridge's media source itself
    ],
)
def test_latency_benchmark_reads_the_counter_obs_shows(
    obs: ObsStudio, tmp_path: Path, size: str
) -> None:
    out = tmp_path / "latency.json"
    tracker = "tests/obs_bridge/doubles.py:ColourTracker"
    cmd = [sys.executable, "-m", "etam_plugin", "bench", "bridge", "latency",
           "--obs", f"127.0.0.1:{obs.port}", "--size", size, "--samples", "6",
           "--tracker", tracker, "--json", str(out)]  # fmt: skip
    env = {**os.environ, "ETAM_OBS_PASSWORD": obs.password}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    print(done.stdout.strip().splitlines()[-1])
    assert result["size"] == [int(v) for v in size.split("x")]
    assert result["samples"] >= 4 and result["unreadable"] <= 2
    lower, upper = result["lag_frames_lower"], result["lag_frames_upper"]
    # OBS shows a frame the bridge captured before (never a future one, which would read
    # as a lag near the pattern's 600-frame period), and within a few seconds.
    assert 0 <= lower["median"] <= upper["median"] < 150
    assert "OBS shows a frame" in done.stdout
    client = obs.client()  # the benchmark leaves the scene as it found it
    try:
        inputs = [i["inputName"] for i in call(client, "GetInputList")["inputs"]]
    finally:
        client.disconnect()
    assert "etam-bench-stream" not in inputs, inputs
