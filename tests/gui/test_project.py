"""Project files (``.etam``): the JSON round trip, atomic saves (a failure keeps the last
save), session copies that later edits never touch, moved projects, damaged files."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from etam_plugin.errors import ProjectError
from etam_plugin.gui.components import project as pj
from etam_plugin.gui.components.model_options import ModelOptions
from etam_plugin.gui.components.objects import TrackedObject
from etam_plugin.gui.components.project import (
    ProjectState,
    data_folder,
    read_project,
    save_project,
)
from etam_plugin.gui.components.render import ViewMode
from etam_plugin.matte import MatteOps
from etam_plugin.model import FrameStatus, Prompt
from etam_plugin.timeline import TimelineClip
from tests.etam_plugin.export_fs import listing, read_only_dir, tmpfs


def clip_of(source: Path) -> TimelineClip:
    return TimelineClip(
        index=3, name="dog", track=1, track_name="V1", media_path=source,
        rate=Fraction(30000, 1001), source_start=107_892 + 20, duration=40,
        record_start=1_000, timeline_rate=Fraction(30000, 1001), available_start=107_892,
        available_duration=289, timeline_path=source.parent / "edit.xml",
    )  # fmt: skip


def full_state(source: Path) -> ProjectState:
    return ProjectState(
        source=source,
        objects=(
            TrackedObject(1, "Dog", (255, 99, 71)),
            TrackedObject(4, "Ball", (1, 2, 3), False),
        ),
        active=4,
        in_point=20,
        out_point=59,
        playhead=33,
        view_mode=ViewMode.CUTOUT,
        opacity=0.25,
        markers=False,
        finishing=MatteOps.parse("grow=2,feather=3,feather_mode=outward,smooth=2"),
        model=ModelOptions("s", "pooled", "cpu", "float32", Path("/w/x.pt"), cpu_threads=1),
        clip=clip_of(source),
        export={"fmt": "luma", "objects": "chosen", "chosen": [4]},
    )


def session_folder(tmp_path: Path, name: str = "live") -> Path:
    folder = tmp_path / name
    (folder / "objects" / "1").mkdir(parents=True)
    (folder / "session.json").write_text('{"version": 1}')
    (folder / "objects" / "1" / "0000003.npy").write_bytes(b"logits-3")
    (folder / "objects" / "1" / "0000003.png").write_bytes(b"mask-3")
    (folder / "objects" / "1" / "store.npz").write_bytes(b"meta")
    return folder


def test_state_round_trips_through_the_project_file(tmp_path: Path) -> None:
    source = tmp_path / "media" / "dog.mp4"
    source.parent.mkdir()
    source.write_bytes(b"")
    state = full_state(source)
    project = tmp_path / "shot.etam"
    copy = save_project(project, state, session_folder(tmp_path))
    loaded = read_project(project)
    assert loaded.state == state
    assert loaded.session_folder == copy and copy.parent == data_folder(project)
    assert (copy / "objects" / "1" / "0000003.npy").read_bytes() == b"logits-3"
    data = json.loads(project.read_text())
    assert data["format"] == "etam-plugin-project" and data["version"] == 1
    assert data["source"]["relative"] == os.path.join("media", "dog.mp4")
    assert data["timeline_clip"]["rate"] == "30000/1001"


def test_each_objects_finishing_round_trips(tmp_path: Path) -> None:
    """Per-object finishing (issue 14): each object gets its own back; the top-level one
    (what older panels read, for every object) is the active object's."""
    source = tmp_path / "dog.mp4"
    source.write_bytes(b"")
    dog, ball = MatteOps(feather=2.0), MatteOps(grow=-1.0)
    state = replace(full_state(source), finishing=ball, object_finishing={1: dog, 4: ball})
    save_project(tmp_path / "shot.etam", state, session_folder(tmp_path))
    loaded = read_project(tmp_path / "shot.etam").state
    got = {o: loaded.object_finishing.get(o, loaded.finishing) for o in (1, 4)}
    assert got == {1: dog, 4: ball}
    data = json.loads((tmp_path / "shot.etam").read_text())
    assert data["finishing"] == "grow=-1" and data["objects"][0]["finishing"] == "feather=2"


def test_a_moved_project_finds_its_clip_by_relative_path(tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "media").mkdir(parents=True)
    (old / "media" / "dog.mp4").write_bytes(b"")
    save_project(old / "shot.etam", ProjectState(old / "media" / "dog.mp4"), session_folder(old))
    new = tmp_path / "new"
    shutil.move(old, new)
    assert read_project(new / "shot.etam").state.source == (new / "media" / "dog.mp4")


def test_saving_again_replaces_the_session_copy_and_links_store_files(tmp_path: Path) -> None:
    live = session_folder(tmp_path)
    project = tmp_path / "shot.etam"
    first = save_project(project, ProjectState(tmp_path / "a.mp4"), live)
    npy = first / "objects" / "1" / "0000003.npy"
    assert os.stat(npy).st_ino == os.stat(live / "objects" / "1" / "0000003.npy").st_ino
    meta = first / "objects" / "1" / "store.npz"  # rewritten in place by the session: copied
    assert os.stat(meta).st_ino != os.stat(live / "objects" / "1" / "store.npz").st_ino
    second = save_project(project, ProjectState(tmp_path / "a.mp4"), live)
    assert second != first and not first.exists()
    assert [p.name for p in data_folder(project).iterdir()] == [second.name]


