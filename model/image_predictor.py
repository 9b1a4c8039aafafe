"""Image mode: set an image once, then get masks for any number of prompts quickly.

The click-to-mask primitive: the image encoder runs once per image; every prompt after
that costs only the prompt encoder and the mask decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from etam_plugin.model.efficienttam import EfficientTAM
from etam_plugin.model.engine import PREV_MASK_CLAMP, Engine
from etam_plugin.model.errors import ModelError
from etam_plugin.model.preprocess import scale_points, to_source_resolution


@dataclass(frozen=True)
class ImagePrediction:
    """``masks`` bool (M, H, W) at the image's size; ``logits`` float32 (M, H, W);
    ``scores`` (M,) predicted IoU; ``low_res_logits`` (M, 4h, 4w), to pass back as
    ``mask_logits`` for refinement. M = 3 with multimask, else 1."""

    masks: np.ndarray
    logits: np.ndarray
    scores: np.ndarray
    low_res_logits: np.ndarray


class ImagePredictor:
    def __init__(
        self,
        model: EfficientTAM,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.engine = Engine(model, device, dtype)
        self.model = model
        self._features: torch.Tensor | None = None
        self._size: tuple[int, int] | None = None

    def set_image(self, image_rgb: np.ndarray) -> None:
        """Encodes an RGB uint8 (H, W, 3) image; prompts then run on its features."""
        feats, _ = self.engine.encode_frame(image_rgb)
        # Single images are conditioned on "no memory", as the first frame of a video.
        self._features = feats + self.model.no_mem_embed.view(1, -1, 1, 1)
        self._size = (int(image_rgb.shape[0]), int(image_rgb.shape[1]))

    def predict(
        self,
        points_xy: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        box_xyxy: tuple[float, float, float, float] | None = None,
        mask_logits: np.ndarray | None = None,
        multimask: bool = True,
    ) -> ImagePrediction:
        """Masks for one prompt: clicks (source pixels, labels 1/0), a box, and/or a
        previous ``low_res_logits`` mask (1, 4h, 4w) to refine."""
        if self._features is None or self._size is None:
            raise ModelError("no image: call set_image() first")
        h, w = self._size
        size = self.engine.image_size
        pts = np.zeros((0, 2), np.float32)
        lbl = np.zeros(0, np.int32)
        if box_xyxy is not None:
            x0, y0, x1, y1 = box_xyxy
            pts = scale_points(np.array([[x0, y0], [x1, y1]]), h, w, size)
            lbl = np.array([2, 3], np.int32)
        if points_xy is not None:
            if labels is None or len(labels) != len(points_xy):
                raise ModelError("give one label (1 positive, 0 negative) per point")
            pts = np.concatenate([pts, scale_points(points_xy, h, w, size)])
            lbl = np.concatenate([lbl, np.asarray(labels, np.int32)])
        if len(lbl) == 0 and mask_logits is None:
            raise ModelError("empty prompt: give points, a box or a mask")
        device = self.engine.device
        points = torch.from_numpy(pts).to(device)[None] if len(lbl) else None
        labels_t = torch.from_numpy(lbl).to(device)[None] if len(lbl) else None
        prev = None
        if mask_logits is not None:
            prev = torch.as_tensor(np.asarray(mask_logits, np.float32), device=device)
            prev = prev.reshape(1, 1, *prev.shape[-2:])
        with torch.inference_mode(), self.engine.autocast():
            out = self.model.decode(self._features, points, labels_t, prev, multimask)
            raw = out.masks.float()
            full = to_source_resolution(raw.transpose(0, 1), h, w).transpose(0, 1)
            low = raw.clamp(-PREV_MASK_CLAMP, PREV_MASK_CLAMP)  # for feeding back
        logits = full[0].cpu().numpy()
        return ImagePrediction(
            masks=logits > 0,
            logits=logits,
            scores=out.iou[0].float().cpu().numpy(),
            low_res_logits=low[0].cpu().numpy(),
        )
