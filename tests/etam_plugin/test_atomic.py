"""etam_plugin.atomic: all or nothing, on real files."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from etam_plugin.atomic import replaced_atomically, write_bytes_atomic
from tests.etam_plugin.export_fs import listing, read_only_dir, tmpfs


def test_replaces_the_file_whole_and_readable_by_others(tmp_path) -> None:
    target = tmp_path / "stats.json"
    target.write_text("old")
    write_bytes_atomic(target, b'{"fps": 30}')
    assert target.read_bytes() == b'{"fps": 30}'
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path) -> None:
    target = tmp_path / "project.etam"
    target.write_text("the good version")
    with pytest.raises(OSError, match="No space"), replaced_atomically(target) as tmp:
        tmp.write_text("half a proj")
        raise OSError(28, "No space left on device")
    assert target.read_text() == "the good version"
    assert [p.name for p in tmp_path.iterdir()] == ["project.etam"]


def test_writers_that_pick_the_format_by_suffix_get_it(tmp_path) -> None:
    target = tmp_path / "logits.npy"
    with replaced_atomically(target) as tmp:
        assert tmp.suffix == ".npy" and tmp.parent == tmp_path
        np.save(tmp, np.arange(3))  # np.save would append .npy to any other name
    assert np.array_equal(np.load(target), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["logits.npy"]


def test_a_read_only_folder_is_an_oserror_and_nothing_changes(tmp_path) -> None:
    with read_only_dir(tmp_path / "ro", {"a.txt": b"kept"}) as folder:
        with pytest.raises(OSError):
            write_bytes_atomic(folder / "a.txt", b"new")
        assert listing(folder) == ["a.txt"] and (folder / "a.txt").read_bytes() == b"kept"


def test_a_full_disk_keeps_the_old_file(tmp_path) -> None:
    with tmpfs(tmp_path / "small", "64k") as disk:
        (disk / "stats.json").write_bytes(b"old")
        with pytest.raises(OSError):
            write_bytes_atomic(disk / "stats.json", b"x" * 200_000)
        assert listing(disk) == ["stats.json"] and (disk / "stats.json").read_bytes() == b"old"
