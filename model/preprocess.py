"""Frames in, masks out: the exact pre- and post-processing the network was trained with.

Input: RGB uint8 → antialiased bicubic resize to the square model size (Pillow's, as the
reference does; torch's uint8 bicubic differs from it by one code value on ~0.5 % of pixels)
→ [0, 1] → ImageNet mean/std. Output: low-res mask logits → bilinear resize to the source.

On a CUDA device the resize runs on the GPU with Pillow's own arithmetic (its fixed-point
filter weights, integer rounding and uint8 intermediate, as two float64 matrix products
that are exact on integers), so results are bit-identical to Pillow: on the CPU Pillow's
resize of a 1080p frame took 19 ms, more than a whole tracking step on the GPU.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_square(frame_rgb: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB (H, W, 3) → uint8 RGB (size, size, 3), Pillow antialiased bicubic."""
    _check_rgb(frame_rgb)
    image = Image.fromarray(frame_rgb)
    return np.array(image.resize((size, size), Image.Resampling.BICUBIC))


def _check_rgb(frame_rgb: np.ndarray) -> None:
    if frame_rgb.dtype != np.uint8 or frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3:
        raise ValueError(
            f"expected an RGB uint8 image of shape (H, W, 3), got {frame_rgb.dtype} "
            f"{frame_rgb.shape}"
        )