def test_a_failed_save_keeps_the_previous_one(tmp_path: Path, monkeypatch) -> None:
    live = session_folder(tmp_path)
    project = tmp_path / "shot.etam"
    first = save_project(project, ProjectState(tmp_path / "a.mp4", in_point=1), live)
    before = project.read_bytes()

    def full_disk(src: str, dst: str) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pj, "_link_or_copy", full_disk)
    with pytest.raises(ProjectError, match="No space left") as info:
        save_project(project, ProjectState(tmp_path / "a.mp4", in_point=2), live)
    assert info.value.reason == "unwritable"
    assert project.read_bytes() == before
    assert [p.name for p in data_folder(project).iterdir()] == [first.name]
    assert read_project(project).state.in_point == 1

    monkeypatch.undo()

    def fail_json(path, data):
        raise ProjectError("disk full", path=path, reason="unwritable")

    monkeypatch.setattr(pj, "write_json_atomic", fail_json)
    with pytest.raises(ProjectError):
        save_project(project, ProjectState(tmp_path / "a.mp4", in_point=3), live)
    assert project.read_bytes() == before  # the new copy was removed, the old one kept
    assert [p.name for p in data_folder(project).iterdir()] == [first.name]


def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    live = session_folder(tmp_path)
    with read_only_dir(tmp_path / "locked", {"old.etam": b"{}"}) as locked:
        with pytest.raises(ProjectError, match="cannot") as info:
            save_project(locked / "x.etam", ProjectState(tmp_path / "a.mp4"), live)
        assert info.value.reason == "unwritable"
        assert listing(locked) == ["old.etam"]


def test_a_full_disk_keeps_the_previous_save(tmp_path: Path) -> None:
    small = session_folder(tmp_path, "small")
    big = session_folder(tmp_path, "big")
    (big / "objects" / "1" / "store.npz").write_bytes(os.urandom(300_000))
    with tmpfs(tmp_path / "disk", "256k") as disk:
        project = disk / "shot.etam"
        first = save_project(project, ProjectState(tmp_path / "a.mp4", in_point=1), small)
        before = project.read_bytes()
        with pytest.raises(ProjectError, match="No space left") as info:
            save_project(project, ProjectState(tmp_path / "a.mp4", in_point=2), big)
        assert info.value.reason == "unwritable"
        assert project.read_bytes() == before
        assert listing(data_folder(project)) == [first.name]
        assert read_project(project).state.in_point == 1
        assert listing(disk) == ["shot.etam", "shot.etam.d"]  # no temp files left


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "damaged"),
        ('{"format": "something-else"}', "not-a-project"),
        ('{"format": "etam-plugin-project", "version": 99}', "version"),
        ('{"format": "etam-plugin-project", "version": 1, "source": {}}', "damaged"),
    ],
)
def test_damaged_projects_say_what_is_wrong(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.etam"
    path.write_text(text)
    with pytest.raises(ProjectError) as info:
        read_project(path)
    assert info.value.reason == reason and info.value.path == path


def test_a_missing_session_folder_is_named(tmp_path: Path) -> None:
    project = tmp_path / "shot.etam"
    save_project(project, ProjectState(tmp_path / "a.mp4"), session_folder(tmp_path))
    shutil.rmtree(data_folder(project))
    with pytest.raises(ProjectError, match=r"shot\.etam\.d"):
        read_project(project)
    with pytest.raises(ProjectError) as info:
        read_project(tmp_path / "nothing.etam")
    assert info.value.reason == "missing"


@pytest.mark.slow
def test_a_saved_copy_does_not_change_when_the_live_session_goes_on(tmp_path: Path) -> None:
    """Through the real VideoSession (tiny network): the project saved at one point stays
    exactly as saved while the live session corrects and re-tracks (its store replaces
    files, never writes into them: the hard links the save makes rely on that)."""
    import torch

    from etam_plugin.model import VideoSession, build_model, tiny_test_config

    torch.manual_seed(0)
    model = build_model(tiny_test_config()).eval()
    rng = np.random.default_rng(0)
    frames = list(rng.integers(0, 255, (8, 48, 64, 3), dtype=np.uint8))
    session = VideoSession(model, frames)
    try:
        session.add_object(1, "A")
        session.add_prompt(0, 1, Prompt(((20.0, 20.0),), (1,)))
        list(session.propagate("forward", 0, 7))
        session.save(session.folder)
        project = tmp_path / "p.etam"
        copy = save_project(project, ProjectState(tmp_path / "a.mp4"), session.folder)
        before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
        masks = [session.result(f, 1).mask.copy() for f in range(8)]
        assert any(os.stat(p).st_nlink > 1 for p in before)  # links were made

        session.add_prompt(3, 1, Prompt(((40.0, 30.0), (10.0, 10.0)), (1, 0)))  # correction
        list(session.propagate("forward", 3, 7))
        session.save(session.folder)
        after = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
        assert after == before

        reopened = VideoSession.open(copy, model, frames)
        try:
            for f in range(8):
                np.testing.assert_array_equal(reopened.result(f, 1).mask, masks[f])
            assert reopened.prompted_frames(1) == [0]
            assert reopened.statuses(1)[1:] == [FrameStatus.TRACKED] * 7
        finally:
            reopened.close()
    finally:
        session.close()
