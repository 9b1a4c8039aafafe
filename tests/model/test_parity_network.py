"""Parity of our network's stages with the reference implementation (same random weights).

Tolerance: max |logit difference| ≤ 1e-3 in fp32 (the issue's bar); features are compared
at the same bar. Weights are seeded random, shaped so objects are present and logits are of
useful size (see ``tests/reference.py``); each test also checks its masks are non-trivial.
"""

from __future__ import annotations

import math

import pytest
import torch

from etam_plugin.model.config import EfficientTAMConfig, get_config
from etam_plugin.model.efficienttam import EfficientTAM, build_model
from etam_plugin.model.memory_attention import MemoryInput
from tests.reference import (
    REFERENCE_CROSS_ATTENTION,
    build_reference_model,
    shaped_random_state_dict,
)

pytestmark = pytest.mark.parity
TOL = 1e-3


def _pair(config: EfficientTAMConfig, seed: int = 0) -> tuple[EfficientTAM, torch.nn.Module]:
    sd = shaped_random_state_dict(config, seed)
    ref = build_reference_model(config)
    ref.load_state_dict(sd)
    ours = build_model(config)
    ours.load_state_dict(sd, strict=True)
    return ours, ref


def _assert_close(ours: torch.Tensor, ref: torch.Tensor, what: str, tol: float = TOL) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)} vs {tuple(ref.shape)}"
    diff = (ours.float() - ref.float()).abs().max().item()
    assert diff <= tol, f"{what}: max |diff| {diff:.2e} > {tol:.0e}"


def _nontrivial(logits: torch.Tensor) -> None:
    """Masks must have both inside and outside pixels and logits of useful size."""
    inside = (logits > 0).float().mean().item()
    assert 0.01 < inside < 0.99, f"degenerate mask: {inside:.3f} of pixels inside"
    assert logits.abs().max().item() > 1.0


def _ref_points(points: torch.Tensor, labels: torch.Tensor) -> dict:
    return {"point_coords": points, "point_labels": labels}


@pytest.fixture(scope="module", params=["ti_512x512", "s"])
def pair(request):
    config = get_config(request.param)
    ours, ref = _pair(config)
    images = torch.randn(
        1, 3, config.image_size, config.image_size, generator=torch.Generator().manual_seed(3)
    )
    with torch.inference_mode():
        feats, pos = ours.encode_image(images)
        ref_out = ref.image_encoder(images)
    return config, ours, ref, feats, pos, ref_out


def test_image_encoder_features_match(pair) -> None:
    _, _, _, feats, pos, ref_out = pair
    _assert_close(feats, ref_out["vision_features"], "image features")
    _assert_close(pos, ref_out["vision_pos_enc"][0], "feature position map")


@torch.inference_mode()
def test_single_click_multimask_matches(pair) -> None:
    config, ours, ref, feats, _, ref_out = pair
    s = config.image_size
    points = torch.tensor([[[0.4 * s, 0.55 * s]]])
    labels = torch.tensor([[1]], dtype=torch.int32)
    conditioned = feats + ours.no_mem_embed.view(1, -1, 1, 1)
    mine = ours.predict_masks(conditioned, points, labels, multimask=True)
    theirs = ref._forward_sam_heads(
        backbone_features=ref_out["vision_features"] + ref.no_mem_embed.view(1, -1, 1, 1),
        point_inputs=_ref_points(points, labels),
        multimask_output=True,
    )
    low_multi, _, ious, low_best, high_best, obj_ptr, obj_score = theirs
    _assert_close(mine.candidates, low_multi, "multimask logits")
    _assert_close(mine.iou, ious, "IoU estimates")
    _assert_close(mine.masks, low_best, "chosen mask")
    _assert_close(mine.masks_high_res, high_best, "chosen mask, high res")
    _assert_close(mine.obj_ptr, obj_ptr, "object pointer")
    _assert_close(mine.object_score, obj_score, "object score")
    _nontrivial(mine.masks)


