"""Network configurations: frozen dataclasses built by named factories, one per variant.

No hydra/omegaconf: global config state breaks host processes (OBS, editors). The numbers
are those of the official EfficientTAM configs (``efficienttam_*.yaml``); the memory
cross-attention mode is a run-time choice, so any checkpoint can run in any mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

AttentionMode = Literal["full", "pooled", "pooled-keys"]
"""Memory cross-attention: ``full`` (paper Eq. 1), ``pooled`` (Eq. 5: ln(l·l) added to the
logits of l×l average-pooled memory tokens; exact for piecewise-constant memories),
``pooled-keys`` (Eq. 6: ln(l·l) added to the pooled keys, as the ``_2`` checkpoints were
trained)."""

ATTENTION_MODES: tuple[str, ...] = get_args(AttentionMode)
POOL_WINDOWS: tuple[int, ...] = (2, 4)


@dataclass(frozen=True)
class ViTConfig:
    """Plain ViT trunk (ViTDet style) and the neck that maps it to ``neck_dim`` channels."""

    embed_dim: int
    num_heads: int
    depth: int = 12
    mlp_ratio: float = 4.0
    patch_size: int = 16
    window_size: int = 14
    global_blocks: tuple[int, ...] = (2, 5, 8, 11)
    # Absolute position embedding as trained: a 224/16 = 14×14 grid plus a class token.
    pos_embed_grid: int = 14
    pos_embed_cls_token: bool = True
    neck_dim: int = 256


@dataclass(frozen=True)
class MemoryAttentionConfig:
    """Memory attention: self-attention then cross-attention to memories, ``num_layers`` times."""

    d_model: int = 256
    num_layers: int = 4
    ffn_dim: int = 2048
    num_heads: int = 1
    rope_theta: float = 10000.0
    kv_dim: int = 64
    mode: AttentionMode = "full"
    pool_window: int = 2


@dataclass(frozen=True)
class DecoderConfig:
    """SAM mask decoder and prompt encoder sizes (fixed across the official variants)."""

    depth: int = 2
    num_heads: int = 8
    mlp_dim: int = 2048
    num_multimask_outputs: int = 3
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    mask_in_chans: int = 16


@dataclass(frozen=True)
class EfficientTAMConfig:
    """Everything needed to build the network and run tracking with it."""

    name: str
    image_size: int
    encoder: ViTConfig
    memory_attention: MemoryAttentionConfig = field(default_factory=MemoryAttentionConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    checkpoint_file: str | None = None
    """File name of the official weights in the Hugging Face repo (None: no release)."""
    backbone_stride: int = 16
    mem_dim: int = 64
    num_maskmem: int = 7
    max_obj_ptrs_in_encoder: int = 16
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    # Settings the official video predictor builder applies on top of the yaml files.
    binarize_mask_from_pts_for_mem_enc: bool = True
    dynamic_multimask_via_stability: bool = True
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98
    # Multimask on the first click only (a box counts as two points).
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    max_cond_frames_in_attn: int = -1
    memory_temporal_stride: int = 1

    @property
    def hidden_dim(self) -> int:
        return self.encoder.neck_dim

    @property
    def feature_size(self) -> int:
        """Side of the square image-feature grid (32 at 512, 64 at 1024)."""
        return self.image_size // self.backbone_stride

    @property
    def attention_mode(self) -> AttentionMode:
        return self.memory_attention.mode

    def with_attention(
        self, mode: AttentionMode | None = None, pool_window: int | None = None
    ) -> EfficientTAMConfig:
        """The same network with another memory cross-attention mode (no new parameters)."""
        mode = self.memory_attention.mode if mode is None else mode
        pool_window = self.memory_attention.pool_window if pool_window is None else pool_window
        if mode not in ATTENTION_MODES:
            raise ValueError(f"attention mode {mode!r} is not one of {', '.join(ATTENTION_MODES)}")
        if pool_window not in POOL_WINDOWS:
            raise ValueError(f"pool window {pool_window} is not one of {POOL_WINDOWS}")
        if mode != "full" and self.feature_size % pool_window:
            raise ValueError(
                f"pool window {pool_window} does not divide the {self.feature_size}² feature grid"
            )
        attn = replace(self.memory_attention, mode=mode, pool_window=pool_window)
        return replace(self, memory_attention=attn)


_VIT_TI = ViTConfig(embed_dim=192, num_heads=3)
_VIT_S = ViTConfig(embed_dim=384, num_heads=6)


def _official(name: str, vit: ViTConfig, size: int, mode: AttentionMode) -> EfficientTAMConfig:
    return EfficientTAMConfig(
        name=name,
        image_size=size,
        encoder=vit,
        memory_attention=MemoryAttentionConfig(mode=mode),
        checkpoint_file=f"efficienttam_{name}.pt",
    )


_FACTORIES: dict[str, Callable[[], EfficientTAMConfig]] = {
    "ti": lambda: _official("ti", _VIT_TI, 1024, "full"),
    "ti_1": lambda: _official("ti_1", _VIT_TI, 1024, "pooled"),
    "ti_2": lambda: _official("ti_2", _VIT_TI, 1024, "pooled-keys"),
    "ti_512x512": lambda: _official("ti_512x512", _VIT_TI, 512, "full"),
    "s": lambda: _official("s", _VIT_S, 1024, "full"),
    "s_1": lambda: _official("s_1", _VIT_S, 1024, "pooled"),
    "s_2": lambda: _official("s_2", _VIT_S, 1024, "pooled-keys"),
    "s_512x512": lambda: _official("s_512x512", _VIT_S, 512, "full"),
    # EfficientTAM-Mobile: the released ti_512x512 weights at 512² with 2×2 pooled-keys
    # memory attention (pooling adds no parameters).
    "mobile": lambda: replace(_official("ti_512x512", _VIT_TI, 512, "pooled-keys"), name="mobile"),
}

VARIANTS: tuple[str, ...] = tuple(_FACTORIES)
OFFICIAL_VARIANTS: tuple[str, ...] = tuple(v for v in VARIANTS if v != "mobile")


def get_config(
    variant: str, *, attention: AttentionMode | None = None, pool_window: int | None = None
) -> EfficientTAMConfig:
    """The configuration of a named variant, optionally with another attention mode."""
    try:
        factory = _FACTORIES[variant]
    except KeyError:
        raise ValueError(
            f"unknown variant {variant!r}; known variants: {', '.join(VARIANTS)}"
        ) from None
    config = factory()
    if attention is not None or pool_window is not None:
        config = config.with_attention(attention, pool_window)
    return config


def tiny_test_config(image_size: int = 128, mode: AttentionMode = "full") -> EfficientTAMConfig:
    """A very small network of the same architecture, for fast unit tests only.

    Its outputs mean nothing; it exercises shapes, state handling and bookkeeping.
    """
    return EfficientTAMConfig(
        name="tiny-test",
        image_size=image_size,
        encoder=ViTConfig(
            embed_dim=32, num_heads=2, depth=2, global_blocks=(1,), window_size=4, neck_dim=32
        ),
        memory_attention=MemoryAttentionConfig(
            d_model=32, num_layers=1, ffn_dim=64, kv_dim=16, mode=mode
        ),
        decoder=DecoderConfig(num_heads=2, mlp_dim=64, iou_head_hidden_dim=32, mask_in_chans=4),
        mem_dim=16,
    )
