"""Tracking machinery shared by :class:`VideoSession` and :class:`LiveTracker`.

- :class:`FrameRecord`: one object's state on one frame (what later frames need of it).
- :func:`plan_memory`: which earlier frames a frame attends to (conditioning frames, the
  last ``num_maskmem - 1`` frames, object pointers of the last ``max_obj_ptrs - 1`` frames).
- :class:`Engine`: runs the network stages for prompts and tracking steps on one device.

Semantics follow the official EfficientTAM video predictor: objects are tracked
independently, a prompt on a frame the object was never tracked on makes it a conditioning
frame (no memory), a prompt on a tracked frame is a correction (memory-conditioned, then
kept as a prompted frame), each prompt call is fed the frame's previous mask (see
:class:`Prompt` for a call's meaning), a box is two corner points before the points,
memories of prompted frames come from the binarised mask.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from etam_plugin.model.config import EfficientTAMConfig
from etam_plugin.model.efficienttam import EfficientTAM, MaskPrediction
from etam_plugin.model.memory_attention import MemoryInput, PreparedMemory
from etam_plugin.model.preprocess import scale_points, to_model_input, to_source_resolution
from etam_plugin.model.types import ObjectResult, Prompt

PREV_MASK_CLAMP = 32.0
"""Previous-mask logits fed back as a prompt are clamped, as the official predictor does."""


@dataclass
class FrameRecord:
    """One object on one frame.

    ``logits`` (1, 1, 4h, 4w) float32 low-res mask logits (model-input aligned);
    ``obj_ptr`` (1, C); ``memory`` (1, mem_dim, h, w) bfloat16, or None until encoded
    (it is derived from the frame's features and ``logits``, so it can be dropped and
    rebuilt); ``interacted`` marks frames decided by the user (their memory binarises the
    mask); ``reverse`` the direction the frame was tracked in.
    """

    logits: torch.Tensor
    obj_ptr: torch.Tensor
    object_score: float
    score: float
    interacted: bool
    reverse: bool = False
    memory: torch.Tensor | None = None

    def nbytes(self) -> int:
        tensors = [self.logits, self.obj_ptr] + ([self.memory] if self.memory is not None else [])
        return sum(t.numel() * t.element_size() for t in tensors)


@dataclass(frozen=True)
class MemoryPlan:
    """Frames attended by one tracking step.

    ``spatial``: (frame index, temporal-embedding index) of each memory frame;
    ``pointers``: frame indexes whose object pointers are attended.
    """

    spatial: tuple[tuple[int, int], ...]
    pointers: tuple[int, ...]


def plan_memory(
    frame: int,
    cond_frames: Iterable[int],
    has_record: Callable[[int], bool],
    *,
    num_maskmem: int,
    max_obj_ptrs: int,
    num_frames: int | None,
    reverse: bool,
    stride: int = 1,
    max_cond_frames: int = -1,
) -> MemoryPlan:
    """Which frames ``frame`` attends to (pure bookkeeping, no tensors).

    ``cond_frames``: the object's conditioning frames; ``has_record(t)``: whether a
    non-conditioning frame ``t`` has a record. ``num_frames`` None means unbounded (live).
    """
    cond = sorted(cond_frames)
    selected = _closest_cond_frames(frame, cond, max_cond_frames)
    unselected = set(cond) - set(selected)

    def usable(t: int) -> bool:
        return t in unselected or has_record(t)

    spatial = [(t, num_maskmem - 1) for t in selected]
    step = -1 if reverse else 1
    for distance in range(num_maskmem - 1, 0, -1):  # oldest first, as trained
        if distance == 1 or stride == 1:
            t = frame - step * distance
        else:  # every stride-th frame, plus the previous frame
            base = (
                ((frame - 2) // stride) * stride
                if not reverse
                else -(-(frame + 2) // stride) * stride
            )
            t = base - step * (distance - 2) * stride
        if usable(t):
            spatial.append((t, distance - 1))

    limit = max_obj_ptrs if num_frames is None else min(num_frames, max_obj_ptrs)
    pointers = [t for t in selected if (t >= frame if reverse else t <= frame)]
    for distance in range(1, limit):
        t = frame - step * distance
        if t < 0 or (num_frames is not None and t >= num_frames):
            break
        if usable(t):
            pointers.append(t)
    return MemoryPlan(tuple(spatial), tuple(pointers))


def _closest_cond_frames(frame: int, cond: list[int], limit: int) -> list[int]:
    """All conditioning frames, or the ``limit`` temporally closest (one before and one
    at/after the frame first) when a limit is set."""
    if limit == -1 or len(cond) <= limit:
        return cond
    chosen = []
    before = [t for t in cond if t < frame]
    after = [t for t in cond if t >= frame]
    if before:
        chosen.append(before[-1])
    if after:
        chosen.append(after[0])
    rest = sorted((t for t in cond if t not in chosen), key=lambda t: abs(t - frame))
    chosen += rest[: limit - len(chosen)]
    return sorted(chosen)


@dataclass(frozen=True)
class PromptStep:
    """One step of applying a prompt: model-input points/labels (None: none) or a mask."""

    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    mask: np.ndarray | None = None

    def same_as(self, other: PromptStep) -> bool:
        def eq(a: np.ndarray | None, b: np.ndarray | None) -> bool:
            return (a is None and b is None) or (
                a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b)
            )

        return (
            eq(self.points, other.points)
            and eq(self.labels, other.labels)
            and eq(self.mask, other.mask)
        )


PROMPT_STEPS_KEPT = 8  # prompt steps whose prediction a frame's cache keeps (the newest)


@dataclass
class PromptCache:
    """What :meth:`Engine.apply_prompt` computed on one frame for one object: the
    (memory-conditioned) features, its steps, and the predictions of the newest
    ``PROMPT_STEPS_KEPT`` of them (``outputs[0]`` is step ``first``): about 1 MB each, so a
    frame clicked a hundred times does not hold a hundred (an undo further back than
    those re-runs the steps from the first, as the first time)."""

    conditioned: torch.Tensor | None
    steps: list[PromptStep]
    outputs: list[MaskPrediction]
    first: int = 0

    def common_prefix(self, steps: Sequence[PromptStep]) -> int:
        n = 0
        for a, b in zip(self.steps, steps, strict=False):
            if not a.same_as(b):
                break
            n += 1
        return n


def prompt_steps(calls: Sequence[Prompt], height: int, width: int, size: int) -> list[PromptStep]:
    """One decoder step per call (see :class:`Prompt`): the points in force after the call
    (a box as corner points labelled 2, 3 before them), or a mask. Each step is fed the
    previous step's mask (:meth:`Engine.apply_prompt`), as each official call is fed the
    frame's previous output."""
    steps: list[PromptStep] = []
    points = np.zeros((0, 2), np.float32)
    labels = np.zeros(0, np.int32)
    for call in calls:
        if call.mask is not None:
            if call.mask.shape != (height, width):
                raise ValueError(
                    f"mask prompt is {call.mask.shape[1]}×{call.mask.shape[0]}, "
                    f"the frames are {width}×{height}"
                )
            steps.append(PromptStep(mask=call.mask.astype(bool)))
            points, labels = points[:0], labels[:0]  # a mask replaces the frame's points
            continue
        if call.is_empty:
            raise ValueError("empty prompt: give points, a box or a mask")
        new_xy = list(call.points_xy)
        new_labels = list(call.labels)
        if call.box_xyxy is not None:
            x0, y0, x1, y1 = call.box_xyxy
            new_xy = [(x0, y0), (x1, y1), *new_xy]
            new_labels = [2, 3, *new_labels]
        scaled = scale_points(np.array(new_xy, np.float32).reshape(-1, 2), height, width, size)
        if call.clear_old_points:
            points, labels = scaled, np.array(new_labels, np.int32)
        else:
            points = np.concatenate([points, scaled])
            labels = np.concatenate([labels, np.array(new_labels, np.int32)])
        steps.append(PromptStep(points, labels))
    return steps


