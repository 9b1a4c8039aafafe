"""The bridge against a real OBS Studio 29 (obs-websocket 5.1) under Xvfb.

What OBS shows is read back with ``GetSourceScreenshot`` and compared pixel by pixel with
the synthetic clip's ground truth.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psutil
import pytest

from etam_plugin.model import Prompt
from etam_plugin.obs_bridge.bridge import Bridge, BridgeConfig
from etam_plugin.obs_bridge.credentials import Secret
from etam_plugin.obs_bridge.effects import Highlight
from etam_plugin.obs_bridge.obs_control import ObsSettings
from etam_plugin.obs_bridge.testpattern import TestPattern, counter_box, read_counter
from tests.obs_bridge.doubles import ColourTracker
from tests.obs_bridge.obs_studio import ObsStudio, call, free_port, screenshot

pytestmark = [pytest.mark.obs, pytest.mark.realtool, pytest.mark.slow]

SOURCE = "etam-test"


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None and value is not False:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def disc_prompt(pattern: TestPattern, index: int = 0) -> Prompt:
    x, y = pattern.discs[0].position(index, pattern.width, pattern.height)
    return Prompt(points_xy=((x, y),), labels=(1,))


def bridge_for(
    obs: ObsStudio,
    clip: Path,
    pattern: TestPattern,
    tracker: ColourTracker,
    *,
    effect: Any = "remove",
    password: str | None = None,
    port: int | None = None,
    **obs_settings: Any,
) -> Bridge:
    config = BridgeConfig(
        source=str(clip),
        effect=effect,
        prompts=(disc_prompt(pattern),),
        obs=ObsSettings(
            port=port or obs.port, scene="Scene", source_name=SOURCE, poll_s=0.3, **obs_settings
        ),
        password=Secret(obs.password if password is None else password),
        status_log_s=0,
    )
    return Bridge(config, tracker)


def connected(bridge: Bridge) -> bool:
    st = bridge.obs.status() if bridge.obs else None
    return bool(st and st.connected and st.source_ready)


def shows_stream(client: Any) -> np.ndarray | None:
    """The scene's screenshot once our stream is on it (anything opaque), else None."""
    shot = screenshot(client, "Scene")
    return shot if (shot[..., 3] > 0).mean() > 0.02 else None


def best_frame(alpha: np.ndarray, pattern: TestPattern) -> tuple[int, float]:
    """The clip frame whose disc best matches the screenshot's opaque area (index, IoU)."""
    seen = alpha > 127
    best = (-1, 0.0)
    for i in range(pattern.frames):
        truth = pattern.truth(i)[0]
        iou = (seen & truth).sum() / max(1, (seen | truth).sum())
        best = max(best, (i, float(iou)), key=lambda t: t[1])
    return best


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    return ~grow(~mask, px)


