"""`etam-plugin live` without OBS: the real EfficientTAM network (``mobile`` config, seeded
random weights) on a looping clip, and every kind of bad input → exit code and message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from etam_plugin.cli import main
from etam_plugin.obs_bridge.testpattern import TestPattern
from tests.obs_bridge.obs_studio import free_port

CLIP_FPS = 30.0


def live_args(clip: Path, checkpoint: Path, *extra: str) -> list[str]:
    return [
        "live",
        "--camera",
        str(clip),
        "--checkpoint",
        str(checkpoint),
        "--variant",
        "mobile",
        "--device",
        "cpu",
        "--no-window",
        *extra,
    ]


def disc_point(pattern: TestPattern) -> str:
    x, y = pattern.discs[0].position(0, pattern.width, pattern.height)
    return f"{x:.0f},{y:.0f}"


def run_cli(args: list[str], timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "etam_plugin", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kw,
    )


# -- the real network, no OBS ---------------------------------------------------------------


@pytest.mark.slow
def test_output_keeps_the_clip_rate_while_the_real_model_runs_slower(
    tmp_path: Path, pattern: TestPattern, pattern_clip: Path, mobile_checkpoint: Path
) -> None:
    """EfficientTAM-Mobile on this CPU takes about a second a frame; the camera is 30 fps.
    The output still runs at 30 fps (every frame composited with the newest mask) and the
    stats file says so, with everything ``--stats`` promises."""
    stats_path, snapshot = tmp_path / "stats.json", tmp_path / "last.png"
    # A hard matte: random weights give logits of a few units, which the default soft edge
    # turns into partial alpha almost everywhere (trained weights give ±10 and more).
    args = live_args(pattern_clip, mobile_checkpoint, "--no-obs", "--frames", "150")
    args += ["--point", disc_point(pattern), "--matte-ops", "soft=0"]
    out = run_cli([*args, "--stats", str(stats_path), "--snapshot", str(snapshot)])
    assert out.returncode == 0, out.stderr[-3000:]
    stats = json.loads(stats_path.read_text())
    fps = stats["fps"]
    print(f"output {fps['output']} fps, tracker {fps['tracker']} fps, device {stats['device']}")
    assert fps["output"] >= 0.8 * CLIP_FPS
    assert fps["capture"] >= 0.8 * CLIP_FPS
    assert stats["stages"]["track"]["count"] >= 2
    assert 0 < fps["tracker_average"] < fps["output"] / 4  # the model is the slow part
    assert stats["dropped"]["skipped_by_tracker"] > 100  # it took the newest frame each time
    assert stats["run"]["frames_composited"] >= 150 and stats["run"]["selections"] == ["ok"]
    # delivered: no reader on the stream (no OBS), so none went out, whatever was composited
    assert stats["run"]["frames_out"] == stats["stream"]["sent"] == 0
    # the model's OpenMP threads sleep when idle (set before torch loaded), below the output
    assert stats["threads"]["omp_wait_policy"] == "PASSIVE"
    assert stats["threads"]["model_niceness"] > 0
    for stage in ("capture", "track", "composite"):
        assert {"fps", "p50_ms", "p90_ms", "p99_ms", "max_ms"} <= set(stats["stages"][stage])
    assert stats["latency_ms"]["output_age"]["p50_ms"] > 0
    assert stats["latency_ms"]["mask_age"]["p50_ms"] > 0
    assert stats["rss_mb"]["start"] > 0 and stats["rss_mb"]["end"] > 0
    assert stats["device"] == "cpu" and stats["obs"] is None
    assert stats["tracker"]["state_bytes"] > 0
    assert set(stats["dropped"]) == {"before_composite", "skipped_by_tracker", "stream"}
    # the last output frame: real alpha from the network's mask (arbitrary, not trivial)
    rgba = cv2.imread(str(snapshot), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (pattern.height, pattern.width, 4)
    alpha = rgba[..., 3]
    assert (alpha == 0).mean() > 0.01 and (alpha == 255).mean() > 0.01


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_ctrl_c_or_sigterm_stops_cleanly_and_still_writes_the_stats(
    tmp_path: Path, pattern_clip: Path, mobile_checkpoint: Path, signum: int, code: int
) -> None:
    """Ctrl-C is the user's interruption (130); SIGTERM is how a service manager or a
    script asks for a stop, and a clean stop is a success (0)."""
    stats_path = tmp_path / "stats.json"
    args = live_args(pattern_clip, mobile_checkpoint, "--no-obs", "--stats", str(stats_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "etam_plugin", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "Ctrl-C stops" not in line:  # printed once the bridge runs
            assert time.monotonic() < deadline and proc.poll() is None, "the bridge never ran"
            line = proc.stderr.readline()
        time.sleep(1.5)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the stream server process should be running"
        proc.send_signal(signum)
        rest = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, rest[-3000:]
    assert "Traceback" not in rest and "stopped" in rest
    stats = json.loads(stats_path.read_text())
    assert stats["run"]["cancelled"] is True and stats["run"]["frames_composited"] > 10
    assert stats["run"]["stopped_by"] == signal.Signals(signum).name
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


# -- bad input: exit code 2 and a message that says what is wrong ---------------------------


def test_missing_checkpoint_file(tmp_path: Path, pattern_clip: Path, capsys) -> None:
    missing = tmp_path / "nowhere" / "efficienttam_ti_512x512.pt"
    code = main(live_args(pattern_clip, missing, "--no-obs", "--frames", "5"))
    err = capsys.readouterr().err
    assert code == 2 and str(missing) in err and "error" in err


def test_a_variant_without_weights_says_where_to_get_them(
    tmp_path: Path, pattern_clip: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["live", "--camera", str(pattern_clip), "--no-obs", "--no-window"])
    err = capsys.readouterr().err
    assert code == 2
    assert "efficienttam_ti_512x512.pt" in err and "weights download mobile" in err


@pytest.mark.parametrize("bad", ["a,b", "10", "-5,3"])
def test_a_bad_point_is_a_usage_error(pattern_clip: Path, bad: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["live", "--camera", str(pattern_clip), "--no-obs", "--no-window", "--point", bad])
    assert exc.value.code == 2
    assert "X,Y" in capsys.readouterr().err


def test_a_point_outside_the_frame(pattern_clip: Path, mobile_checkpoint: Path, capsys) -> None:
    code = main(live_args(pattern_clip, mobile_checkpoint, "--no-obs", "--point", "400,10"))
    err = capsys.readouterr().err
    assert code == 2 and "outside the 320×240 frame" in err


@pytest.mark.parametrize(
    ("camera", "message"),
    [("7", "cannot open camera 7"), ("/nonexistent/cam.mp4", "does not exist")],
)
def test_a_camera_that_does_not_exist(
    mobile_checkpoint: Path, camera: str, message: str, capsys
) -> None:
    code = main(live_args(Path(camera), mobile_checkpoint, "--no-obs", "--frames", "5"))
    err = capsys.readouterr().err
    assert code == 2 and message in err


def test_a_corrupt_video_is_refused(tmp_path: Path, mobile_checkpoint: Path, capsys) -> None:
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    code = main(live_args(clip, mobile_checkpoint, "--no-obs", "--frames", "5"))
    err = capsys.readouterr().err
    assert code == 2 and "broken.mp4" in err


def test_an_unsafe_password_file_is_refused_before_loading_anything(
    tmp_path: Path, pattern_clip: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ETAM_OBS_PASSWORD", raising=False)
    secret = "hunter2-not-for-logs"
    cfg = tmp_path / "obs.ini"
    cfg.write_text(f"[obs]\npassword = {secret}\n")
    cfg.chmod(0o644)
    args = ["live", "--camera", str(pattern_clip), "--no-window", "--password-file", str(cfg)]
    code = main([*args, "--checkpoint", str(tmp_path / "not-needed.pt")])
    err = capsys.readouterr().err
    assert code == 2 and f"chmod 600 {cfg}" in err and secret not in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--width", "640"], "--width and --height go together"),
        (["--stats", "/nonexistent-folder/stats.json"], "does not exist"),
        (["--effect", "sparkle"], "sparkle"),
        (["--obs", "localhost:http"], "port must be a number"),
        (["--matte-ops", "feather=lots"], "feather"),
        (["--sync-audio", "Mic/Aux"], "--sync-audio sets OBS inputs"),  # with --no-obs
        (["--point", "10,10", "--object-effect", "2=blur"], "only 1 object(s) selected"),
        (["--point", "10,10", "--object-effect", "1=sparkle"], "unknown object effect 'sparkle'"),
        (["--object-effect", "pixelate"], "expected N=EFFECT"),
    ],
)
def test_bad_options_are_refused_before_the_model_loads(
    tmp_path: Path, pattern_clip: Path, extra: list[str], message: str, capsys
) -> None:
    never = tmp_path / "never-loaded.pt"  # would fail later: these checks come first
    obs = [] if "--obs" in extra else ["--no-obs"]
    code = main(live_args(pattern_clip, never, *obs, *extra))
    err = capsys.readouterr().err
    assert code == 2 and message in err and "never-loaded" not in err


def test_a_window_needs_a_display(
    pattern_clip: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    code = main(["live", "--camera", str(pattern_clip), "--no-obs"])
    assert code == 2 and "--no-window" in capsys.readouterr().err


@pytest.mark.slow
def test_obs_down_keeps_streaming_then_says_obs_was_never_reached(
    tmp_path: Path, pattern_clip: Path, mobile_checkpoint: Path, capsys
) -> None:
    stats_path = tmp_path / "stats.json"
    port = free_port()  # nothing listens there
    args = live_args(pattern_clip, mobile_checkpoint, "--obs", f"127.0.0.1:{port}")
    code = main([*args, "--frames", "60", "--stats", str(stats_path)])
    err = capsys.readouterr().err
    assert code == 1, err[-2000:]
    assert "OBS was never reached" in err and "not reachable" in err
    stats = json.loads(stats_path.read_text())
    assert stats["run"]["frames_composited"] >= 60  # frames kept flowing while OBS was away
    assert stats["run"]["frames_out"] == 0  # ... but none was delivered: nobody read them
    assert stats["obs"]["attempts"] >= 1 and not stats["obs"]["ever_connected"]
    assert np.isfinite(stats["fps"]["output"])


def test_hold_fade_and_fallback_reach_the_bridge(pattern_clip: Path, capsys) -> None:
    """--hold/--fade/--fallback set how a lost object is held, faded and replaced."""
    from etam_plugin.cli import build_parser
    from etam_plugin.cli.live import _config
    from etam_plugin.obs_bridge.presence import PresencePolicy

    args = build_parser().parse_args(
        live_args(
            pattern_clip,
            Path("unused.pt"),
            "--no-obs",
            "--hold",
            "2",
            "--fade",
            "0",
            "--fallback",
            "keyed",
        )
    )
    assert _config(args).presence == PresencePolicy(hold_s=2.0, fade_s=0.0, fallback="keyed")
    defaults = build_parser().parse_args(live_args(pattern_clip, Path("unused.pt"), "--no-obs"))
    assert _config(defaults).presence == PresencePolicy()
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(live_args(pattern_clip, Path("unused.pt"), "--hold", "-1"))
    assert exit_info.value.code == 2 and "seconds >= 0" in capsys.readouterr().err


def test_object_effects_reach_the_bridge(pattern_clip: Path) -> None:
    """--object-effect N=EFFECT gives the Nth --point/--box object its own effect."""
    from etam_plugin.cli import build_parser
    from etam_plugin.cli.live import _config

    args = build_parser().parse_args(
        live_args(pattern_clip, Path("unused.pt"), "--no-obs", "--point", "10,10",
                  "--box", "20,20,60,60", "--object-effect", "2=pixelate",
                  "--object-effect", "1=outline:#00ff00"),
    )  # fmt: skip
    assert _config(args).object_effects == {2: "pixelate", 1: "outline:#00ff00"}


def test_headless_status_is_printed_once_every_ten_seconds(pattern_clip: Path) -> None:
    """Headless without --frames, ``live`` prints its own status line (with the frame
    count) every 10 s: the bridge's logged copy of the same line is left out, as it printed
    each status twice. With the window, or the progress bar of --frames, the log keeps it."""
    from etam_plugin.cli import build_parser
    from etam_plugin.cli.live import _config

    def status_log_s(*args: str) -> float:
        return _config(build_parser().parse_args(["live", "--camera", str(pattern_clip),
                                                  "--no-obs", *args])).status_log_s  # fmt: skip

    assert status_log_s("--no-window") == 0
    assert status_log_s("--no-window", "--frames", "900") > 0
    assert status_log_s() > 0  # the control window