class StageNetwork(Protocol):
    """What :class:`Engine` calls: the stage methods of :class:`EfficientTAM` (see it for
    shapes). ``etam_plugin.onnx_runtime.OnnxNetwork`` implements them on ONNX Runtime, so
    both backends share this module's tracking logic."""

    config: EfficientTAMConfig
    device: torch.device

    def to(self, device: torch.device | str) -> Any: ...

    def encode_image(self, images_b3ss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def predict_masks(
        self,
        features: torch.Tensor,
        points_xy: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        mask_logits: torch.Tensor | None = None,
        multimask: bool = False,
    ) -> MaskPrediction: ...

    def mask_as_output(self, features: torch.Tensor, mask_b1ss: torch.Tensor) -> MaskPrediction: ...

    def condition_on_memory(
        self, features: torch.Tensor, pos: torch.Tensor, memory: MemoryInput | None
    ) -> torch.Tensor: ...

    def encode_memory(
        self, features: torch.Tensor, masks_high_res: torch.Tensor, *, from_points: bool
    ) -> torch.Tensor: ...

    def prepare_memory(self, memory_bchw: torch.Tensor) -> PreparedMemory: ...

    def upscale(self, low_res: torch.Tensor) -> torch.Tensor: ...


class Engine:
    """Runs the network for tracking on one device and precision.

    ``dtype`` float32 runs plainly; on a GPU bfloat16/float16 run under autocast, keeping
    weights and stored state in float32 (memories in bfloat16, as the official predictor).
    On the CPU bfloat16 is a different plan (:func:`cpu_bfloat16_copy`): the image encoder
    and memory attention hold bfloat16 weights and run bfloat16 tensors end to end, the
    memory encoder runs under autocast and the decoder stays float32. Why not autocast: on
    the CPU it recasts weights on every call and keeps the fused float32 attention kernel,
    which gains nothing from bfloat16 (a live step measured 0.73× of float32 that way).
    ``cuda_graphs``: on a CUDA device, stages whose input layout repeats replay CUDA graphs
    (:mod:`cuda_graphs`); ignored elsewhere.
    """

    def __init__(
        self,
        model: EfficientTAM | StageNetwork,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        *,
        cuda_graphs: bool = False,
    ) -> None:
        self.device = torch.device(device) if device is not None else model.device
        if self.device != model.device:
            model.to(self.device)
        if cuda_graphs and isinstance(model, EfficientTAM):
            from etam_plugin.model.cuda_graphs import GraphedStages, cuda_graphs_available

            if cuda_graphs_available(self.device):
                model = GraphedStages(model)
        self.model = model
        self.dtype = dtype
        self.config = model.config
        # The tensor type of the stages that run in bfloat16 on the CPU (None: as given).
        self._stage_dtype: torch.dtype | None = None
        if self.device.type == "cpu" and dtype != torch.float32:
            if dtype != torch.bfloat16 or not isinstance(model, EfficientTAM):
                raise ValueError("on the CPU the torch network runs float32 or bfloat16 only")
            self.model = model = cpu_bfloat16_copy(model)
            self._stage_dtype = torch.bfloat16

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def layout(self) -> tuple[str, int]:
        """The (attention mode, pool window) memories are prepared for, read live from the
        network (``set_attention`` may change it during a session)."""
        attn = self.model.config.memory_attention
        return (attn.mode, attn.pool_window)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Autocast for a GPU's reduced precision (the CPU plan casts stages instead)."""
        if self.dtype == torch.float32 or self._stage_dtype is not None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _condition(
        self, feats: torch.Tensor, pos: torch.Tensor, memory: MemoryInput | None
    ) -> torch.Tensor:
        """Memory attention, in the stage precision; float32 out for the decoder."""
        cast = self._stage_dtype
        if cast is None or memory is None:
            return self.model.condition_on_memory(feats, pos, memory)
        if memory.pointers is not None:
            memory = MemoryInput(memory.frames, memory.pointers.to(cast))
        return self.model.condition_on_memory(feats.to(cast), pos.to(cast), memory).float()

    # -- stages ------------------------------------------------------------------------

    def encode_frame(self, frame_rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 RGB frame → (features, position map), each (1, C, h, w) float32."""
        x = to_model_input(frame_rgb, self.image_size, self.device)[None]
        if self._stage_dtype is not None:
            x = x.to(self._stage_dtype)
        with torch.inference_mode(), self.autocast():
            feats, pos = self.model.encode_image(x)
        return feats.float(), pos.float()

    def apply_prompt(
        self,
        feats: torch.Tensor,
        steps: Sequence[PromptStep],
        *,
        memory: MemoryInput | None,
        pos: torch.Tensor,
        base_logits: torch.Tensor | None,
        cache: PromptCache | None = None,
    ) -> tuple[MaskPrediction, PromptCache]:
        """Runs a prompt's steps on one frame; each step refines the previous mask.

        ``memory`` None: a conditioning frame (no memory); else a correction on a tracked
        frame, whose ``base_logits`` (the tracked mask) seed the first step. ``cache`` (from
        the previous call on the same frame and object, with the same memory) lets a prompt
        that extends or shortens the previous one — the next click, an undo — run only its
        new steps: interactive cost stays one decoder pass per click.
        """
        if not steps:
            raise ValueError("empty prompt: give points, a box or a mask")
        with torch.inference_mode(), self.autocast():
            if cache is not None and cache.conditioned is not None:
                conditioned = cache.conditioned
            else:
                conditioned = self._condition(feats, pos, memory)
            reused = cache.common_prefix(steps) if cache is not None else 0
            first = cache.first if cache is not None else 0
            if reused <= first:  # the last step shared is not kept: from the first step
                reused = first = 0
            outputs = list(cache.outputs[: reused - first]) if cache is not None else []
            previous = outputs[-1].masks.float() if outputs else base_logits
            for step in steps[reused:]:
                if step.mask is not None:
                    mask = torch.from_numpy(step.mask).to(self.device, torch.float32)[None, None]
                    prediction = self.model.mask_as_output(feats, self._mask_to_input(mask))
                else:
                    points = torch.from_numpy(step.points).to(self.device)[None]
                    labels = torch.from_numpy(step.labels).to(self.device)[None]
                    prev = None
                    if previous is not None:
                        prev = previous.clamp(-PREV_MASK_CLAMP, PREV_MASK_CLAMP)
                    multimask = len(step.labels) <= self.config.multimask_max_pt_num
                    prediction = self.model.predict_masks(
                        conditioned, points, labels, mask_logits=prev, multimask=multimask
                    )
                outputs.append(prediction)
                previous = prediction.masks.float()
        drop = max(0, len(outputs) - PROMPT_STEPS_KEPT)
        cache = PromptCache(conditioned, list(steps), outputs[drop:], first + drop)
        return outputs[-1], cache

    def _mask_to_input(self, mask_b1hw: torch.Tensor) -> torch.Tensor:
        """A source-resolution mask → the model's square input (bilinear, antialiased,
        re-thresholded at 0.5)."""
        s = self.image_size
        if mask_b1hw.shape[-2:] == (s, s):
            return mask_b1hw
        resized = torch.nn.functional.interpolate(
            mask_b1hw, (s, s), mode="bilinear", align_corners=False, antialias=True
        )
        return (resized >= 0.5).float()

    def track(self, feats: torch.Tensor, pos: torch.Tensor, memory: MemoryInput) -> MaskPrediction:
        """One tracking step for B objects sharing a memory plan (features expanded)."""
        b = memory.frames[0][0].tokens.shape[0]
        with torch.inference_mode(), self.autocast():
            conditioned = self._condition(
                feats.expand(b, -1, -1, -1), pos.expand(b, -1, -1, -1), memory
            )
            return self.model.predict_masks(conditioned, multimask=True)

    def encode_memory(
        self, feats: torch.Tensor, logits: torch.Tensor, interacted: Sequence[bool] | bool
    ) -> torch.Tensor:
        """Memories (B, mem_dim, h, w) in bfloat16 from low-res logits (B, 1, 4h, 4w)."""
        b = logits.shape[0]
        flags = [interacted] * b if isinstance(interacted, bool) else list(interacted)
        autocast = self.autocast()
        if self._stage_dtype is not None:  # convolutions: autocast helps, casting twice not
            autocast = torch.autocast("cpu", dtype=self._stage_dtype)
        with torch.inference_mode(), autocast:
            high = self.model.upscale(logits.to(self.device))
            out = torch.empty(0)
            if all(flags) or not any(flags):
                out = self.model.encode_memory(
                    feats.expand(b, -1, -1, -1), high, from_points=flags[0]
                )
            else:  # mixed batch: binarise per object
                parts = [
                    self.model.encode_memory(feats, high[i : i + 1], from_points=flags[i])
                    for i in range(b)
                ]
                out = torch.cat(parts)
        return out.to(torch.bfloat16)

    def prepare(self, memory_bf16: torch.Tensor) -> PreparedMemory:
        """Per-memory-frame precomputation (keys, pooled tokens), in the precision memory
        attention runs in (float32, or bfloat16 on the CPU plan)."""
        dtype = self._stage_dtype or torch.float32
        with torch.inference_mode():
            return self.model.prepare_memory(memory_bf16.to(self.device, dtype))

    # -- results -----------------------------------------------------------------------

    def to_result(
        self,
        obj_id: int,
        logits: torch.Tensor,
        score: float,
        object_score: float,
        height: int,
        width: int,
        *,
        keep_logits: bool = False,
    ) -> ObjectResult:
        """Low-res logits of one object → its result at source resolution."""
        with torch.inference_mode():
            full = to_source_resolution(logits.to(self.device), height, width)[0, 0]
            if keep_logits:
                full_np = full.float().cpu().numpy()
                mask = full_np > 0
            else:  # threshold where the logits are: a quarter of the bytes to the host
                full_np, mask = None, (full > 0).cpu().numpy()
        return ObjectResult(
            obj_id=obj_id,
            mask=mask,
            score=float(score),
            object_score=float(object_score),
            logits=full_np,
        )


def cpu_bfloat16_copy(model: EfficientTAM) -> EfficientTAM:
    """A copy of ``model`` whose stages that gain from bfloat16 on a CPU with native
    bfloat16 dot products (the image encoder, memory attention and the memory age embedding
    it reads) hold bfloat16 weights; the decoder, prompt encoder and memory encoder keep
    float32. A copy: the caller's float32 network may serve float32 engines too."""
    copy = deepcopy(model)
    copy.image_encoder.to(torch.bfloat16)
    copy.memory_attention.to(torch.bfloat16)
    copy.maskmem_tpos_enc.data = copy.maskmem_tpos_enc.data.to(torch.bfloat16)
    return copy


def record_from_prediction(
    prediction: MaskPrediction, index: int, *, interacted: bool, reverse: bool
) -> FrameRecord:
    """Extracts object ``index`` of a batched prediction as a stored record (on CPU)."""
    return FrameRecord(
        logits=prediction.masks[index : index + 1].float().cpu(),
        obj_ptr=prediction.obj_ptr[index : index + 1].float().cpu(),
        object_score=float(prediction.object_score[index, 0]),
        score=float(prediction.score[index]),
        interacted=interacted,
        reverse=reverse,
    )