def normalize(resized_rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 RGB (S, S, 3) → float32 (3, S, S), scaled and ImageNet-normalised."""
    x = torch.from_numpy(np.require(resized_rgb, requirements=["C", "W"])).to(device)
    return _standardize(x.permute(2, 0, 1).double())


def _standardize(resized_chw: torch.Tensor) -> torch.Tensor:
    """float64 (3, S, S) of uint8 values → float32, ImageNet-normalised. /255 in float64
    then float32: bit-identical to the reference's numpy division."""
    mean, std = _mean_std(resized_chw.device)
    return ((resized_chw / 255.0).float() - mean) / std


def to_model_input(frame_rgb: np.ndarray, size: int, device: torch.device | str = "cpu"):
    """uint8 RGB frame of any size → normalised (3, size, size) float32 tensor."""
    if torch.device(device).type != "cuda":
        return normalize(resize_square(frame_rgb, size), device)
    _check_rgb(frame_rgb)
    frame = torch.from_numpy(np.require(frame_rgb, requirements=["C", "W"])).to(device)
    return _standardize(resize_square_exact(frame.permute(2, 0, 1), size))


@functools.lru_cache(maxsize=4)
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(3, 1, 1)
    return mean, std


# -- Pillow's antialiased bicubic resize, in torch ------------------------------------------

_BITS = 22  # Pillow's fixed-point precision for 8-bit images: 32 - 8 - 2


def _bicubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, evaluated in Pillow's operation order."""
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


@functools.lru_cache(maxsize=16)
def _resize_weights(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float64 matrix of Pillow's integer filter weights (22 fractional
    bits) for one axis: each output sample's taps, normalised to sum 1, then rounded half
    away from zero as Pillow does."""
    scale = in_size / out_size
    widen = max(scale, 1.0)  # downscaling widens the filter: the antialiasing
    support = 2.0 * widen
    inv = 1.0 / widen
    taps = int(np.ceil(support)) * 2 + 1
    centers = (np.arange(out_size) + 0.5) * scale
    first = np.maximum(np.trunc(centers - support + 0.5), 0).astype(np.int64)
    count = np.minimum(np.trunc(centers + support + 0.5).astype(np.int64), in_size) - first
    offsets = np.arange(taps)
    live = offsets[None, :] < count[:, None]
    w = np.where(
        live, _bicubic((offsets[None, :] + first[:, None] - centers[:, None] + 0.5) * inv), 0
    )
    total = np.zeros(out_size)
    for k in range(taps):  # summed tap by tap, in Pillow's order (float sums are not associative)
        total = total + w[:, k]
    w = np.where(total[:, None] != 0.0, w / np.where(total == 0.0, 1.0, total)[:, None], w)
    fixed = np.trunc(w * (1 << _BITS) + np.where(w < 0, -0.5, 0.5))
    matrix = np.zeros((out_size, in_size))
    rows = np.repeat(np.arange(out_size), taps)
    cols = (first[:, None] + offsets[None, :]).ravel()
    keep = live.ravel()
    matrix[rows[keep], cols[keep]] = fixed.ravel()[keep]
    return matrix


@functools.lru_cache(maxsize=16)
def _weights_on(in_size: int, out_size: int, device: torch.device) -> torch.Tensor:
    """The weights as a device tensor, uploaded once per frame size (a 1080p frame's
    horizontal matrix is 7.9 MB)."""
    return torch.from_numpy(_resize_weights(in_size, out_size)).to(device)


def _resample(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """One axis of Pillow's resize on integer-valued float64 ``x`` (..., n) → (..., m):
    fixed-point sum with a half-unit rounding offset, floored and clipped to uint8 values.
    Every product and partial sum is an integer below 2^53, so float64 is exact."""
    acc = x @ matrix.T + float(1 << (_BITS - 1))
    return torch.floor(acc / float(1 << _BITS)).clamp_(0, 255)


def _two_passes(x: torch.Tensor, size: int, rows_first: bool) -> torch.Tensor:
    """Float64 (3, H, W) → (3, size, size): one pass per axis, uint8 values in between."""
    _, h, w = x.shape
    device = x.device

    def across(x: torch.Tensor) -> torch.Tensor:
        if w == size:
            return x
        return _resample(x, _weights_on(w, size, device))

    def down(x: torch.Tensor) -> torch.Tensor:
        if h == size:
            return x
        return _resample(x.transpose(1, 2), _weights_on(h, size, device)).transpose(1, 2)

    return across(down(x)) if rows_first else down(across(x))


@functools.lru_cache(maxsize=16)
def _pillow_order(h: int, w: int, size: int, device: torch.device) -> bool | None:
    """Whether the installed Pillow resizes the rows first for this shape, measured once on
    a random image: versions differ (Pillow 13 does when the rows shrink while the columns
    grow; 12.3 resized columns first there too). None: neither order gives Pillow's."""
    probe = np.random.default_rng(h * 7919 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    want = torch.from_numpy(resize_square(probe, size)).permute(2, 0, 1).to(device)
    x = torch.from_numpy(probe).permute(2, 0, 1).to(device, torch.float64)
    for rows_first in (h > size > w, not h > size > w):
        if torch.equal(_two_passes(x, size, rows_first), want.to(torch.float64)):
            return rows_first
    return None


def resize_square_exact(image_chw: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (3, H, W) on any device → float64 (3, size, size) holding exactly the values
    Pillow's antialiased bicubic resize gives. When both axes change, the order of the
    passes matters and depends on the Pillow version: it is measured once per shape (one
    Pillow resize); should no order reproduce Pillow, Pillow itself resizes."""
    _, h, w = image_chw.shape
    rows_first = False
    if size not in (h, w):
        order = _pillow_order(h, w, size, image_chw.device)
        if order is None:
            frame = image_chw.permute(1, 2, 0).cpu().numpy()
            resized = torch.from_numpy(resize_square(frame, size)).permute(2, 0, 1)
            return resized.to(image_chw.device, torch.float64)
        rows_first = order
    return _two_passes(image_chw.to(torch.float64), size, rows_first)


def to_source_resolution(logits_b1hw: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Low-res mask logits (B, 1, h, w) → (B, 1, height, width), bilinear."""
    if logits_b1hw.shape[-2:] == (height, width):
        return logits_b1hw
    return F.interpolate(logits_b1hw.float(), (height, width), mode="bilinear", align_corners=False)


def scale_points(points_xy: np.ndarray, height: int, width: int, size: int) -> np.ndarray:
    """Source-pixel coordinates → model-input pixel coordinates (float32)."""
    pts = np.asarray(points_xy, dtype=np.float32).reshape(-1, 2)
    return pts / np.array([width, height], dtype=np.float32) * size
