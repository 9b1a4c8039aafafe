"""Fixtures of the panel's tests: offscreen Qt, isolated QSettings, fake sessions, clips."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))  # the helpers next to this file

import numpy as np
import pytest
from gui_fake_session import FakeSessionFactory
from gui_frames import ArrayFrames, synthetic_clip

from etam_plugin.gui.components.messages import SourceSpec


class ClipLibrary:
    """A frames factory over in-memory clips registered by path (what media will do for
    real files in phase 2)."""

    def __init__(self) -> None:
        self.clips: dict[Path, np.ndarray] = {}
        self.opened: list[ArrayFrames] = []

    def add(self, path: Path, array: np.ndarray) -> Path:
        self.clips[Path(path)] = array
        return Path(path)

    def __call__(self, spec: SourceSpec) -> ArrayFrames:
        from etam_plugin.errors import MediaError

        try:
            array = self.clips[Path(spec.path)]
        except KeyError:
            raise MediaError(f"{spec.path}: no such test clip", path=spec.path) from None
        frames = ArrayFrames(array)
        self.opened.append(frames)
        return frames


@pytest.fixture
def clips(tmp_path: Path) -> ClipLibrary:
    lib = ClipLibrary()
    lib.add(tmp_path / "synthetic.mp4", synthetic_clip())
    return lib


@pytest.fixture
def fake_factory() -> FakeSessionFactory:
    return FakeSessionFactory()
