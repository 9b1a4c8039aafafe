"""Image encoder: a plain ViT trunk with windowed attention and a ViTDet-style neck.

The trunk alternates windowed blocks (14×14 windows) with global blocks; the neck maps the
last feature map to ``neck_dim`` channels. Output is one stride-16 map plus its sine position
encoding: EfficientTAM uses no high-resolution features in the decoder.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from etam_plugin.model.config import ViTConfig
from etam_plugin.model.layers import MLP, LayerNorm2d, attention
from etam_plugin.model.position import sine_position_map


class PatchEmbed(nn.Module):
    """Non-overlapping patches → tokens, channels last: (B, 3, H, W) → (B, H/p, W/p, D)."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class ViTAttention(nn.Module):
    """Multi-head self-attention over all tokens of a (B, H, W, D) grid, or over windows."""

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, h, w, d = x.shape
        qkv = self.qkv(x)  # (B, H, W, 3D), projected once per real token
        if self.window:
            out = self._windowed(qkv)
        else:
            out = self._attend(qkv.reshape(b, h * w, 3 * d)).reshape(b, h, w, d)
        return self.proj(out)

    def _attend(self, qkv: Tensor) -> Tensor:
        """(N, T, 3D) → (N, T, D)."""
        n, t, _ = qkv.shape
        q, k, v = qkv.reshape(n, t, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        out = attention(q, k, v)  # (N, heads, T, hd)
        return out.transpose(1, 2).reshape(n, t, -1)

    def _windowed(self, qkv: Tensor) -> Tensor:
        # The grid is zero-padded to a multiple of the window *before* the projection in
        # the trained network, so padded tokens carry the projection bias as their key and
        # value. We project only real tokens and fill the padding with that bias instead.
        b, h, w, c3 = qkv.shape
        s = self.window
        ph, pw = -h % s, -w % s
        if ph or pw:
            padded = self.qkv.bias.to(qkv.dtype).expand(b, h + ph, w + pw, c3).clone()
            padded[:, :h, :w] = qkv
            qkv = padded
        hp, wp = h + ph, w + pw
        windows = (
            qkv.reshape(b, hp // s, s, wp // s, s, c3)
            .permute(0, 1, 3, 2, 4, 5)
            .reshape(-1, s * s, c3)
        )
        out = self._attend(windows)
        d = out.shape[-1]
        out = (
            out.reshape(b, hp // s, wp // s, s, s, d)
            .permute(0, 1, 3, 2, 4, 5)
            .reshape(b, hp, wp, d)
        )
        return out[:, :h, :w]


class ViTBlock(nn.Module):
    """Pre-norm transformer block; ``window`` = 0 means global attention."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, window: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = ViTAttention(dim, num_heads, window)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio), dim, num_layers=2, activation=nn.GELU)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTTrunk(nn.Module):
    """Plain ViT; returns the last block's map as (B, D, H/16, W/16)."""

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        self.patch_embed = PatchEmbed(config.patch_size, config.embed_dim)
        positions = config.pos_embed_grid**2 + int(config.pos_embed_cls_token)
        self.pos_embed = nn.Parameter(torch.zeros(1, positions, config.embed_dim))
        self.blocks = nn.ModuleList(
            ViTBlock(
                config.embed_dim,
                config.num_heads,
                config.mlp_ratio,
                0 if i in config.global_blocks else config.window_size,
            )
            for i in range(config.depth)
        )

    def position_embedding(self, height: int, width: int) -> Tensor:
        """The trained 14×14 absolute embedding resized (bicubic) to the token grid."""
        pos = self.pos_embed[:, int(self.config.pos_embed_cls_token) :]
        side = self.config.pos_embed_grid
        grid = pos.reshape(1, side, side, -1)
        if (height, width) != (side, side):
            grid = F.interpolate(
                grid.permute(0, 3, 1, 2), size=(height, width), mode="bicubic", align_corners=False
            ).permute(0, 2, 3, 1)
        return grid

    def forward(self, images: Tensor) -> Tensor:
        x = self.patch_embed(images)
        x = x + self.position_embedding(x.shape[1], x.shape[2])
        for block in self.blocks:
            x = block(x)
        return x.permute(0, 3, 1, 2)


class ViTDetNeck(nn.Module):
    """1×1 conv → LN → 3×3 conv → LN, to ``neck_dim`` channels (one pyramid level)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        level = nn.Sequential()
        level.add_module("conv_1x1", nn.Conv2d(in_dim, out_dim, kernel_size=1, bias=False))
        level.add_module("norm_0", LayerNorm2d(out_dim))
        level.add_module(
            "conv_3x3", nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1, bias=False)
        )
        level.add_module("norm_1", LayerNorm2d(out_dim))
        self.convs = nn.ModuleList([level])

    def forward(self, x: Tensor) -> Tensor:
        return self.convs[0](x)


class ImageEncoder(nn.Module):
    """Trunk + neck: normalised images (B, 3, S, S) → features and their position map."""

    def __init__(self, trunk: ViTTrunk, neck: ViTDetNeck) -> None:
        super().__init__()
        self.trunk = trunk
        self.neck = neck

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Returns ``features_bchw`` (B, C, S/16, S/16) and ``pos_bchw`` (same shape)."""
        features = self.neck(self.trunk(images))
        b, c, h, w = features.shape
        pos = sine_position_map(c, h, w, device=features.device, dtype=features.dtype)
        return features, pos.expand(b, c, h, w)


def build_image_encoder(config: ViTConfig) -> ImageEncoder:
    return ImageEncoder(ViTTrunk(config), ViTDetNeck(config.embed_dim, config.neck_dim))
