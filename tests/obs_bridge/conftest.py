"""Fixtures for the OBS bridge: synthetic clips with known masks, and a real OBS Studio."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from etam_plugin.obs_bridge.testpattern import TestPattern
from tests.obs_bridge.obs_studio import ObsStudio, Xvfb, call


@pytest.fixture(autouse=True)
def _own_state_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:
    """The live command remembers selections in the user state folder: a test's own, never
    the real user's."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    return folder


@pytest.fixture
def pattern() -> TestPattern:
    """320×240, 30 fps, one red disc moving over grey texture, counter drawn in."""
    return TestPattern(frames=60)


@pytest.fixture
def pattern_clip(tmp_path: Path, pattern: TestPattern) -> Path:
    return pattern.write(tmp_path / "pattern.mkv")


@pytest.fixture(scope="session")
def mobile_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded random weights in the official ``efficienttam_ti_512x512.pt`` format (the
    file the ``mobile`` preset loads): the real network's compute and plumbing, with masks
    that mean nothing but are non-trivial (objects present, logits of useful size)."""
    from etam_plugin.bench._reference_oracle import shaped_random_state_dict
    from etam_plugin.model import get_config, save_checkpoint

    path = tmp_path_factory.mktemp("weights") / "efficienttam_ti_512x512.pt"
    save_checkpoint(shaped_random_state_dict(get_config("ti_512x512"), seed=3), path)
    return path


@pytest.fixture(scope="session")
def obs_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObsStudio]:
    """One OBS 29 under Xvfb for the whole session (isolated HOME, random port/password)."""
    for tool in ("obs", "Xvfb"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: apt-get install -y obs-studio xvfb")
    root = tmp_path_factory.mktemp("obs")
    display = Xvfb()
    obs = ObsStudio(root, display.display)
    try:
        obs.start()
        yield obs
    finally:
        obs.stop()
        display.stop()


@pytest.fixture
def obs(obs_studio: ObsStudio) -> Iterator[ObsStudio]:
    """The session's OBS, running, with a 320×240 canvas and our test inputs removed."""
    if not obs_studio.running:
        obs_studio.start()
    client = obs_studio.client()
    try:
        call(
            client,
            "SetVideoSettings",
            baseWidth=320,
            baseHeight=240,
            outputWidth=320,
            outputHeight=240,
            fpsNumerator=30,
            fpsDenominator=1,
        )
        for item in call(client, "GetInputList")["inputs"]:
            call(client, "RemoveInput", inputName=item["inputName"])
        names = [s["sceneName"] for s in call(client, "GetSceneList")["scenes"]]
        if "Scene" not in names:
            call(client, "CreateScene", sceneName="Scene")
        call(client, "SetCurrentProgramScene", sceneName="Scene")
        for name in names:
            if name != "Scene":
                call(client, "RemoveScene", sceneName=name)
    finally:
        client.disconnect()
    yield obs_studio
    if not obs_studio.running:  # a test killed it and failed before restarting
        obs_studio.start()
