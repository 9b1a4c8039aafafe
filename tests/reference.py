"""The reference oracle for tests: re-exported from ``etam_plugin.bench._reference_oracle``
(the benchmarks compare against it too)."""

from etam_plugin.bench._reference_oracle import (
    REFERENCE_CROSS_ATTENTION,
    build_reference_model,
    build_reference_video_predictor,
    shaped_random_state_dict,
)

__all__ = [
    "REFERENCE_CROSS_ATTENTION",
    "build_reference_model",
    "build_reference_video_predictor",
    "shaped_random_state_dict",
]
