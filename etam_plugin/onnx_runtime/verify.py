"""How faithful an export is: every stage on ONNX Runtime against the torch network, and
int8 graphs against fp32 ones, on the same inputs.

``compare_stages`` covers each graph's cases (single and multimask, box and clicks, mask
prompts, both memory binarisations, several memory frames with pointers, a single memory
frame, no pointers); ``export-onnx`` records its numbers in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from etam_plugin.model import EfficientTAM, MemoryInput
from etam_plugin.onnx_runtime.stages import OnnxStages


def _diff(ours: np.ndarray, ref: torch.Tensor) -> float:
    ref_np = ref.detach().float().cpu().numpy()
    if np.shape(ours) != ref_np.shape:
        raise AssertionError(f"shape {np.shape(ours)} vs torch {ref_np.shape}")
    return float(np.abs(np.asarray(ours, np.float32) - ref_np).max())


@torch.inference_mode()
def compare_stages(
    net: EfficientTAM, stages: OnnxStages, *, seed: int = 0, objects: int = 2
) -> dict[str, float]:
    """Max |ORT − torch| of every stage output, on seeded random inputs of the real sizes
    (``objects`` prompt sets / memories in a batch)."""
    cfg = net.config
    s, h, c = cfg.image_size, cfg.feature_size, cfg.hidden_dim
    gen = torch.Generator().manual_seed(seed)
    b = objects
    out: dict[str, float] = {}

    image = torch.randn(1, 3, s, s, generator=gen)
    feats, pos = net.encode_image(image)
    o_feats, o_pos = stages.encode_image(image.numpy())
    out["image_encoder.features"] = _diff(o_feats, feats)
    out["image_encoder.pos"] = _diff(o_pos, pos)
    feats, pos = feats.expand(b, -1, -1, -1), pos.expand(b, -1, -1, -1)
    f_np = np.ascontiguousarray(feats.numpy())
    p_np = np.ascontiguousarray(pos.numpy())

    conditioned = net.condition_on_memory(feats, pos, None)
    out["no_memory"] = _diff(stages.condition_no_memory(f_np), conditioned)

    box_click = torch.tensor([[0.2, 0.25], [0.7, 0.8], [0.45, 0.5]]) * s
    points = box_click.expand(b, -1, -1).contiguous()
    labels = torch.tensor([[2, 3, 1]] * b, dtype=torch.int32)
    labels[1:, 2] = 0
    prev = torch.randn(b, 1, 4 * h, 4 * h, generator=gen) * 8
    fields = ("masks", "candidates", "iou", "score", "obj_ptr", "object_score")
    for multimask in (True, False):
        for mask in (None, prev):
            ref = net.predict_masks(conditioned, points, labels, mask, multimask)
            got = stages.predict_masks(
                conditioned.numpy(),
                points.numpy(),
                labels.numpy(),
                None if mask is None else mask.numpy(),
                multimask,
            )
            key = f"prompt_decoder.{'multi' if multimask else 'single'}" + (
                "+mask" if mask is not None else ""
            )
            out[key] = max(_diff(getattr(got, n), getattr(ref, n)) for n in fields)
    got_masks = stages.predict_masks(conditioned.numpy()).masks
    out["prompt_decoder.no_points"] = _diff(got_masks, net.predict_masks(conditioned).masks)

    mask = torch.zeros(b, 1, s, s)
    mask[0, :, s // 4 : s // 2, s // 3 : s // 2 + 5] = 1.0  # the last object's mask is empty
    ref = net.mask_as_output(feats, mask)
    got = stages.mask_as_output(f_np, mask.numpy())
    out["mask_prompt"] = max(
        _diff(getattr(got, n), getattr(ref, n)) for n in ("masks", "obj_ptr", "object_score")
    )

    high = torch.randn(b, 1, s, s, generator=gen) * 8
    for binarize in (True, False):
        ref = net.encode_memory(feats, high, from_points=binarize)
        got = stages.encode_memory(f_np, high.numpy(), binarize)
        out[f"memory_encoder.{'binarized' if binarize else 'soft'}"] = _diff(got, ref)

    memories = [
        net.encode_memory(feats, torch.randn(b, 1, s, s, generator=gen) * 8, from_points=False)
        for _ in range(4)
    ]
    ref_prepared = [net.prepare_memory(m) for m in memories]
    got_prepared = [stages.prepare_memory(m.numpy()) for m in memories]
    out["memory_prepare.keys"] = max(
        _diff(g, r)
        for gp, rp in zip(got_prepared, ref_prepared, strict=True)
        for g, r in zip(gp.keys, rp.keys, strict=True)
    )

    pointers = torch.randn(b, 6, c, generator=gen)
    cases = {
        "memory_attention.4_frames_6_pointers": ([6, 2, 1, 0], 6),
        "memory_attention.2_frames_no_pointers": ([6, 0], 0),
        "memory_attention.1_frame_1_pointer": ([6], 1),
    }
    for key, (ages, n_ptr) in cases.items():
        frames = list(zip(ref_prepared, ages, strict=False))
        ref = net.condition_on_memory(
            feats, pos, MemoryInput(frames, pointers[:, :n_ptr] if n_ptr else None)
        )
        got = stages.condition_on_memory(
            f_np,
            p_np,
            list(zip(got_prepared, ages, strict=False)),
            pointers[:, :n_ptr].numpy() if n_ptr else None,
        )
        out[key] = _diff(got, ref)
    return out


@dataclass(frozen=True)
class Agreement:
    """int8 against fp32 on the same inputs: IoU of the masks (logits > 0) and the largest
    logit difference, on a prompted frame and on a frame tracked from its memory."""

    prompted_iou: float
    prompted_logit_error: float
    tracked_iou: float
    tracked_logit_error: float


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a > 0, b > 0).sum()
    return 1.0 if union == 0 else float(np.logical_and(a > 0, b > 0).sum() / union)


def int8_agreement(
    fp32: OnnxStages, int8: OnnxStages, image_b3ss: np.ndarray, next_image_b3ss: np.ndarray
) -> Agreement:
    """Prompts the centre of ``image`` (box around it), then tracks on ``next_image`` with
    that frame as memory, in both precisions."""
    s = fp32.manifest.image_size
    points = np.array([[[0.3 * s, 0.3 * s], [0.7 * s, 0.7 * s], [0.5 * s, 0.5 * s]]], np.float32)
    labels = np.array([[2, 3, 1]], np.int32)
    results = []
    for stages in (fp32, int8):
        feats, _ = stages.encode_image(image_b3ss)
        prompted = stages.predict_masks(
            stages.condition_no_memory(feats), points, labels, multimask=False
        )
        scale = s // prompted.masks.shape[-1]  # nearest upscaling: the same in both runs
        high = np.repeat(np.repeat(prompted.masks, scale, -1), scale, -2)
        memory = stages.prepare_memory(stages.encode_memory(feats, high, True))
        next_feats, next_pos = stages.encode_image(next_image_b3ss)
        conditioned = stages.condition_on_memory(
            next_feats, next_pos, [(memory, 6)], prompted.obj_ptr[:, None]
        )
        tracked = stages.predict_masks(conditioned, multimask=True)
        results.append((prompted.masks, tracked.masks))
    (p32, t32), (p8, t8) = results
    return Agreement(
        prompted_iou=_iou(p32, p8),
        prompted_logit_error=float(np.abs(p32 - p8).max()),
        tracked_iou=_iou(t32, t8),
        tracked_logit_error=float(np.abs(t32 - t8).max()),
    )
