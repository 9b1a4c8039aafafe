"""The whole pipeline without OBS: a real clip in, the real NUT stream out (read back with
ffmpeg), the colour test double as the tracker."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from etam_plugin.errors import CaptureError, EffectError, StreamError
from etam_plugin.model import FrameResult, Prompt
from etam_plugin.obs_bridge.bridge import Bridge, BridgeConfig, status_line
from etam_plugin.obs_bridge.presence import PresencePolicy
from etam_plugin.obs_bridge.testpattern import Disc, TestPattern
from tests.obs_bridge.doubles import ColourTracker

RED, BLUE = (220, 30, 30), (40, 60, 220)


def wait_for(check, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None and value is not False:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def point(pattern: TestPattern, disc: int = 0, index: int = 0) -> Prompt:
    x, y = pattern.discs[disc].position(index, pattern.width, pattern.height)
    return Prompt(points_xy=((x, y),), labels=(1,))


def config(clip: Path, **kw: Any) -> BridgeConfig:
    return BridgeConfig(source=str(clip), obs=None, status_log_s=0, **kw)


def read_stream(url: str, frames: int, width: int, height: int) -> np.ndarray:
    """``frames`` RGBA frames from the bridge's TCP stream, decoded by the ffmpeg CLI."""
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-f",
        "nut",
        "-i",
        url,
        "-frames:v",
        str(frames),
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgba",
        "-",
    ]
    for _ in range(20):  # a reader may fail (e.g. a server not started yet): retry like OBS
        out = subprocess.run(cmd, capture_output=True, timeout=30)
        if out.returncode == 0:
            return np.frombuffer(out.stdout, np.uint8).reshape(frames, height, width, 4)
        time.sleep(0.2)
    raise AssertionError(out.stderr.decode())


def best_match(alpha: np.ndarray, pattern: TestPattern, disc: int = 0) -> float:
    seen = alpha > 127
    return max(
        float((seen & t).sum() / max(1, (seen | t).sum()))
        for t in (pattern.truth(i)[disc] for i in range(pattern.frames))
    )


@pytest.mark.realtool
def test_stream_carries_the_clip_with_the_objects_alpha(
    pattern: TestPattern, pattern_clip: Path
) -> None:
    with Bridge(config(pattern_clip, prompts=(point(pattern),)), ColourTracker()) as bridge:
        wait_for(lambda: bridge.composite and bridge.composite.objects, 5, "the selection")
        frames = read_stream(bridge.stream.url, 20, 320, 240)
        status = bridge.stream.status()
    assert status.connections >= 1 and status.sent >= 20
    for rgba in frames[5:]:
        assert best_match(rgba[..., 3], pattern) > 0.85
        opaque = rgba[..., 3] == 255
        assert np.abs(rgba[..., :3][opaque].astype(int) - RED).max(axis=1).mean() < 8
        assert (rgba[..., 3] == 0).mean() > 0.85  # the textured background is keyed out


def test_output_keeps_the_camera_rate_when_the_tracker_is_slow(pattern_clip: Path, pattern) -> None:
    tracker = ColourTracker(cost_s=0.2)  # a 5 fps "model" behind a 30 fps camera
    with Bridge(config(pattern_clip, prompts=(point(pattern),)), tracker) as bridge:
        time.sleep(3.0)
        stats = bridge.stats()
    st = stats["stages"]
    assert st["composite"]["fps"] == pytest.approx(30, rel=0.15)
    assert st["track"]["fps"] < 6
    assert stats["dropped"]["skipped_by_tracker"] > 40  # stale frames skipped, not queued
    assert stats["dropped"]["before_composite"] <= 3
    assert stats["latency_ms"]["mask_age"]["p50_ms"] > 100  # masks are older than frames,
    assert stats["latency_ms"]["output_age"]["p90_ms"] < 60  # but output is not delayed
    assert tracker.threads == {"etam-track"}  # only the track thread touches the model


