"""Image encoder: a plain ViT trunk with windowed attention and a ViTDet-style neck.

The trunk alternates windowed blocks (14×14 windows) with global blocks; the neck maps the
last feature map to ``neck_dim`` channels. Output is one stride-16 map plus its sine position
encoding: EfficientTAM uses no high-resolution features in the decoder.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from etam_plugin.model.config import ViTConfig
from etam_plugin.model.layers import MLP, LayerNorm2d, attention
from etam_plugin.model.position import graph_exporting, sine_position_map


class PatchEmbed(nn.Module):
    """Non-overlapping patches → tokens, channels last: (B, 3, H, W) → (B, H/p, W/p, D)."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        p = self.proj.stride[0]
        if h % p or w % p:
            return self.proj(x).permute(0, 2, 3, 1)
        # A stride-p p×p convolution is one matrix product over the cut-out patches; on the
        # CPU this is about twice as fast as the convolution kernel for the 3-channel input.
        patches = x.reshape(b, -1, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        weight = self.proj.weight.flatten(1)  # (D, 3·p·p), the same (c, y, x) order
        return F.linear(patches.flatten(3), weight, self.proj.bias)


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
        nh, nw = -(-h // s), -(-w // s)
        windows = qkv.new_empty(b, nh, nw, s, s, c3)
        grid = windows.permute(0, 1, 3, 2, 4, 5)  # (B, nh, s, nw, s, ·): the padded grid
        if h % s:
            grid[:, -1, h % s :] = self.qkv.bias.to(qkv.dtype)
        if w % s:
            grid[:, :, :, -1, w % s :] = self.qkv.bias.to(qkv.dtype)
        for dst, src in _window_blocks(grid, qkv, s):
            dst.copy_(src)
        out = self._attend(windows.view(b * nh * nw, s * s, c3))  # (n, s², D), a view
        d = out.shape[-1]
        real = qkv.new_empty(b, h, w, d)
        for src, dst in _window_blocks(
            out.view(b, nh, nw, s, s, d).permute(0, 1, 3, 2, 4, 5), real, s
        ):
            dst.copy_(src)
        return real


def _window_blocks(grid: Tensor, image: Tensor, s: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Matching views of a windowed grid (B, nh, s, nw, s, C) and the unpadded (B, H, W, C)
    map, in up to four rectangles (whole windows, and the partial last row/column), so that
    windows are filled and read in one strided copy each instead of pad-then-reshape.

    A generator: each view is made after the previous copy (autograd tracks in-place writes
    through views made after them)."""
    b, h, w, c = image.shape
    fh, fw = h // s, w // s
    rows = [(slice(0, fh), slice(None), slice(0, fh * s), fh, s)] if fh else []
    if h % s:
        rows.append((slice(fh, fh + 1), slice(0, h % s), slice(fh * s, h), 1, h % s))
    cols = [(slice(0, fw), slice(None), slice(0, fw * s), fw, s)] if fw else []
    if w % s:
        cols.append((slice(fw, fw + 1), slice(0, w % s), slice(fw * s, w), 1, w % s))
    for wr, ir, pr, nr, sr in rows:
        for wc, ic, pc, nc, sc in cols:
            part = image[:, pr, pc].view(b, nr, sr, nc, sc, c)  # a view: written through
            yield grid[:, wr, ir, wc, ic], part


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
        self._resized: tuple[tuple, Tensor] | None = None
        self.blocks = nn.ModuleList(
            ViTBlock(
                config.embed_dim,
                config.num_heads,
                config.mlp_ratio,
                0 if i in config.global_blocks else config.window_size,
            )
            for i in range(config.depth)
        )

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._resized = None
        super()._load_from_state_dict(*args, **kwargs)

    def position_embedding(self, height: int, width: int) -> Tensor:
        """The trained 14×14 absolute embedding resized (bicubic) to the token grid.

        Without autograd the resized grid is kept, keyed on the parameter's storage and
        dropped when weights are loaded (``load_state_dict``)."""
        keep = not torch.is_grad_enabled() and not graph_exporting()
        key = (height, width, self.pos_embed.data_ptr(), self.pos_embed.dtype) if keep else ()
        if keep and self._resized is not None and self._resized[0] == key:
            return self._resized[1]
        pos = self.pos_embed[:, int(self.config.pos_embed_cls_token) :]
        side = self.config.pos_embed_grid
        grid = pos.reshape(1, side, side, -1)
        if (height, width) != (side, side):
            grid = F.interpolate(
                grid.permute(0, 3, 1, 2), size=(height, width), mode="bicubic", align_corners=False
            ).permute(0, 2, 3, 1)
        if keep:
            self._resized = (key, grid)
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
