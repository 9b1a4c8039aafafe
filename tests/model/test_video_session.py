"""VideoSession bookkeeping on a tiny test network: prompts, statuses, undo, persistence,
bounded RAM. (Numerical parity with the reference is in test_parity_video.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from etam_plugin.model import (
    FrameStatus,
    ModelError,
    Prompt,
    VideoSession,
    build_model,
    clicks,
    tiny_test_config,
)

H, W, N = 48, 64, 12


@pytest.fixture
def model():
    torch.manual_seed(0)
    net = build_model(tiny_test_config(image_size=64))
    with torch.no_grad():  # objects present, logits of useful size
        net.sam_mask_decoder.pred_obj_score_head.layers[2].bias.fill_(5.0)
        for mlp in net.sam_mask_decoder.output_hypernetworks_mlps:
            mlp.layers[2].weight.mul_(20.0)
    return net


@pytest.fixture
def frames():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    return [np.roll(base, 2 * i, axis=1) for i in range(N)]


def _logits(session, frame, obj):
    return session.result(frame, obj, with_logits=True).logits


def test_clicks_one_at_a_time_equal_the_drawing_set_at_once(model, frames) -> None:
    taps = [((30.0, 20.0), 1), ((10.0, 10.0), 0), ((50.0, 30.0), 1)]
    stepwise = VideoSession(model, frames)
    stepwise.add_object(1)
    for xy, label in taps:
        stepwise.add_prompt(3, 1, Prompt((xy,), (label,), clear_old_points=False))
    fresh = VideoSession(model, frames)
    fresh.add_object(1)
    pts, labels = zip(*taps, strict=True)
    fresh.set_prompts(3, 1, clicks(Prompt(pts, labels)))
    assert stepwise.prompts(3, 1) == fresh.prompts(3, 1)
    assert np.array_equal(_logits(stepwise, 3, 1), _logits(fresh, 3, 1))

    # Undo (the calls without the last click) restores the earlier result exactly.
    before = VideoSession(model, frames)
    before.add_object(1)
    before.set_prompts(3, 1, clicks(Prompt(pts[:2], labels[:2])))
    stepwise.set_prompts(3, 1, stepwise.prompts(3, 1)[:2])
    assert np.array_equal(_logits(stepwise, 3, 1), _logits(before, 3, 1))


def test_one_call_with_two_points_differs_from_two_clicks(model, frames) -> None:
    """One call feeds both points to the decoder at once (single-mask output, no previous
    mask); two clicks run the first point in multimask mode and refine it."""
    pts, labels = ((30.0, 20.0), (10.0, 10.0)), (1, 0)
    together = VideoSession(model, frames)
    together.add_object(1)
    together.add_prompt(3, 1, Prompt(pts, labels))
    apart = VideoSession(model, frames)
    apart.add_object(1)
    apart.set_prompts(3, 1, clicks(Prompt(pts, labels)))
    assert together.prompt(3, 1) == apart.prompt(3, 1)  # the same points on the frame...
    assert not np.array_equal(_logits(together, 3, 1), _logits(apart, 3, 1))  # ...not the same


def test_statuses_follow_prompts_tracking_and_corrections(model, frames) -> None:
    s = VideoSession(model, frames)
    s.add_object(1)
    s.add_prompt(2, 1, Prompt(((30.0, 20.0),), (1,)))
    assert s.statuses(1)[2] is FrameStatus.PROMPTED
    assert s.statuses(1)[0] is FrameStatus.EMPTY
    done = [r.frame_index for r, _ in s.propagate("both")]
    assert done == [*range(2, N), 1, 0]
    assert all(st is FrameStatus.TRACKED for i, st in enumerate(s.statuses(1)) if i != 2)

    seen = {f: s.result(f, 1).mask for f in range(N)}
    s.add_prompt(6, 1, Prompt(((20.0, 20.0),), (0,)))  # a correction, tracked forward
    st = s.statuses(1)
    assert st[6] is FrameStatus.PROMPTED
    assert all(x is FrameStatus.STALE for x in st[7:])
    assert all(x is FrameStatus.TRACKED for x in st[3:6])
    assert [r.frame_index for r, _ in s.propagate(start=6)] == list(range(6, N))
    assert FrameStatus.STALE not in s.statuses(1)
    corrected = {f: s.result(f, 1).mask for f in range(N)}

    # Clearing the correction (its undo) restores the tracked result, and the frames it
    # re-tracked get back what was tracked before it; redoing it brings its own back.
    s.set_prompts(6, 1, ())
    assert s.statuses(1)[6] is FrameStatus.TRACKED
    assert FrameStatus.STALE not in s.statuses(1)
    assert all(np.array_equal(s.result(f, 1).mask, seen[f]) for f in range(7, N))
    s.set_prompts(6, 1, (Prompt(((20.0, 20.0),), (0,)),))
    assert FrameStatus.STALE not in s.statuses(1)
    assert all(np.array_equal(s.result(f, 1).mask, corrected[f]) for f in range(6, N))

    # Changing a conditioning frame changes every tracked frame of the object.
    s.add_object(2)
    s.set_prompts(2, 1, clicks(Prompt(((30.0, 20.0), (5.0, 5.0)), (1, 0))))
    assert s.statuses(1)[0] is FrameStatus.STALE
    assert s.statuses(1)[11] is FrameStatus.STALE
    assert s.statuses(2) == [FrameStatus.EMPTY] * N


def test_objects_are_independent(model, frames) -> None:
    s = VideoSession(model, frames)
    a, b = s.add_object(), s.add_object()
    s.add_prompt(0, a, Prompt(((30.0, 20.0),), (1,)))
    s.add_prompt(5, b, Prompt(((10.0, 30.0),), (1,)))
    list(s.propagate(obj_ids=[a]))
    assert s.statuses(b)[1] is FrameStatus.EMPTY
    solo = VideoSession(model, frames)
    solo.add_object(a)
    solo.add_prompt(0, a, Prompt(((30.0, 20.0),), (1,)))
    list(solo.propagate())
    for f in range(N):
        assert np.array_equal(_logits(s, f, a), _logits(solo, f, a))
    s.remove_object(b)
    assert s.object_ids == [a]
    with pytest.raises(ModelError, match="no object"):
        s.add_prompt(0, b, Prompt(((1.0, 1.0),), (1,)))


def test_a_removed_object_kept_aside_comes_back_exactly(model, frames, tmp_path) -> None:
    """The panel's undo of a delete: remove_object(keep=True) then restore_object gives
    back every record (spilled ones too), not saved meanwhile; a new object of that id
    ends the kept one."""
    s = VideoSession(model, frames, ram_frames=2)
    s.add_object(1)
    s.add_object(2)
    s.add_prompt(0, 1, Prompt(((30.0, 20.0),), (1,)))
    list(s.propagate())
    before = [s.result(f, 1, with_logits=True) for f in range(N)]
    statuses = s.statuses(1)
    s.remove_object(1, keep=True)
    assert s.object_ids == [2]
    saved = s.save(tmp_path / "saved")
    assert not (saved / "objects" / "1").exists()
    assert s.restore_object(1) and s.object_ids == [2, 1]
    assert s.statuses(1) == statuses
    for f in range(N):
        after = s.result(f, 1, with_logits=True)
        assert np.array_equal(after.mask, before[f].mask)
        assert np.array_equal(after.logits, before[f].logits)
    assert not s.restore_object(1)  # already back
    s.remove_object(1, keep=True)
    s.add_object(1)  # a new object 1: the kept one cannot return
    s.remove_object(1)
    assert not s.restore_object(1)


def test_results_survive_eviction_from_ram(model, frames) -> None:
    roomy = VideoSession(model, frames)
    tight = VideoSession(model, frames, ram_frames=2, feature_cache=1, result_cache=1)
    for s in (roomy, tight):
        s.add_object(1)
        s.add_prompt(0, 1, Prompt(((30.0, 20.0),), (1,)))
        list(s.propagate())
    for f in range(N):
        assert np.array_equal(roomy.result(f, 1).mask, tight.result(f, 1).mask)
    assert tight._objects[1].store.ram_bytes() < roomy._objects[1].store.ram_bytes()
    # Re-tracking after eviction rebuilds memories from disk (float16 logits): close.
    tight.add_prompt(7, 1, Prompt(((20.0, 20.0),), (0,)))
    roomy.add_prompt(7, 1, Prompt(((20.0, 20.0),), (0,)))
    list(tight.propagate(start=7))
    list(roomy.propagate(start=7))
    diff = np.abs(_logits(tight, N - 1, 1) - _logits(roomy, N - 1, 1)).max()
    assert diff < 0.05


def test_save_and_open_restores_the_session(model, frames, tmp_path) -> None:
    s = VideoSession(model, frames, folder=tmp_path / "work")
    s.add_object(4, name="cup")
    mask = np.zeros((H, W), bool)
    mask[10:30, 20:40] = True
    s.add_prompt(1, 4, Prompt(mask=mask))
    s.add_prompt(1, 4, Prompt(((30.0, 20.0),), (0,), clear_old_points=False))
    list(s.propagate())
    s.add_prompt(5, 4, Prompt(((12.0, 12.0),), (1,)))
    saved = s.save(tmp_path / "saved")
    reopened = VideoSession.open(saved, model, frames)
    assert reopened.object_ids == [4] and reopened.object_name(4) == "cup"
    assert reopened.statuses(4) == s.statuses(4)
    painted, click = reopened.prompts(1, 4)
    assert np.array_equal(painted.mask, mask)
    assert click == Prompt(((30.0, 20.0),), (0,), clear_old_points=False)
    assert reopened.result(0, 4) is None  # before the prompted frame: never tracked
    for f in range(1, N):
        assert np.array_equal(reopened.result(f, 4).mask, s.result(f, 4).mask)
    list(reopened.propagate(start=5))  # and it keeps working
    with pytest.raises(ModelError, match="frames"):
        VideoSession.open(saved, model, frames[:5])


def test_a_save_that_fails_midway_keeps_the_previous_one(model, frames, tmp_path) -> None:
    """A full disk while saving: the error surfaces, the last good save still opens whole."""
    s = VideoSession(model, frames, folder=tmp_path / "work")
    s.add_object(1)
    s.add_prompt(2, 1, Prompt(((30.0, 20.0),), (1,)))
    list(s.propagate())
    saved = s.save()
    before = {p.name: p.read_bytes() for p in saved.rglob("*.npz")}
    s.add_prompt(6, 1, Prompt(((10.0, 10.0),), (0,)))  # changes the conditioning records

    real_savez = np.savez
    calls = []

    def savez_then_fail(file, **arrays):
        calls.append(file)
        if len(calls) == 2:  # the second archive of the save: the disk fills up mid-write
            real_savez(file, **arrays)
            raise OSError(28, "No space left on device")
        return real_savez(file, **arrays)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(np, "savez", savez_then_fail)
        with pytest.raises(OSError, match="No space"):
            s.save()
    assert not list(saved.rglob("*.tmp")), "no half-written files are left behind"
    assert {p.name: p.read_bytes() for p in saved.rglob("*.npz")} == before
    reopened = VideoSession.open(saved, model, frames)
    assert reopened.prompt(6, 1) is None and reopened.prompt(2, 1) is not None


def test_bad_prompts_are_refused_clearly(model, frames) -> None:
    s = VideoSession(model, frames)
    s.add_object(1)
    with pytest.raises(ModelError, match="outside the clip"):
        s.add_prompt(N, 1, Prompt(((1.0, 1.0),), (1,)))
    with pytest.raises(ValueError, match="frames are 64×48"):
        s.add_prompt(0, 1, Prompt(mask=np.ones((10, 10), bool)))
    with pytest.raises(ModelError, match="prompt an object"):
        list(s.propagate())
    with pytest.raises(ValueError, match="labels"):
        Prompt(((1.0, 1.0),), (1, 0))


def test_undo_on_a_corrected_frame_shows_what_it_showed_after_earlier_frames_changed(
    model, frames
) -> None:
    """Issue 14 (found by the scripted session): a frame corrected once (A), then earlier
    frames re-tracked (a correction before it), then clicked again (B) and undone: the
    frame must show A's mask as the user saw it, not A recomputed on the new memory."""
    session = VideoSession(model, frames)
    session.add_object(1)
    session.add_prompt(0, 1, Prompt(points_xy=((30.0, 20.0),), labels=(1,)))
    list(session.propagate())
    a = Prompt(points_xy=((40.0, 30.0),), labels=(1,))
    session.set_prompts(8, 1, (a,))
    shown_a = session.result(8, 1).mask.copy()
    # a correction before it, re-tracked up to it: frame 8's memory is different now
    session.set_prompts(5, 1, (Prompt(points_xy=((10.0, 10.0),), labels=(0,)),))
    list(session.propagate(start=5, end=N - 1))
    assert np.array_equal(session.result(8, 1).mask, shown_a)  # a prompted frame keeps it
    b = Prompt(points_xy=((20.0, 40.0),), labels=(0,))
    session.set_prompts(8, 1, (a, b))  # a second click there
    session.set_prompts(8, 1, (a,))  # and its undo
    assert np.array_equal(session.result(8, 1).mask, shown_a)
    session.set_prompts(8, 1, ())  # undo A too, then redo it
    session.set_prompts(8, 1, (a,))
    assert np.array_equal(session.result(8, 1).mask, shown_a)


