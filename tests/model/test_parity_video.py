"""VideoSession against the reference video predictor (efficient-track-anything 1.0).

Same seeded random weights, the same JPEG frames (cut from real footage), matched
post-processing (no hole filling). Max |logit difference| ≤ 1e-3 at source resolution on
every frame. Each of our prompt calls is given to the reference as the same call of its
own API (``add_new_points(points, labels, clear_old_points)``; 1.0 has no box argument, so
a box is the two corner points, labels 2 and 3, before the call's points); the panel's
clicks (:func:`clicks`) are given one at a time with ``clear_old_points=False``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from etam_plugin.model.config import get_config
from etam_plugin.model.efficienttam import build_model
from etam_plugin.model.types import Prompt, clicks
from etam_plugin.model.video_session import VideoSession
from tests.model.conftest import NUM_FRAMES, SIZE
from tests.reference import build_reference_video_predictor, shaped_random_state_dict

pytestmark = [pytest.mark.parity, pytest.mark.slow]
TOL = 1e-3


def _models(mode: str):
    config = get_config("ti_512x512", attention=mode)
    sd = shaped_random_state_dict(config, seed=11)
    ours = build_model(config)
    ours.load_state_dict(sd, strict=True)
    ref = build_reference_video_predictor(config)
    ref.load_state_dict(sd)
    return ours, ref


def _check(ours_logits: np.ndarray, ref_logits: torch.Tensor, what: str) -> None:
    ref_np = ref_logits.float().cpu().numpy()
    assert ours_logits.shape == ref_np.shape, what
    diff = float(np.abs(ours_logits - ref_np).max())
    assert diff <= TOL, f"{what}: max |logit diff| {diff:.2e}"


def _nontrivial(logits: np.ndarray, what: str) -> None:
    inside = float((logits > 0).mean())
    assert 0.005 < inside < 0.995, f"{what}: degenerate mask ({inside:.3f} inside)"


def _ref_clicks(ref, state, frame, obj_id, points, labels, box=None):
    """Feeds a prompt to the reference the way a user builds it, step by step."""
    out = None
    first = True
    if box is not None:
        corners = [[box[0], box[1]], [box[2], box[3]]]
        out = ref.add_new_points(state, frame, obj_id, corners, [2, 3])
        first = False
    for p, label in zip(points, labels, strict=True):
        out = ref.add_new_points(state, frame, obj_id, [p], [label], clear_old_points=first)
        first = False
    return out


@pytest.mark.parametrize("mode", ["full", "pooled", "pooled-keys"])
@torch.inference_mode()
def test_clicks_box_forward_correction_and_retrack(jpeg_clip, mode: str) -> None:
    folder, frames = jpeg_clip
    ours, ref = _models(mode)
    session = VideoSession(ours, frames)
    state = ref.init_state(video_path=str(folder))

    # Frame 0: a box around the juggler, then a positive and a negative click.
    box, points, labels = (90.0, 20.0, 230.0, 175.0), [(160.0, 90.0), (120.0, 40.0)], [1, 0]
    session.add_object(1)
    mine = session.set_prompts(
        0, 1, clicks(Prompt(points_xy=tuple(points), labels=tuple(labels), box_xyxy=box))
    )
    _, _, ref_masks = _ref_clicks(ref, state, 0, 1, points, labels, box)
    logits0 = session.result(0, 1, with_logits=True).logits
    _check(logits0, ref_masks[0, 0], f"{mode}: prompted frame 0")
    _nontrivial(logits0, "frame 0")
    assert mine.objects[1].mask.shape == (SIZE[1], SIZE[0])

    ref_out = {f: m for f, _, m in ref.propagate_in_video(state)}
    ours_out = {r.frame_index: r.objects[1].logits for r, _ in session.propagate(keep_logits=True)}
    assert sorted(ours_out) == sorted(ref_out) == list(range(NUM_FRAMES))
    for f in range(NUM_FRAMES):
        _check(ours_out[f], ref_out[f][0, 0], f"{mode}: forward frame {f}")
    _nontrivial(ours_out[NUM_FRAMES - 1], "last frame")

    # A correction click on a tracked frame, then re-tracking from there.
    fix = 14
    _, _, ref_fixed = ref.add_new_points(state, fix, 1, [[150.0, 120.0]], [1])
    session.add_prompt(fix, 1, Prompt(points_xy=((150.0, 120.0),), labels=(1,)))
    _check(session.result(fix, 1, with_logits=True).logits, ref_fixed[0, 0], f"{mode}: correction")
    statuses = session.statuses(1)
    assert statuses[fix].value == "prompted"
    assert all(s.value == "stale" for s in statuses[fix + 1 :])
    assert all(s.value == "tracked" for s in statuses[1:fix])

    ref_again = {f: m for f, _, m in ref.propagate_in_video(state, start_frame_idx=fix)}
    ours_again = {
        r.frame_index: r.objects[1].logits
        for r, _ in session.propagate(start=fix, keep_logits=True)
    }
    assert sorted(ours_again) == sorted(ref_again) == list(range(fix, NUM_FRAMES))
    for f in range(fix, NUM_FRAMES):
        _check(ours_again[f], ref_again[f][0, 0], f"{mode}: re-tracked frame {f}")
    assert all(s.value == "tracked" for s in session.statuses(1)[fix + 1 :])


@torch.inference_mode()
def test_backward_propagation(jpeg_clip) -> None:
    folder, frames = jpeg_clip
    ours, ref = _models("full")
    session = VideoSession(ours, frames)
    state = ref.init_state(video_path=str(folder))
    last = NUM_FRAMES - 1
    session.add_object(3)
    session.add_prompt(last, 3, Prompt(points_xy=((170.0, 100.0),), labels=(1,)))
    _ref_clicks(ref, state, last, 3, [(170.0, 100.0)], [1])

    ref_out = {f: m for f, _, m in ref.propagate_in_video(state, reverse=True)}
    ours_out = {
        r.frame_index: r.objects[3].logits
        for r, _ in session.propagate("backward", keep_logits=True)
    }
    assert sorted(ours_out) == sorted(ref_out) == list(range(NUM_FRAMES))
    for f in range(NUM_FRAMES):
        _check(ours_out[f], ref_out[f][0, 0], f"backward frame {f}")
    _nontrivial(ours_out[0], "first frame")


@torch.inference_mode()
def test_two_objects_prompted_on_the_same_frame(jpeg_clip) -> None:
    """The 1.0 oracle batches objects; with all objects prompted on the same frame its
    semantics equal independent tracking, so the comparison is exact."""
    folder, frames = jpeg_clip
    ours, ref = _models("full")
    session = VideoSession(ours, frames)
    state = ref.init_state(video_path=str(folder))
    session.add_object(1)
    session.add_object(2)
    session.add_prompt(0, 1, Prompt(points_xy=((160.0, 90.0),), labels=(1,)))
    session.add_prompt(0, 2, Prompt(box_xyxy=(20.0, 100.0, 110.0, 178.0)))
    _ref_clicks(ref, state, 0, 1, [(160.0, 90.0)], [1])
    _ref_clicks(ref, state, 0, 2, [], [], box=(20.0, 100.0, 110.0, 178.0))

    ref_out = {f: m for f, _, m in ref.propagate_in_video(state)}
    for result, _ in session.propagate(keep_logits=True):
        f = result.frame_index
        for i, obj_id in enumerate((1, 2)):
            _check(result.objects[obj_id].logits, ref_out[f][i, 0], f"object {obj_id} frame {f}")
    _nontrivial(session.result(NUM_FRAMES - 1, 1, with_logits=True).logits, "object 1")
    _nontrivial(session.result(NUM_FRAMES - 1, 2, with_logits=True).logits, "object 2")


def _ref_call(ref, state, frame: int, obj_id: int, call: Prompt):
    """Our prompt call as the reference's own call (a box: corner points first)."""
    points, labels = [list(p) for p in call.points_xy], list(call.labels)
    if call.box_xyxy is not None:
        x0, y0, x1, y1 = call.box_xyxy
        points, labels = [[x0, y0], [x1, y1], *points], [2, 3, *labels]
    return ref.add_new_points(
        state, frame, obj_id, points, labels, clear_old_points=call.clear_old_points
    )


