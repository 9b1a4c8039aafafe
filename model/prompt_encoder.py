"""Prompt encoder: clicks and box corners → sparse tokens; a low-res mask → a dense map.

Point labels: 1 positive, 0 negative, 2/3 box top-left/bottom-right corners, -1 padding.
Coordinates are pixels of the model's square input (``image_size``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from etam_plugin.model.layers import LayerNorm2d
from etam_plugin.model.position import RandomFourierEncoding

PAD_LABEL = -1


class PromptEncoder(nn.Module):
    def __init__(self, embed_dim: int, feature_size: int, image_size: int, mask_in_chans: int):
        super().__init__()
        self.embed_dim = embed_dim
        self.feature_size = feature_size
        self.image_size = image_size
        self.pe_layer = RandomFourierEncoding(embed_dim // 2)
        # One learned embedding per label: negative, positive, box corner 1, box corner 2.
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    @property
    def mask_input_size(self) -> int:
        """Side of the low-res mask prompt (4× the feature grid, like decoder outputs)."""
        return 4 * self.feature_size

    def dense_pe(self) -> Tensor:
        """Position encoding of the feature grid: (1, C, h, w)."""
        return self.pe_layer.grid(self.feature_size, self.feature_size)[None]

    def embed_points(self, points_xy: Tensor, labels: Tensor) -> Tensor:
        """(B, N, 2) pixel coords and (B, N) labels → (B, N + 1, C) tokens.

        A padding token is always appended, as the network was trained with it.
        """
        b = points_xy.shape[0]
        pad_xy = torch.zeros(b, 1, 2, device=points_xy.device, dtype=points_xy.dtype)
        pad_label = torch.full((b, 1), PAD_LABEL, device=labels.device, dtype=labels.dtype)
        points_xy = torch.cat([points_xy + 0.5, pad_xy], dim=1)  # +0.5: pixel centres
        labels = torch.cat([labels, pad_label], dim=1)
        tokens = self.pe_layer.encode(points_xy.float() / self.image_size)
        is_pad = (labels == PAD_LABEL)[..., None]
        tokens = torch.where(is_pad, self.not_a_point_embed.weight, tokens)
        for label, table in enumerate(self.point_embeddings):
            tokens = tokens + (labels == label)[..., None] * table.weight
        return tokens

    def forward(
        self, points_xy: Tensor, labels: Tensor, mask_logits: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Sparse tokens (B, N + 1, C) and dense embedding (B, C, h, w).

        ``mask_logits`` (B, 1, 4h, 4w) is an optional previous low-res mask prompt.
        """
        sparse = self.embed_points(points_xy, labels)
        if mask_logits is not None:
            dense = self.mask_downscaling(mask_logits)
        else:
            b, s = points_xy.shape[0], self.feature_size
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, s, s)
        return sparse, dense
