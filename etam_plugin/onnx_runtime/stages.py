"""The exported graphs as ONNX Runtime sessions: the network's stages on numpy arrays.

Imports numpy and onnxruntime only — no torch — so an export runs where PyTorch is not
installed. Each method is one stage of ``EfficientTAM`` with the same shapes (see
``etam_plugin.model.onnx_export``); the few steps between graphs (choosing a mask among
the decoder's four, gating a mask prompt's pointer, stacking memory frames) are done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from etam_plugin.errors import OnnxError
from etam_plugin.onnx_runtime.manifest import PRECISIONS, Manifest, read_manifest
from etam_plugin.onnx_runtime.providers import ProviderPlan, plan_providers

PAD_LABEL = -1
"""Label of the padding point a prompt without clicks carries."""


@dataclass(frozen=True)
class MaskOutputs:
    """Masks for B prompt sets on one frame (as the torch ``MaskPrediction``, low-res).

    ``masks`` (B, 1, 4h, 4w) logits of the chosen mask; ``candidates`` (B, M, 4h, 4w) and
    ``iou`` (B, M) all candidates (M = 3 with multimask, else 1); ``score`` (B,) predicted
    IoU of the chosen mask; ``obj_ptr`` (B, C); ``object_score`` (B, 1) (> 0: present).
    """

    masks: np.ndarray
    candidates: np.ndarray
    iou: np.ndarray
    score: np.ndarray
    obj_ptr: np.ndarray
    object_score: np.ndarray


@dataclass(frozen=True)
class PreparedFrame:
    """One memory frame of B objects, ready to be attended.

    ``keys`` per layer (B, H, G, d) without their age term and ``values`` (B, G, kv) the
    memory tokens, both on the export's grid (pooled in the pooled modes); ``memory``
    (B, kv, h, w) the memory itself, from which the unpooled ones are made when this frame
    is attended alone.
    """

    keys: tuple[np.ndarray, ...]
    values: np.ndarray
    memory: np.ndarray


@dataclass(frozen=True)
class _Grid:
    rope_cos: np.ndarray
    rope_sin: np.ndarray
    logit_bias: np.ndarray | None


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


class OnnxStages:
    """Loads an export folder into ONNX Runtime sessions.

    ``providers``: None/"auto" or names (see ``providers.plan_providers``);
    ``precision``: ``fp32`` or ``int8`` (the export's quantised graphs where it has them);
    ``threads``: intra-op threads per session (default: onnxruntime's choice).
    ``active_providers`` reports what onnxruntime actually runs.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        providers: str | Sequence[str] | None = None,
        precision: str = "fp32",
        threads: int | None = None,
        device_id: int = 0,
        cache_dir: str | Path | None = None,
    ) -> None:
        # Providers first: a provider this build lacks is wrong whatever the folder holds.
        self.plan: ProviderPlan = plan_providers(
            providers, device_id=device_id, cache_dir=cache_dir
        )
        self.manifest: Manifest = read_manifest(folder)
        if precision not in PRECISIONS:
            raise OnnxError(
                f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}",
                reason="precision",
            )
        if precision not in self.manifest.precisions:
            raise OnnxError(
                f"{self.manifest.folder} has no int8 graphs; export with --quantize int8",
                path=self.manifest.folder,
                reason="no-int8",
            )
        self.precision = precision
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: EP fallbacks are reported by us
        # Each session has its own thread pool, and a tracked frame runs five graphs in
        # turn: pools that spin-wait after their graph steal the cores from the next one
        # (and from torch, capture and compositing). Measured on 2 cores: spinning off
        # makes a live-tracker step faster, not slower.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
        if self.plan.disable_mem_pattern:
            options.enable_mem_pattern = False
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._sessions: dict[str, ort.InferenceSession] = {}
        for name in self.manifest.graphs:
            path = self.manifest.path(name, precision)
            try:
                self._sessions[name] = ort.InferenceSession(
                    str(path),
                    sess_options=options,
                    providers=list(self.plan.providers),
                    provider_options=list(self.plan.options),
                )
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
                raise OnnxError(
                    f"onnxruntime cannot load {path}: {exc}", path=path, reason="unreadable"
                ) from exc
        m = self.manifest
        self.mode = m.mode
        self.num_layers = m.num_layers
        self._inputs = {n: set(m.graphs[n].inputs) for n in m.graphs}
        self._prepared_names = (*(f"keys_{i}" for i in range(m.num_layers)), "values")
        self._grids: dict[str, _Grid] = {}

    # -- bookkeeping ---------------------------------------------------------------------

    @property
    def active_providers(self) -> tuple[str, ...]:
        """The providers onnxruntime really runs the graphs with (fallbacks dropped)."""
        return tuple(next(iter(self._sessions.values())).get_providers())

    def _run(self, graph: str, feed: dict, outputs: Sequence[str] | None = None) -> list:
        session = self._sessions.get(graph)
        if session is None:  # a partial export (export_onnx(graphs=...))
            self.manifest.graph(graph)  # raises OnnxError(reason="graph-missing")
        return session.run(None if outputs is None else list(outputs), feed)

    def _grid(self, graph: str) -> _Grid:
        """The rotary tables (and logit bias) of a memory grid: constants of the graph,
        read once."""
        if graph not in self._grids:
            self._grids[graph] = self._read_grid(graph)
        return self._grids[graph]

    def _read_grid(self, graph: str) -> _Grid:
        m = self.manifest
        names = ["rope_cos", "rope_sin"]
        has_bias = "logit_bias" in m.graphs[graph].outputs
        if has_bias:
            names.append("logit_bias")
        zeros = np.zeros((1, m.mem_dim, m.feature_size, m.feature_size), np.float32)
        out = self._run(graph, {"memory": zeros}, names)
        return _Grid(out[0], out[1], out[2] if has_bias else None)

    # -- stages --------------------------------------------------------------------------

    def encode_image(self, image_b3ss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised images (B, 3, S, S) → features and position map (B, C, h, w)."""
        features, pos = self._run("image_encoder", {"image": _f32(image_b3ss)})
        return features, pos

    def condition_no_memory(self, features: np.ndarray) -> np.ndarray:
        """Features of a frame tracked from its prompts only (the "no memory" embedding)."""
        return self._run("no_memory", {"features": _f32(features)})[0]

    def predict_masks(
        self,
        features: np.ndarray,
        points_xy: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        mask_input: np.ndarray | None = None,
        multimask: bool = False,
    ) -> MaskOutputs:
        """Masks for B prompt sets: clicks/box corners (B, N, 2) in model-input pixels with
        labels (B, N) (1/0 clicks, 2/3 box corners) and/or low-res logits (B, 1, 4h, 4w)."""
        b = features.shape[0]
        side = 4 * self.manifest.feature_size
        if points_xy is None:
            points_xy = np.zeros((b, 1, 2), np.float32)
            labels = np.full((b, 1), PAD_LABEL, np.int32)
        has_mask = mask_input is not None
        if mask_input is None:
            mask_input = np.zeros((b, 1, side, side), np.float32)
        masks, iou, ptr, object_score, single = self._run(
            "prompt_decoder",
            {
                "features": _f32(features),
                "points": _f32(points_xy),
                "labels": np.ascontiguousarray(labels, dtype=np.int32),
                "mask_input": _f32(mask_input),
                "has_mask_input": np.array([1.0 if has_mask else 0.0], np.float32),
            },
        )
        rows = np.arange(b)
        if multimask:
            candidates, iou = masks[:, 1:], iou[:, 1:]
            best = iou.argmax(-1)
            chosen = candidates[rows, best][:, None]
            obj_ptr, score = ptr[rows, best + 1], iou[rows, best]
        else:
            chosen = masks[rows, single][:, None]
            candidates, iou = chosen, iou[rows, single][:, None]
            obj_ptr, score = ptr[:, 0], iou[:, 0]
        return MaskOutputs(chosen, candidates, iou, score, obj_ptr, object_score)

    def mask_as_output(self, features: np.ndarray, mask_b1ss: np.ndarray) -> MaskOutputs:
        """A mask prompt (B, 1, S, S) in {0, 1} as the frame's output; the decoder runs on
        it only for the object pointer (the "no object" pointer if the mask is empty)."""
        mask_input, low, object_score, no_ptr = self._run("mask_prompt", {"mask": _f32(mask_b1ss)})
        pointer = self.predict_masks(features, mask_input=mask_input).obj_ptr
        b = low.shape[0]
        return MaskOutputs(
            masks=low,
            candidates=low,
            iou=np.ones((b, 1), np.float32),
            score=np.ones(b, np.float32),
            obj_ptr=np.where(object_score > 0, pointer, no_ptr),
            object_score=object_score,
        )

    def encode_memory(
        self, features: np.ndarray, masks_high_res: np.ndarray, binarize: bool | Sequence[bool]
    ) -> np.ndarray:
        """A memory (B, mem_dim, h, w) from features and mask logits (B, 1, S, S);
        ``binarize`` per object (masks decided by clicks are binarised)."""
        b = masks_high_res.shape[0]
        flags = np.broadcast_to(np.asarray(binarize, dtype=bool), (b,))
        return self._run(
            "memory_encoder",
            {
                "features": _f32(features),
                "masks_high_res": _f32(masks_high_res),
                "binarize": np.ascontiguousarray(flags),
            },
        )[0]

    def prepare_memory(self, memory_bchw: np.ndarray) -> PreparedFrame:
        """Keys and values of one memory frame (B objects), computed once per frame."""
        return self._prepare("memory_prepare", _f32(memory_bchw))

    def _prepare(self, graph: str, memory: np.ndarray) -> PreparedFrame:
        out = self._run(graph, {"memory": memory}, self._prepared_names)
        return PreparedFrame(tuple(out[:-1]), out[-1], memory)

    def condition_on_memory(
        self,
        features: np.ndarray,
        pos: np.ndarray,
        frames: Sequence[tuple[PreparedFrame, int]],
        pointers: np.ndarray | None,
    ) -> np.ndarray:
        """Features (B, C, h, w) conditioned on memory frames (each with its age: 0 = the
        previous frame … num_maskmem - 1 = a conditioning frame) and object pointers
        (B, P, C) (None: none)."""
        if not frames:
            raise ValueError("memory attention needs at least one memory frame")
        grid = self._grid("memory_prepare")
        if self.mode != "full" and len(frames) == 1:  # pooling needs two frames or more
            frames = [
                (self._prepare("memory_prepare_unpooled", frame.memory), age)
                for frame, age in frames
            ]
            grid = self._grid("memory_prepare_unpooled")
        b = features.shape[0]
        if pointers is None:
            pointers = np.zeros((b, 0, self.manifest.hidden_dim), np.float32)
        feed = {
            "features": _f32(features),
            "pos": _f32(pos),
            "memory_ages": np.array([age for _, age in frames], np.int64),
            "memory_values": np.stack([f.values for f, _ in frames], axis=1),
            "pointers": _f32(pointers),
            "rope_cos": grid.rope_cos,
            "rope_sin": grid.rope_sin,
        }
        for i in range(self.num_layers):
            feed[f"memory_keys_{i}"] = np.stack([f.keys[i] for f, _ in frames], axis=2)
        if "logit_bias" in self._inputs["memory_attention"]:
            feed["logit_bias"] = grid.logit_bias
        return self._run("memory_attention", feed)[0]
