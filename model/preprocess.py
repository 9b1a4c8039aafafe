"""Frames in, masks out: the exact pre- and post-processing the network was trained with.

Input: RGB uint8 → antialiased bicubic resize to the square model size (Pillow's, as the
reference does; torch's uint8 bicubic differs from it by one code value on ~0.5 % of pixels)
→ [0, 1] → ImageNet mean/std. Output: low-res mask logits → bilinear resize to the source.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def resize_square(frame_rgb: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB (H, W, 3) → uint8 RGB (size, size, 3), Pillow antialiased bicubic."""
    if frame_rgb.dtype != np.uint8 or frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3:
        raise ValueError(
            f"expected an RGB uint8 image of shape (H, W, 3), got {frame_rgb.dtype} "
            f"{frame_rgb.shape}"
        )
    image = Image.fromarray(frame_rgb)
    return np.array(image.resize((size, size), Image.Resampling.BICUBIC))


def normalize(resized_rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 RGB (S, S, 3) → float32 (3, S, S), scaled and ImageNet-normalised."""
    # /255 in float64 then float32, bit-identical to the reference's numpy division
    x = torch.from_numpy(np.require(resized_rgb, requirements=["C", "W"])).to(device)
    x = (x.permute(2, 0, 1).double() / 255.0).float()
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(3, 1, 1)
    return (x - mean) / std


def to_model_input(frame_rgb: np.ndarray, size: int, device: torch.device | str = "cpu"):
    """uint8 RGB frame of any size → normalised (3, size, size) float32 tensor."""
    return normalize(resize_square(frame_rgb, size), device)


def to_source_resolution(logits_b1hw: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Low-res mask logits (B, 1, h, w) → (B, 1, height, width), bilinear."""
    if logits_b1hw.shape[-2:] == (height, width):
        return logits_b1hw
    return F.interpolate(logits_b1hw.float(), (height, width), mode="bilinear", align_corners=False)


def scale_points(points_xy: np.ndarray, height: int, width: int, size: int) -> np.ndarray:
    """Source-pixel coordinates → model-input pixel coordinates (float32)."""
    pts = np.asarray(points_xy, dtype=np.float32).reshape(-1, 2)
    return pts / np.array([width, height], dtype=np.float32) * size
