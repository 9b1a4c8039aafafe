"""Missing weights in the panel: it offers the download, fetches the file through
huggingface_hub from a local stand-in for the Hub (tests/fake_hub.py, real HTTP) with a
progress dialog in the task worker, then starts the session on it; Cancel stops cleanly."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest
from gui_frames import ArrayFrames, synthetic_clip
from huggingface_hub import constants
from PySide6.QtWidgets import QPushButton

from etam_plugin.gui._qt.controller import SessionState
from etam_plugin.gui._qt.settings import PanelSettings
from etam_plugin.gui.app import create_window
from etam_plugin.weights import REPO_ID, checkpoint_filename
from tests.fake_hub import FakeHub

pytestmark = [pytest.mark.gui, pytest.mark.slow]
WAIT = 120_000
FILE = checkpoint_filename("ti_512x512")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shaped_weights: Path):
    """The Hub serving the (seeded random) ti_512x512 checkpoint; nothing local."""
    with FakeHub() as fake:
        fake.add(REPO_ID, FILE, (shaped_weights / FILE).read_bytes())
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(tmp_path / "weights"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "ENDPOINT", fake.url)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            fake.url + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
        monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "hf" / "a.json"))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 1024 * 1024)
        yield fake
    huggingface_hub.close_session()


@pytest.fixture
def window(qtbot, tmp_path):
    clip = synthetic_clip(4, 72, 96)
    w = create_window(
        PanelSettings.at(tmp_path / "p.ini"),
        frames_factory=lambda spec: ArrayFrames(clip),
    )
    w.ask_unsaved = lambda what: "discard"
    w.show()
    yield w
    w.close()
    w.deleteLater()


def test_missing_weights_are_downloaded_with_progress_then_used(qtbot, hub, window, tmp_path):
    w, c = window, window.controller
    # ~30 MB/s: the 72 MB download takes a few progress intervals (0.1 s) even on a fast
    # machine; unthrottled, a CI run finished it inside one and saw only start and end
    hub.delay_s = 0.0005
    offers, progress = [], []
    w.ask_download = lambda error: offers.append(error) or True
    c.downloadProgress.connect(lambda msg: progress.append((msg.done, msg.total)))
    w.open_path(tmp_path / "clip.mp4")
    qtbot.waitUntil(lambda: bool(offers), timeout=WAIT)
    assert offers[0].variant == "ti_512x512" and FILE in str(offers[0])
    assert w.download_dialog is not None and w.download_dialog.isVisible()
    qtbot.waitUntil(lambda: c.session_state is SessionState.READY, timeout=WAIT)
    assert w.download_dialog is None  # closed when done
    size = len(hub.files[(REPO_ID, FILE)])
    assert progress[-1] == (size, size) and len(progress) > 2
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert c.downloading is None
    c.add_point(40, 36)  # the downloaded network serves
    qtbot.waitUntil(lambda: c.masks.has(0, 1), timeout=WAIT)


def test_cancelling_the_download_leaves_nothing(qtbot, hub, window, tmp_path):
    w, c = window, window.controller
    hub.delay_s = 0.002  # ~8 MB/s: time to cancel
    w.ask_download = lambda error: True
    w.open_path(tmp_path / "clip.mp4")
    qtbot.waitUntil(lambda: w.download_dialog is not None, timeout=WAIT)
    with qtbot.waitSignal(c.downloadProgress, timeout=WAIT):
        pass
    with qtbot.waitSignal(c.downloadFinished, timeout=WAIT) as done:
        w.download_dialog.findChild(QPushButton).click()  # the dialog's Cancel
    assert done.args == [False]
    assert c.session_state is SessionState.FAILED and w.download_dialog is None
    assert "Cancelled" in (w.last_report.title if w.last_report else "")
    blobs = tmp_path / "hf" / "hub" / "models--yunyangx--efficient-track-anything" / "blobs"
    assert not blobs.exists() or [p.name for p in blobs.iterdir()] == []
    assert not (tmp_path / "weights" / FILE).exists()


@pytest.fixture
def no_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A Hub address where nothing listens (connections are refused): offline, as far as
    huggingface_hub can tell; nothing local either."""
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: refused now
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "hf" / "a.json"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield url
    huggingface_hub.close_session()


def test_an_unreachable_hub_is_said_at_once_with_the_other_way(qtbot, no_hub, window, tmp_path):
    """Issue 14 item 6 (part): offline, the download retried for half a minute behind a
    still "Downloading…" dialog, with no word of the file the user may have. Now the first
    retry is said at once, with Model ▸ Checkpoint File… as the other way, and Cancel ends
    the retries."""
    import time

    w, c = window, window.controller
    w.ask_download = lambda error: True
    w.open_path(tmp_path / "clip.mp4")
    qtbot.waitUntil(lambda: w.download_dialog is not None, timeout=WAIT)
    t0 = time.monotonic()
    qtbot.waitUntil(lambda: "retrying" in w.download_dialog.labelText(), timeout=5_000)
    assert time.monotonic() - t0 < 3  # huggingface_hub's first retry comes after 1 s
    text = w.download_dialog.labelText()
    assert "Cannot reach the Hub for the ti_512x512 weights" in text
    assert "Connection refused" in text and "retry 1 of 5" in text
    assert "Model ▸ Checkpoint File…" in text and "Choose File…" in text
    assert "retrying" in w.statusBar().currentMessage()
    with qtbot.waitSignal(c.downloadFinished, timeout=15_000) as done:
        w.download_dialog.findChild(QPushButton).click()  # Cancel: at the next retry
    assert done.args == [False] and w.download_dialog is None
    assert c.session_state is SessionState.FAILED and c.downloading is None
