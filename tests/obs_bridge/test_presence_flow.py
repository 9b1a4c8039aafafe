"""Lost objects: hold, fade, fallback and return; matte finishing per object; flow warp."""

from __future__ import annotations

import numpy as np
import pytest

from etam_plugin.matte import MatteOps
from etam_plugin.model import ObjectResult
from etam_plugin.obs_bridge.flow import FlowWarper
from etam_plugin.obs_bridge.presence import PresenceMixer, PresencePolicy

SHAPE = (40, 60)


def obj(obj_id: int, present: bool, x0: int = 10, logits: bool = False) -> ObjectResult:
    mask = np.zeros(SHAPE, bool)
    mask[10:30, x0 : x0 + 20] = True
    lg = np.where(mask, 8.0, -8.0).astype(np.float32) if logits else None
    return ObjectResult(obj_id, mask, 0.9, 5.0 if present else -5.0, lg)


def mixer(**policy) -> PresenceMixer:
    return PresenceMixer(PresencePolicy(**policy), MatteOps())


def test_nothing_selected_shows_the_camera_untouched() -> None:
    m = mixer()
    assert (m.mix(0.0, SHAPE, 1.0, selected=False) == 1).all()  # background effects
    assert (m.mix(0.0, SHAPE, 0.0, selected=False) == 0).all()  # privacy


def test_lost_object_is_held_then_fades_to_passthrough() -> None:
    m = mixer(hold_s=0.5, fade_s=1.0, fallback="passthrough")
    m.update({1: obj(1, True)}, now=0.0)
    shown = m.mix(0.1, SHAPE, 1.0, selected=True)
    assert shown[20, 20] == 1 and shown[0, 0] == 0
    m.update({1: obj(1, False)}, now=0.2)  # lost
    held = m.mix(0.65, SHAPE, 1.0, selected=True)  # hold counts from the loss report
    assert np.array_equal(held, shown)
    half = m.mix(1.2, SHAPE, 1.0, selected=True)  # halfway through the fade
    assert half[20, 20] == pytest.approx(1.0) and half[0, 0] == pytest.approx(0.5)
    gone = m.mix(2.2, SHAPE, 1.0, selected=True)
    assert (gone == 1).all()  # pass-through: the whole camera picture
    assert m.states(2.2)[0].weight == 0 and not m.states(2.2)[0].present


def test_a_slow_trackers_loss_is_still_held_then_faded() -> None:
    """One result every 1.5 s (a model on a CPU): the loss is known 1.5 s after the object
    was last seen, longer than hold + fade; it is held from then on, not cut at once."""
    m = mixer(hold_s=0.5, fade_s=0.5, fallback="passthrough")
    m.update({1: obj(1, True)}, now=0.0)
    m.update({1: obj(1, False)}, now=1.5)
    assert m.states(1.6)[0].weight == 1.0 and m.mix(1.6, SHAPE, 1.0, selected=True)[0, 0] == 0
    assert m.states(2.25)[0].weight == pytest.approx(0.5)
    assert m.states(2.5)[0].weight == 0.0
    m.update({1: obj(1, False)}, now=3.0)  # still lost: the hold does not restart
    assert m.states(3.0)[0].weight == 0.0


def test_keyed_fallback_fades_to_fully_keyed() -> None:
    m = mixer(hold_s=0.0, fade_s=1.0, fallback="keyed")
    m.update({1: obj(1, True)}, now=0.0)
    m.update({1: obj(1, False)}, now=0.0)
    assert m.mix(0.5, SHAPE, 1.0, selected=True)[20, 20] == pytest.approx(0.5)
    assert (m.mix(1.5, SHAPE, 1.0, selected=True) == 0).all()


def test_privacy_defaults_to_hiding_everything_when_its_object_is_lost() -> None:
    m = mixer(hold_s=0.0, fade_s=0.0)  # fallback None: the effect's choice
    m.update({1: obj(1, True)}, now=0.0)
    m.update({1: obj(1, False)}, now=0.0)
    assert (m.mix(0.1, SHAPE, 0.0, selected=True) == 1).all()  # all pixelated, nothing leaks


def test_object_that_returns_is_shown_again_at_once() -> None:
    m = mixer(hold_s=0.1, fade_s=0.1)
    m.update({1: obj(1, True, x0=5)}, now=0.0)
    m.update({1: obj(1, False)}, now=0.0)
    assert (m.mix(1.0, SHAPE, 1.0, selected=True) == 1).all()
    m.update({1: obj(1, True, x0=30)}, now=1.0)  # back, somewhere else
    back = m.mix(1.0, SHAPE, 1.0, selected=True)
    assert back[20, 35] == 1 and back[20, 10] == 0


def test_two_objects_union_and_one_lost_does_not_trigger_the_fallback() -> None:
    m = mixer(hold_s=0.0, fade_s=0.0)
    m.update({1: obj(1, True, x0=0), 2: obj(2, True, x0=35)}, now=0.0)
    both = m.mix(0.0, SHAPE, 1.0, selected=True)
    assert both[20, 5] == 1 and both[20, 40] == 1 and both[20, 25] == 0
    m.update({1: obj(1, False), 2: obj(2, True, x0=35)}, now=0.0)
    one = m.mix(0.1, SHAPE, 1.0, selected=True)
    assert one[20, 5] == 0 and one[20, 40] == 1  # object 1 faded, no pass-through
    m.update({2: obj(2, True, x0=35)}, now=0.2)  # object 1 removed by the user
    assert m.object_ids == [2]


