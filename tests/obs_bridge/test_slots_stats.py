"""Latest-value slots (the stages' joints), stage statistics and the retry backoff."""

from __future__ import annotations

import threading
import time

import pytest

from etam_plugin.obs_bridge.backoff import Backoff
from etam_plugin.obs_bridge.bridge import status_line
from etam_plugin.obs_bridge.slots import LatestSlot, SlotClosed
from etam_plugin.obs_bridge.stats import CounterRate, StageStats


def test_slot_hands_over_the_newest_value_and_counts_the_dropped() -> None:
    slot: LatestSlot[int] = LatestSlot()
    for value in range(5):
        slot.put(value)
    seq, value = slot.get(after=0, timeout=0)
    assert (seq, value) == (5, 4)
    assert slot.dropped == 4  # 0..3 were overwritten before anyone took them
    assert slot.get(after=seq, timeout=0.01) is None  # nothing newer: no repeat
    slot.put(5)
    assert slot.get(after=seq, timeout=0) == (6, 5)
    assert slot.dropped == 4


def test_slot_never_grows_when_the_reader_is_slow() -> None:
    slot: LatestSlot[bytes] = LatestSlot()
    done = threading.Event()

    def produce() -> None:
        for _ in range(2000):
            slot.put(b"x" * 1000)
        done.set()

    threading.Thread(target=produce).start()
    taken, last = 0, 0
    while not done.is_set() or slot.seq > last:
        got = slot.get(after=last, timeout=0.05)
        if got:
            last = got[0]
            taken += 1
            time.sleep(0.001)  # a slow consumer
    assert last == 2000  # the reader ends on the newest value
    assert taken + slot.dropped == 2000
    assert taken < 2000


def test_slot_get_waits_for_a_put_and_close_wakes_readers() -> None:
    slot: LatestSlot[str] = LatestSlot()
    threading.Timer(0.05, slot.put, args=("hello",)).start()
    assert slot.get(after=0, timeout=2) == (1, "hello")
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            slot.get(after=1, timeout=10)
        except SlotClosed as exc:
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.05)
    slot.close()
    t.join(2)
    assert not t.is_alive() and len(errors) == 1
    with pytest.raises(SlotClosed):
        slot.put("late")


def test_two_readers_each_see_the_newest_value() -> None:
    slot: LatestSlot[int] = LatestSlot()
    slot.put(1)
    slot.put(2)
    assert slot.get(after=0, timeout=0) == (2, 2)
    assert slot.get(after=0, timeout=0) == (2, 2)  # a second reader with its own position


def test_stage_stats_percentiles_rate_and_bounded_window() -> None:
    stats = StageStats("x", window=100)
    t = 1000.0
    for i in range(300):
        stats.record(float(i % 100), now=t + i / 50)  # 50 per second
    snap = stats.snapshot(dropped=3)
    assert snap.count == 300 and snap.dropped == 3
    assert snap.p50_ms == pytest.approx(49.5, abs=1)
    assert snap.p99_ms == pytest.approx(98, abs=1.5)
    assert snap.max_ms == 99
    assert stats.fps(now=t + 299 / 50) == pytest.approx(50, rel=0.01)
    assert stats.fps(now=t + 299 / 50 + 5) == 0.0  # idle: no stale rate
    assert len(stats._ms) == 100


def test_a_slow_stage_has_a_rate_not_zero() -> None:
    """A tracker taking 2 s a frame runs at 0.5 fps; it reads 0 only after three of its own
    intervals without a result."""
    stats = StageStats("track")
    for i in range(5):
        stats.record(2000.0, now=100.0 + 2.0 * i)
    assert stats.fps(now=108.0 + 3.0) == pytest.approx(0.5)
    assert stats.fps(now=108.0 + 6.5) == 0.0


def test_a_counter_rate_follows_the_recent_rate_not_the_average() -> None:
    rate = CounterRate(span_s=5.0)
    assert rate.update(0, now=0.0) is None and rate.update(10, now=0.4) is None  # too soon
    for t in range(1, 21):  # 30 frames a second for 20 s, read once a second
        assert rate.update(30 * t, now=float(t)) == pytest.approx(30.0)
    for t in range(21, 41):  # then 10 a second
        last = rate.update(600 + 10 * (t - 20), now=float(t))
    assert last == pytest.approx(10.0)  # the last 5 s, not the lifetime's 20


def test_the_status_line_says_what_reached_the_output() -> None:
    """The stream skips frames OBS has not read yet: "fps out" is what it sent, not what
    was composited (a streamer compares it with OBS's own rate)."""
    stage = {"fps": 29.5, "count": 100, "p50_ms": 5.0}
    stats = {
        "obs": None,
        "stages": {"capture": stage, "track": {"fps": 2.0}, "composite": stage},
        "capture": {"state": "running"},
        "inference_paused": False,
        "objects": [{}],
        "dropped": {"before_composite": 0, "stream": 40},
        "latency_ms": {"output_age": {"p50_ms": 30.0}},
        "device": "cpu",
        "delivered_fps": 26.8,
    }
    assert "29.5 fps in · 26.8 fps out" in status_line(stats)
    stats["delivered_fps"] = None  # the stream's first moments: the composite rate
    assert "29.5 fps out" in status_line(stats)


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    b = Backoff(initial=0.5, factor=2, maximum=4, jitter=0)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    b.reset()
    assert b.next_delay() == 0.5


def test_backoff_jitter_stays_within_bounds() -> None:
    b = Backoff(initial=1, factor=1, maximum=1, jitter=0.2)
    delays = [b.next_delay() for _ in range(200)]
    assert all(0.8 <= d <= 1.2 for d in delays)
    assert max(delays) - min(delays) > 0.1  # it does vary


@pytest.mark.parametrize(
    "kwargs", [{"initial": 0}, {"factor": 0.5}, {"maximum": 0.1}, {"jitter": 1.0}]
)
def test_backoff_rejects_nonsense(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_shared_frame_buffer_hands_the_newest_frame_across_mappings() -> None:
    import numpy as np

    from etam_plugin.obs_bridge.shared_frame import SharedFrameBuffer

    writer = SharedFrameBuffer.create(32, 16)
    reader = SharedFrameBuffer(writer.path, 32, 16)  # what the server process maps
    try:
        assert reader.latest(0) is None
        for i in range(1, 6):
            writer.put(np.full((16, 32, 4), i, np.uint8), stamp=i / 10)
        seq, stamp, frame = reader.latest(0)
        assert (seq, stamp) == (5, 0.5) and (frame == 5).all()  # the newest, never a backlog
        assert reader.latest(5) is None
        reader.counters[3] = 7
        reader.set_error("client disconnected: é")
        assert writer.counters[3] == 7 and writer.error() == "client disconnected: é"
        with pytest.raises(ValueError, match="uint8"):
            writer.put(np.zeros((16, 32, 3), np.uint8))
    finally:
        reader.close()
        writer.close()
        writer.unlink()
    assert not writer.path.exists()
