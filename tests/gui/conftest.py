"""Fixtures of the panel's tests: offscreen Qt, isolated QSettings, fake sessions, clips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))  # the helpers next to this file

import numpy as np
import pytest
from gui_fake_session import FakeSessionFactory
from gui_frames import ArrayFrames, synthetic_clip

from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.components.messages import SourceSpec
from etam_plugin.gui.components.recovery import RecoveryArea


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


SHAPED_WEIGHTS = """
import sys
from pathlib import Path
from etam_plugin.bench._reference_oracle import shaped_random_state_dict
from etam_plugin.model import get_config, save_checkpoint
from etam_plugin.weights import checkpoint_filename
folder = Path(sys.argv[1])
save_checkpoint(
    shaped_random_state_dict(get_config("ti_512x512"), seed=0),
    folder / checkpoint_filename("ti_512x512"),
)
"""


@pytest.fixture(scope="session")
def shaped_weights(tmp_path_factory) -> Path:
    """A folder holding ``efficienttam_ti_512x512.pt`` as the official file is laid out, with
    seeded random weights shaped so that objects are present (the reference oracle's
    ``shaped_random_state_dict``). Made in a subprocess: importing the reference package
    initialises hydra globally, which must not leak into the panel's tests."""
    folder = tmp_path_factory.mktemp("weights")
    done = subprocess.run(
        [sys.executable, "-c", SHAPED_WEIGHTS, str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> PanelSettings:
    return PanelSettings.at(tmp_path / "panel.ini")


@pytest.fixture
def make_window(qtbot, clips, settings):
    from etam_plugin.gui.app import create_window

    made = []

    def make(
        factory: FakeSessionFactory | None = None,
        s: PanelSettings | None = None,
        recovery: RecoveryArea | None = None,
    ):
        w = create_window(s or settings, factory or FakeSessionFactory(), clips, recovery)
        w.ask_unsaved = lambda what: pytest.fail(f"unexpected 'save before you {what}?'")
        w.ask_download = lambda error: pytest.fail(f"unexpected download offer: {error}")
        w.resize(1100, 720)
        w.show()
        qtbot.waitExposed(w)
        w.activateWindow()
        made.append(w)
        return w

    yield make
    for w in made:
        w.controller.changes.reset()
        w.close()
        w.deleteLater()
