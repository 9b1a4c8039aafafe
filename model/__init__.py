"""EfficientTAM: the network, its checkpoints, and tracking sessions built on it.

This is the bottom layer: it imports torch, numpy and Pillow only.
"""

from etam_plugin.model.config import (
    ATTENTION_MODES,
    OFFICIAL_VARIANTS,
    VARIANTS,
    AttentionMode,
    EfficientTAMConfig,
    get_config,
)
from etam_plugin.model.errors import CheckpointError, EtamError, ModelError
from etam_plugin.model.types import (
    FrameResult,
    FrameSource,
    FrameStatus,
    ObjectResult,
    Progress,
    Prompt,
)

__all__ = [
    "ATTENTION_MODES",
    "OFFICIAL_VARIANTS",
    "VARIANTS",
    "AttentionMode",
    "CheckpointError",
    "EfficientTAMConfig",
    "EtamError",
    "FrameResult",
    "FrameSource",
    "FrameStatus",
    "ModelError",
    "ObjectResult",
    "Progress",
    "Prompt",
    "get_config",
]
