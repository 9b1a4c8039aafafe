"""Where trackers come from: the model's LiveTracker fits the bridge's protocol, and
factories given as module:callable or file.py:callable load (the benchmark's --tracker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etam_plugin.errors import EtamError
from etam_plugin.model import LiveTracker
from etam_plugin.obs_bridge.protocol import MaskTracker, tracker_device
from etam_plugin.obs_bridge.trackers import best_device, load_tracker_factory

DOUBLES = Path(__file__).with_name("doubles.py")


def test_the_models_live_tracker_satisfies_the_bridge_protocol() -> None:
    assert issubclass(LiveTracker, MaskTracker)


def test_tracker_factory_from_a_file_and_from_a_module() -> None:
    tracker = load_tracker_factory(f"{DOUBLES}:ColourTracker")()
    assert isinstance(tracker, MaskTracker)
    assert tracker_device(tracker) == "cpu (colour test double)"
    slow = load_tracker_factory(f"{DOUBLES}:slow_colour_tracker")()
    assert slow.cost_s > 0
    assert load_tracker_factory("tests.obs_bridge.doubles:ColourTracker") is not None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ColourTracker", "expected module:callable"),
        ("nowhere/file.py:X", "does not exist"),
        ("no_such_module_xyz:X", "cannot import"),
        (f"{DOUBLES}:Missing", "no callable"),
    ],
)
def test_bad_tracker_specs(spec: str, message: str) -> None:
    with pytest.raises(EtamError, match=message):
        load_tracker_factory(spec)


def test_best_device_on_this_machine() -> None:
    assert best_device() in ("cuda", "mps", "cpu")