def test_remove_and_highlight_reach_obs_with_alpha(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    """Password connect, source created, and OBS shows transparency outside the object and
    the clip inside it (remove); then dimmed clip outside, clip inside (highlight)."""
    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker())
    client = obs.client()
    try:
        bridge.start()
        wait_for(lambda: connected(bridge), 20, "the bridge to connect to OBS")
        inputs = {i["inputName"]: i["inputKind"] for i in call(client, "GetInputList")["inputs"]}
        assert inputs.get(SOURCE) == "ffmpeg_source"
        settings = call(client, "GetInputSettings", inputName=SOURCE)["inputSettings"]
        assert settings["input"] == bridge.stream.url
        assert settings["buffering_mb"] == 0 and settings["close_when_inactive"] is False

        # remove: alpha 0 outside the disc, the disc's own colour inside.
        shot = wait_for(lambda: shows_stream(client), 20, "OBS to show the stream")
        time.sleep(0.5)  # past the first frames (and the tracker's first step)
        shot = screenshot(client, "Scene")
        index, iou = best_frame(shot[..., 3], pattern)
        assert iou > 0.85, f"the opaque area is not the disc (best IoU {iou:.2f})"
        truth = pattern.truth(index)[0]
        inside, outside = shrink(truth, 4), ~grow(truth, 10)
        assert (shot[..., 3][outside] == 0).mean() > 0.995
        assert (shot[..., 3][inside] == 255).mean() > 0.99
        colour_err = np.abs(shot[..., :3][inside].astype(int) - pattern.discs[0].colour).max(axis=1)
        assert np.median(colour_err) <= 6

        # highlight: opaque, disc untouched, background dimmed + desaturated texture.
        effect = Highlight()
        bridge.set_effect(effect)

        def highlighted() -> np.ndarray | None:
            s = screenshot(client, "Scene")
            return s if (s[..., 3] == 255).mean() > 0.99 else None

        shot = wait_for(highlighted, 10, "OBS to show the highlight effect")
        index = read_counter(shot)
        assert index is not None, "the frame counter is not readable in OBS's picture"
        frame = pattern.render(index)
        truth = pattern.truth(index)[0]
        inside = shrink(truth, 4)
        _, _, x1, y1 = counter_box(pattern.cell)
        outside = ~grow(truth, 16)
        outside[: y1 + 4, : x1 + 4] = False
        expected_bg = effect.apply(frame, np.zeros(truth.shape, np.float32))[..., :3]
        bg_err = np.abs(shot[..., :3][outside].astype(int) - expected_bg[outside]).max(axis=1)
        in_err = np.abs(shot[..., :3][inside].astype(int) - frame[inside]).max(axis=1)
        assert np.median(bg_err) <= 6 and (bg_err <= 12).mean() > 0.98
        assert np.median(in_err) <= 6
        # the outline: outline-coloured pixels around the disc's edge, and nowhere else
        near = np.abs(shot[..., :3].astype(int) - effect.outline).max(axis=2) < 40
        band = grow(truth, 10) & ~shrink(truth, 6)
        perimeter = 2 * np.pi * pattern.discs[0].radius * pattern.height
        assert near[band].sum() > 2 * perimeter, "no outline around the object"
        assert near[~band].sum() < 0.02 * near[band].sum()
    finally:
        client.disconnect()
        bridge.stop()


def test_wrong_password_is_reported_and_retried_without_leaking(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-" + obs.password[::-1]
    caplog.set_level(logging.DEBUG)
    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker(), password=wrong)
    try:
        bridge.start()
        wait_for(lambda: bridge.obs.status().attempts >= 2, 15, "two connection attempts")
        status = bridge.obs.status()
        assert status.state == "auth_failed" and not status.connected
        assert "refused the password" in status.last_error
        assert status.retry_in_s and status.retry_in_s > 0
        # frames keep flowing while OBS refuses us
        count = bridge.composite_stats.count
        wait_for(lambda: bridge.composite_stats.count > count + 10, 5, "frames during the outage")
        text = json.dumps(bridge.stats()) + caplog.text + repr(bridge.config)
        for secret in (wrong, obs.password):
            assert secret not in text
        assert bridge.obs.is_alive()
    finally:
        bridge.stop()
    # reported once, not once per retry
    assert sum("refused the password" in r.getMessage() for r in caplog.records) == 1


def test_obs_not_running_is_retried_with_backoff(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker(), port=free_port())
    try:
        bridge.start()
        wait_for(lambda: bridge.obs.status().attempts >= 3, 15, "three connection attempts")
        status = bridge.obs.status()
        assert status.state == "unreachable"
        assert "not reachable" in status.last_error and "running" in status.last_error
        assert bridge.obs.backoff.attempts >= 3  # delays grow: 0.5, 1, 2, …
        assert bridge.composite_stats.count > 0 and bridge.capture.is_alive()
    finally:
        bridge.stop()


def test_obs_killed_and_restarted_picture_comes_back(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker())
    try:
        bridge.start()
        wait_for(lambda: connected(bridge), 20, "the first connection")
        client = obs.client()
        wait_for(lambda: shows_stream(client), 20, "the first picture")
        client.disconnect()

        obs.kill()
        wait_for(lambda: not bridge.obs.status().connected, 10, "the bridge to notice")
        count = bridge.composite_stats.count
        time.sleep(1.0)
        assert bridge.composite_stats.count > count + 15, "frames stalled while OBS was down"

        obs.start()
        ready = time.monotonic()
        wait_for(lambda: connected(bridge), 15, "the bridge to reconnect")
        client = obs.client()
        try:
            shot = wait_for(lambda: shows_stream(client), 15, "the picture to come back")
            back_after = time.monotonic() - ready
            _, iou = best_frame(shot[..., 3], pattern)
            assert iou > 0.8
            print(f"picture back {back_after:.1f} s after OBS's websocket was up")
            assert back_after < 10
            assert bridge.obs.status().connections == 2
        finally:
            client.disconnect()
    finally:
        bridge.stop()


