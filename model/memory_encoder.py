"""Memory encoder: fuses a frame's features with its predicted mask into a compact memory.

mask (B, 1, S, S) → strided convs to the feature grid → added to projected features →
two ConvNeXt blocks → 1×1 projection to ``mem_dim`` channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from etam_plugin.model.layers import LayerNorm2d
from etam_plugin.model.position import sine_position_map


class MaskDownSampler(nn.Module):
    """Four stride-2 3×3 convs (channels ×4 each) then a 1×1 conv: S → S/16."""

    def __init__(self, out_dim: int, total_stride: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential()
        channels = 1
        while total_stride > 1:
            nxt = channels * 4
            self.encoder.append(nn.Conv2d(channels, nxt, kernel_size=3, stride=2, padding=1))
            self.encoder.append(LayerNorm2d(nxt))
            self.encoder.append(nn.GELU())
            channels, total_stride = nxt, total_stride // 2
        self.encoder.append(nn.Conv2d(channels, out_dim, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise 7×7, channel LN, pointwise MLP (×4), layer scale, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(y))) * self.gamma
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    def __init__(self, dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim) for _ in range(num_layers))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(in_dim)
        self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1)

    def forward(self, features_bchw: Tensor, mask_b1hw: Tensor) -> tuple[Tensor, Tensor]:
        """``mask_b1hw`` is already scaled for memory (e.g. 20·sigmoid(logits) − 10).

        Returns the memory (B, mem_dim, h, w) and its sine position map (same shape).
        """
        x = self.pix_feat_proj(features_bchw) + self.mask_downsampler(mask_b1hw)
        x = self.out_proj(self.fuser(x))
        b, c, h, w = x.shape
        pos = sine_position_map(c, h, w, device=x.device, dtype=x.dtype)
        return x, pos.expand(b, c, h, w)