def test_finishing_ops_are_the_panels_and_run_from_logits() -> None:
    m = PresenceMixer(PresencePolicy(), MatteOps(soft=1.0, feather=3.0))
    m.update({1: obj(1, True, logits=True)}, now=0.0)
    out = m.mix(0.0, SHAPE, 1.0, selected=True)
    assert 0.0 < out[20, 9] < 1.0 and 0.0 < out[20, 10] < 1.0  # feathered edge
    assert out[20, 20] == pytest.approx(1.0, abs=1e-3) and out[20, 50] == pytest.approx(0, abs=1e-3)


def test_temporal_smoothing_runs_per_tracker_result_and_restarts() -> None:
    m = PresenceMixer(PresencePolicy(), MatteOps(smooth=1))  # EMA strength 0.5
    m.update({1: obj(1, True, x0=10)}, now=0.0)
    m.update({1: obj(1, True, x0=30)}, now=0.1)
    out = m.mix(0.1, SHAPE, 1.0, selected=True)
    assert out[20, 15] == pytest.approx(0.5) and out[20, 45] == pytest.approx(0.5)
    # repeated compositing of the same result does not smooth further
    assert np.array_equal(m.mix(0.2, SHAPE, 1.0, selected=True), out)
    m.restart_smoothing()
    m.update({1: obj(1, True, x0=30)}, now=0.3)
    assert m.mix(0.3, SHAPE, 1.0, selected=True)[20, 15] == 0


def sliding_disc(speed: int, h: int = 240, w: int = 320, r: int = 40):
    """Frames of a textured disc sliding ``speed`` px per frame over textured ground."""
    rng = np.random.default_rng(5)
    ground = rng.integers(40, 120, (h // 4, w // 4), np.uint8).repeat(4, 0).repeat(4, 1)
    skin = rng.integers(140, 255, (h // 4, w // 4), np.uint8).repeat(4, 0).repeat(4, 1)
    yy, xx = np.mgrid[:h, :w]

    def at(t: int) -> tuple[np.ndarray, np.ndarray]:
        cx = 2 * r + speed * t
        disc = (xx - cx) ** 2 + (yy - h // 2) ** 2 <= r * r
        frame = ground.copy()
        frame[disc] = np.roll(skin, speed * t, axis=1)[disc]  # the texture moves with it
        return np.repeat(frame[..., None], 3, axis=2), disc

    return at


def iou(m: np.ndarray, target: np.ndarray) -> float:
    return float(((m > 0.5) & target).sum() / ((m > 0.5) | target).sum())


def test_flow_warp_moves_a_lagging_mask_onto_the_moving_object() -> None:
    """The mask from 3 frames ago, warped by the flow, lands on the disc's current place;
    a mask from a frame newer than the current one is moved back as well."""
    at = sliding_disc(4)
    warper = FlowWarper()
    old_frame, old_mask = at(10)
    new_frame, new_mask = at(13)
    warper.remember(10, old_frame)
    warper.remember(13, new_frame)
    lagging = old_mask.astype(np.float32)
    warped = warper.warp(lagging, 10, 13)
    before, after = iou(lagging, new_mask), iou(warped, new_mask)
    assert before < 0.75 and after > 0.9, (before, after)
    assert warper.warp(lagging, 999, 13) is lagging  # a forgotten frame: unchanged
    back = warper.warp(new_mask.astype(np.float32), 13, 10)
    assert iou(back, old_mask) > 0.9


def test_flow_warp_follows_a_mask_a_model_on_a_cpu_delivers_late() -> None:
    """EfficientTAM-Mobile on a CPU delivers a mask 1–3 s after its frame. One flow across
    45 frames of a disc moving 4 px a frame finds nothing; hops of a few frames through the
    remembered frames do, and later frames extend the map by one flow each."""
    at = sliding_disc(4, h=360, w=640, r=70)
    frames = [at(t) for t in range(76)]
    warper = FlowWarper(hop=8)
    for t in range(46):
        warper.remember(t, frames[t][0])
    mask = frames[0][1].astype(np.float32)
    assert iou(mask, frames[45][1]) == 0.0  # the disc has moved on entirely
    caught_up = warper.warp(mask, 0, 45)
    assert iou(caught_up, frames[45][1]) > 0.9
    assert warper.hops <= 7  # 45 frames in hops of 8
    for t in range(46, 76):
        warper.remember(t, frames[t][0])
        hops = warper.hops
        later = warper.warp(mask, 0, t)
        assert warper.hops == hops + 1  # one flow per new frame, from the last anchor
    assert iou(later, frames[75][1]) > 0.85

    single = FlowWarper(hop=1000)  # no hops: one flow from the mask's frame to now
    single.remember(0, frames[0][0])
    single.remember(45, frames[45][0])
    assert iou(single.warp(mask, 0, 45), frames[45][1]) < 0.3


def test_flow_warp_at_720p_follows_the_subject_and_skips_a_still_one() -> None:
    """At 1280×720 the flow runs on ~320 px greys and the matte is moved at full resolution
    through one reused map; a subject that has not moved costs no full-resolution work
    (the matte comes back as it is), one that moved 5 px a frame is followed."""
    at = sliding_disc(5, h=720, w=1280, r=120)
    warper = FlowWarper()
    frames = [at(t) for t in range(13)]
    for t, (frame, _) in enumerate(frames):
        warper.remember(t, frame)
    assert warper._grays[0].shape == (180, 320)
    mask = frames[0][1].astype(np.float32)
    warped = warper.warp(mask, 0, 12)
    assert iou(mask, frames[12][1]) < 0.7 and iou(warped, frames[12][1]) > 0.9
    reused = warper._map
    assert iou(warper.warp(mask, 0, 11), frames[11][1]) > 0.9
    assert warper._map is reused  # no new full-size map per frame

    still = FlowWarper()
    frame, disc = at(0)
    still.remember(1, frame)
    still.remember(2, frame.copy())
    matte = disc.astype(np.float32)
    assert still.warp(matte, 1, 2) is matte
