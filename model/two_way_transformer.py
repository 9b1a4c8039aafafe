"""The decoder's two-way transformer: prompt tokens and image tokens attend to each other."""

from __future__ import annotations

from torch import Tensor, nn

from etam_plugin.model.layers import MLP, attention


class TokenAttention(nn.Module):
    """Multi-head attention whose inner width may be reduced by ``downsample_rate``."""

    def __init__(self, dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        inner = dim // downsample_rate
        if inner % num_heads:
            raise ValueError(f"{num_heads} heads do not divide width {inner}")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(dim, inner)
        self.v_proj = nn.Linear(dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def _heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        out = attention(
            self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))
        )
        return self.out_proj(out.transpose(1, 2).flatten(-2))


class TwoWayBlock(nn.Module):
    """Token self-attention, token→image, MLP on tokens, image→token."""

    def __init__(
        self, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int, first: bool
    ) -> None:
        super().__init__()
        self.first = first  # the first block adds no position encoding to its self-attention
        self.self_attn = TokenAttention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = TokenAttention(dim, num_heads, downsample_rate)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_dim, dim, num_layers=2, activation=nn.ReLU)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = TokenAttention(dim, num_heads, downsample_rate)

    def forward(
        self, tokens: Tensor, image: Tensor, token_pe: Tensor, image_pe: Tensor
    ) -> tuple[Tensor, Tensor]:
        if self.first:
            tokens = self.self_attn(tokens, tokens, tokens)
        else:
            q = tokens + token_pe
            tokens = tokens + self.self_attn(q, q, tokens)
        tokens = self.norm1(tokens)

        image_k = image + image_pe
        tokens = self.norm2(
            tokens + self.cross_attn_token_to_image(tokens + token_pe, image_k, image)
        )
        tokens = self.norm3(tokens + self.mlp(tokens))
        image = self.norm4(
            image + self.cross_attn_image_to_token(image_k, tokens + token_pe, tokens)
        )
        return tokens, image


class TwoWayTransformer(nn.Module):
    def __init__(
        self, depth: int, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int = 2
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayBlock(dim, num_heads, mlp_dim, downsample_rate, first=(i == 0))
            for i in range(depth)
        )
        self.final_attn_token_to_image = TokenAttention(dim, num_heads, downsample_rate)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(
        self, image_bchw: Tensor, image_pe_bchw: Tensor, tokens: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Returns updated tokens (B, T, C) and image tokens (B, h·w, C)."""
        image = image_bchw.flatten(2).transpose(1, 2)
        image_pe = image_pe_bchw.flatten(2).transpose(1, 2)
        token_pe = tokens
        for layer in self.layers:
            tokens, image = layer(tokens, image, token_pe, image_pe)
        out = self.final_attn_token_to_image(tokens + token_pe, image + image_pe, image)
        return self.norm_final_attn(tokens + out), image
