"""The bridge with the model's real LiveTracker (a tiny test network of the same
architecture, so these run in seconds): prompts land on the frame they were given on,
lost/found drive hold and fade, and the tracker's state stays constant."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from etam_plugin.model import LiveTracker, Prompt
from etam_plugin.obs_bridge import track_stage
from etam_plugin.obs_bridge.bridge import Bridge, BridgeConfig
from etam_plugin.obs_bridge.presence import PresencePolicy
from etam_plugin.obs_bridge.testpattern import TestPattern
from etam_plugin.obs_bridge.track_stage import MODEL_NICENESS
from tests.obs_bridge.real_tracker import OBJ_SCORE_BIAS, SpyTracker, tiny_model


def wait_for(check, timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value is not None and value is not False:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def config(clip: Path, **kw: Any) -> BridgeConfig:
    return BridgeConfig(source=str(clip), obs=None, stream=False, status_log_s=0, **kw)


def disc_prompt(pattern: TestPattern, index: int) -> Prompt:
    return Prompt(points_xy=(pattern.discs[0].position(index, 320, 240),), labels=(1,))


def wait_idle(bridge: Bridge, tracker: SpyTracker, quiet_s: float = 0.6) -> None:
    """Pause inference and wait until the step under way (if any) is over."""
    bridge.track.pause()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        steps = tracker.steps()
        time.sleep(quiet_s)
        if tracker.steps() == steps:
            return
    raise AssertionError("the tracker never went idle")


def test_a_click_is_applied_to_the_frame_the_user_saw(
    pattern: TestPattern, pattern_clip: Path
) -> None:
    """The tracker is ~8 frames slower than the camera (tracking a first object), so the
    frame on screen is not the one it stepped last. With the model idle (here paused) the
    select carries the frame; the tracker steps on it, then selects, and the mask equals a
    fresh tracker's selection on exactly that picture. (A click during a step is answered
    on the step's frame: see the next test.)"""
    model = tiny_model()
    tracker = SpyTracker(model, delay_s=0.25)
    bridge = Bridge(config(pattern_clip, prompts=(disc_prompt(pattern, 0),)), tracker)
    with bridge:
        wait_for(lambda: tracker.steps() >= 2, 20, "two tracker steps")
        seen = bridge.latest().frame  # what the control window shows right now
        wait_for(lambda: bridge.track.last_seq > seen.seq, 10, "the tracker to move past it")
        wait_idle(bridge, tracker)
        prompt = disc_prompt(pattern, seen.source_index)
        obj_id = bridge.select(prompt, frame=seen).result(timeout=20)
        stepped, selected = tracker.selects[-1]
        # the prompt's own frame, not the newest tracked one
        assert stepped is seen.rgb, "the select was applied to another frame"
        assert bridge.track.selected_on[-1] == seen.seq

        # without a frame, the prompt goes to the frame being stepped, a newer one
        bridge.track.resume()
        wait_for(lambda: bridge.track.last_seq > seen.seq, 10, "a step on a newer frame")
        bridge.select(prompt, obj_id=obj_id).result(timeout=20)
        assert tracker.selects[-1][0] is not seen.rgb
        assert bridge.track.selected_on[-1] > seen.seq

    fresh = LiveTracker(model)
    fresh.step(seen.rgb)
    expected = fresh.select(1, prompt).objects[1]
    assert 0.0 < expected.mask.mean() < 1.0
    assert float((selected.mask != expected.mask).mean()) <= 1e-4