def test_objects_added_and_removed_mid_stream(tmp_path: Path) -> None:
    pattern = TestPattern(
        frames=60,
        discs=(
            Disc(RED, 0.12, centre=(0.3, 0.6), amplitude=(0.05, 0.05)),
            Disc(BLUE, 0.12, centre=(0.72, 0.6), amplitude=(0.05, 0.05)),
        ),
    )
    clip = pattern.write(tmp_path / "two.mkv")
    tracker = ColourTracker()
    with Bridge(config(clip, prompts=(point(pattern, 0),)), tracker) as bridge:

        def present_ids() -> list[int]:
            return [o.obj_id for o in bridge.composite.objects if o.present]

        wait_for(lambda: present_ids() == [1], 5, "object 1")
        blue = bridge.select(point(pattern, 1, index=tracker.steps % 60)).result(5)
        assert blue == 2
        wait_for(lambda: present_ids() == [1, 2], 5, "both objects")
        alpha = bridge.latest().rgba[..., 3]
        assert best_match(alpha, pattern, 0) < 0.7  # the union, not one disc
        assert (alpha[:, :160] > 127).sum() > 1000 and (alpha[:, 160:] > 127).sum() > 1000
        bridge.remove(1).result(5)
        wait_for(lambda: present_ids() == [2], 5, "only object 2")
        time.sleep(0.2)
        alpha = bridge.latest().rgba[..., 3]
        assert (alpha[:, :140] > 127).sum() == 0 and best_match(alpha, pattern, 1) > 0.85
        bridge.clear().result(5)
        wait_for(lambda: not bridge.composite.objects, 5, "no objects")
        time.sleep(0.2)
        assert (bridge.latest().rgba[..., 3] == 255).all()  # nothing selected: camera as is
    assert tracker.selects == 2  # never re-created: one tracker throughout


def test_an_object_that_leaves_and_returns_is_picked_up_again(tmp_path: Path) -> None:
    pattern = TestPattern(
        frames=60, discs=(Disc(RED, 0.12, centre=(0.5, 0.6), amplitude=(0.75, 0.0), period=60),)
    )  # leaves the frame on both sides, 30 frames per trip
    clip = pattern.write(tmp_path / "leaves.mkv")
    seen: list[bool] = []
    policy = PresencePolicy(hold_s=0.1, fade_s=0.1)
    with Bridge(
        config(clip, prompts=(point(pattern),), presence=policy), ColourTracker()
    ) as bridge:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            objs = bridge.composite.objects
            if objs:
                seen.append(objs[0].present)
            time.sleep(0.02)
        assert bridge.composite.objects[0].obj_id == 1
    first_lost = seen.index(False)
    assert True in seen[first_lost:], "the object never came back"


def test_the_camera_file_disappears_and_comes_back(tmp_path: Path) -> None:
    clip = TestPattern(frames=10).write(tmp_path / "cam.mkv")
    backup = tmp_path / "backup.mkv"
    shutil.copy(clip, backup)
    out: list[np.ndarray] = []

    class Sink:
        def put(self, rgba: np.ndarray, stamp: float = 0.0) -> None:
            out.append(rgba)

    with Bridge(config(clip), ColourTracker(), sinks=(Sink(),)) as bridge:
        bridge.capture.backoff.maximum = 0.2
        wait_for(lambda: bridge.composite_stats.count > 5, 5, "frames")
        clip.unlink()
        wait_for(lambda: bridge.stats()["capture"]["state"] == "reconnecting", 3, "the loss")
        stats = bridge.stats()
        assert "does not exist" in stats["capture"]["last_error"]
        assert "camera lost" in status_line(stats)
        # the stream says so instead of freezing on the last picture
        wait_for(lambda: bridge.composite.slates >= 2, 3, "camera-lost slates on the output")
        slate = out[-1]
        assert slate.shape == (240, 320, 4) and (slate[..., 3] == 255).all()
        assert np.median(slate[..., :3]) < 40 and (slate[..., :3] > 200).any()  # dark, text
        shutil.copy(backup, clip)
        count = bridge.composite_stats.count
        wait_for(lambda: bridge.composite_stats.count > count + 10, 5, "frames after recovery")
        assert bridge.stats()["capture"]["state"] == "running"
        assert np.median(out[-1][..., :3]) > 60  # the camera's picture again
        assert bridge.stats()["capture"]["reopen_count"] == 1