def test_an_undone_correction_stays_undone_after_eviction_from_ram(model, frames) -> None:
    """Undoing a correction puts the tracked record back; once that frame leaves RAM its
    mask is read from the stored 1-bit PNG, which must be the tracked mask again, not the
    correction's (on a long clip the undo came back after scrolling away)."""
    session = VideoSession(model, frames, ram_frames=2)
    session.add_object(1)
    session.add_prompt(0, 1, Prompt(points_xy=((30.0, 20.0),), labels=(1,)))
    list(session.propagate())
    tracked = session.result(5, 1).mask.copy()
    session.set_prompts(5, 1, (Prompt(points_xy=((10.0, 40.0),), labels=(0,)),))
    assert not np.array_equal(session.result(5, 1).mask, tracked)
    session.set_prompts(5, 1, ())  # undo
    assert np.array_equal(session.result(5, 1).mask, tracked)
    for f in range(N):  # frame 5 leaves RAM
        session.result(f, 1, with_logits=True)
    session._results.clear()  # and the result cache: read as a user scrolling back would
    assert np.array_equal(session.result(5, 1).mask, tracked)


def _shown(session) -> dict[int, tuple[str, bytes | None]]:
    """What the panel shows of object 1 on every frame: its status and its mask."""
    statuses = session.statuses(1)
    out = {}
    for f in range(N):
        result = session.result(f, 1)
        out[f] = (statuses[f].value, None if result is None else result.mask.tobytes())
    return out


