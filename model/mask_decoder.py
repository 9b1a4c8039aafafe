"""Mask decoder: output tokens + image features → mask logits, IoU estimates, object score.

Token layout (as trained): [object-score, IoU, mask 0 (single), masks 1..3 (multi), prompts].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from etam_plugin.model.config import DecoderConfig
from etam_plugin.model.layers import MLP, LayerNorm2d
from etam_plugin.model.two_way_transformer import TwoWayTransformer


@dataclass(frozen=True)
class DecoderOutput:
    """``masks`` (B, M, 4h, 4w) logits; ``iou`` (B, M); ``tokens`` (B, M', C) the output
    tokens for the object pointer; ``object_score`` (B, 1) presence logit."""

    masks: Tensor
    iou: Tensor
    tokens: Tensor
    object_score: Tensor


class MaskDecoder(nn.Module):
    def __init__(
        self,
        dim: int,
        config: DecoderConfig,
        *,
        stability_delta: float,
        stability_thresh: float,
        dynamic_multimask: bool,
    ) -> None:
        super().__init__()
        n_masks = config.num_multimask_outputs + 1
        self.num_mask_tokens = n_masks
        self.transformer = TwoWayTransformer(
            config.depth, dim, config.num_heads, config.mlp_dim, downsample_rate=2
        )
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(n_masks, dim)
        self.obj_score_token = nn.Embedding(1, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, 3) for _ in range(n_masks)
        )
        self.iou_prediction_head = MLP(
            dim, config.iou_head_hidden_dim, n_masks, config.iou_head_depth, sigmoid_output=True
        )
        self.pred_obj_score_head = MLP(dim, dim, 1, 3)
        self.stability_delta = stability_delta
        self.stability_thresh = stability_thresh
        self.dynamic_multimask = dynamic_multimask

    def forward(
        self,
        image_bchw: Tensor,
        image_pe: Tensor,
        sparse: Tensor,
        dense: Tensor,
        multimask: bool,
    ) -> DecoderOutput:
        """``image_bchw`` one feature map per prompt set; ``image_pe`` (1, C, h, w)."""
        b, c, h, w = image_bchw.shape
        out_tokens = torch.cat(
            [self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight]
        )
        tokens = torch.cat([out_tokens.expand(b, -1, -1), sparse], dim=1)
        hs, image = self.transformer(image_bchw + dense, image_pe.expand(b, -1, -1, -1), tokens)
        mask_tokens = hs[:, 2 : 2 + self.num_mask_tokens]

        upscaled = self.output_upscaling(image.transpose(1, 2).reshape(b, c, h, w))
        hyper = torch.stack(
            [mlp(mask_tokens[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        masks = (hyper @ upscaled.flatten(2)).unflatten(-1, upscaled.shape[-2:])
        iou = self.iou_prediction_head(hs[:, 1])
        object_score = self.pred_obj_score_head(hs[:, 0])

        if multimask:
            return DecoderOutput(masks[:, 1:], iou[:, 1:], mask_tokens[:, 1:], object_score)
        if self.dynamic_multimask and not self.training:
            masks, iou = self._stable_single_mask(masks, iou)
        else:
            masks, iou = masks[:, :1], iou[:, :1]
        return DecoderOutput(masks, iou, mask_tokens[:, :1], object_score)

    def _stable_single_mask(self, masks: Tensor, iou: Tensor) -> tuple[Tensor, Tensor]:
        """Keep the single-mask output where it is stable under a small threshold shift;
        elsewhere fall back to the multimask output with the best IoU estimate."""
        single = masks[:, :1].flatten(-2)
        inner = (single > self.stability_delta).sum(-1).float()
        outer = (single > -self.stability_delta).sum(-1).float()
        stability = torch.where(outer > 0, inner / outer, 1.0)
        stable = stability >= self.stability_thresh  # (B, 1)

        best = iou[:, 1:].argmax(-1)
        rows = torch.arange(masks.shape[0], device=masks.device)
        best_mask = masks[:, 1:][rows, best][:, None]
        best_iou = iou[:, 1:][rows, best][:, None]
        masks = torch.where(stable[..., None, None], masks[:, :1], best_mask)
        iou = torch.where(stable, iou[:, :1], best_iou)
        return masks, iou
