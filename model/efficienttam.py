"""The EfficientTAM network as stage methods (no do-everything ``forward``).

Stages: encode an image, predict masks from prompts, condition features on memory,
encode a new memory. Tracking logic (which memories, which prompts, when) lives in the
session layer; this module only computes. Attribute names are the official checkpoint keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from etam_plugin.model.config import AttentionMode, EfficientTAMConfig
from etam_plugin.model.image_encoder import ImageEncoder, build_image_encoder
from etam_plugin.model.layers import MLP
from etam_plugin.model.mask_decoder import DecoderOutput, MaskDecoder
from etam_plugin.model.memory_attention import MemoryAttention, MemoryInput, PreparedMemory
from etam_plugin.model.memory_encoder import MemoryEncoder
from etam_plugin.model.prompt_encoder import PAD_LABEL, PromptEncoder

NO_OBJECT_LOGIT = -1024.0
"""Mask logit written where the object-score head says the object is absent."""


@dataclass(frozen=True)
class MaskPrediction:
    """Masks for B prompt sets on one frame.

    ``masks`` (B, 1, 4h, 4w) low-res logits of the chosen mask; ``masks_high_res``
    (B, 1, S, S) the same upsampled to the model input; ``candidates`` (B, M, 4h, 4w) all
    candidate masks (M = 3 with multimask, else 1) and ``iou`` (B, M) their predicted IoU;
    ``score`` (B,) predicted IoU of the chosen mask; ``obj_ptr`` (B, C) the object pointer;
    ``object_score`` (B, 1) presence logit (> 0: present).
    """

    masks: Tensor
    masks_high_res: Tensor
    candidates: Tensor
    iou: Tensor
    score: Tensor
    obj_ptr: Tensor
    object_score: Tensor


class EfficientTAM(nn.Module):
    """The network. Build with :func:`build_model`; sub-networks are passed in."""

    def __init__(
        self,
        config: EfficientTAMConfig,
        image_encoder: ImageEncoder,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
        memory_attention: MemoryAttention,
        memory_encoder: MemoryEncoder,
    ) -> None:
        super().__init__()
        self.config = config
        c, mem = config.hidden_dim, config.mem_dim
        self.image_encoder = image_encoder
        self.sam_prompt_encoder = prompt_encoder
        self.sam_mask_decoder = mask_decoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        # Learned embeddings: memory age, "no memory yet", "object absent" pointer.
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(config.num_maskmem, 1, 1, mem))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, c))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, c))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, c))
        # Turns a mask prompt into a low-res logit map for the pointer of a mask-only frame.
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.obj_ptr_proj = MLP(c, c, c, 3)

    # -- configuration ---------------------------------------------------------------

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def device(self) -> torch.device:
        return self.no_obj_ptr.device

    def set_attention(self, mode: AttentionMode, pool_window: int = 2) -> None:
        """Switches the memory cross-attention mode at run time (any checkpoint)."""
        self.config = self.config.with_attention(mode, pool_window)
        self.memory_attention.set_mode(mode, pool_window)

    # -- stages ------------------------------------------------------------------------

    def encode_image(self, images_b3ss: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised images (B, 3, S, S) → features (B, C, S/16, S/16) and position map."""
        return self.image_encoder(images_b3ss)

    def decode(
        self,
        features: Tensor,
        points_xy: Tensor | None = None,
        labels: Tensor | None = None,
        mask_logits: Tensor | None = None,
        multimask: bool = False,
    ) -> DecoderOutput:
        """Prompt encoder + mask decoder, raw: no object-score gating, no pointer.

        ``features`` (B, C, h, w); ``points_xy`` (B, N, 2) in model-input pixels with
        ``labels`` (B, N) (1/0 clicks, 2/3 box corners); ``mask_logits`` (B, 1, *, *) an
        optional mask prompt (resized to 4h×4w).
        """
        b = features.shape[0]
        if points_xy is None:
            points_xy = features.new_zeros(b, 1, 2)
            labels = torch.full((b, 1), PAD_LABEL, dtype=torch.int32, device=features.device)
        if mask_logits is not None:
            size = self.sam_prompt_encoder.mask_input_size
            if mask_logits.shape[-2:] != (size, size):
                mask_logits = F.interpolate(
                    mask_logits.float(), (size, size), mode="bilinear", antialias=True
                )
        sparse, dense = self.sam_prompt_encoder(points_xy, labels, mask_logits)
        return self.sam_mask_decoder(
            features, self.sam_prompt_encoder.dense_pe(), sparse, dense, multimask
        )

    def predict_masks(
        self,
        features: Tensor,
        points_xy: Tensor | None = None,
        labels: Tensor | None = None,
        mask_logits: Tensor | None = None,
        multimask: bool = False,
    ) -> MaskPrediction:
        """Masks, their scores and the object pointer for B prompt sets (see :meth:`decode`).

        ``features`` are memory-conditioned when tracking. Where the object-score head
        says the object is absent, masks become :data:`NO_OBJECT_LOGIT` and the pointer
        the learned "no object" pointer.
        """
        b = features.shape[0]
        out = self.decode(features, points_xy, labels, mask_logits, multimask)
        present = out.object_score > 0  # (B, 1)
        candidates = torch.where(present[..., None, None], out.masks, NO_OBJECT_LOGIT).float()
        rows = torch.arange(b, device=features.device)
        best = out.iou.argmax(-1) if multimask else torch.zeros_like(rows)
        masks = candidates[rows, best][:, None]
        token = out.tokens[rows, best] if out.tokens.shape[1] > 1 else out.tokens[:, 0]
        obj_ptr = self._gate_pointer(self.obj_ptr_proj(token), present.float())
        return MaskPrediction(
            masks=masks,
            masks_high_res=self.upscale(masks),
            candidates=candidates,
            iou=out.iou,
            score=out.iou[rows, best],
            obj_ptr=obj_ptr,
            object_score=out.object_score,
        )

    def mask_as_output(self, features: Tensor, mask_b1ss: Tensor) -> MaskPrediction:
        """A mask prompt becomes the frame's output directly (no decoder on the mask);
        the decoder still runs once on the mask to produce the object pointer."""
        mask = mask_b1ss.float()
        high = mask * 20.0 - 10.0  # sigmoid(-10) ≈ 4.5e-5: confident logits
        side = high.shape[-1] // 4
        low = F.interpolate(high, (side, side), mode="bilinear", antialias=True)
        pointer_source = self.predict_masks(features, mask_logits=self.mask_downsample(mask))
        present = (mask.flatten(1) > 0).any(dim=1, keepdim=True).float()
        b = mask.shape[0]
        return MaskPrediction(
            masks=low,
            masks_high_res=high,
            candidates=low,
            iou=mask.new_ones(b, 1),
            score=mask.new_ones(b),
            obj_ptr=self._gate_pointer(pointer_source.obj_ptr, present),
            object_score=present * 20.0 - 10.0,
        )

    def condition_on_memory(
        self, features: Tensor, pos: Tensor, memory: MemoryInput | None
    ) -> Tensor:
        """Features of the current frame conditioned on memory: (B, C, h, w).

        ``memory`` None marks a frame tracked from its own prompts only (the first
        conditioning frame), where the learned "no memory" embedding is added instead.
        """
        if memory is None:
            return features + self.no_mem_embed.view(1, -1, 1, 1)
        tpos = self.maskmem_tpos_enc.flatten(1)  # (num_maskmem, mem_dim)
        return self.memory_attention(features, pos, memory, tpos)

    def encode_memory(
        self, features: Tensor, masks_high_res: Tensor, *, from_points: bool
    ) -> Tensor:
        """A new memory (B, mem_dim, h, w) from the frame's raw features and its mask logits.

        Masks decided by clicks are binarised first, so memory holds what the user saw.
        """
        if from_points and self.config.binarize_mask_from_pts_for_mem_enc:
            mask = (masks_high_res > 0).float()
        else:
            mask = torch.sigmoid(masks_high_res)
        mask = mask * self.config.sigmoid_scale_for_mem_enc + self.config.sigmoid_bias_for_mem_enc
        memory, _ = self.memory_encoder(features, mask)
        return memory

    def prepare_memory(
        self, memory_bchw: Tensor, project_values: bool | None = None
    ) -> PreparedMemory:
        """Per-memory-frame precomputation for memory attention (see memory_attention)."""
        return self.memory_attention.prepare(memory_bchw, project_values)

    # -- helpers -----------------------------------------------------------------------

    def upscale(self, low_res: Tensor) -> Tensor:
        """Low-res logits (B, M, 4h, 4w) → model-input resolution (B, M, S, S)."""
        s = self.config.image_size
        return F.interpolate(low_res, (s, s), mode="bilinear", align_corners=False)

    def _gate_pointer(self, obj_ptr: Tensor, present: Tensor) -> Tensor:
        """Absent objects get the learned "no object" pointer instead of their own."""
        return present * obj_ptr + (1 - present) * self.no_obj_ptr


def build_model(config: EfficientTAMConfig) -> EfficientTAM:
    """A randomly initialised network for ``config`` in eval mode (load weights after)."""
    c = config.hidden_dim
    model = EfficientTAM(
        config,
        image_encoder=build_image_encoder(config.encoder),
        prompt_encoder=PromptEncoder(
            c, config.feature_size, config.image_size, config.decoder.mask_in_chans
        ),
        mask_decoder=MaskDecoder(
            c,
            config.decoder,
            stability_delta=config.dynamic_multimask_stability_delta,
            stability_thresh=config.dynamic_multimask_stability_thresh,
            dynamic_multimask=config.dynamic_multimask_via_stability,
        ),
        memory_attention=MemoryAttention(config.memory_attention),
        memory_encoder=MemoryEncoder(c, config.mem_dim),
    )
    return model.eval()
