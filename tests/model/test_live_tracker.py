"""LiveTracker: equals VideoSession's forward propagation; constant state; lost/found events."""

from __future__ import annotations

import numpy as np
import psutil
import pytest
import torch

from etam_plugin.model.config import get_config, tiny_test_config
from etam_plugin.model.efficienttam import build_model
from etam_plugin.model.live_tracker import LiveTracker, TrackEvent
from etam_plugin.model.types import Prompt
from etam_plugin.model.video_session import VideoSession
from tests.model.conftest import NUM_FRAMES
from tests.reference import shaped_random_state_dict

OBJ_SCORE_BIAS = "sam_mask_decoder.pred_obj_score_head.layers.2.bias"


@pytest.mark.slow
@torch.inference_mode()
def test_live_tracker_equals_video_session_forward(jpeg_clip) -> None:
    """Two objects, selected on the first frame, then streamed frame by frame (mobile)."""
    _, frames = jpeg_clip
    config = get_config("mobile")
    model = build_model(config)
    model.load_state_dict(shaped_random_state_dict(config.with_attention("full"), seed=4))
    prompts = {
        1: Prompt(points_xy=((160.0, 90.0), (120.0, 40.0)), labels=(1, 0)),
        2: Prompt(box_xyxy=(20.0, 100.0, 110.0, 178.0)),
    }

    session = VideoSession(model, frames)
    for obj_id, prompt in prompts.items():
        session.add_object(obj_id)
        session.add_prompt(0, obj_id, prompt)
    offline = {r.frame_index: r for r, _ in session.propagate(keep_logits=True)}

    live = LiveTracker(model)
    live.step(frames[0])
    for obj_id, prompt in prompts.items():
        selected = live.select(obj_id, prompt)
    for obj_id in prompts:
        assert np.array_equal(selected.objects[obj_id].mask, offline[0].objects[obj_id].mask)
    for f in range(1, NUM_FRAMES):
        result = live.step(frames[f])
        assert result.frame_index == f
        for obj_id in prompts:
            ours = offline[f].objects[obj_id]
            got = result.objects[obj_id]
            # LiveTracker returns masks; compare them and the scores, then the logits.
            assert abs(got.object_score - ours.object_score) <= 1e-3
            assert abs(got.score - ours.score) <= 1e-3
            mismatch = float((got.mask != ours.mask).mean())
            assert mismatch <= 1e-4, f"frame {f} object {obj_id}: {mismatch:.2e} pixels differ"
    inside = float(offline[NUM_FRAMES - 1].objects[1].mask.mean())
    assert 0.005 < inside < 0.995


def _tiny_model(seed: int = 0, image_size: int = 64):
    torch.manual_seed(seed)
    model = build_model(tiny_test_config(image_size=image_size))
    with torch.no_grad():
        model.state_dict()[OBJ_SCORE_BIAS].fill_(5.0)  # the object is present
    return model


@pytest.mark.slow
@torch.inference_mode()
def test_state_and_rss_stay_flat_over_10000_frames() -> None:
    """The property is about frames and state, not the network: a tiny test network
    (about 10 ms a frame), one object."""
    model = _tiny_model(image_size=32)
    tracker = LiveTracker(model)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(8)]
    tracker.step(frames[0])
    tracker.select(1, Prompt(box_xyxy=(5.0, 5.0, 20.0, 16.0)))
    process = psutil.Process()
    sizes, rss = {}, {}
    for i in range(1, 10_001):
        tracker.step(frames[i % len(frames)])
        if i in (100, 1_000, 10_000):
            sizes[i] = tracker.state_bytes()
            rss[i] = process.memory_info().rss
    assert sizes[100] == sizes[1_000] == sizes[10_000]
    growth = (rss[10_000] - rss[1_000]) / rss[1_000]
    assert growth < 0.02, f"RSS grew {growth:.1%} between frame 1,000 and 10,000"


@torch.inference_mode()
def test_lost_and_found_events_follow_the_object_score() -> None:
    model = _tiny_model()
    events: list[TrackEvent] = []
    tracker = LiveTracker(model, on_event=events.append)
    frame = np.full((48, 64, 3), 128, np.uint8)
    tracker.step(frame)
    tracker.select(7, Prompt(points_xy=((30.0, 20.0),), labels=(1,)))
    tracker.step(frame)
    assert events == []
    bias = model.state_dict()[OBJ_SCORE_BIAS]
    bias.fill_(-50.0)  # the network now says "absent"
    result = tracker.step(frame)
    assert not result.objects[7].present
    assert not result.objects[7].mask.any()
    bias.fill_(50.0)
    tracker.step(frame)
    assert [(e.obj_id, e.frame_index, e.kind) for e in events] == [(7, 2, "lost"), (7, 3, "found")]
    assert tracker.last_events == [events[-1]]


def test_select_needs_a_frame_first() -> None:
    from etam_plugin.model.errors import ModelError

    tracker = LiveTracker(_tiny_model())
    with pytest.raises(ModelError, match="step"):
        tracker.select(1, Prompt(points_xy=((1.0, 1.0),), labels=(1,)))