class FlakyTracker(ColourTracker):
    def step(self, frame_rgb: np.ndarray) -> FrameResult:
        if self.steps % 2:
            self.steps += 1
            raise RuntimeError("CUDA hiccup")
        return super().step(frame_rgb)


def test_a_failing_tracker_does_not_stop_the_stream(pattern_clip: Path, pattern) -> None:
    with Bridge(config(pattern_clip, prompts=(point(pattern),)), FlakyTracker()) as bridge:
        time.sleep(1.0)
        stats = bridge.stats()
    assert stats["stages"]["track"]["errors"] > 5
    assert "CUDA hiccup" in stats["tracker_error"]
    assert stats["stages"]["composite"]["fps"] == pytest.approx(30, rel=0.2)


def test_pausing_inference_stops_the_tracker_and_freezes_presence(
    pattern_clip: Path, pattern
) -> None:
    tracker = ColourTracker()
    policy = PresencePolicy(hold_s=0.2, fade_s=0.2)
    with Bridge(config(pattern_clip, prompts=(point(pattern),), presence=policy), tracker) as b:
        wait_for(lambda: b.composite.objects and b.composite.objects[0].present, 5, "object")
        b._on_visibility(False)  # what the OBS controller calls when the source is hidden
        time.sleep(0.2)
        steps = tracker.steps
        time.sleep(0.8)  # longer than hold + fade
        assert tracker.steps == steps and b.inference_paused
        assert b.composite.objects[0].weight == 1.0  # nothing faded while paused
        count = b.composite_stats.count
        time.sleep(0.3)
        assert b.composite_stats.count > count  # frames still flow to OBS
        b._on_visibility(None)  # connection lost: unknown, so run
        wait_for(lambda: tracker.steps > steps + 3, 3, "inference to resume")


def test_headless_run_returns_json_stats(pattern_clip: Path, pattern) -> None:
    bridge = Bridge(config(pattern_clip, prompts=(point(pattern),)), ColourTracker())
    progress: list[int] = []
    try:
        stats = bridge.run(frames=30, progress=progress.append)
    finally:
        bridge.stop()
    json.dumps(stats)  # --stats writes this
    assert progress[-1] >= 30 and stats["stages"]["composite"]["count"] >= 30
    assert {"p50_ms", "p90_ms", "p99_ms"} <= stats["latency_ms"]["output_age"].keys()
    assert stats["rss_mb"]["start"] > 0 and stats["rss_mb"]["now"] > 0
    assert stats["device"] == ColourTracker.device and stats["size"] == [320, 240]
    assert bridge.stream.pid is None  # the server process is gone
    cancel = threading.Event()
    cancel.set()
    bridge2 = Bridge(config(pattern_clip), ColourTracker())
    try:
        with pytest.raises(Exception, match="cancelled"):
            bridge2.run(frames=10_000, cancel=cancel)
    finally:
        bridge2.stop()


def test_start_errors_are_clear_and_leave_nothing_running(
    tmp_path: Path, pattern_clip: Path
) -> None:
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(CaptureError, match="does not exist"):
        Bridge(config(tmp_path / "none.mkv"), ColourTracker()).start()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        bridge = Bridge(config(pattern_clip, stream_port=port), ColourTracker())
        with pytest.raises(StreamError, match=str(port)):
            bridge.start()
    assert {t.name for t in threading.enumerate()} <= before


