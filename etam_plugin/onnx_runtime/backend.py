"""The backend switch: tracking on the torch network or on an ONNX export, one Engine.

:class:`OnnxNetwork` offers the network's stage methods (``encode_image``,
``predict_masks``, ``mask_as_output``, ``condition_on_memory``, ``encode_memory``,
``prepare_memory``, ``upscale``) over :class:`OnnxStages`, converting torch tensors at the
boundary. The tracking logic stays in ``Engine`` (prompt steps, multimask rule, memory
batching) and in the sessions, so both backends run exactly the same bookkeeping.
Tensors on this side stay on the CPU; the execution provider decides where graphs run.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from etam_plugin.devices import BACKENDS
from etam_plugin.errors import ModelError, OnnxError
from etam_plugin.model import (
    EfficientTAM,
    Engine,
    MaskPrediction,
    MemoryInput,
    PreparedMemory,
    config_from_manifest,
)
from etam_plugin.onnx_runtime.manifest import PRECISIONS
from etam_plugin.onnx_runtime.stages import MaskOutputs, OnnxStages, PreparedFrame

_PREPARED_FIELDS = {f.name for f in dataclasses.fields(PreparedMemory)}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy()


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


class OnnxNetwork:
    """An ONNX export behind the stage methods ``Engine`` calls (float32, CPU tensors).

    Build with :meth:`load`; ``providers`` reports the execution providers in use.
    """

    def __init__(self, stages: OnnxStages) -> None:
        self.stages = stages
        self.config = config_from_manifest(stages.manifest.raw)
        self.device = torch.device("cpu")
        self.training = False

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike[str],
        *,
        providers: str | Sequence[str] | None = None,
        precision: str = "fp32",
        threads: int | None = None,
        device_id: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> OnnxNetwork:
        """Loads an export folder (errors are :class:`~etam_plugin.errors.OnnxError`)."""
        return cls(
            OnnxStages(
                folder,
                providers=providers,
                precision=precision,
                threads=threads,
                device_id=device_id,
                cache_dir=cache_dir,
            )
        )

    # -- what Engine and the sessions read -----------------------------------------------

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def layout(self) -> tuple[str, int]:
        attn = self.config.memory_attention
        return (attn.mode, attn.pool_window)

    @property
    def providers(self) -> tuple[str, ...]:
        return self.stages.active_providers

    @property
    def precision(self) -> str:
        return self.stages.precision

    def to(self, device: torch.device | str) -> OnnxNetwork:
        if torch.device(device).type != "cpu":
            raise ModelError(
                "the ONNX backend keeps its tensors on the CPU; choose where the graphs run "
                "with the execution providers (make_engine(..., providers=...))"
            )
        return self

    def eval(self) -> OnnxNetwork:
        return self

    # -- stages --------------------------------------------------------------------------

    def encode_image(self, images_b3ss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, pos = self.stages.encode_image(_np(images_b3ss.float()))
        return _t(features), _t(pos)

    def predict_masks(
        self,
        features: torch.Tensor,
        points_xy: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        mask_logits: torch.Tensor | None = None,
        multimask: bool = False,
    ) -> MaskPrediction:
        if mask_logits is not None:
            side = 4 * self.config.feature_size
            if mask_logits.shape[-2:] != (side, side):  # as EfficientTAM.decode does
                mask_logits = F.interpolate(
                    mask_logits.float(), (side, side), mode="bilinear", antialias=True
                )
        out = self.stages.predict_masks(
            _np(features.float()),
            None if points_xy is None else _np(points_xy.float()),
            None if labels is None else _np(labels),
            None if mask_logits is None else _np(mask_logits.float()),
            multimask,
        )
        masks = _t(out.masks)
        return self._prediction(out, masks, self.upscale(masks))

    def mask_as_output(self, features: torch.Tensor, mask_b1ss: torch.Tensor) -> MaskPrediction:
        mask = mask_b1ss.float()
        out = self.stages.mask_as_output(_np(features.float()), _np(mask))
        return self._prediction(out, _t(out.masks), mask * 20.0 - 10.0)

    def _prediction(
        self, out: MaskOutputs, masks: torch.Tensor, high: torch.Tensor
    ) -> MaskPrediction:
        return MaskPrediction(
            masks=masks,
            masks_high_res=high,
            candidates=_t(out.candidates),
            iou=_t(out.iou),
            score=_t(out.score),
            obj_ptr=_t(out.obj_ptr),
            object_score=_t(out.object_score),
        )

    def condition_on_memory(
        self, features: torch.Tensor, pos: torch.Tensor, memory: MemoryInput | None
    ) -> torch.Tensor:
        if memory is None:
            return _t(self.stages.condition_no_memory(_np(features.float())))
        frames = [(self._frame(prepared), age) for prepared, age in memory.frames]
        pointers = memory.pointers
        ptrs = None if pointers is None or pointers.shape[1] == 0 else _np(pointers.float())
        return _t(
            self.stages.condition_on_memory(_np(features.float()), _np(pos.float()), frames, ptrs)
        )

    def encode_memory(
        self, features: torch.Tensor, masks_high_res: torch.Tensor, *, from_points: bool
    ) -> torch.Tensor:
        memory = self.stages.encode_memory(
            _np(features.float()), _np(masks_high_res.float()), from_points
        )
        return _t(memory)

    def prepare_memory(self, memory_bchw: torch.Tensor) -> PreparedMemory:
        frame = self.stages.prepare_memory(_np(memory_bchw.float()))
        tokens = _t(frame.memory).flatten(2).transpose(1, 2)
        keys = tuple(_t(k) for k in frame.keys)
        values = _t(frame.values)
        # The sessions only carry, stack and measure prepared memories; the value tokens
        # go where this version of PreparedMemory keeps them.
        if "value_tokens" in _PREPARED_FIELDS:
            return PreparedMemory(tokens, keys, values, (), self.layout)
        return PreparedMemory(tokens, keys, (values,), self.layout)

    def _frame(self, prepared: PreparedMemory) -> PreparedFrame:
        if prepared.layout != self.layout:
            raise ValueError(f"memory prepared for {prepared.layout}, the export is {self.layout}")
        b, n, kv = prepared.tokens.shape
        side = math.isqrt(n)
        memory = prepared.tokens.transpose(1, 2).reshape(b, kv, side, side)
        values = getattr(prepared, "value_tokens", None)
        if values is None:
            values = prepared.values[0]
        return PreparedFrame(
            keys=tuple(_np(k) for k in prepared.keys), values=_np(values), memory=_np(memory)
        )

    def upscale(self, low_res: torch.Tensor) -> torch.Tensor:
        s = self.config.image_size
        return F.interpolate(low_res, (s, s), mode="bilinear", align_corners=False)


def _providers_for(device: torch.device | str | None) -> tuple[list[str] | None, int]:
    """A torch-style device as an execution-provider request (None: automatic)."""
    if device is None or device == "auto":
        return None, 0
    dev = torch.device(device)
    index = dev.index or 0
    if dev.type == "cuda":
        return ["cuda"], index
    if dev.type == "mps":
        return ["coreml"], 0
    if dev.type == "cpu":
        return ["cpu"], 0
    raise OnnxError(f"no execution provider for device {device!r}", reason="provider")


def make_engine(
    backend: str,
    model_or_onnx_dir: EfficientTAM | OnnxNetwork | str | os.PathLike[str],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    providers: str | Sequence[str] | None = None,
    precision: str = "fp32",
    threads: int | None = None,
    cuda_graphs: bool = False,
) -> Engine:
    """The tracking engine for ``VideoSession(..., engine=)`` / ``LiveTracker(..., engine=)``.

    ``backend="torch"``: ``model_or_onnx_dir`` is a loaded :class:`EfficientTAM`, run on
    ``device`` in ``dtype``. ``backend="onnx"``: an export folder (or a loaded
    :class:`OnnxNetwork`); ``providers`` names execution providers (default: from
    ``device`` — cuda → CUDA, cpu → CPU, None → the first available of TensorRT, CUDA,
    DirectML, CoreML, then CPU); ``precision`` ``fp32`` or ``int8``; float32 only.
    ``cuda_graphs`` (torch on CUDA): replay CUDA graphs of the stages (see ``Engine``).
    """
    if backend == "torch":
        if not isinstance(model_or_onnx_dir, EfficientTAM):
            raise OnnxError(
                "the torch backend needs a loaded network (etam_plugin.model.load_model), "
                f"not {type(model_or_onnx_dir).__name__}",
                reason="backend",
            )
        return Engine(model_or_onnx_dir, device, dtype, cuda_graphs=cuda_graphs)
    if backend != "onnx":
        raise OnnxError(
            f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}", reason="backend"
        )
    if dtype != torch.float32:
        raise OnnxError(
            f"the ONNX backend runs float32 graphs (or int8 with precision='int8'), not {dtype}",
            reason="precision",
        )
    if precision not in PRECISIONS:
        raise OnnxError(
            f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}",
            reason="precision",
        )
    if isinstance(model_or_onnx_dir, OnnxNetwork):
        return Engine(model_or_onnx_dir)
    if isinstance(model_or_onnx_dir, EfficientTAM):
        raise OnnxError(
            "the onnx backend needs an export folder: make one with "
            "'etam-plugin export-onnx VARIANT --out DIR'",
            reason="backend",
        )
    requested, device_id = _providers_for(device)
    network = OnnxNetwork.load(
        Path(model_or_onnx_dir),
        providers=providers if providers is not None else requested,
        precision=precision,
        threads=threads,
        device_id=device_id,
    )
    return Engine(network)


def describe_engine(engine: Engine) -> str:
    """One line for logs and status bars: backend, precision, where it runs."""
    model = engine.model
    if isinstance(model, OnnxNetwork):
        where = ", ".join(p.removesuffix("ExecutionProvider") for p in model.providers)
        return f"onnx {model.precision} ({where})"
    from etam_plugin.model.cuda_graphs import GraphedStages

    graphs = ", CUDA graphs" if isinstance(model, GraphedStages) else ""
    return f"torch {str(engine.dtype).removeprefix('torch.')} ({engine.device}{graphs})"
