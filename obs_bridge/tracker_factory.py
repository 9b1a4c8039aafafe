"""Where the bridge's tracker comes from: the real EfficientTAM LiveTracker, or a factory.

``build_live_tracker`` loads a checkpoint (the ``mobile`` preset by default) on the best
device present; ``load_tracker_factory`` turns ``module:callable`` or ``path.py:callable``
into a tracker factory, so a benchmark or a test can run the bridge with another tracker
(e.g. the colour test double in ``tests/obs_bridge/doubles.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etam_plugin.engines import EngineOptions, build_engine
from etam_plugin.errors import EtamError
from etam_plugin.obs_bridge.protocol import MaskTracker

MODEL_NICENESS = 10
"""How much lower than the rest of the bridge the model runs (Linux ``nice`` steps). On a
2-core CPU the model's two threads otherwise take the cores from the compositor, and the
output falls below the camera's rate (1080p file camera, mobile network, no OBS, machine
loaded by others: 21.4 fps out at 0, 23.2 at 5, 27.2 at 10, of 30). The price: against other
busy programs the model gets less CPU too (its steps were 1.2–2.3 s in those runs, mask age
1.9 → 3.7 s); ``BridgeConfig.model_niceness`` / ``--model-niceness 0`` turn it off."""

LIVE_OMP_WAIT_POLICY = "PASSIVE"
"""torch's OpenMP threads sleep when idle instead of spinning. With 2 threads on 2 cores and
another program busy, a spinning worker holds a core the other thread is waiting for:
mobile steps at 640×360 took 2.6–4.4 s spinning vs 0.56–0.78 s passive (three interleaved
pairs on the shared 2-core machine, load ~4), and 1.6 s vs 1.0 s with a ``yes`` loop busy
(1 thread: 1.6 s spinning, 0.74 s passive)."""


def prepare_live_threads() -> str | None:
    """Set ``OMP_WAIT_POLICY`` for the live path before torch loads (OpenMP reads it once,
    when it starts); a value the user set is kept. Returns the policy in effect (None when
    torch was loaded first and none was set: then nothing can change it any more)."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", LIVE_OMP_WAIT_POLICY)
    return os.environ.get("OMP_WAIT_POLICY")


class ThreadTuner:
    """Picks the model's CPU thread count from its own step times, as the load changes.

    With every core free, more threads are faster; with one core busy (OBS, a game) a
    thread that shares it holds every parallel region back and one thread fewer is faster.
    So the tuner keeps the recent step times of two counts (all cores, half of them), runs
    the faster one, and every ``probe_every_s`` runs ``probe_steps`` steps on the other to
    see whether the load has changed. ``after_step(ms, now)`` returns the count to use next.
    """

    def __init__(
        self,
        cores: int,
        *,
        probe_every_s: float = 30.0,
        probe_steps: int = 3,
        window: int = 5,
    ) -> None:
        self.counts = tuple(dict.fromkeys((max(1, cores), max(1, cores // 2))))
        self.current = self.counts[0]
        self.probe_every_s = probe_every_s
        self.probe_steps = probe_steps
        self._times: dict[int, list[float]] = {n: [] for n in self.counts}
        self._measured_at: dict[int, float] = {}
        self._window = window
        self._probing = 0  # steps left on the count being probed

    def after_step(self, ms: float, now: float) -> int:
        times = self._times[self.current]
        times.append(ms)
        del times[: -self._window]
        self._measured_at[self.current] = now
        if len(self.counts) < 2:
            return self.current
        if self._probing:
            self._probing -= 1
            if self._probing:
                return self.current
            self.current = self._faster()
            return self.current
        other = next(n for n in self.counts if n != self.current)
        stale = now - self._measured_at.get(other, -1e18) >= self.probe_every_s
        if len(times) >= self.probe_steps and stale:
            self.current, self._probing = other, self.probe_steps
            self._times[other].clear()  # a fresh look: the load may have changed
        return self.current

    def _faster(self) -> int:
        def median(n: int) -> float:
            t = sorted(self._times[n])
            return t[len(t) // 2] if t else float("inf")

        return min(self.counts, key=median)


def build_live_tracker(
    checkpoint: str | Path | EngineOptions = "mobile",
    *,
    on_event: Callable[[Any], None] | None = None,
    **options: Any,
) -> MaskTracker:
    """The real tracker on the engine :func:`etam_plugin.engines.build_engine` makes.

    ``checkpoint``: :class:`EngineOptions`, or a .pt path, a variant name (default
    ``mobile``, a preset that keeps its pooled-keys attention) or, with ``backend="onnx"``,
    an export folder; ``options``: the other fields of :class:`EngineOptions` (``variant``,
    ``attention``, ``device``, ``dtype`` (default ``auto``: bfloat16 on a CPU with native
    bfloat16, float32 elsewhere), ``backend``, ``onnx_precision``, ``cuda_graphs``).
    ``on_event`` gets the tracker's lost/found :class:`TrackEvent` (on the bridge's track
    thread).

    Raises :class:`WeightsUnavailableError` (saying where to get the file) when a variant's
    weights are not on this machine, :class:`CheckpointError` for a missing or wrong file,
    :class:`DeviceError` for a device or precision this machine lacks, and the options'
    own refusals (e.g. bfloat16 on the ONNX backend) — all before any thread starts.
    """
    from etam_plugin.model import LiveTracker

    if not isinstance(checkpoint, EngineOptions):
        options.setdefault("dtype", "auto")  # live's default: see etam_plugin.devices.pick_dtype
        checkpoint = EngineOptions(checkpoint=checkpoint, **options)
    return LiveTracker(None, engine=build_engine(checkpoint), on_event=on_event)


def load_tracker_factory(spec: str) -> Callable[[], MaskTracker]:
    """``pkg.module:name`` or ``path/to/file.py:name`` → the callable ``name`` (a class or a
    function returning a tracker)."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise EtamError(f"tracker {spec!r}: expected module:callable or path/file.py:callable")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise EtamError(f"tracker {spec!r}: {path} does not exist")
        module_spec = importlib.util.spec_from_file_location(f"_etam_tracker_{path.stem}", path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise EtamError(f"tracker {spec!r}: cannot import {target}: {exc}") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise EtamError(f"tracker {spec!r}: {target} has no callable {name!r}")
    return factory
