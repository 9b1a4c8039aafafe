"""Builds the reference implementation (PyPI ``efficient-track-anything==1.0``, imported as
``sam2``) from our configs, as a test and benchmark oracle only (dev extra; never used by
the product).

The wheel ships no YAML configs, so its classes are constructed directly with the
hyper-parameters of the official configs (taken from our ``EfficientTAMConfig``). ``sam2``
is imported lazily inside the builders: importing it runs ``hydra.initialize`` at import time,
which must not happen while collecting tests that do not need it.
"""

from __future__ import annotations

from typing import Any

import torch

from etam_plugin.model.config import EfficientTAMConfig

# Memory cross-attention class of the reference for each of our modes (window 2 only).
REFERENCE_CROSS_ATTENTION = {
    "full": "RoPEAttention",
    "pooled": "EfficientRoPEAttention1",
    "pooled-keys": "EfficientRoPEAttention2",
}


def _reference_kwargs(config: EfficientTAMConfig) -> dict[str, Any]:
    from sam2.modeling.backbones.image_encoder import ImageEncoder, ViTDetNeck
    from sam2.modeling.backbones.vitdet import ViT
    from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
    from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
    from sam2.modeling.position_encoding import PositionEmbeddingSine
    from sam2.modeling.sam import transformer

    enc = config.encoder
    mem = config.memory_attention
    if mem.mode != "full" and mem.pool_window != 2:
        raise ValueError("the reference pools with a fixed 2×2 window")
    windowed = [i for i in range(enc.depth) if i not in enc.global_blocks]
    trunk = ViT(
        patch_size=enc.patch_size,
        embed_dim=enc.embed_dim,
        depth=enc.depth,
        num_heads=enc.num_heads,
        mlp_ratio=enc.mlp_ratio,
        qkv_bias=True,
        drop_path_rate=0.0,
        use_rel_pos=False,
        window_size=enc.window_size,
        window_block_indexes=windowed,
        pretrain_img_size=enc.pos_embed_grid * enc.patch_size,
        pretrain_use_cls_token=enc.pos_embed_cls_token,
    )
    neck = ViTDetNeck(
        position_encoding=PositionEmbeddingSine(
            num_pos_feats=enc.neck_dim, normalize=True, scale=None, temperature=10000
        ),
        d_model=enc.neck_dim,
        backbone_channel_list=[enc.embed_dim],
        neck_norm="LN",
    )
    feat = config.feature_size
    self_attn = transformer.RoPEAttention(
        rope_theta=mem.rope_theta,
        feat_sizes=[feat, feat],
        embedding_dim=mem.d_model,
        num_heads=mem.num_heads,
        downsample_rate=1,
        dropout=0.1,
    )
    cross_cls = getattr(transformer, REFERENCE_CROSS_ATTENTION[mem.mode])
    cross_attn = cross_cls(
        rope_theta=mem.rope_theta,
        feat_sizes=[feat, feat],
        rope_k_repeat=True,
        embedding_dim=mem.d_model,
        num_heads=mem.num_heads,
        downsample_rate=1,
        dropout=0.1,
        kv_in_dim=mem.kv_dim,
    )
    layer = MemoryAttentionLayer(
        activation="relu",
        cross_attention=cross_attn,
        d_model=mem.d_model,
        dim_feedforward=mem.ffn_dim,
        dropout=0.1,
        pos_enc_at_attn=False,
        pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False,
        self_attention=self_attn,
    )
    memory_attention = MemoryAttention(
        d_model=mem.d_model, pos_enc_at_input=True, layer=layer, num_layers=mem.num_layers
    )
    memory_encoder = MemoryEncoder(
        out_dim=config.mem_dim,
        position_encoding=PositionEmbeddingSine(
            num_pos_feats=config.mem_dim, normalize=True, scale=None, temperature=10000
        ),
        mask_downsampler=MaskDownSampler(kernel_size=3, stride=2, padding=1),
        fuser=Fuser(
            layer=CXBlock(
                dim=config.hidden_dim,
                kernel_size=7,
                padding=3,
                layer_scale_init_value=1e-6,
                use_dwconv=True,
            ),
            num_layers=2,
        ),
    )
    return dict(
        image_encoder=ImageEncoder(trunk=trunk, neck=neck, scalp=0),
        memory_attention=memory_attention,
        memory_encoder=memory_encoder,
        num_maskmem=config.num_maskmem,
        image_size=config.image_size,
        sigmoid_scale_for_mem_enc=config.sigmoid_scale_for_mem_enc,
        sigmoid_bias_for_mem_enc=config.sigmoid_bias_for_mem_enc,
        binarize_mask_from_pts_for_mem_enc=config.binarize_mask_from_pts_for_mem_enc,
        use_mask_input_as_output_without_sam=True,
        directly_add_no_mem_embed=True,
        use_high_res_features_in_sam=False,
        multimask_output_in_sam=True,
        iou_prediction_use_sigmoid=True,
        use_obj_ptrs_in_encoder=True,
        add_tpos_enc_to_obj_ptrs=False,
        only_obj_ptrs_in_the_past_for_eval=True,
        pred_obj_scores=True,
        pred_obj_scores_mlp=True,
        fixed_no_obj_ptr=True,
        multimask_output_for_tracking=True,
        use_multimask_token_for_obj_ptr=True,
        multimask_min_pt_num=config.multimask_min_pt_num,
        multimask_max_pt_num=config.multimask_max_pt_num,
        use_mlp_for_obj_ptr_proj=True,
        sam_mask_decoder_extra_args={
            "dynamic_multimask_via_stability": config.dynamic_multimask_via_stability,
            "dynamic_multimask_stability_delta": config.dynamic_multimask_stability_delta,
            "dynamic_multimask_stability_thresh": config.dynamic_multimask_stability_thresh,
        },
        compile_image_encoder=False,
    )


def build_reference_model(config: EfficientTAMConfig) -> torch.nn.Module:
    """The reference ``SAM2Base`` for ``config`` (random init, eval mode, CPU)."""
    from sam2.modeling.sam2_base import SAM2Base

    return SAM2Base(**_reference_kwargs(config)).eval()


def build_reference_video_predictor(config: EfficientTAMConfig) -> torch.nn.Module:
    """The reference ``SAM2VideoPredictor`` as the official video builder configures it."""
    from sam2.sam2_video_predictor import SAM2VideoPredictor

    return SAM2VideoPredictor(**_reference_kwargs(config)).eval()


def shaped_random_state_dict(config: EfficientTAMConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded random weights in the official layout, shaped so that parity tests mean
    something: with plain random init the object-score head says "absent" (masks become a
    constant) and mask logits stay below 1 in magnitude. A positive object-score bias and a
    larger output hypernetwork make objects present and logits of useful size."""
    torch.manual_seed(seed)
    sd = {k: v.clone() for k, v in build_reference_model(config).state_dict().items()}
    generator = torch.Generator().manual_seed(seed + 1)
    last = "sam_mask_decoder.pred_obj_score_head.layers.2"
    sd[f"{last}.bias"] += 4.0
    for i in range(config.decoder.num_multimask_outputs + 1):
        key = f"sam_mask_decoder.output_hypernetworks_mlps.{i}.layers.2.weight"
        sd[key] = sd[key] * 8.0 + 0.05 * torch.randn(sd[key].shape, generator=generator)
    # Make memory matter: larger temporal embeddings and memory-encoder output.
    sd["maskmem_tpos_enc"] = sd["maskmem_tpos_enc"] * 10.0
    return sd