def _cpu_and_steps(tracker: ColourTracker, seconds: float) -> tuple[float, int]:
    proc = psutil.Process()
    t0, s0 = proc.cpu_times(), tracker.steps
    time.sleep(seconds)
    t1 = proc.cpu_times()
    return (t1.user + t1.system - t0.user - t0.system) / seconds, tracker.steps - s0


def test_hiding_the_source_pauses_inference(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    tracker = ColourTracker(cost_s=0.08)  # a tracker that costs CPU, like a model
    bridge = bridge_for(obs, pattern_clip, pattern, tracker)
    client = obs.client()
    try:
        bridge.start()
        wait_for(lambda: connected(bridge) and bridge.obs.status().visible, 20, "visible")
        cpu_on, steps_on = _cpu_and_steps(tracker, 2.0)
        item = call(client, "GetSceneItemId", sceneName="Scene", sourceName=SOURCE)["sceneItemId"]

        call(client, "SetSceneItemEnabled", sceneName="Scene", sceneItemId=item,
             sceneItemEnabled=False)  # fmt: skip
        wait_for(lambda: bridge.inference_paused, 5, "inference to pause")
        time.sleep(0.3)
        cpu_off, steps_off = _cpu_and_steps(tracker, 2.0)
        print(f"CPU visible {cpu_on:.2f} cores ({steps_on} steps), hidden {cpu_off:.2f} cores")
        assert steps_on >= 8 and steps_off == 0
        assert cpu_off < 0.6 * cpu_on

        call(client, "SetSceneItemEnabled", sceneName="Scene", sceneItemId=item,
             sceneItemEnabled=True)  # fmt: skip
        wait_for(lambda: not bridge.inference_paused, 5, "inference to resume")
        steps = tracker.steps
        wait_for(lambda: tracker.steps > steps + 3, 5, "steps after resuming")

        # switching the program scene away hides it too
        call(client, "CreateScene", sceneName="Other")
        call(client, "SetCurrentProgramScene", sceneName="Other")
        wait_for(lambda: bridge.inference_paused, 5, "pause on a scene switch")
        call(client, "SetCurrentProgramScene", sceneName="Scene")
        wait_for(lambda: not bridge.inference_paused, 5, "resume on switching back")
    finally:
        client.disconnect()
        bridge.stop()


# -- what a streamer's OBS does to our source ---------------------------------------------


def inputs_of(client: Any) -> dict[str, str]:
    return {i["inputName"]: i["inputKind"] for i in call(client, "GetInputList")["inputs"]}


def test_a_source_deleted_in_obs_is_created_again(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Deleting the source in OBS left the bridge streaming to no one; it creates it again
    and the picture comes back. OBS removes an input lazily (it may still list it, and
    refuse requests on it, for a moment), so the test follows the bridge's own word and the
    name it created, which is another one while OBS still holds the old."""
    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker())
    client = obs.client()
    try:
        bridge.start()
        wait_for(lambda: connected(bridge), 20, "the first connection")
        wait_for(lambda: shows_stream(client), 20, "the first picture")
        caplog.set_level(logging.WARNING, logger="etam_plugin.obs_bridge.obs_control")
        call(client, "RemoveInput", inputName=SOURCE)
        wait_for(lambda: "creating it again" in caplog.text, 30, "the bridge to notice")

        def streams_ours() -> bool:
            from obswebsocket import requests

            r = client.call(requests.GetInputSettings(inputName=bridge.obs.source_name))
            return bool(r.status) and r.datain["inputSettings"]["input"] == bridge.stream.url

        wait_for(streams_ours, 30, "the source created again")
        assert bridge.obs.source_name in (SOURCE, f"{SOURCE} 2")
        wait_for(lambda: shows_stream(client), 20, "the picture back")
        assert bridge.obs.status().connections == 1  # no reconnection was needed
    finally:
        client.disconnect()
        bridge.stop()


def test_removing_a_source_used_in_two_scenes_does_not_lock_the_bridge_out(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    """OBS 29 keeps listing an input removed while it was in two scenes, and refuses every
    scene item and input of that name: the bridge looped on CreateSceneItem for ever. It
    takes the next free name and the picture comes back."""
    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker())
    client = obs.client()
    try:
        bridge.start()
        wait_for(lambda: connected(bridge), 20, "the first connection")
        call(client, "CreateScene", sceneName="Two")
        call(client, "CreateSceneItem", sceneName="Two", sourceName=SOURCE)
        call(client, "RemoveInput", inputName=SOURCE)
        wait_for(lambda: bridge.obs.source_name == f"{SOURCE} 2", 15, "another name")
        assert f"{SOURCE} 2" in inputs_of(client)
        wait_for(lambda: shows_stream(client), 20, "the picture back under the new name")
        status = bridge.obs.status()
        assert status.connected and status.source_name == f"{SOURCE} 2"
    finally:
        client.disconnect()
        bridge.stop()


def test_an_item_restored_without_its_fit_is_fitted_again(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    """After a crash OBS restored our item at its own size in the corner of a bigger canvas;
    the next bridge fits it to the canvas again (an item the user placed is left alone)."""
    client = obs.client()
    call(client, "SetVideoSettings", baseWidth=640, baseHeight=480, outputWidth=640,
         outputHeight=480)  # fmt: skip
    try:
        first = bridge_for(obs, pattern_clip, pattern, ColourTracker())
        with first:
            wait_for(lambda: connected(first), 20, "the first bridge")
        item = call(client, "GetSceneItemId", sceneName="Scene", sourceName=SOURCE)["sceneItemId"]

        def transform() -> dict:
            return call(client, "GetSceneItemTransform", sceneName="Scene", sceneItemId=item)[
                "sceneItemTransform"
            ]

        assert transform()["boundsWidth"] == 640.0
        restored = {"positionX": 0.0, "positionY": 0.0, "scaleX": 1.0, "scaleY": 1.0,
                    "boundsType": "OBS_BOUNDS_NONE", "alignment": 5}  # fmt: skip
        call(client, "SetSceneItemTransform", sceneName="Scene", sceneItemId=item,
             sceneItemTransform=restored)  # fmt: skip
        assert transform()["boundsType"] == "OBS_BOUNDS_NONE"  # own size, in the corner
        second = bridge_for(obs, pattern_clip, pattern, ColourTracker())
        with second:
            wait_for(lambda: connected(second), 20, "the second bridge")
            t = transform()
            assert t["boundsType"] == "OBS_BOUNDS_SCALE_INNER" and t["boundsWidth"] == 640.0
            # a place the user chose is theirs
            placed = {"positionX": 200.0, "positionY": 100.0, "boundsType": "OBS_BOUNDS_NONE",
                      "scaleX": 0.5, "scaleY": 0.5}  # fmt: skip
            call(client, "SetSceneItemTransform", sceneName="Scene", sceneItemId=item,
                 sceneItemTransform=placed)  # fmt: skip
        with bridge_for(obs, pattern_clip, pattern, ColourTracker()) as third:
            wait_for(lambda: connected(third), 20, "the third bridge")
            t = transform()
            assert t["positionX"] == 200.0 and t["scaleX"] == 0.5
    finally:
        client.disconnect()


def test_a_second_bridge_on_the_same_source_is_refused(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    """A second bridge with the same source name silently took the first one's source
    over; now it stops with one line saying who owns it, and the first keeps streaming."""
    from etam_plugin.errors import ObsError

    first = bridge_for(obs, pattern_clip, pattern, ColourTracker())
    second = bridge_for(obs, pattern_clip, pattern, ColourTracker())
    client = obs.client()
    try:
        first.start()
        wait_for(lambda: connected(first), 20, "the first bridge")
        second.start()
        wait_for(lambda: second.obs.status().state == "conflict", 20, "the second refused")
        message = second.obs.status().last_error
        assert "in use by another etam-plugin live" in message and "\n" not in message
        with pytest.raises(ObsError, match="in use by another"):
            second.run(frames=10_000)
        settings = call(client, "GetInputSettings", inputName=SOURCE)["inputSettings"]
        assert settings["input"] == first.stream.url  # still the first one's
        assert connected(first)
    finally:
        client.disconnect()
        second.stop()
        first.stop()


def test_audio_sync_follows_the_bridges_latency_and_is_restored(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    """--sync-audio: the microphone's audio sync offset in OBS is the user's own plus the
    bridge's measured latency, follows it when it changes a lot, and goes back to the user's
    value on stop."""
    client = obs.client()
    call(client, "CreateInput", sceneName="Scene", inputName="Mic", inputKind="ffmpeg_source",
         inputSettings={}, sceneItemEnabled=True)  # fmt: skip
    call(client, "SetInputAudioSyncOffset", inputName="Mic", inputAudioSyncOffset=15)

    def offset() -> int:
        return int(call(client, "GetInputAudioSyncOffset", inputName="Mic")["inputAudioSyncOffset"])

    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker(), sync_audio=("Mic",))
    try:
        bridge.start()
        wait_for(lambda: offset() != 15, 20, "the offset to be set")
        measured = bridge.added_latency_ms()
        assert measured is not None and abs(offset() - 15 - measured) <= 25, (offset(), measured)
        assert bridge.stats()["obs"]["audio_offset_ms"] == offset() - 15
        bridge.obs.latency_ms = lambda: 400.0  # the latency grows a lot (a slower output)
        wait_for(lambda: offset() == 415, 10, "the offset to follow")
    finally:
        bridge.stop()
        try:
            assert offset() == 15  # the user's own offset is back
        finally:
            client.disconnect()


def test_audio_sync_is_switched_live_and_lists_the_inputs_with_audio(
    obs: ObsStudio, pattern: TestPattern, pattern_clip: Path
) -> None:
    """The control window's A/V sync choice against the real OBS: the inputs with audio are
    listed (a media source, not a colour source, not our own), sync turned on for one adds
    the latency to its offset, and turned off gives the user's value back while running."""
    client = obs.client()  # not "Mic": OBS 29 lists a removed media source for ~4 s
    call(client, "CreateInput", sceneName="Scene", inputName="Headset", inputKind="ffmpeg_source",
         inputSettings={}, sceneItemEnabled=True)  # fmt: skip
    call(client, "CreateInput", sceneName="Scene", inputName="Card", inputKind="color_source_v3",
         inputSettings={}, sceneItemEnabled=True)  # fmt: skip
    call(client, "SetInputAudioSyncOffset", inputName="Headset", inputAudioSyncOffset=15)

    def offset() -> int:
        answer = call(client, "GetInputAudioSyncOffset", inputName="Headset")
        return int(answer["inputAudioSyncOffset"])

    bridge = bridge_for(obs, pattern_clip, pattern, ColourTracker())
    try:
        bridge.start()
        wait_for(lambda: "Headset" in bridge.stats()["obs"]["audio_inputs"], 20, "inputs listed")
        listed = bridge.stats()["obs"]["audio_inputs"]
        assert "Card" not in listed and SOURCE not in listed, listed
        time.sleep(1.0)
        assert offset() == 15  # nothing chosen: nothing touched
        bridge.obs.latency_ms = lambda: 250.0
        bridge.set_sync_audio(["Headset"])
        wait_for(lambda: offset() == 265, 10, "the offset to be set")
        assert tuple(bridge.stats()["obs"]["sync_audio"]) == ("Headset",)
        bridge.set_sync_audio([])
        wait_for(lambda: offset() == 15, 10, "the user's offset back")
        bridge.set_sync_audio(["Headset"])  # on again: set again, restored on stop
        wait_for(lambda: offset() == 265, 10, "the offset set again")
    finally:
        bridge.stop()
        try:
            assert offset() == 15
        finally:
            client.disconnect()