def _both_call(session, ref, state, frame: int, obj_id: int, call: Prompt, what: str) -> None:
    """One call on both sides; the frame's result must match at once."""
    session.add_prompt(frame, obj_id, call)
    _, obj_ids, ref_masks = _ref_call(ref, state, frame, obj_id, call)
    mine = session.result(frame, obj_id, with_logits=True).logits
    _check(mine, ref_masks[list(obj_ids).index(obj_id), 0], what)
    _nontrivial(mine, what)


def _propagate_both(session, ref, state, obj_ids, what: str, *, start, reverse=False, end=None):
    """Propagates both sides over the same frames and compares every object on each."""
    limit = None if end is None else abs(end - start)
    ref_out = {
        f: (list(ids), m)
        for f, ids, m in ref.propagate_in_video(
            state, start_frame_idx=start, max_frame_num_to_track=limit, reverse=reverse
        )
    }
    ours = {
        r.frame_index: r
        for r, _ in session.propagate(
            "backward" if reverse else "forward", start=start, end=end, keep_logits=True
        )
    }
    assert sorted(ours) == sorted(ref_out), what
    for f, result in ours.items():
        ids, masks = ref_out[f]
        for obj_id in obj_ids:
            _check(result.objects[obj_id].logits, masks[ids.index(obj_id), 0], f"{what} {f}")
    return ours