@pytest.mark.parametrize("ram", [48, 3])
@pytest.mark.parametrize("seed", range(4))
def test_undo_and_redo_show_what_was_shown_through_any_edits(model, frames, seed, ram) -> None:
    """Issue 14: a random walk of clicks (conditioning frames and corrections), tracking
    in any direction, undo and redo (as the panel's undo stack calls set_prompts). After
    every undo or redo each frame shows exactly what it showed the last time the user was
    at that point of the undo stack: the same status and the same mask bit for bit, also
    with frames evicted from RAM and read back (found by the hour-long scripted session:
    undone corrections showing re-tracked masks, frames tracked after an undo showing on
    redo, masks read from disk as bytes 0/255)."""
    import random

    rng = random.Random(seed)
    session = VideoSession(model, frames, ram_frames=ram)
    session.add_object(1)
    stack: list[tuple[int, tuple, tuple]] = []  # (frame, calls before, calls after)
    at = 0
    seen = {0: _shown(session)}
    for _ in range(30):
        op = rng.choice(["click", "click", "track", "track", "undo", "undo", "redo"])
        if op == "click":
            f = rng.randrange(N)
            before = session.prompts(f, 1)
            label = 1 if not session.prompted_frames(1) else rng.choice([0, 1])
            xy = (rng.uniform(0, W - 1), rng.uniform(0, H - 1))
            after = (*before, Prompt(points_xy=(xy,), labels=(label,)))
            session.set_prompts(f, 1, after)
            del stack[at:]
            stack.append((f, before, after))
            at += 1
        elif op == "track":
            cond = sorted(session._objects[1].cond)
            if not cond:
                continue
            start, way = rng.choice(cond), rng.choice(["forward", "backward", "both"])
            end = rng.randrange(0, start + 1) if way == "backward" else rng.randrange(start, N)
            list(session.propagate(way, start=start, end=end))
        elif op in ("undo", "redo") and (at > 0 if op == "undo" else at < len(stack)):
            at += -1 if op == "undo" else 0
            f, before, after = stack[at]
            session.set_prompts(f, 1, before if op == "undo" else after)
            at += 1 if op == "redo" else 0
            now = _shown(session)
            differ = [g for g in range(N) if now[g] != seen[at][g]]
            assert not differ, f"{op} to {at}: frames {differ} show other masks than before"
        seen[at] = _shown(session)


