"""The panel's Qt-free models: transport, objects, coverage, prompts, masks, mailbox."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from etam_plugin.gui.components.coverage import EMPTY_COLOR, Coverage, runs, status_color
from etam_plugin.gui.components.fill import Leg, describe_gaps, plan_fill
from etam_plugin.gui.components.mailbox import Mailbox
from etam_plugin.gui.components.masks import MaskStore
from etam_plugin.gui.components.objects import PALETTE, ObjectList
from etam_plugin.gui.components.prompts import PromptStore, describe, with_box, with_point
from etam_plugin.gui.components.transport import MAX_SPEED, Transport
from etam_plugin.model import FrameStatus, ObjectResult, Prompt

E, P, T, S = FrameStatus.EMPTY, FrameStatus.PROMPTED, FrameStatus.TRACKED, FrameStatus.STALE


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, *args: object) -> None:
        self.calls.append(args)


# ------------------------------------------------------------------------- transport
def test_transport_steps_clamp_and_emit_only_real_moves() -> None:
    t = Transport(10)
    moved = Recorder()
    t.frame_changed.connect(moved)
    t.step(-1)
    t.step(3)
    t.step(100)
    t.go_start()
    t.go_end()
    t.go_end()
    assert moved.calls == [(3,), (9,), (0,), (9,)]


def test_transport_jkl_shuttle_like_an_nle() -> None:
    t = Transport(100)
    speeds = []
    for key in "LLLLLJJJJK" + "JJ" + "L":
        {"J": t.shuttle_backward, "K": t.stop, "L": t.shuttle_forward}[key]()
        speeds.append(t.speed)
    assert speeds == [1, 2, 4, 8, MAX_SPEED, 4, 2, 1, 0, 0, -1, -2, -1]


def test_transport_tick_plays_and_stops_at_the_end() -> None:
    t = Transport(6)
    t.seek(2)
    t.shuttle_forward()
    t.shuttle_forward()  # speed 2
    seen = []
    while t.tick():
        seen.append(t.current)
    assert seen == [4]
    assert t.current == 5 and not t.playing  # clamped to the last frame, then stopped


def test_transport_in_out_keep_a_valid_range() -> None:
    t = Transport(50)
    ranges = Recorder()
    t.range_changed.connect(ranges)
    t.seek(30)
    t.set_in()
    t.seek(10)
    t.set_out()  # before the in point: the in point follows
    assert (t.in_point, t.out_point) == (10, 10)
    t.set_out(40)
    t.clear_range()
    assert ranges.calls == [(30, 49), (10, 10), (10, 40), (0, 49)]


def test_transport_arrow_step_stops_playback() -> None:
    t = Transport(20)
    t.shuttle_forward()
    t.step(1)
    assert not t.playing and t.current == 1


# ------------------------------------------------------------------------- objects
def test_objects_add_rename_recolor_hide_delete_and_active() -> None:
    objs = ObjectList()
    events = Recorder()
    objs.changed.connect(events)
    a = objs.add()
    b = objs.add("Dog")
    assert (a.obj_id, a.name, a.color) == (1, "Object 1", PALETTE[0])
    assert (b.obj_id, b.name, objs.active_id) == (2, "Dog", 2)
    objs.rename(1, "  Person ")
    objs.set_color(1, (1, 2, 3))
    objs.set_visible(2, False)
    assert objs.get(1).name == "Person" and objs.get(1).color == (1, 2, 3)
    assert objs.visible_ids() == [1]
    objs.remove(2)  # the active one: the previous one becomes active
    assert objs.active_id == 1 and objs.ids == [1]
    objs.add(obj_id=2, name="Dog again")  # undo of a delete reuses the id
    assert objs.next_id() == 3
    kinds = [e[0] for e in events.calls]
    assert kinds == [
        "added",
        "active",
        "added",
        "active",
        "renamed",
        "recolored",
        "visibility",
        "removed",
        "active",
        "added",
        "active",
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda o: o.rename(1, "  "), "empty"),
        (lambda o: o.set_color(1, (0, 0, 300)), "RGB"),
        (lambda o: o.add(obj_id=1), "already used"),
        (lambda o: o.set_active(9), "no object"),
    ],
)
def test_objects_reject_bad_edits(call, message: str) -> None:
    objs = ObjectList()
    objs.add()
    with pytest.raises((ValueError, KeyError), match=message):
        call(objs)


# ------------------------------------------------------------------------- coverage
def test_runs_encode_statuses() -> None:
    assert runs([E, E, P, T, T, S, E]) == [(0, 1, E), (2, 2, P), (3, 4, T), (5, 5, S), (6, 6, E)]
    assert runs([]) == []


def test_status_colours_tell_tracked_stale_empty_apart() -> None:
    red = (255, 0, 0)
    assert status_color(T, red) == red == status_color(P, red)
    stale = status_color(S, red)
    assert stale != red and sum(stale) < sum(red) and stale != EMPTY_COLOR
    assert status_color(E, red) == EMPTY_COLOR


def test_coverage_marks_live_and_keeps_prompted_frames() -> None:
    cov = Coverage(5)
    changed = Recorder()
    cov.changed.connect(changed)
    cov.set_statuses(1, [E, P, E, E, E])
    for i in range(1, 5):
        cov.mark(1, i, T)
    assert cov.statuses(1) == [E, P, T, T, T]
    assert cov.keyframes(1) == [1]
    assert cov.counts(1)[T] == 3
    with pytest.raises(ValueError, match="3 statuses for a 5-frame"):
        cov.set_statuses(1, [E, E, E])
    assert changed.calls == [(1,)] * 4


# ------------------------------------------------------------------------- prompts
def test_prompt_edits_accumulate_points_and_replace_the_box() -> None:
    p = with_point(None, (3, 4), True)
    p = with_point(p, (5.5, 6), False)
    p = with_box(p, (10, 12, 2, 1))  # any corner order
    p = with_box(p, (1, 1, 3, 3))
    assert p.points_xy == ((3.0, 4.0), (5.5, 6.0))
    assert p.labels == (1, 0)
    assert p.box_xyxy == (1, 1, 3, 3)
    assert describe(p) == "1 positive, 1 negative, box"
    assert describe(Prompt()) == "no prompt"


def test_prompt_store_normalises_empty_prompts_and_removes_objects() -> None:
    store = PromptStore()
    store.set(3, 1, with_point(None, (1, 1), True))
    store.set(5, 1, with_point(None, (2, 2), True))
    store.set(5, 2, with_point(None, (3, 3), True))
    store.set(4, 1, Prompt())
    assert store.get(4, 1) is None and len(store) == 3
    assert store.frames(1) == [3, 5]
    assert set(store.for_frame(5)) == {1, 2}
    taken = store.remove_object(1)
    assert sorted(taken) == [3, 5] and len(store) == 1


# ------------------------------------------------------------------------- masks
def test_mask_store_roundtrips_packed_masks() -> None:
    rng = np.random.default_rng(1)
    store = MaskStore((37, 53))  # sizes that are not multiples of 8
    mask = rng.random((37, 53)) > 0.5
    store.put(4, 1, mask)
    np.testing.assert_array_equal(store.get(4, 1), mask)
    assert store.nbytes() == (37 * 53 + 7) // 8
    absent = ObjectResult(2, np.ones((37, 53), bool), 0.1, object_score=-3.0)
    store.put_result(4, absent)
    assert not store.get(4, 2).any()  # "object not present" shows no mask
    with pytest.raises(ValueError, match="expected"):
        store.put(0, 1, np.zeros((5, 5), bool))
    store.remove_object(1)
    assert store.get(4, 1) is None and store.has(4, 2)


# ------------------------------------------------------------------------- mailbox
def test_mailbox_newest_wins_per_key_and_keeps_order_of_others() -> None:
    box: Mailbox[str] = Mailbox()
    box.put("add obj 2")
    box.put("prompt f1 v1", key=("p", 1))
    box.put("remove obj 1")
    box.put("prompt f1 v2", key=("p", 1))
    box.put("thumb", key="t", priority=1)
    box.put("prompt f2", key=("p", 2))
    out = []
    while (item := box.pop()) is not None:
        out.append(item)
    assert out == ["add obj 2", "remove obj 1", "prompt f1 v2", "prompt f2", "thumb"]
    assert box.superseded == 1


def test_mailbox_is_safe_across_threads() -> None:
    box: Mailbox[int] = Mailbox()

    def producer(base: int) -> None:
        for i in range(2000):
            box.put(base + i, key=(base, i % 10))

    threads = [threading.Thread(target=producer, args=(b,)) for b in (0, 10_000, 20_000)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    items = []
    while (item := box.pop()) is not None:
        items.append(item)
    assert len(items) == 30 and box.superseded == 3 * 2000 - 30
    assert sorted(items)[-1] == 20_000 + 1999  # the newest of each key survived


# ------------------------------------------------------------------------- fill the range
def test_track_commands_fill_the_range_from_where_tracking_stopped() -> None:
    done_to_30 = [P] + [T] * 30 + [E] * 40  # 71 frames, 0–30 done
    plan = plan_fill("forward", 62, 0, 62, {1: done_to_30})
    assert plan == [Leg("forward", 31, 62, (1,))]  # not only the playhead's frame 62
    assert plan_fill("forward", 10, 0, 62, {1: done_to_30}) == plan  # inside the done run
    assert plan_fill("both", 62, 0, 62, {1: done_to_30}) == plan  # frames done stay done
    assert plan_fill("backward", 62, 0, 62, {1: done_to_30}) == []  # nothing before 0–30
    assert plan_fill("forward", 40, 0, 30, {1: done_to_30}) == []


def test_fill_plans_each_gap_from_its_done_neighbour_per_object() -> None:
    a = [E] * 5 + [P] + [T] * 4 + [S] * 3 + [T] * 7  # 20 frames: prompt at 5, 10–12 stale
    b = [E] * 5 + [P] + [E] * 14
    plan = plan_fill("both", 8, 0, 19, {1: a, 2: b})
    assert plan == [
        Leg("forward", 6, 19, (2,)),
        Leg("forward", 10, 12, (1,)),  # object 1's done frames 13–19 are not redone
        Leg("backward", 4, 0, (1, 2)),
    ]
    assert plan_fill("forward", 2, 0, 19, {2: b}) == [Leg("forward", 6, 19, (2,))]
    assert plan_fill("backward", 19, 0, 19, {2: b}) == [Leg("backward", 4, 0, (2,))]
    names = {1: "Dog", 2: "Ball"}
    assert describe_gaps({1: a, 2: b}, names, 0, 19) == (
        "Dog: frames 0–4, 10–12; Ball: frames 0–4, 6–19"
    )
    assert describe_gaps({1: [T] * 20}, names, 0, 19) == ""


def test_transport_loops_in_out_both_ways_and_only_from_inside() -> None:
    t = Transport(20)
    t.set_in(4)
    t.set_out(7)
    t.loop = True
    t.seek(5)
    t.shuttle_backward()
    t.shuttle_backward()  # -2 a tick
    assert [t.tick() and t.current for _ in range(4)] == [7, 5, 7, 5]
    t.stop()
    t.seek(15)  # outside the range: plays on to the end as without a loop
    t.shuttle_forward()
    while t.tick():
        pass
    assert t.current == 19 and not t.playing
