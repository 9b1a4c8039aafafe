"""Memory attention: conditions the current frame's features on memories of past frames.

Each layer: RoPE self-attention over the frame's tokens, then cross-attention to the memory
tokens (spatial memories of several frames plus object-pointer tokens), then an MLP.

Why it is organised around :class:`PreparedMemory`: a memory frame's key projection only
changes with its *age* (a learned temporal embedding added to its position code), and keys
are linear in that embedding, so ``key = rope(W·(memory + spatial_pos) + b) + rope(W·tpos)``.
The first term is computed once per memory frame (and pooled once, in the pooled modes);
the second is a per-age constant. A frame stays in memory for six tracked frames, so each
projection is computed once instead of six times. Values do not depend on age at all:
- on a GPU their projections are cached and a fused attention kernel runs (those kernels
  need values as wide as keys);
- on the CPU the value projection is applied *after* attention: weights sum to one, so
  ``softmax(qkᵀ)·(W·x + b) = (softmax(qkᵀ)·x)·Wᵀ + b``, which mixes the narrow ``kv_dim``
  memory tokens instead of the 4× wider projected values (single-core CPU time per layer,
  7 memory frames at 512²: 56 ms against 69 ms for the fused kernel on projected values).

Cross-attention modes (``MemoryAttentionConfig.mode``):
- ``full``: every memory token is a key (paper Eq. 1);
- ``pooled``: spatial memory keys and values are average-pooled over ``l×l`` windows and
  ``ln(l·l)`` is added to their logits (Eq. 5; exactly full attention when each window's
  tokens are equal — the paper's Lemma 1);
- ``pooled-keys``: the pooled keys themselves get ``+ln(l·l)`` (Eq. 6), as the ``_2``
  checkpoints were trained.
As in the trained networks, pooling applies only when more than one spatial memory frame is
attended; object-pointer tokens are never pooled.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from etam_plugin.model.config import MemoryAttentionConfig
from etam_plugin.model.layers import attention
from etam_plugin.model.position import (
    AxialRope,
    apply_rope,
    graph_exporting,
    rotate,
    sine_position_map,
)


@dataclass(frozen=True)
class PreparedMemory:
    """One memory frame of a batch of objects, ready to be attended.

    ``tokens`` (B, N, kv_dim): the memory encoder's output (N = h·w, row-major);
    ``keys``: per layer (B, H, N', d) rotated key projections without the temporal term,
    pooled in the pooled modes (then N' = N / l²); ``value_tokens`` (B, N', kv_dim) the
    (pooled) tokens; ``values``: per layer (B, H, N', d) their projections when attention
    runs a fused kernel (GPU), else empty; ``layout``: the (mode, window) of all this.
    """

    tokens: Tensor
    keys: tuple[Tensor, ...]
    value_tokens: Tensor
    values: tuple[Tensor, ...]
    layout: tuple[str, int]

    @staticmethod
    def stack(items: Sequence[PreparedMemory]) -> PreparedMemory:
        """Concatenates single-object memories of the same layout along the batch axis."""
        if len(items) == 1:
            return items[0]
        return PreparedMemory(
            tokens=torch.cat([m.tokens for m in items]),
            keys=tuple(torch.cat(ks) for ks in zip(*(m.keys for m in items), strict=True)),
            value_tokens=torch.cat([m.value_tokens for m in items]),
            values=tuple(torch.cat(vs) for vs in zip(*(m.values for m in items), strict=True)),
            layout=items[0].layout,
        )

    def nbytes(self) -> int:
        tensors = (self.tokens, self.value_tokens, *self.values, *self.keys)
        return sum(t.numel() * t.element_size() for t in tensors)


@dataclass(frozen=True)
class MemoryInput:
    """What the current frame attends to: memory frames with their temporal-embedding
    index (``age`` 0 = most recent previous frame … ``num_maskmem - 1`` = conditioning
    frame), and object pointers (B, P, C) (or None)."""

    frames: Sequence[tuple[PreparedMemory, int]]
    pointers: Tensor | None = None


class RopeSelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, rope: AxialRope) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.rope = rope
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def _heads(self, x: Tensor) -> Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor, cis: Tensor, sin: Tensor | None = None) -> Tensor:
        """``cis`` the grid's complex rotations, or (with ``sin``) real cos/sin tables."""
        if sin is None:
            q = rotate(self._heads(self.q_proj(x)), cis)
            k = rotate(self._heads(self.k_proj(x)), cis)
        else:
            q = apply_rope(self._heads(self.q_proj(x)), cis, sin)
            k = apply_rope(self._heads(self.k_proj(x)), cis, sin)
        out = attention(q, k, self._heads(self.v_proj(x)))
        return self.out_proj(out.transpose(1, 2).flatten(-2))


class MemoryCrossAttention(nn.Module):
    """Cross-attention from frame tokens (width C) to memory tokens (width ``kv_dim``)."""

    def __init__(self, dim: int, kv_dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(kv_dim, dim)
        self.v_proj = nn.Linear(kv_dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def heads(self, x: Tensor) -> Tensor:
        """(B, N, H·d) → (B, H, N, d)."""
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(self, q: Tensor, keys: Tensor, values: Tensor, bias: Tensor | None) -> Tensor:
        """``q`` (B, H, N, d) rotated queries; ``keys`` (B, H, M, d); ``values`` either
        projected (B, H, M, d) or the raw tokens (B, M, kv_dim), projected after mixing."""
        if values.dim() == 4:
            out = attention(q, keys, values, bias)
            return self.out_proj(out.transpose(1, 2).flatten(-2))
        # The logit matrix (1024 × ~7,000 floats, ~30 MB) goes into a reused buffer: a fresh
        # allocation per layer costs as much as the matrix product itself (page faults).
        scaled, keys_t = q * q.shape[-1] ** -0.5, keys.transpose(-1, -2)
        if not _reuse_buffers(q):
            logits = scaled @ keys_t
            if bias is not None:
                logits = logits + bias
            probs = logits.softmax(-1)
        else:
            shape = (*q.shape[:-1], keys.shape[-2])
            logits = torch.matmul(scaled, keys_t, out=_scratch(shape, q))
            if bias is not None:
                logits.add_(bias)
            probs = torch.softmax(logits, -1, out=logits)  # in place: no second 30 MB matrix
        mixed = probs @ values[:, None]  # (B, H, N, kv)
        w = self.v_proj.weight.unflatten(0, (self.num_heads, -1))  # (H, d, kv)
        out = torch.einsum("bhnk,hdk->bnhd", mixed, w).flatten(-2) + self.v_proj.bias
        return self.out_proj(out)


_buffers = threading.local()


def _scratch(shape: tuple[int, ...], like: Tensor, slot: str = "logits") -> Tensor:
    """A per-thread reusable buffer of ``shape`` (a network may serve several threads).

    Why: on the CPU a fresh multi-megabyte tensor is mapped from the OS page by page on
    first touch, which costs about as much as a pass of arithmetic over it; the per-layer
    logits, keys and MLP activations reuse one buffer each instead."""
    numel = math.prod(shape)
    buf = getattr(_buffers, slot, None)
    if (
        buf is None
        or buf.numel() < numel
        or buf.dtype != like.dtype
        or buf.device != like.device
        or buf.is_inference() != like.is_inference()
    ):
        buf = torch.empty(numel, dtype=like.dtype, device=like.device)
        setattr(_buffers, slot, buf)
    return buf[:numel].view(shape)


def _reuse_buffers(like: Tensor) -> bool:
    """Scratch buffers and in-place updates: for CPU inference only. ``out=`` has no
    autograd and no graph-export form, autocast skips ``out=`` calls, and GPU allocators
    already recycle their memory."""
    return (
        like.device.type == "cpu"
        and not torch.is_grad_enabled()
        and not graph_exporting()
        and not torch.is_autocast_enabled("cpu")
    )


def _residual(x: Tensor, update: Tensor, in_place: bool) -> Tensor:
    return x.add_(update) if in_place else x + update


class MemoryAttentionLayer(nn.Module):
    def __init__(self, config: MemoryAttentionConfig, rope: AxialRope) -> None:
        super().__init__()
        d = config.d_model
        self.self_attn = RopeSelfAttention(d, config.num_heads, rope)
        self.cross_attn_image = MemoryCrossAttention(d, config.kv_dim, config.num_heads)
        self.linear1 = nn.Linear(d, config.ffn_dim)
        self.linear2 = nn.Linear(config.ffn_dim, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.norm3 = nn.LayerNorm(d)


class MemoryAttention(nn.Module):
    def __init__(self, config: MemoryAttentionConfig) -> None:
        super().__init__()
        self.config = config
        head_dim = config.d_model // config.num_heads
        self.rope = AxialRope(head_dim, config.rope_theta)
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(config, self.rope) for _ in range(config.num_layers)
        )
        self.norm = nn.LayerNorm(config.d_model)
        self._temporal_cache: dict[tuple, Tensor] = {}

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._temporal_cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    # -- memory preparation -------------------------------------------------------------

    @property
    def layout(self) -> tuple[str, int]:
        return (self.config.mode, self.config.pool_window)

    def set_mode(self, mode: str, pool_window: int) -> None:
        """Switches the cross-attention mode (no parameters change)."""
        self.config = replace(self.config, mode=mode, pool_window=pool_window)

    def _spatial_keys(self, layer: MemoryAttentionLayer, tokens: Tensor, side: int) -> Tensor:
        """Rotated key projection of memory tokens plus their spatial position: (B, H, N, d)."""
        spos = sine_position_map(
            tokens.shape[-1], side, side, device=tokens.device, dtype=tokens.dtype
        )
        keys = layer.cross_attn_image.k_proj(tokens + spos.flatten(1).T)
        keys = layer.cross_attn_image.heads(keys)
        return rotate(keys, self.rope.cis(side, tokens.device))

    def _pool(self, x: Tensor, side: int) -> Tensor:
        """Average-pools (..., side², d) tokens over l×l windows → (..., side²/l², d)."""
        win = self.config.pool_window
        lead = x.shape[:-2]
        grid = x.reshape(-1, side, side, x.shape[-1]).permute(0, 3, 1, 2)
        pooled = F.avg_pool2d(grid, win, stride=win)
        return pooled.permute(0, 2, 3, 1).reshape(*lead, -1, x.shape[-1])

    def prepare(self, memory_bchw: Tensor, project_values: bool | None = None) -> PreparedMemory:
        """Precomputes what attention needs from one memory frame (B objects).

        ``project_values``: cache value projections for a fused attention kernel (default:
        on any device but the CPU; see the module docstring).
        """
        h, w = memory_bchw.shape[-2:]
        if h != w:
            raise ValueError(f"memory grid must be square, got {h}×{w}")
        tokens = memory_bchw.flatten(2).transpose(1, 2)  # (B, N, kv)
        mode, window = self.layout
        pooled_tokens = self._pool(tokens, h) if mode != "full" else tokens
        fused = memory_bchw.device.type != "cpu" if project_values is None else project_values
        keys, values = [], []
        for layer in self.layers:
            k = self._spatial_keys(layer, tokens, h)
            if mode != "full":
                k = self._pool(k, h)
                if mode == "pooled-keys":
                    k = k + math.log(window * window)
            keys.append(k)
            if fused:  # pool(W·x + b) = W·pool(x) + b: project the (fewer) pooled tokens
                cross = layer.cross_attn_image
                values.append(cross.heads(cross.v_proj(pooled_tokens)))
        return PreparedMemory(tokens, tuple(keys), pooled_tokens, tuple(values), self.layout)

    def _temporal_keys(self, layer: MemoryAttentionLayer, tpos: Tensor, side: int, pooled: bool):
        """rope(W_k · tpos) on the (pooled) grid: the per-age part of every key, (H, N', d).

        A function of the weights only: cached per layer, age row and grid, and dropped when
        weights are loaded (``load_state_dict``).
        """
        weight = layer.cross_attn_image.k_proj.weight
        key = (id(layer), side, pooled, tpos.data_ptr(), weight.data_ptr(), tpos.device, tpos.dtype)
        cached = self._temporal_cache.get(key)
        if cached is not None:
            return cached
        const = tpos @ weight.T  # (C,)
        const = const.unflatten(-1, (self.config.num_heads, -1))[:, None, :]  # (H, 1, d)
        cis = self.rope.cis(side, tpos.device)
        if pooled:  # the mean rotation over each window: pooling is linear
            cis = torch.view_as_complex(
                self._pool(torch.view_as_real(cis).flatten(-2)[None], side)[0]
                .unflatten(-1, (-1, 2))
                .contiguous()
            )
        table = rotate(const.expand(-1, cis.shape[0], -1), cis)
        if len(self._temporal_cache) > 8 * self.config.num_layers * 16:
            self._temporal_cache.clear()
        self._temporal_cache[key] = table
        return table

    # -- attention ----------------------------------------------------------------------

    def forward(
        self,
        features: Tensor,
        pos: Tensor,
        memory: MemoryInput,
        temporal_embedding: Tensor,
    ) -> Tensor:
        """``features``/``pos`` (B, C, h, w) → memory-conditioned features (B, C, h, w).

        ``temporal_embedding`` (num_maskmem, kv_dim): the learned per-age memory embedding.
        """
        b, c, h, w = features.shape
        frames = memory.frames
        mode, window = self.layout
        for prepared, _ in frames:
            if prepared.layout != self.layout:
                raise ValueError(
                    f"memory prepared for {prepared.layout}, attention runs {self.layout}"
                )
        pooled = mode != "full" and len(frames) > 1
        mem_side = math.isqrt(frames[0][0].tokens.shape[1])

        ptr_tokens = None
        if memory.pointers is not None and memory.pointers.shape[1]:
            p = memory.pointers  # (B, P, C) → each pointer split into C/kv tokens
            ptr_tokens = p.reshape(b, -1, self.config.kv_dim)

        n_spatial = sum(
            m.keys[0].shape[2] if pooled or mode == "full" else m.tokens.shape[1] for m, _ in frames
        )
        bias = None
        if pooled and mode == "pooled":
            n_total = n_spatial + (0 if ptr_tokens is None else ptr_tokens.shape[1])
            bias = torch.zeros(1, 1, 1, n_total, device=features.device, dtype=features.dtype)
            bias[..., :n_spatial] = math.log(window * window)

        cis = self.rope.cis(h, features.device)
        x = (features + 0.1 * pos).flatten(2).transpose(1, 2)  # (B, N, C)
        reuse = _reuse_buffers(features)
        if reuse:
            x = x.contiguous()  # updated in place below: a tensor of our own
        for index, layer in enumerate(self.layers):
            x = _residual(x, layer.self_attn(layer.norm1(x), cis), reuse)

            cross = layer.cross_attn_image
            q = rotate(cross.heads(cross.q_proj(layer.norm2(x))), cis)
            keys = self._keys(index, frames, temporal_embedding, ptr_tokens, pooled, mem_side)
            values = self._values(index, frames, ptr_tokens, pooled)
            x = _residual(x, cross(q, keys, values, bias), reuse)

            x = _residual(x, self._mlp(layer, layer.norm3(x), reuse), reuse)
        x = self.norm(x)
        return x.transpose(1, 2).reshape(b, c, h, w)

    @staticmethod
    def _mlp(layer: MemoryAttentionLayer, x: Tensor, reuse: bool) -> Tensor:
        """linear2(relu(linear1(x))); at inference the 8×-wide hidden activations go into a
        reused buffer and the ReLU runs in place."""
        if not reuse:
            return layer.linear2(F.relu(layer.linear1(x)))
        fc = layer.linear1
        flat = x.reshape(-1, x.shape[-1])
        hidden = _scratch((flat.shape[0], fc.out_features), flat, "mlp")
        torch.addmm(fc.bias, flat, fc.weight.T, out=hidden)
        return layer.linear2(hidden.relu_()).view(*x.shape[:-1], -1)

    def _keys(
        self,
        index: int,
        frames: Sequence[tuple[PreparedMemory, int]],
        temporal_embedding: Tensor,
        ptr_tokens: Tensor | None,
        pooled: bool,
        side: int,
    ) -> Tensor:
        """All keys of layer ``index``: memory frames (with their age term), then pointers,
        written once into one buffer."""
        layer = self.layers[index]
        cross = layer.cross_attn_image
        bases = []
        for prepared, _ in frames:
            if pooled or self.config.mode == "full":
                bases.append(prepared.keys[index])
            else:  # a pooled mode with a single memory frame attends to it unpooled
                bases.append(self._spatial_keys(layer, prepared.tokens, side))
        ptr_keys = cross.heads(cross.k_proj(ptr_tokens)) if ptr_tokens is not None else None
        b, h, _, d = bases[0].shape
        total = sum(k.shape[2] for k in bases) + (0 if ptr_keys is None else ptr_keys.shape[2])
        shape = (b, h, total, d)
        reuse = _reuse_buffers(bases[0])
        out = _scratch(shape, bases[0], "keys") if reuse else bases[0].new_empty(shape)
        start = 0
        for base, (_, age) in zip(bases, frames, strict=True):
            n = base.shape[2]
            temporal = self._temporal_keys(layer, temporal_embedding[age], side, pooled)
            torch.add(base, temporal, out=out[:, :, start : start + n])
            start += n
        if ptr_keys is not None:
            out[:, :, start:] = ptr_keys
        return out

    def _values(
        self,
        index: int,
        frames: Sequence[tuple[PreparedMemory, int]],
        ptr_tokens: Tensor | None,
        pooled: bool,
    ) -> Tensor:
        """All values of layer ``index``, in the order of :meth:`_keys`: projected
        (B, H, M, d) when the memories carry projections (fused kernel), else raw tokens
        (B, M, kv_dim)."""
        cross = self.layers[index].cross_attn_image
        project = bool(frames[0][0].values)
        parts = []
        for prepared, _ in frames:
            tokens = (
                prepared.value_tokens if pooled or self.config.mode == "full" else prepared.tokens
            )
            if project:
                cached = pooled or self.config.mode == "full"
                parts.append(
                    prepared.values[index] if cached else cross.heads(cross.v_proj(tokens))
                )
            else:
                parts.append(tokens)
        if ptr_tokens is not None:
            parts.append(cross.heads(cross.v_proj(ptr_tokens)) if project else ptr_tokens)
        axis = 2 if project else 1
        return torch.cat(parts, dim=axis) if len(parts) > 1 else parts[0]
