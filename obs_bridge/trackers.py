"""Where the bridge's tracker comes from: the real EfficientTAM LiveTracker, or a factory.

``build_live_tracker`` loads a checkpoint (the ``mobile`` preset by default) on the best
device present; ``load_tracker_factory`` turns ``module:callable`` or ``path.py:callable``
into a tracker factory, so a benchmark or a test can run the bridge with another tracker
(e.g. the colour test double in ``tests/obs_bridge/doubles.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

from etam_plugin.errors import EtamError
from etam_plugin.obs_bridge.protocol import MaskTracker


def best_device() -> str:
    """``cuda`` when present, else ``mps`` (Apple), else ``cpu``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def build_live_tracker(
    checkpoint: str | Path = "mobile", *, variant: str | None = None, device: str | None = None
) -> MaskTracker:
    """The real tracker: ``checkpoint`` is a .pt path or a variant name (default ``mobile``).

    Raises :class:`WeightsUnavailableError` (saying where to get the file) when a variant's
    weights are not on this machine.
    """
    from etam_plugin.model import VARIANTS, LiveTracker, load_model
    from etam_plugin.weights import resolve_checkpoint

    path = resolve_checkpoint(str(checkpoint))
    if variant is None and str(checkpoint) in VARIANTS:
        variant = str(checkpoint)  # a preset: its own attention mode, not the file's default
    device = device or best_device()
    return LiveTracker(load_model(path, variant, device=device), device=device)


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