def test_a_fast_tracker_masks_the_very_frame_it_is_shown_with(pattern_clip: Path, pattern) -> None:
    with Bridge(config(pattern_clip, prompts=(point(pattern),)), ColourTracker()) as bridge:
        time.sleep(1.5)
        stats = bridge.stats()
    assert stats["stages"]["track"]["p50_ms"] < 20  # fast enough to be waited for
    assert stats["latency_ms"]["mask_age"]["p50_ms"] == 0  # mask and frame are the same
    assert stats["stages"]["composite"]["fps"] == pytest.approx(30, rel=0.15)


def test_virtual_camera_without_pyvirtualcam_is_a_clear_error(pattern_clip: Path) -> None:
    try:
        import pyvirtualcam  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - only where pyvirtualcam is installed
        pytest.skip("pyvirtualcam is installed here; this checks the message without it")
    bridge = Bridge(config(pattern_clip, virtual_camera=True), ColourTracker())
    with pytest.raises(StreamError, match="pyvirtualcam"):
        bridge.start()
    assert bridge.stream is not None and bridge.stream.pid is None  # the server was stopped


def test_each_object_can_have_its_own_effect(tmp_path: Path) -> None:
    """Scene ``remove`` keeps the person (object 1); object 2, given ``pixelate`` at start
    (as ``--object-effect 2=pixelate``), shows pixelated; set live back to the scene
    effect it is plain again, and an outline can be given to object 1 while running."""
    pattern = TestPattern(
        frames=30,
        discs=(
            Disc(RED, 0.12, centre=(0.3, 0.6), amplitude=(0.0, 0.0)),
            Disc(BLUE, 0.12, centre=(0.72, 0.6), amplitude=(0.0, 0.0)),
        ),
    )
    clip = pattern.write(tmp_path / "two.mkv")
    prompts = (point(pattern, 0), point(pattern, 1))
    with pytest.raises(EffectError, match="only 2 selected"):
        Bridge(config(clip, prompts=prompts, object_effects={3: "blur"}), ColourTracker()).start()
    cfg = config(clip, prompts=prompts, object_effects={2: "pixelate"})
    with Bridge(cfg, ColourTracker()) as bridge:
        wait_for(lambda: len(bridge.composite.objects) == 2, 5, "both objects")
        assert bridge.stats()["object_effects"] == {"2": "pixelate"}

        def out_and_discs() -> tuple[np.ndarray, np.ndarray, tuple, tuple]:
            time.sleep(0.3)
            latest = bridge.latest()
            diff = np.abs(latest.rgba[..., :3].astype(int) - latest.frame.rgb.astype(int))
            x1, y1 = (round(v) for v in pattern.discs[0].position(0, 320, 240))
            x2, y2 = (round(v) for v in pattern.discs[1].position(0, 320, 240))
            r = round(0.12 * 240) + 12
            d1 = (slice(y1 - r, y1 + r), slice(x1 - r, x1 + r))
            d2 = (slice(y2 - r, y2 + r), slice(x2 - r, x2 + r))
            return diff.max(axis=2), latest.rgba[..., 3], d1, d2

        diff, alpha, d1, d2 = out_and_discs()
        assert diff[d1].max() == 0 and diff[d2].max() > 40  # object 2 pixelated, 1 as is
        assert alpha[d1].max() == 255 and alpha[d2].max() == 255  # both in the picture
        assert (alpha[:, :5] == 0).all()  # the background removed
        bridge.set_object_effect(2, "scene")
        diff, alpha, d1, d2 = out_and_discs()
        assert diff[d2].max() == 0 and bridge.stats()["object_effects"] == {}
        bridge.set_object_effect(1, "outline:#00ff00")
        diff, alpha, d1, d2 = out_and_discs()
        assert diff[d1].max() > 100 and diff[d2].max() == 0
        bridge.remove(1).result(5)
        assert bridge.object_effects == {}
