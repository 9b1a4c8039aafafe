"""ONNX Runtime backend: the exported stage graphs, run without torch.

``OnnxStages`` (numpy in, numpy out) needs only numpy and onnxruntime; importing this
package imports nothing else (its errors, ``etam_plugin.errors.OnnxError``, are
torch-free). ``make_engine`` and ``OnnxNetwork`` (the torch-facing side that plugs the
graphs into ``VideoSession``/``LiveTracker``) are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from etam_plugin.devices import BACKENDS
from etam_plugin.errors import OnnxError
from etam_plugin.onnx_runtime.manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    PRECISIONS,
    GraphInfo,
    Manifest,
    read_manifest,
)
from etam_plugin.onnx_runtime.providers import PROVIDER_ORDER, ProviderPlan, plan_providers
from etam_plugin.onnx_runtime.stages import MaskOutputs, OnnxStages, PreparedFrame

if TYPE_CHECKING:
    from etam_plugin.onnx_runtime.backend import (
        OnnxNetwork,
        describe_engine,
        make_engine,
    )

__all__ = [
    "BACKENDS",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "PRECISIONS",
    "PROVIDER_ORDER",
    "GraphInfo",
    "Manifest",
    "MaskOutputs",
    "OnnxError",
    "OnnxNetwork",
    "OnnxStages",
    "PreparedFrame",
    "ProviderPlan",
    "describe_engine",
    "make_engine",
    "plan_providers",
    "read_manifest",
]

_TORCH_SIDE = {"OnnxNetwork", "describe_engine", "make_engine"}


def __getattr__(name: str) -> Any:
    """The torch-facing names, imported only when asked for (they import torch)."""
    if name in _TORCH_SIDE:
        from etam_plugin.onnx_runtime import backend

        return getattr(backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
