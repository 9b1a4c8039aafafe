"""EfficientTAM: the network, its checkpoints, and tracking sessions built on it.

This is the bottom layer: it imports torch, numpy and Pillow only. Everything above uses
the names exported here; the torch-backed ones load on first use, so importing the package
for its errors, configs and types (the CLI's start, the panel's GUI thread) stays light.
"""

import importlib

from etam_plugin.model.config import (
    ATTENTION_MODES,
    OFFICIAL_VARIANTS,
    POOL_WINDOWS,
    VARIANTS,
    AttentionMode,
    EfficientTAMConfig,
    get_config,
    tiny_test_config,
)
from etam_plugin.model.errors import (
    CancelledError,
    CheckpointError,
    EtamError,
    ModelError,
    WeightsUnavailableError,
)
from etam_plugin.model.types import (
    FrameResult,
    FrameSource,
    FrameStatus,
    ObjectResult,
    Progress,
    Prompt,
    clicks,
    drawing,
)

_LAZY = {
    "EfficientTAM": "efficienttam",
    "Engine": "engine",
    "ImagePrediction": "image_predictor",
    "ImagePredictor": "image_predictor",
    "LiveTracker": "live_tracker",
    "MaskPrediction": "efficienttam",
    "MemoryInput": "memory_attention",
    "PreparedMemory": "memory_attention",
    "TrackEvent": "live_tracker",
    "VideoSession": "video_session",
    "build_model": "efficienttam",
    "config_from_manifest": "onnx_export",
    "export_onnx": "onnx_export",
    "graph_names": "onnx_export",
    "infer_variants": "checkpoint",
    "load_model": "loading",
    "read_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ATTENTION_MODES",
    "OFFICIAL_VARIANTS",
    "POOL_WINDOWS",
    "VARIANTS",
    "AttentionMode",
    "CancelledError",
    "CheckpointError",
    "EfficientTAM",
    "EfficientTAMConfig",
    "Engine",
    "EtamError",
    "FrameResult",
    "FrameSource",
    "FrameStatus",
    "ImagePrediction",
    "ImagePredictor",
    "LiveTracker",
    "MaskPrediction",
    "MemoryInput",
    "ModelError",
    "ObjectResult",
    "PreparedMemory",
    "Progress",
    "Prompt",
    "TrackEvent",
    "VideoSession",
    "WeightsUnavailableError",
    "build_model",
    "clicks",
    "config_from_manifest",
    "drawing",
    "export_onnx",
    "get_config",
    "graph_names",
    "infer_variants",
    "load_model",
    "read_checkpoint",
    "save_checkpoint",
    "tiny_test_config",
]
