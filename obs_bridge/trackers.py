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

from etam_plugin.devices import BACKENDS
from etam_plugin.errors import EtamError
from etam_plugin.obs_bridge.protocol import MaskTracker

"""Inference backends ``build_live_tracker`` can run (the ``backend`` argument, the live
command's ``--backend``): PyTorch, or ONNX Runtime on an ``etam-plugin export-onnx`` folder
(then ``checkpoint`` is that folder)."""


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


def best_device() -> str:
    """``cuda`` when present, else ``mps`` (Apple), else ``cpu``."""
    from etam_plugin.devices import pick_device

    return pick_device("auto")


def build_live_tracker(
    checkpoint: str | Path = "mobile",
    *,
    variant: str | None = None,
    attention: str | None = None,
    device: str | None = "auto",
    dtype: str = "auto",
    backend: str = "torch",
    onnx_precision: str = "fp32",
    on_event: Callable[[Any], None] | None = None,
    cuda_graphs: bool = True,
) -> MaskTracker:
    """The real tracker: ``checkpoint`` is a .pt path or a variant name (default ``mobile``).

    ``variant`` names the network when the file's name does not (a preset name as
    ``checkpoint`` is its own variant, so ``mobile`` keeps its pooled-keys attention);
    ``attention`` overrides the memory attention mode; ``device`` ``auto`` picks CUDA, then
    MPS, then the CPU; ``dtype`` ``auto`` runs bfloat16 on a CPU with native bfloat16
    arithmetic and float32 elsewhere (see ``pick_dtype``), ``float16`` runs on a GPU only
    (the ONNX backend runs float32, or its quantised graphs with ``onnx_precision="int8"``).
    ``on_event`` gets the tracker's lost/found :class:`TrackEvent` (on the bridge's track thread);
    ``cuda_graphs`` (torch on CUDA): replay CUDA graphs of the stages, same masks, about 2-5x
    the frames per second of eager runs on an H200 (see README).

    Raises :class:`WeightsUnavailableError` (saying where to get the file) when a variant's
    weights are not on this machine, :class:`CheckpointError` for a missing or wrong file,
    :class:`DeviceError` for a device or precision this machine lacks — all before any
    thread starts.
    """
    from etam_plugin.devices import pick_device, pick_dtype
    from etam_plugin.model import VARIANTS, LiveTracker, load_model
    from etam_plugin.weights import resolve_checkpoint

    if backend not in BACKENDS:
        raise EtamError(f"backend {backend!r} is not available; use one of {', '.join(BACKENDS)}")
    device = pick_device(device or "auto")
    torch_dtype = pick_dtype(dtype, device, backend)
    if backend == "onnx":
        from etam_plugin.onnx_runtime import make_engine

        # dtype and precision go along, so what cannot run is refused, not run as fp32
        engine = make_engine(
            "onnx", checkpoint, device=device, dtype=torch_dtype, precision=onnx_precision
        )
        return LiveTracker(None, engine=engine, on_event=on_event)
    path = resolve_checkpoint(str(checkpoint), download=False)
    if variant is None and str(checkpoint) in VARIANTS:
        variant = str(checkpoint)  # a preset: its own attention mode, not the file's default
    model = load_model(path, variant, attention=attention, device=device)
    return LiveTracker(
        model, device=device, dtype=torch_dtype, on_event=on_event, cuda_graphs=cuda_graphs
    )


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
