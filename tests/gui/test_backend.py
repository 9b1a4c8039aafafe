"""The workers' logic without Qt: the inference backend on the fake session, frame loading."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from gui_fake_session import SHIFT, FakeSession, FakeSessionFactory, draw_prompt
from gui_frames import ArrayFrames, synthetic_clip

from etam_plugin.errors import MediaError, ModelError
from etam_plugin.gui.components import messages as m
from etam_plugin.gui.components.backend import InferenceBackend
from etam_plugin.gui.components.frames import FrameBackend, open_frames, thumbnail
from etam_plugin.gui.components.prompts import with_box, with_point
from etam_plugin.model import FrameStatus, Prompt


class Sink(list):
    def __call__(self, message: object) -> None:
        self.append(message)

    def of(self, cls: type) -> list:
        return [x for x in self if isinstance(x, cls)]


@pytest.fixture
def started(clips, fake_factory: FakeSessionFactory, tmp_path: Path):
    backend = InferenceBackend(clips, fake_factory)
    sink = Sink()
    backend.handle(m.StartSession(m.SourceSpec(tmp_path / "synthetic.mp4"), ((1, "Ball"),)), sink)
    return backend, sink, fake_factory


def test_fake_session_draws_predictable_masks() -> None:
    p = with_point(None, (30, 20), True)
    mask = draw_prompt(p, (72, 96))
    r = 9  # min(72, 96) // 8
    assert mask[20, 30] and mask[20, 30 + r] and not mask[20, 30 + r + 1]
    neg = draw_prompt(with_point(p, (30, 20), False), (72, 96))
    assert not neg[20, 30] and neg[20, 30 + r]
    box = draw_prompt(with_box(None, (10, 10, 50, 30)), (72, 96))
    assert box[20, 30] and not box[11, 11]


def test_start_session_reports_objects_and_statuses(started) -> None:
    _backend, sink, factory = started
    (msg,) = sink.of(m.SessionStarted)
    assert msg.num_frames == 24 and msg.frame_size == (72, 96)
    assert msg.objects == {1: "Ball"}
    assert msg.statuses[1] == [FrameStatus.EMPTY] * 24
    assert factory.sessions[0].call_names() == ["add_object"]


def test_set_prompt_returns_the_mask_and_statuses(started) -> None:
    backend, sink, _ = started
    prompt = with_point(None, (30, 36), True)
    backend.handle(m.SetPrompt(5, 1, prompt), sink)
    (applied,) = sink.of(m.PromptApplied)
    mask = applied.result.objects[1].mask
    np.testing.assert_array_equal(mask, draw_prompt(prompt, (72, 96)))
    assert applied.statuses[1][5] is FrameStatus.PROMPTED
    backend.handle(m.SetPrompt(5, 1, None), sink)  # None clears
    assert not sink.of(m.PromptApplied)[-1].result.objects[1].mask.any()
    assert sink.of(m.PromptApplied)[-1].statuses[1][5] is FrameStatus.EMPTY


def test_propagate_both_ways_reports_combined_progress(started) -> None:
    backend, sink, factory = started
    backend.handle(m.SetPrompt(10, 1, with_point(None, (40, 36), True)), sink)
    backend.handle(m.Propagate("both", start=10, first=6, last=13), sink)
    tracked = sink.of(m.FrameTracked)
    assert [t.result.frame_index for t in tracked] == [10, 11, 12, 13, 9, 8, 7, 6]
    assert [t.progress.done for t in tracked] == list(range(1, 9))
    assert {t.progress.total for t in tracked} == {8}
    assert tracked[-1].progress.eta_s == 0.0
    c10 = tracked[0].result.objects[1].mask
    np.testing.assert_array_equal(tracked[3].result.objects[1].mask, np.roll(c10, 3 * SHIFT, 1))
    np.testing.assert_array_equal(tracked[-1].result.objects[1].mask, np.roll(c10, -4 * SHIFT, 1))
    (done,) = sink.of(m.TrackingFinished)
    assert not done.cancelled and done.frames_done == 8
    st = done.statuses[1]
    assert st[10] is FrameStatus.PROMPTED and st[6] is st[13] is FrameStatus.TRACKED
    assert st[5] is st[14] is FrameStatus.EMPTY
    calls = [c for c in factory.sessions[0].calls if c[0] == "propagate"]
    assert [c[2][:3] for c in calls] == [("forward", 10, 13), ("backward", 9, 6)]


def test_a_correction_marks_later_frames_stale(started) -> None:
    backend, sink, _ = started
    backend.handle(m.SetPrompt(2, 1, with_point(None, (30, 36), True)), sink)
    backend.handle(m.Propagate("forward", start=2, first=0, last=23), sink)
    backend.handle(m.SetPrompt(8, 1, with_point(None, (50, 36), True)), sink)
    st = sink.of(m.PromptApplied)[-1].statuses[1]
    assert st[3:8] == [FrameStatus.TRACKED] * 5
    assert st[8] is FrameStatus.PROMPTED
    assert st[9:] == [FrameStatus.STALE] * 15


def test_cancel_stops_tracking_between_frames(clips, tmp_path: Path) -> None:
    factory = FakeSessionFactory(delay_s=0.01)
    backend = InferenceBackend(clips, factory)
    sink = Sink()
    backend.handle(m.StartSession(m.SourceSpec(tmp_path / "synthetic.mp4"), ((1, "A"),)), sink)
    backend.handle(m.SetPrompt(0, 1, with_point(None, (30, 36), True)), sink)
    request = m.Propagate("forward", start=0, first=0, last=23)

    def emit(msg: object) -> None:
        sink(msg)
        if isinstance(msg, m.FrameTracked) and msg.progress.done == 3:
            request.cancel.set()

    backend.handle(request, emit)
    (done,) = sink.of(m.TrackingFinished)
    assert done.cancelled and done.frames_done == 3
    assert len(sink.of(m.FrameTracked)) == 3


def test_failures_become_messages_and_the_backend_lives_on(started) -> None:
    backend, sink, _ = started
    backend.handle(m.SetPrompt(99, 1, with_point(None, (1, 1), True)), sink)
    backend.handle(m.Propagate("forward", start=0, first=0, last=5, obj_ids=(7,)), sink)
    failed = sink.of(m.Failed)
    assert [type(f.error) for f in failed] == [ModelError, ModelError]
    assert "outside" in str(failed[0].error) and "Traceback" in failed[0].details
    assert sink.of(m.TrackingFinished)[-1].cancelled  # the GUI leaves tracking mode
    backend.handle(m.SetPrompt(0, 1, with_point(None, (1, 1), True)), sink)
    assert len(sink.of(m.PromptApplied)) == 1


def test_requests_before_a_session_explain_why(clips, tmp_path: Path) -> None:
    factory = FakeSessionFactory(fail=ModelError("weights missing"))
    backend = InferenceBackend(clips, factory)
    sink = Sink()
    backend.handle(m.StartSession(m.SourceSpec(tmp_path / "synthetic.mp4")), sink)
    backend.handle(m.SetPrompt(0, 1, with_point(None, (1, 1), True)), sink)
    first, second = sink.of(m.Failed)
    assert str(first.error) == "weights missing"
    assert "No tracking session: weights missing" in str(second.error)
    assert clips.opened[0].closed  # the frames opened for the failed session were released


def test_save_and_reopen_restore_prompts_masks_and_statuses(started, clips, tmp_path) -> None:
    backend, sink, factory = started
    backend.handle(m.AddObject(2, "Shadow"), sink)
    backend.handle(m.SetPrompt(3, 1, with_point(None, (30, 36), True)), sink)
    backend.handle(m.SetPrompt(3, 2, with_box(None, (5, 5, 25, 25))), sink)
    backend.handle(m.Propagate("forward", start=3, first=0, last=9), sink)
    folder = tmp_path / "work.session"
    backend.handle(m.SaveSession(folder), sink)
    assert sink.of(m.SessionSaved) and folder.is_dir()

    again = InferenceBackend(clips, factory)
    sink2 = Sink()
    again.handle(m.StartSession(m.SourceSpec(tmp_path / "synthetic.mp4"), folder=folder), sink2)
    (opened,) = sink2.of(m.SessionStarted)
    assert opened.objects == {1: "Ball", 2: "Shadow"}
    assert set(opened.prompts) == {(3, 1), (3, 2)}
    assert opened.statuses == sink.of(m.TrackingFinished)[0].statuses
    again.handle(m.FetchResults(7, (1, 2, 5)), sink2)
    (fetched,) = sink2.of(m.ResultsFetched)
    old = sink.of(m.FrameTracked)[4].result.objects
    assert set(fetched.objects) == {1, 2}
    np.testing.assert_array_equal(fetched.objects[1].mask, old[1].mask)


def test_the_fake_records_which_thread_calls_it(started) -> None:
    backend, sink, factory = started
    thread = threading.Thread(
        target=lambda: backend.handle(m.SetPrompt(0, 1, Prompt(((1.0, 1.0),), (1,))), sink)
    )
    thread.start()
    thread.join()
    threads = {c[1] for c in factory.sessions[0].calls}
    assert len(threads) == 2  # the start here, the prompt on the other thread


# ------------------------------------------------------------------------- frames
def test_frame_backend_opens_reads_and_makes_thumbnails(clips, tmp_path: Path) -> None:
    backend = FrameBackend(clips)
    sink = Sink()
    backend.handle(m.OpenFrames(m.SourceSpec(tmp_path / "synthetic.mp4")), sink)
    (opened,) = sink.of(m.FramesOpened)
    assert (opened.info.num_frames, opened.info.frame_size, opened.info.fps) == (24, (72, 96), 25)
    backend.handle(m.LoadFrame(7), sink)
    backend.handle(m.LoadThumbnail(3, 18), sink)
    backend.handle(m.LoadFrame(500), sink)  # out of range: ignored, not an error
    (frame,) = sink.of(m.FrameLoaded)
    np.testing.assert_array_equal(frame.image, synthetic_clip()[7])
    (thumb,) = sink.of(m.ThumbnailLoaded)
    assert thumb.index == 3 and thumb.image.shape == (18, 24, 3)
    assert not sink.of(m.Failed)


def test_frame_backend_reports_bad_media(clips, tmp_path: Path) -> None:
    clips.add(tmp_path / "gray.mp4", np.zeros((3, 8, 8, 3), np.uint8)[..., :1].repeat(3, 3))
    clips.add(tmp_path / "empty.mp4", np.zeros((0, 8, 8, 3), np.uint8))
    backend = FrameBackend(clips)
    sink = Sink()
    backend.handle(m.OpenFrames(m.SourceSpec(tmp_path / "missing.mp4")), sink)
    backend.handle(m.OpenFrames(m.SourceSpec(tmp_path / "empty.mp4")), sink)
    errors = [f.error for f in sink.of(m.Failed)]
    assert all(isinstance(e, MediaError) for e in errors) and len(errors) == 2
    assert "no frames" in str(errors[1])


def test_open_frames_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as info:
        open_frames(m.SourceSpec(tmp_path / "nope.mp4"))
    assert "nope.mp4" in str(info.value)


def test_thumbnail_keeps_aspect() -> None:
    assert thumbnail(np.zeros((720, 1280, 3), np.uint8), 45).shape == (45, 80, 3)


def test_fake_session_open_rejects_other_clips(tmp_path: Path) -> None:
    s = FakeSession(None, ArrayFrames(synthetic_clip(5)))
    s.add_object(1)
    s.save(tmp_path / "x")
    with pytest.raises(ModelError, match="5 frames"):
        FakeSession.open(tmp_path / "x", None, ArrayFrames(synthetic_clip(6)))