def test_a_mask_read_back_from_disk_is_the_mask_shown(model, frames) -> None:
    """Records leaving RAM keep float16 logits; a frame read back must still show the
    1-bit mask shown before, as a proper bool array (bytes 0/1, not PIL's 0/255)."""
    session = VideoSession(model, frames, ram_frames=2)
    session.add_object(1)
    session.add_prompt(0, 1, Prompt(points_xy=((30.0, 20.0),), labels=(1,)))
    list(session.propagate())
    shown = session.result(3, 1).mask.tobytes()
    session._results.clear()
    assert session.result(3, 1).mask.tobytes() == shown  # from the PNG
    session._objects[1].store.get(3)  # its float16 logits back in RAM (memory for a step)
    session._results.clear()
    assert session.result(3, 1).mask.tobytes() == shown


def test_undo_of_a_correction_made_many_edits_ago_shows_it_as_made(model, frames) -> None:
    """Issue 14 (found by the scripted session after ~30 rounds): the corrections kept for
    undo were the newest 64 in RAM; after more edits, undoing a second click on an old
    correction recomputed the first on memory re-tracked since, and showed another mask."""
    session = VideoSession(model, frames)
    session.add_object(1)
    session.add_prompt(0, 1, Prompt(points_xy=((30.0, 20.0),), labels=(1,)))
    list(session.propagate())
    first = (Prompt(points_xy=((40.0, 30.0),), labels=(1,)),)
    session.set_prompts(8, 1, first)
    shown = session.result(8, 1).mask.tobytes()
    calls: tuple[Prompt, ...] = ()
    for k in range(70):  # many clicks on an earlier frame, then its re-track
        calls = (*calls, Prompt(points_xy=((5.0 + k % 50, 10.0 + k % 30),), labels=(k % 2,)))
        session.set_prompts(3, 1, calls)
    list(session.propagate(start=0, end=N - 1))
    session.set_prompts(8, 1, (*first, Prompt(points_xy=((20.0, 40.0),), labels=(0,))))
    session.set_prompts(8, 1, first)  # undo of the second click
    assert session.result(8, 1).mask.tobytes() == shown


