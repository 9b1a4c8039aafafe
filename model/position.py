"""Position encodings: 2-D sine maps, random Fourier features for prompts, axial RoPE.

All tables are deterministic functions of sizes, computed in float32 and cached per
(size, device, dtype) because they are needed on every frame.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor, nn


@lru_cache(maxsize=16)
def _sine_table(
    channels: int, height: int, width: int, temperature: float, device: torch.device
) -> Tensor:
    half = channels // 2
    eps = 1e-6
    ys = torch.arange(1, height + 1, dtype=torch.float32, device=device)
    xs = torch.arange(1, width + 1, dtype=torch.float32, device=device)
    ys = ys / (height + eps) * (2 * math.pi)
    xs = xs / (width + eps) * (2 * math.pi)
    # Channel pairs share one frequency: (sin, cos) of the same phase, interleaved.
    exponent = 2 * (torch.arange(half, dtype=torch.float32, device=device) // 2) / half
    wavelength = temperature**exponent

    def encode(coords: Tensor) -> Tensor:
        phase = coords[:, None] / wavelength
        out = torch.empty_like(phase)
        out[:, 0::2] = phase[:, 0::2].sin()
        out[:, 1::2] = phase[:, 1::2].cos()
        return out  # (n, half)

    enc_y = encode(ys)[:, None, :].expand(height, width, half)
    enc_x = encode(xs)[None, :, :].expand(height, width, half)
    return torch.cat([enc_y, enc_x], dim=-1).permute(2, 0, 1).contiguous()  # (C, H, W)


def sine_position_map(
    channels: int,
    height: int,
    width: int,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    temperature: float = 10000.0,
) -> Tensor:
    """Normalised 2-D sine encoding (DETR style) of an ``height × width`` grid: (C, H, W).

    The first half of the channels encodes y, the second half x.
    """
    table = _sine_table(channels, height, width, float(temperature), torch.device(device))
    return table.to(dtype)


class RandomFourierEncoding(nn.Module):
    """Encodes (x, y) in [0, 1]² with fixed random spatial frequencies (SAM's prompt PE)."""

    def __init__(self, num_feats: int) -> None:
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_feats))

    def encode(self, coords01: Tensor) -> Tensor:
        """``coords01`` (..., 2) normalised x, y → (..., 2 * num_feats)."""
        proj = (2 * coords01 - 1) @ self.positional_encoding_gaussian_matrix
        proj = proj * (2 * math.pi)
        return torch.cat([proj.sin(), proj.cos()], dim=-1)

    def grid(self, height: int, width: int) -> Tensor:
        """Encoding of every cell centre of a ``height × width`` grid: (C, H, W)."""
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height
        xs = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width
        coords = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2)
        return self.encode(coords).permute(2, 0, 1)


class AxialRope:
    """Rotary position encoding on a square token grid (x and y frequencies side by side).

    For a head width ``dim``, the first ``dim/2`` channels rotate with the token's column,
    the last ``dim/2`` with its row; channel pairs (2i, 2i+1) rotate together.
    Tables are built once per grid size and device.
    """

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        if dim % 4:
            raise ValueError(f"RoPE head width {dim} must be a multiple of 4")
        self.dim = dim
        self.theta = theta
        self._tables: dict[tuple, tuple[Tensor, Tensor]] = {}

    def angles(self, side: int, device: torch.device) -> Tensor:
        """(side², dim/2) rotation angles of a row-major ``side × side`` grid."""
        quarter = self.dim // 4
        freqs = 1.0 / (
            self.theta ** (torch.arange(0, self.dim, 4, device=device)[:quarter].float() / self.dim)
        )
        index = torch.arange(side * side, dtype=torch.float32, device=device)
        col = index % side
        row = torch.div(index, side, rounding_mode="floor")
        return torch.cat([torch.outer(col, freqs), torch.outer(row, freqs)], dim=-1)

    def cis(self, side: int, device: torch.device) -> Tensor:
        """The rotations as unit complex numbers, one per channel pair: (side², dim/2)."""
        key = ("cis", side, device)
        if key not in self._tables:
            ang = self.angles(side, device)
            self._tables[key] = torch.polar(torch.ones_like(ang), ang)
        return self._tables[key]

    def tables(self, side: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """cos and sin of the angles, each repeated over its channel pair: (side², dim).

        The real-arithmetic form, for graph exporters without complex numbers (ONNX)."""
        key = (side, device, dtype)
        if key not in self._tables:
            ang = self.angles(side, device).repeat_interleave(2, dim=-1)
            self._tables[key] = (ang.cos().to(dtype), ang.sin().to(dtype))
        return self._tables[key]


def graph_exporting() -> bool:
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    return torch.onnx.is_in_onnx_export() or bool(is_exporting and is_exporting())


def rotate(x: Tensor, cis: Tensor) -> Tensor:
    """RoPE as a complex multiply (about 20× faster on the CPU than :func:`apply_rope`):
    ``x`` (..., N, dim) with N a multiple of ``len(cis)`` (memory frames share the grid)."""
    if graph_exporting():  # graph formats without complex numbers: the same rotation, real form
        cos = cis.real.repeat_interleave(2, dim=-1).to(x.dtype)
        sin = cis.imag.repeat_interleave(2, dim=-1).to(x.dtype)
        return apply_rope(x, cos, sin)
    n = cis.shape[0]
    xf = x.float()
    if xf.shape[-2] != n:
        xf = xf.unflatten(-2, (xf.shape[-2] // n, n))
    out = torch.view_as_real(torch.view_as_complex(xf.unflatten(-1, (-1, 2))) * cis)
    return out.flatten(-2).reshape(x.shape).type_as(x)


def rotate_pairs(x: Tensor) -> Tensor:
    """(a, b) → (-b, a) on every channel pair: the 90° turn RoPE mixes in with sin."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).flatten(-2)


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotates ``x`` (..., N, dim) by per-token angles; ``N`` may be a multiple of the
    table length (memory frames share the spatial grid), which repeats the table."""
    n = cos.shape[0]
    if x.shape[-2] == n:
        return x * cos + rotate_pairs(x) * sin
    reps = x.shape[-2] // n
    grouped = x.unflatten(-2, (reps, n))
    return (grouped * cos + rotate_pairs(grouped) * sin).flatten(-3, -2)
