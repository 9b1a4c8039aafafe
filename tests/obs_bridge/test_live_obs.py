"""`etam-plugin live` with the real EfficientTAM network (``mobile`` config, seeded random
weights, CPU) against a real OBS Studio 29 under Xvfb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from etam_plugin.obs_bridge.testpattern import Disc, TestPattern
from tests.obs_bridge.obs_studio import ObsStudio, call, screenshot
from tests.obs_bridge.test_live_cli import live_args

pytestmark = [pytest.mark.obs, pytest.mark.realtool, pytest.mark.slow]

SOURCE = "etam-live"


def live_command(obs: ObsStudio, clip: Path, checkpoint: Path, *extra: str) -> list[str]:
    obs_args = ("--obs", f"127.0.0.1:{obs.port}", "--scene", "Scene", "--source-name", SOURCE)
    return [sys.executable, "-m", "etam_plugin", *live_args(clip, checkpoint, *obs_args, *extra)]


def alpha_iou(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a > 127, b > 127
    return float((x & y).sum() / max(1, (x | y).sum()))


def test_live_command_streams_the_real_models_alpha_into_obs(
    obs: ObsStudio, tmp_path: Path, mobile_checkpoint: Path
) -> None:
    """Password from the environment, the media source created in the scene, and OBS's
    picture carries the network's matte as real alpha — fully transparent and fully opaque
    pixels, matching the bridge's own last output frame.

    The camera is still (a disc that does not move): the network's mask then settles after
    two or three steps, so what OBS shows a moment before the end is what the bridge sent
    last. (Random weights: the mask is an arbitrary pattern, not the disc.)"""
    still = TestPattern(
        frames=30, counter=False, discs=(Disc((220, 30, 30), 0.16, amplitude=(0, 0)),)
    )
    clip = still.write(tmp_path / "still.mkv")
    x, y = still.discs[0].position(0, still.width, still.height)
    stats_path, last = tmp_path / "stats.json", tmp_path / "last.png"
    env = {**os.environ, "ETAM_OBS_PASSWORD": obs.password}
    cmd = live_command(
        obs, clip, mobile_checkpoint, "--frames", "360", "--point", f"{x:.0f},{y:.0f}"
    )
    cmd += ["--matte-ops", "soft=0", "--stats", str(stats_path), "--snapshot", str(last)]
    client = obs.client()
    log = tmp_path / "live.log"  # a file: a full pipe would block the command
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    shots: list[np.ndarray] = []
    created = settings = None
    try:
        deadline = time.monotonic() + 90
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the live command did not finish"
            inputs = {
                i["inputName"]: i["inputKind"] for i in call(client, "GetInputList")["inputs"]
            }
            if created is None and SOURCE in inputs:
                created = inputs[SOURCE]
                settings = call(client, "GetInputSettings", inputName=SOURCE)["inputSettings"]
            shot = screenshot(client, "Scene")
            if (shot[..., 3] > 0).any():
                shots.append(shot)
            time.sleep(0.25)
    finally:
        if proc.poll() is None:
            proc.kill()
        client.disconnect()
    err = log.read_text(errors="replace")
    assert proc.returncode == 0, err[-3000:]
    assert obs.password not in err
    assert created == "ffmpeg_source" and settings is not None
    assert settings["input"].startswith("tcp://127.0.0.1:") and settings["buffering_mb"] == 0

    stats = json.loads(stats_path.read_text())
    assert stats["obs"]["ever_connected"] and stats["obs"]["connections"] == 1
    assert stats["stream"]["connected"] and stats["stream"]["sent"] > 200
    assert 0 < stats["delivered_fps"] <= stats["stages"]["composite"]["fps"] * 1.05
    assert settings["input"] == stats["stream"]["url"]
    assert stats["stages"]["track"]["count"] >= 4, "too few tracker steps to compare"
    print(
        f"{len(shots)} screenshots; tracker {stats['stages']['track']['count']} steps "
        f"({stats['stages']['track']['p50_ms']:.0f} ms p50), output {stats['fps']['output']} fps"
    )

    assert len(shots) >= 5, "OBS never showed the stream"
    shown = shots[-1][..., 3]  # OBS's picture a moment before the end
    assert (shown == 0).mean() > 0.02 and (shown == 255).mean() > 0.02, "no real alpha in OBS"
    ours = cv2.imread(str(last), cv2.IMREAD_UNCHANGED)[..., 3]  # the bridge's last output
    iou = alpha_iou(shown, ours)
    print(f"OBS vs the bridge's last frame: alpha IoU {iou:.3f}")
    assert iou > 0.9
    # and the picture is the camera where opaque: the disc's red or the grey texture
    rgb = shots[-1][..., :3][shown == 255].astype(int)
    grey = np.abs(rgb - rgb.mean(axis=1, keepdims=True)).max(axis=1) < 30
    red = (rgb[:, 0] > 150) & (rgb[:, 1] < 80)
    assert (grey | red).mean() > 0.95


def test_live_command_with_a_wrong_password_says_so(
    obs: ObsStudio, tmp_path: Path, pattern_clip: Path, mobile_checkpoint: Path
) -> None:
    wrong = "wrong-" + obs.password[::-1]
    env = {**os.environ, "ETAM_OBS_PASSWORD": wrong}
    out = subprocess.run(
        live_command(obs, pattern_clip, mobile_checkpoint, "--frames", "45"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr[-3000:]
    assert "refused the password" in out.stderr and "ETAM_OBS_PASSWORD" in out.stderr
    assert "OBS was never reached" in out.stderr
    assert wrong not in out.stderr + out.stdout and obs.password not in out.stderr