class SlowedHalves(SpyTracker):
    """Each half of a step (``advance``, ``track``) takes 0.4 s more; ``stages`` lists the
    model stages as they start, and each select; ``inside[half]`` is set while it runs."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__(model)
        self.stages: list[str] = []
        self.inside = {"advance": threading.Event(), "track": threading.Event()}

    def _slowed(self, half: str, call: Any) -> Any:
        self.stages.append(half)
        self.inside[half].set()
        try:
            time.sleep(0.4)
            return call()
        finally:
            self.inside[half].clear()

    def advance(self, frame_rgb):  # type: ignore[no-untyped-def]
        return self._slowed("advance", lambda: super(SlowedHalves, self).advance(frame_rgb))

    def track(self):  # type: ignore[no-untyped-def]
        return self._slowed("track", lambda: super(SlowedHalves, self).track())

    def select(self, obj_id, prompt):  # type: ignore[no-untyped-def]
        self.stages.append(f"select {obj_id}")
        return super().select(obj_id, prompt)


@pytest.mark.parametrize("phase", ["advance", "track"])
def test_a_click_during_a_step_shows_without_another_model_step(
    pattern_clip: Path, phase: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click that lands while the model steps (one object tracked; each half of a step
    slowed to 0.4 s) on a frame near the step's is answered on that step's frame as soon
    as its image features exist: no model stage starts between the click and its decoder
    pass (before: the rest of the step, then the clicked frame's image encoder), the mask
    is the real network's on that frame, the output carries it on the next frame, the
    select is reported done only once the mask is out (the window's "selecting…"), and
    the tracker continues from it. (The slowed halves put the frames 0.4-0.8 s apart: how
    near counts is widened to cover that; the next test keeps it narrow.)"""
    monkeypatch.setattr(track_stage, "CLICK_ON_STEP_S", 5.0)
    model = tiny_model()
    tracker = SlowedHalves(model)
    stages, inside = tracker.stages, tracker.inside
    first_prompt = Prompt(points_xy=((160.0, 120.0),), labels=(1,))
    bridge = Bridge(config(pattern_clip, prompts=(first_prompt,)), tracker)
    published: list[tuple[int, set[int], int]] = []  # (frame seq, objects, newest output seq)
    with bridge:
        put = bridge.track.masks.put

        def spy_put(snap):  # type: ignore[no-untyped-def]
            shown = bridge.latest()
            published.append((snap.frame_seq, set(snap.objects), shown.frame.seq if shown else 0))
            put(snap)

        bridge.track.masks.put = spy_put  # type: ignore[method-assign]
        bridge.initial_selections[0].result(timeout=20)
        wait_for(lambda: stages.count("track") >= 2, 20, "two steps")
        inside[phase].clear()
        assert inside[phase].wait(10), f"no {phase} started"
        seen = bridge.latest().frame  # what the control window shows at the click
        started = len(stages)
        prompt = Prompt(points_xy=((40.0, 200.0),), labels=(1,))
        future = bridge.select(prompt, frame=seen)
        # a window says "selecting…" until the future resolves: by then the mask is out
        in_slot: list[bool] = []
        future.add_done_callback(
            lambda f: in_slot.append(2 in bridge.track.masks.peek()[1].objects)
        )
        shown = wait_for(
            lambda: c if (c := bridge.latest()) and 2 in dict(c.object_mattes) else None,
            10,
            "the clicked object's mask on the output",
        )
        assert future.result(timeout=10) == 2 and in_slot == [True]
        # no model stage between the click and its answer: within the step under way
        assert stages[started] == "select 2", stages[started - 1 :]
        step_frame = tracker.selects[-1][0]  # the frame advanced in the step under way
        seq, objects, newest_out = next(p for p in published if 2 in p[1])
        assert objects == {1, 2}, "the first object left the output meanwhile"
        assert shown.mask_seq == seq and bridge.track.selected_on[-1] == seq
        assert shown.frame.seq <= newest_out + 2, "the output took more than a frame"
        # the tracker continues from that frame: both objects tracked on newer frames
        wait_for(lambda: any(p[0] > seq and p[1] == {1, 2} for p in published), 10, "a step")

    fresh = LiveTracker(model)
    fresh.step(step_frame)
    expected = fresh.select(2, prompt).objects[2]
    assert float((tracker.selects[-1][1].mask != expected.mask).mean()) <= 1e-4


