"""EfficientTAM: the network, its checkpoints, and tracking sessions built on it.

This is the bottom layer: it imports torch, numpy and Pillow only. Everything above uses
the names exported here.
"""

from etam_plugin.model.checkpoint import infer_variants, read_checkpoint, save_checkpoint
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
from etam_plugin.model.efficienttam import EfficientTAM, build_model
from etam_plugin.model.errors import (
    CancelledError,
    CheckpointError,
    EtamError,
    ModelError,
    WeightsUnavailableError,
)
from etam_plugin.model.image_predictor import ImagePrediction, ImagePredictor
from etam_plugin.model.live_tracker import LiveTracker, TrackEvent
from etam_plugin.model.loading import load_model
from etam_plugin.model.types import (
    FrameResult,
    FrameSource,
    FrameStatus,
    ObjectResult,
    Progress,
    Prompt,
)
from etam_plugin.model.video_session import VideoSession

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
    "EtamError",
    "FrameResult",
    "FrameSource",
    "FrameStatus",
    "ImagePrediction",
    "ImagePredictor",
    "LiveTracker",
    "ModelError",
    "ObjectResult",
    "Progress",
    "Prompt",
    "TrackEvent",
    "VideoSession",
    "WeightsUnavailableError",
    "build_model",
    "get_config",
    "infer_variants",
    "load_model",
    "read_checkpoint",
    "save_checkpoint",
    "tiny_test_config",
]