@pytest.mark.parametrize("multimask", [True, False])
@torch.inference_mode()
def test_box_with_click_matches(pair, multimask: bool) -> None:
    config, ours, ref, feats, _, ref_out = pair
    s = config.image_size
    # A box is two corner points (labels 2, 3) placed before the clicks.
    points = torch.tensor([[[0.2 * s, 0.25 * s], [0.7 * s, 0.8 * s], [0.45 * s, 0.5 * s]]])
    labels = torch.tensor([[2, 3, 0]], dtype=torch.int32)
    mine = ours.predict_masks(feats, points, labels, multimask=multimask)
    theirs = ref._forward_sam_heads(
        backbone_features=ref_out["vision_features"],
        point_inputs=_ref_points(points, labels),
        multimask_output=multimask,
    )
    _assert_close(mine.candidates, theirs[0], "box mask logits")
    _assert_close(mine.iou, theirs[2], "box IoU")
    _assert_close(mine.obj_ptr, theirs[5], "box object pointer")
    _nontrivial(mine.masks)


@torch.inference_mode()
def test_mask_prompt_as_output_matches(pair) -> None:
    config, ours, ref, feats, _, ref_out = pair
    s = config.image_size
    mask = torch.zeros(1, 1, s, s)
    mask[..., s // 4 : s // 2, s // 3 : (2 * s) // 3] = 1.0
    mine = ours.mask_as_output(feats, mask)
    theirs = ref._use_mask_as_output(ref_out["vision_features"], None, mask)
    _assert_close(mine.masks, theirs[3], "mask-prompt low-res logits")
    _assert_close(mine.obj_ptr, theirs[5], "mask-prompt pointer")
    _assert_close(mine.object_score, theirs[6], "mask-prompt object score")


@pytest.mark.parametrize("project_values", [False, True], ids=["late-values", "fused"])
@pytest.mark.parametrize("mode", ["full", "pooled", "pooled-keys"])
@torch.inference_mode()
def test_tracking_step_with_memory_matches(mode: str, project_values: bool) -> None:
    """Memory encoder → memory attention over 7 memory frames and 7 pointers → decoder,
    against the reference's matching cross-attention class; both attention paths (values
    projected after mixing, as on the CPU; cached projections for a fused kernel, as on a
    GPU)."""
    config = get_config("ti_512x512", attention=mode)
    ours, ref = _pair(config, seed=1)
    assert (
        type(ref.memory_attention.layers[0].cross_attn_image).__name__
        == (REFERENCE_CROSS_ATTENTION[mode])
    )
    s, gen = config.image_size, torch.Generator().manual_seed(7)
    n_past = 7  # frames 0 (conditioning) .. 6, current frame 7
    images = torch.randn(n_past + 1, 3, s, s, generator=gen)
    feats, pos = ours.encode_image(images)

    memories, pointers, ref_outputs = [], [], {}
    for t in range(n_past):
        click = torch.tensor([[[s * (0.3 + 0.05 * t), s * 0.5]]])
        pred = ours.predict_masks(
            feats[t : t + 1] + ours.no_mem_embed.view(1, -1, 1, 1),
            click,
            torch.tensor([[1]], dtype=torch.int32),
            multimask=True,
        )
        memory = ours.encode_memory(feats[t : t + 1], pred.masks_high_res, from_points=t == 0)
        ref_memory, ref_memory_pos = ref._encode_new_memory(
            current_vision_feats=[feats[t : t + 1].flatten(2).permute(2, 0, 1)],
            feat_sizes=[feats.shape[-2:]],
            pred_masks_high_res=pred.masks_high_res,
            is_mask_from_pts=t == 0,
        )
        _assert_close(memory, ref_memory, f"memory of frame {t}")
        # The video predictor stores memories in bfloat16; both sides use those values.
        memory = memory.to(torch.bfloat16)
        memories.append(memory)
        pointers.append(pred.obj_ptr)
        ref_outputs[t] = {
            "maskmem_features": memory,
            "maskmem_pos_enc": ref_memory_pos,
            "obj_ptr": pred.obj_ptr,
        }

    current = n_past
    frames = [(ours.prepare_memory(memories[0].float(), project_values), config.num_maskmem - 1)]
    frames += [
        (ours.prepare_memory(memories[t].float(), project_values), current - t - 1)
        for t in range(1, n_past)
    ]
    ptrs = torch.stack([pointers[0], *[pointers[current - d] for d in range(1, current)]], dim=1)
    conditioned = ours.condition_on_memory(
        feats[current:], pos[current:], MemoryInput(frames=frames, pointers=ptrs)
    )
    ref_conditioned = ref._prepare_memory_conditioned_features(
        frame_idx=current,
        is_init_cond_frame=False,
        current_vision_feats=[feats[current:].flatten(2).permute(2, 0, 1)],
        current_vision_pos_embeds=[pos[current:].flatten(2).permute(2, 0, 1)],
        feat_sizes=[feats.shape[-2:]],
        output_dict={
            "cond_frame_outputs": {0: ref_outputs[0]},
            "non_cond_frame_outputs": {t: ref_outputs[t] for t in range(1, n_past)},
        },
        num_frames=20,
    )
    _assert_close(conditioned, ref_conditioned, f"memory-conditioned features ({mode})")

    mine = ours.predict_masks(conditioned, multimask=True)
    theirs = ref._forward_sam_heads(backbone_features=ref_conditioned, multimask_output=True)
    _assert_close(mine.candidates, theirs[0], f"tracked mask logits ({mode})")
    _assert_close(mine.obj_ptr, theirs[5], f"tracked object pointer ({mode})")
    _nontrivial(mine.masks)


@pytest.mark.parametrize("project_values", [False, True], ids=["late-values", "fused"])
@pytest.mark.parametrize("window", [2, 4])
@torch.inference_mode()
def test_pooled_attention_equals_full_attention_over_repeated_tokens(
    window: int, project_values: bool
) -> None:
    """Lemma 1: attention over l×l-pooled keys/values with ln(l·l) added to their logits
    (Eq. 5) equals plain attention where each pooled token is repeated l·l times.
    Pointer tokens are not pooled and get no bias."""
    config = get_config("ti_512x512", attention="pooled", pool_window=window)
    net = build_model(config)
    net.load_state_dict(shaped_random_state_dict(config.with_attention("full"), seed=2))
    attn = net.memory_attention
    cross = attn.layers[0].cross_attn_image
    side, gen = config.feature_size, torch.Generator().manual_seed(5)

    memories = [torch.randn(1, config.mem_dim, side, side, generator=gen) for _ in range(3)]
    frames = [(net.prepare_memory(m, project_values), age) for age, m in enumerate(memories)]
    ptr_tokens = torch.randn(1, 8, config.mem_dim, generator=gen)
    feats = torch.randn(1, side * side, config.hidden_dim, generator=gen)
    q = cross.heads(cross.q_proj(feats))
    tpos = net.maskmem_tpos_enc.flatten(1)

    keys = attn._keys(0, frames, tpos, ptr_tokens, True, side)  # pooled + pointers
    values = attn._values(0, frames, ptr_tokens, True)
    token_axis = 2 if project_values else 1
    n_total = values.shape[token_axis]
    n_spatial = 3 * side * side // window**2
    assert n_total == n_spatial + 8
    bias = torch.zeros(1, 1, 1, n_total)
    bias[..., :n_spatial] = math.log(window * window)
    pooled = cross(q, keys, values, bias)

    reps = window * window
    repeated_keys = torch.cat(
        [keys[:, :, :n_spatial].repeat_interleave(reps, dim=2), keys[:, :, n_spatial:]], dim=2
    )
    spatial, pointers = values.split([n_spatial, 8], dim=token_axis)
    repeated_values = torch.cat(
        [spatial.repeat_interleave(reps, dim=token_axis), pointers], dim=token_axis
    )
    full = cross(q, repeated_keys, repeated_values, None)
    _assert_close(pooled, full, f"Lemma 1 (l={window})", tol=1e-5)