@pytest.mark.parametrize("mode", ["full", "pooled", "pooled-keys"])
@torch.inference_mode()
def test_multi_point_box_replace_and_append_calls_two_objects(jpeg_clip, mode: str) -> None:
    """Calls as the official predictor's users make them: several mixed points in one
    call, a box with a point in one call, a second call that replaces the points (the
    default) and a third that appends; two objects, tracked forward."""
    folder, frames = jpeg_clip
    ours, ref = _models(mode)
    session = VideoSession(ours, frames)
    state = ref.init_state(video_path=str(folder))
    for obj_id in (1, 2):
        session.add_object(obj_id)
    calls = [
        (1, Prompt(((160.0, 90.0), (120.0, 40.0), (200.0, 120.0)), (1, 0, 1))),
        (2, Prompt(((60.0, 140.0),), (1,), box_xyxy=(20.0, 100.0, 110.0, 178.0))),
        (1, Prompt(((150.0, 80.0), (110.0, 150.0)), (1, 0))),  # replaces object 1's points
        (1, Prompt(((230.0, 60.0),), (0,), clear_old_points=False)),  # appended to them
    ]
    for i, (obj_id, call) in enumerate(calls):
        _both_call(session, ref, state, 0, obj_id, call, f"{mode}: call {i}")
    assert len(session.prompt(0, 1).points_xy) == 3
    ours_out = _propagate_both(session, ref, state, (1, 2), f"{mode}: frame", start=0, end=11)
    _nontrivial(ours_out[11].objects[1].logits, "object 1, last frame")
    _nontrivial(ours_out[11].objects[2].logits, "object 2, last frame")


@pytest.mark.parametrize("mode", ["full", "pooled", "pooled-keys"])
@torch.inference_mode()
def test_later_frame_entries_backward_and_a_two_point_correction(jpeg_clip, mode: str) -> None:
    """Two-point and box-plus-point entries on two frames before tracking (both become
    conditioning frames, so frames between them attend to both); forward and backward
    from the first; then a two-point correction (and an appended click) on a frame
    tracked backward, re-tracked backward from there."""
    folder, frames = jpeg_clip
    ours, ref = _models(mode)
    session = VideoSession(ours, frames)
    state = ref.init_state(video_path=str(folder))
    session.add_object(1)
    _both_call(session, ref, state, 9, 1, Prompt(((160.0, 90.0), (100.0, 60.0)), (1, 0)), "f9")
    box_call = Prompt(((170.0, 95.0),), (1,), box_xyxy=(100.0, 30.0, 240.0, 170.0))
    _both_call(session, ref, state, 15, 1, box_call, "f15")
    _propagate_both(session, ref, state, (1,), f"{mode}: forward", start=9)
    _propagate_both(session, ref, state, (1,), f"{mode}: backward", start=9, reverse=True)

    fix = 4  # tracked backward: the correction marks frames 0..3 stale
    correction = Prompt(((150.0, 120.0), (60.0, 40.0)), (1, 0))
    _both_call(session, ref, state, fix, 1, correction, f"{mode}: correction")
    click = Prompt(((130.0, 100.0),), (1,), clear_old_points=False)
    _both_call(session, ref, state, fix, 1, click, f"{mode}: appended click")
    statuses = session.statuses(1)
    assert all(s.value == "stale" for s in statuses[:fix])
    assert all(s.value == "tracked" for s in statuses[fix + 1 : 9])
    _propagate_both(session, ref, state, (1,), f"{mode}: re-tracked", start=fix, reverse=True)
    assert "stale" not in {s.value for s in session.statuses(1)}