@pytest.mark.parametrize("frame", [0, 6])  # a conditioning frame, a correction
def test_a_frame_clicked_many_times_keeps_a_bounded_prompt_cache(model, frames, frame) -> None:
    """Each prompt step's prediction is about 1 MB at 512 px: a frame clicked 40 times kept
    40 of them (the hour-long scripted session stacks ~70 calls on a frame). Only the
    newest are kept; undoing back past them re-runs the steps and shows the same masks."""
    from etam_plugin.model.engine import PROMPT_STEPS_KEPT

    session = VideoSession(model, frames)
    session.add_object(1)
    session.add_prompt(0, 1, Prompt(points_xy=((30.0, 20.0),), labels=(1,)))
    list(session.propagate())
    calls: tuple[Prompt, ...] = session.prompts(frame, 1)
    shown = {}
    for k in range(40):
        xy = (float(3 + (7 * k) % 58), float(2 + (5 * k) % 44))
        calls = (*calls, Prompt(points_xy=(xy,), labels=(k % 2,)))
        session.set_prompts(frame, 1, calls)
        shown[len(calls)] = session.result(frame, 1).mask.tobytes()
    assert len(session._prompt_cache[(1, frame)].outputs) <= PROMPT_STEPS_KEPT
    for n in (len(calls) - 2, 4, len(calls)):  # undo within, then past, the kept steps; redo
        session.set_prompts(frame, 1, calls[:n])
        assert session.result(frame, 1).mask.tobytes() == shown[n], n
