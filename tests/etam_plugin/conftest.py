"""Fixtures shared by the `track` tests (see ``conftest_track``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest_track import write_checkpoint, write_clip


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("ckpt") / "efficienttam_ti_512x512.pt")


@pytest.fixture(scope="session")
def clip(tmp_path_factory, media_dir: Path) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "dog_small.mov", media_dir)
