"""Loading a network from an official checkpoint file (strictly, never executing pickles)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from etam_plugin.model.checkpoint import (
    check_state_dict,
    convert_official,
    infer_variants,
    read_checkpoint,
)
from etam_plugin.model.config import AttentionMode, get_config
from etam_plugin.model.efficienttam import EfficientTAM, build_model
from etam_plugin.model.errors import CheckpointError


def load_model(
    checkpoint: str | os.PathLike[str],
    variant: str | None = None,
    *,
    attention: AttentionMode | None = None,
    pool_window: int | None = None,
    device: torch.device | str = "cpu",
) -> EfficientTAM:
    """Builds the network for ``variant`` and loads ``checkpoint`` into it (strict).

    Without ``variant`` it is inferred from the tensor shapes and the official file name;
    shapes alone only tell ViT-Tiny from ViT-Small, so an unofficial file name that leaves
    several candidates is an error that lists them. ``attention``/``pool_window`` choose the
    memory cross-attention mode at run time (default: the variant's own).
    Weights stay float32; reduced precision is applied at run time (autocast).
    """
    path = Path(checkpoint)
    state_dict = convert_official(read_checkpoint(path))
    if variant is None:
        candidates = infer_variants(state_dict, filename=path.name)
        if len(candidates) != 1:
            raise CheckpointError(
                f"{path}: cannot tell which variant this checkpoint is from its tensors and "
                f"file name; it could be {', '.join(candidates)} — give the variant",
                path=path,
                reason="ambiguous-variant",
                found_variant=", ".join(candidates),
            )
        variant = candidates[0]
    config = get_config(variant, attention=attention, pool_window=pool_window)
    model = build_model(config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    check_state_dict(expected, state_dict, path=path, variant=variant)
    model.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
    return model.to(device).eval()
