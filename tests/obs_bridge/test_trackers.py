"""Where trackers come from: the model's LiveTracker fits the bridge's protocol, and
factories given as module:callable or file.py:callable load (the benchmark's --tracker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etam_plugin.errors import EtamError
from etam_plugin.model import LiveTracker
from etam_plugin.obs_bridge.protocol import MaskTracker, tracker_device
from etam_plugin.obs_bridge.tracker_factory import load_tracker_factory

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


def test_the_automatic_device_on_this_machine() -> None:
    from etam_plugin.devices import pick_device  # the one chooser (the bridge's copy is gone)

    assert pick_device("auto") in ("cuda", "mps", "cpu")


def test_point_and_box_prompts_from_text() -> None:
    from etam_plugin.obs_bridge import parse_box, parse_point

    assert parse_point("320, 240.5").points_xy == ((320.0, 240.5),)
    assert parse_point("1,2").labels == (1,)
    assert parse_box("300,260,100,80").box_xyxy == (100, 80, 300, 260)
    for bad in ("320", "a,b", "-1,5", "1,2,3"):
        with pytest.raises(ValueError, match="point"):
            parse_point(bad)
    with pytest.raises(ValueError, match="empty"):
        parse_box("5,5,5,9")
    with pytest.raises(ValueError, match="X0,Y0,X1,Y1"):
        parse_box("1,2,3")


def test_the_live_path_makes_openmp_threads_sleep_unless_told_otherwise() -> None:
    """OMP_WAIT_POLICY is read once when OpenMP starts: it is set before torch loads; the
    user's own value is kept; after torch has loaded nothing changes it any more."""
    import os
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from etam_plugin.obs_bridge.tracker_factory import prepare_live_threads\n"
        "{before}\n"
        "print(prepare_live_threads(), os.environ.get('OMP_WAIT_POLICY'))\n"
    )

    def policy(before: str = "", **env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        out = subprocess.run(
            [sys.executable, "-c", code.format(before=before)],
            capture_output=True,
            text=True,
            env={**clean, **env},
            check=True,
        )
        return out.stdout.strip()

    assert policy() == "PASSIVE PASSIVE"
    assert policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE ACTIVE"
    assert policy("import torch") == "None None"


def test_the_thread_tuner_runs_the_faster_count_as_the_load_changes() -> None:
    """All cores while they are free; one thread fewer once a core is busy (a 2-thread
    step then took twice the 1-thread time here); a look at the other count every 30 s."""
    from etam_plugin.obs_bridge.tracker_factory import ThreadTuner

    tuner = ThreadTuner(2, probe_every_s=30.0, probe_steps=3)
    assert tuner.counts == (2, 1) and tuner.current == 2
    t = 0.0

    def run(ms_at: dict[int, float], steps: int) -> list[int]:
        nonlocal t
        used = []
        for _ in range(steps):
            used.append(tuner.current)
            t += ms_at[tuner.current] / 1000.0
            tuner.after_step(ms_at[tuner.current], t)
        return used

    idle = {2: 300.0, 1: 600.0}
    used = run(idle, 12)
    assert used[:3] == [2, 2, 2] and used[3:6] == [1, 1, 1]  # one look at 1 thread
    assert used[6:] == [2] * 6  # then back to the faster
    busy = {2: 1300.0, 1: 600.0}  # a core gets busy
    used = run(busy, 40)
    assert used[-10:] == [1] * 10  # found at the next look, and kept
    assert ThreadTuner(1).counts == (1,) and ThreadTuner(1).after_step(5.0, 0.0) == 1