def test_a_click_on_a_frame_far_from_the_steps_lands_on_its_own_frame(
    pattern_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click whose frame was captured more than ``CLICK_ON_STEP_S`` after the frame the
    model is stepping (a slow step) is not answered on that older frame, where a moving
    object may have left the clicked pixels: it waits for the step, then the tracker
    steps on the clicked frame itself and selects there."""
    monkeypatch.setattr(track_stage, "CLICK_ON_STEP_S", 0.0)
    tracker = SlowedHalves(tiny_model())
    stages, inside = tracker.stages, tracker.inside
    first_prompt = Prompt(points_xy=((160.0, 120.0),), labels=(1,))
    bridge = Bridge(config(pattern_clip, prompts=(first_prompt,)), tracker)
    with bridge:
        bridge.initial_selections[0].result(timeout=20)
        wait_for(lambda: stages.count("track") >= 2, 20, "two steps")
        inside["track"].clear()
        assert inside["track"].wait(30), "no step started"
        seen = bridge.latest().frame
        started = len(stages)
        obj_id = bridge.select(Prompt(points_xy=((40.0, 200.0),), labels=(1,)), frame=seen)
        assert obj_id.result(timeout=20) == 2
        # the step under way ends, then the clicked frame's own image encoder, then the select
        assert stages[started:][:2] == ["advance", "select 2"], stages[started:]
        assert tracker.selects[-1][0] is seen.rgb, "the select was applied to another frame"
        assert bridge.track.selected_on[-1] == seen.seq


def test_a_click_during_an_idle_clicks_step_waits_for_no_other_encoder(
    pattern_clip: Path,
) -> None:
    """Nothing selected: a first click steps its own frame; a second click that lands
    during that step is answered on the same frame once it is done, with no image encoder
    of its own (before: the clicked frame's encoder after the first click's step)."""
    tracker = SlowedHalves(tiny_model())
    stages, inside = tracker.stages, tracker.inside
    bridge = Bridge(config(pattern_clip), tracker)
    with bridge:
        wait_for(lambda: bridge.latest(), 10, "the first output frame")
        clicked = bridge.latest().frame
        first = bridge.select(Prompt(points_xy=((160.0, 120.0),), labels=(1,)), frame=clicked)
        assert inside["advance"].wait(10), "the click's step never started"
        started = len(stages)
        later = wait_for(
            lambda: f if (f := bridge.latest().frame).seq > clicked.seq else None, 5, "a frame"
        )
        second = bridge.select(Prompt(points_xy=((40.0, 200.0),), labels=(1,)), frame=later)
        assert first.result(timeout=10) == 1 and second.result(timeout=10) == 2
        until = stages.index("select 2")
        assert "advance" not in stages[started:until], stages[started - 1 : until + 1]
        assert bridge.track.selected_on[-1] == bridge.track.selected_on[-2]


def test_lost_and_found_drive_hold_and_fade(pattern_clip: Path) -> None:
    """The network is made to say "absent" (object-score bias), as when the object leaves
    the picture: the tracker reports the loss, the bridge holds the last matte, then fades
    to pass-through; when the network sees it again it is shown at once."""
    model = tiny_model(seed=1)
    tracker = SpyTracker(model)
    policy = PresencePolicy(hold_s=0.8, fade_s=0.8, fallback="passthrough")
    pattern = TestPattern(frames=60)
    bridge = Bridge(config(pattern_clip, presence=policy, prompts=(disc_prompt(pattern, 0),)),
                    tracker)  # fmt: skip
    bias = model.state_dict()[OBJ_SCORE_BIAS]

    def state() -> dict | None:
        objects = bridge.stats()["objects"]
        return objects[0] if objects else None

    with bridge:
        assert bridge.initial_selections[0].result(timeout=20) == 1
        wait_for(lambda: (s := state()) and s["present"], 10, "the object to be shown")
        shown = bridge.latest().matte
        assert 0.0 < float((shown > 0.5).mean()) < 1.0

        with torch.no_grad():
            bias.fill_(-50.0)
        wait_for(lambda: bridge.stats()["tracker"]["events"]["lost"] == 1, 10, "a lost event")
        held = wait_for(lambda: (s := state()) and not s["present"] and s, 2, "the loss shown")
        assert held["weight"] == 1.0  # held, not cut
        wait_for(lambda: state()["weight"] == 0.0, 5, "the fade to finish")
        wait_for(lambda: (bridge.latest().matte == 1.0).all(), 2, "pass-through")

        with torch.no_grad():
            bias.fill_(50.0)
        wait_for(lambda: bridge.stats()["tracker"]["events"]["found"] == 1, 10, "a found event")
        wait_for(lambda: (s := state()) and s["present"] and s["weight"] == 1.0, 5, "it back")
        events = [(e["obj_id"], e["kind"]) for e in bridge.stats()["tracker"]["recent_events"]]
        assert events == [(1, "lost"), (1, "found")]


@pytest.mark.slow
def test_tracker_state_stays_constant_over_a_long_run(tmp_path: Path) -> None:
    """Memory and pointer windows fill within 16 steps; after that the state's size is the
    same at every step, however long the stream runs."""
    small = TestPattern(width=160, height=120, frames=30, counter=False)
    clip = small.write(tmp_path / "small.mkv")
    tracker = SpyTracker(tiny_model(image_size=32))
    prompt = Prompt(points_xy=(small.discs[0].position(0, 160, 120),), labels=(1,))
    sizes: dict[int, int] = {}
    with Bridge(config(clip, fps=60.0, prompts=(prompt,), flow_warp=False), tracker) as bridge:
        for steps in (20, 40, 60):
            wait_for(lambda s=steps: bridge.track_stats.count >= s, 60, f"{steps} steps")
            sizes[steps] = bridge.stats()["tracker"]["state_bytes"]
    assert sizes[20] > 0
    assert sizes[20] == sizes[40] == sizes[60], sizes


def _niceness_of_threads() -> list[int]:
    """The nice value of each thread of this process (Linux /proc)."""
    values = []
    for stat in Path("/proc/self/task").glob("*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            values.append(int(fields[16]))  # field 19 of stat; 3 fields before the split
    return values


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority: Linux")
def test_the_model_runs_below_the_output_threads_priority(
    pattern: TestPattern, pattern_clip: Path
) -> None:
    """On a 2-core CPU the model's threads took the cores from the compositor and the output
    fell below the camera's rate: the track thread, and torch's OpenMP workers it starts,
    run ``MODEL_NICENESS`` steps lower than the rest of the bridge."""
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    class Spy(SpyTracker):
        def advance(self, frame_rgb):  # type: ignore[no-untyped-def]
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            return super().advance(frame_rgb)

    tracker = Spy(tiny_model())
    bridge = Bridge(config(pattern_clip, prompts=(disc_prompt(pattern, 0),)), tracker)
    with bridge:
        wait_for(lambda: tracker.steps() >= 3, 20, "three tracker steps")
        lowered = [n for n in _niceness_of_threads() if n == min(base + MODEL_NICENESS, 19)]
        assert bridge.composite is not None and bridge.composite.is_alive()
        assert bridge.stats()["threads"]["adaptive"]  # a CPU model: its thread count adapts
    assert seen and set(seen) == {min(base + MODEL_NICENESS, 19)}
    # the track thread and torch's workers for it (one per extra intra-op thread)
    assert len(lowered) >= torch.get_num_threads(), lowered
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base


def test_no_model_work_until_a_click_and_the_click_shows_within_one_step(
    pattern: TestPattern, pattern_clip: Path
) -> None:
    """Nothing selected: the model never runs (the output is the camera, for capture and
    composite cost only). A click steps the clicked frame alone (not the newest frame
    first) and its mask is on the output one model step later; clearing stops the model."""
    spent: list[float] = []  # the model's time for the click: its frame, then its select

    class Timed(SpyTracker):
        def advance(self, frame_rgb):  # type: ignore[no-untyped-def]
            t0 = time.monotonic()
            try:
                return super().advance(frame_rgb)
            finally:
                spent.append(time.monotonic() - t0)

        def select(self, obj_id, prompt):  # type: ignore[no-untyped-def]
            t0 = time.monotonic()
            try:
                return super().select(obj_id, prompt)
            finally:
                spent.append(time.monotonic() - t0)

    tracker = Timed(tiny_model(), delay_s=0.2)
    bridge = Bridge(config(pattern_clip), tracker)
    with bridge:
        wait_for(lambda: bridge.composite_stats.count >= 30, 10, "a second of output")
        assert tracker.steps() == 0, "the model ran with nothing selected"
        assert bridge.latest().objects == ()
        seen = bridge.latest().frame
        clicked = time.monotonic()
        bridge.select(disc_prompt(pattern, seen.source_index), frame=seen).result(timeout=10)
        assert tracker.steps() == 1 and tracker.stepped[0] is seen.rgb
        first = wait_for(
            lambda: c if (c := bridge.latest()) and c.mask_seq == seen.seq and c.objects else None,
            5,
            "the clicked frame's mask on the output",
        )
        shown_after = time.monotonic() - clicked
        model_s = spent[0] + spent[1]  # the clicked frame's features and the select on it
        assert shown_after <= model_s + 0.15, (shown_after, spent[:2])  # + a few frames
        assert first.objects[0].present
        bridge.clear().result(timeout=10)
        wait_for(lambda: not bridge.latest().objects, 5, "the selection gone from the output")
        steps = tracker.steps()
        time.sleep(0.8)
        assert tracker.steps() <= steps + 1  # at most the step under way when cleared


def test_a_second_objects_click_shows_before_the_first_is_tracked_on_its_frame(
    pattern: TestPattern, pattern_clip: Path
) -> None:
    """One object tracked, the model idle (paused), a click for a second one on a frame
    the tracker has not seen: the clicked object's mask is on the output once that frame's
    image features and its own decoder pass are done, not after the first object's
    tracking on the frame (made to take 1.5 s here); the first object is then tracked on
    it, as in any step."""
    tracker = SpyTracker(tiny_model())
    engine = tracker.engine
    encode, track = engine.encode_frame, engine.track
    state: dict[str, Any] = {"current": None, "slow_on": None, "slow_calls": 0}

    def encode_frame(rgb):  # type: ignore[no-untyped-def]
        state["current"] = rgb
        return encode(rgb)

    def slow_track(*args, **kwargs):  # type: ignore[no-untyped-def]
        if state["slow_on"] is not None and state["current"] is state["slow_on"]:
            state["slow_calls"] += 1
            time.sleep(1.5)
        return track(*args, **kwargs)

    engine.encode_frame, engine.track = encode_frame, slow_track  # type: ignore[method-assign]
    bridge = Bridge(config(pattern_clip, prompts=(disc_prompt(pattern, 0),)), tracker)
    with bridge:
        wait_for(lambda: tracker.steps() >= 2, 20, "two tracker steps")
        seen = bridge.latest().frame
        wait_for(lambda: bridge.track.last_seq > seen.seq, 10, "the tracker to move past it")
        wait_idle(bridge, tracker)
        published: list[tuple[float, int, set[int]]] = []  # (time, frame seq, object ids)
        put = bridge.track.masks.put

        def spy_put(snap):  # type: ignore[no-untyped-def]
            published.append((time.monotonic(), snap.frame_seq, set(snap.objects)))
            put(snap)

        bridge.track.masks.put = spy_put  # type: ignore[method-assign]
        state["slow_on"] = seen.rgb
        clicked = time.monotonic()
        bridge.select(Prompt(points_xy=((40.0, 200.0),), labels=(1,)), frame=seen)
        first = wait_for(
            lambda: next((p for p in list(published) if 2 in p[2]), None), 10, "object 2's mask"
        )
        assert first[1] == seen.seq, "the mask is not the clicked frame's"
        assert first[0] - clicked < 1.2, f"published {first[0] - clicked:.2f} s after the click"
        assert first[2] == {1, 2}, "the first object left the output meanwhile"
        wait_for(
            lambda: (
                c
                if (c := bridge.latest()) and c.mask_seq == seen.seq and len(c.objects) == 2
                else None
            ),
            5,
            "the clicked object's mask on the output",
        )
        wait_for(lambda: state["slow_calls"] == 1, 10, "the first object tracked on that frame")
        assert tracker.selects[-1][0] is seen.rgb


def test_the_thread_tuner_sets_the_models_threads_on_its_own_thread(
    pattern: TestPattern, pattern_clip: Path
) -> None:
    """The count the tuner picks is the one torch runs the next steps with (OpenMP's thread
    count belongs to the thread that runs the model: it is set there)."""
    from etam_plugin.obs_bridge.tracker_factory import ThreadTuner

    if torch.get_num_threads() < 2:
        pytest.skip("needs 2 torch threads")
    used: list[int] = []

    class Spy(SpyTracker):
        def advance(self, frame_rgb):  # type: ignore[no-untyped-def]
            used.append(torch.get_num_threads())
            return super().advance(frame_rgb)

    tracker = Spy(tiny_model())
    bridge = Bridge(config(pattern_clip, prompts=(disc_prompt(pattern, 0),)), tracker)
    with bridge:
        assert bridge.track is not None and bridge.track.tuner is not None
        bridge.track.tuner = ThreadTuner(2, probe_every_s=0.0, probe_steps=3)
        wait_for(lambda: len(used) >= 12, 30, "twelve steps")
    assert 1 in used and 2 in used, used  # probed, then back: the count really changed
