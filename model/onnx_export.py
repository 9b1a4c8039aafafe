"""ONNX export of the network: one graph per stage method, plus a JSON manifest.

Each graph computes one stage of :class:`EfficientTAM` with the same inputs and outputs,
so ONNX Runtime can run the tracking logic of :mod:`tracking` unchanged
(``etam_plugin.onnx_runtime`` loads the graphs; it needs neither torch nor this module):

==========================  =============================================================
graph                       stage
==========================  =============================================================
``image_encoder``           ``encode_image``: normalised image → features, position map
``no_memory``               ``condition_on_memory(…, None)``: features + "no memory" embedding
``prompt_decoder``          prompt encoder + mask decoder (``decode``/``predict_masks``): all
                            four mask tokens' masks, IoU and object pointers (presence-gated),
                            the object score, and the single-mask choice; the caller picks
                            masks 1-3 (multimask) or ``single_index``
``mask_prompt``             ``mask_as_output``'s own part: a mask becomes low-res logits, the
                            decoder's mask input, an object score and the "no object" pointer
``memory_encoder``          ``encode_memory`` (``binarize`` per object)
``memory_prepare``          ``prepare_memory``: rotated keys per layer and the (pooled) tokens
                            of one memory frame, plus the rotary tables of its grid
``memory_prepare_unpooled`` pooled modes only: the same on the unpooled grid, used when a
                            single memory frame is attended (pooling needs two or more)
``memory_attention``        ``condition_on_memory``: F memory frames (dynamic) with their ages,
                            P object pointers (dynamic, may be 0)
==========================  =============================================================

Memory attention runs over *prepared* memory frames (see ``memory_attention``): keys are
projected once per memory frame, their age term is added inside the graph, so the runtime
keeps the per-frame caching of the torch path. The graph does not depend on the pooling:
``memory_prepare`` describes its grid (rotary tables, and in ``pooled`` mode the logit bias
ln(l·l)), so one attention graph serves pooled and unpooled memories.

Exporter: ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript), the default,
exports every graph with named dynamic axes (symbolic shapes, checked by torch.export) and
optimises it. The TorchScript exporter (``exporter="torchscript"``, deprecated upstream)
cannot export ``mask_prompt``: torch's antialiased resize (``_upsample_bilinear2d_aa``) has
no TorchScript→ONNX mapping, while the dynamo exporter maps it to ``Resize(antialias=1)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from etam_plugin.model import position
from etam_plugin.model.config import (
    DecoderConfig,
    EfficientTAMConfig,
    MemoryAttentionConfig,
    ViTConfig,
)
from etam_plugin.model.efficienttam import NO_OBJECT_LOGIT, EfficientTAM
from etam_plugin.model.errors import CancelledError, ModelError
from etam_plugin.model.onnx_format import FORMAT, FORMAT_VERSION, MANIFEST_FILE
from etam_plugin.model.position import apply_rope, rotate_pairs

DEFAULT_OPSET = 18
MIN_OPSET = 17
EXPORTERS = ("dynamo", "torchscript")

ProgressCallback = Callable[[str, int, int], None]
"""Called with (graph name, graphs done, graphs in all) before each graph is exported."""


# -- graphs: thin modules over the network's own sub-modules ------------------------------


class _ImageEncoder(nn.Module):
    def __init__(self, net: EfficientTAM) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        return self.net.encode_image(image)


class _NoMemory(nn.Module):
    def __init__(self, net: EfficientTAM) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: Tensor) -> Tensor:
        return self.net.condition_on_memory(features, features, None)


class _PromptDecoder(nn.Module):
    """All four mask tokens at once, so one graph serves single and multimask prompts.

    Mirrors ``MaskDecoder.forward`` + ``EfficientTAM.predict_masks``: the decoder always
    computes the four masks; multimask keeps 1-3, single mask keeps 0 or, where mask 0 is
    unstable, the best of 1-3 (``single_index``).
    """

    def __init__(self, net: EfficientTAM) -> None:
        super().__init__()
        self.net = net

    def forward(
        self,
        features: Tensor,
        points: Tensor,
        labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        net = self.net
        prompts, dec = net.sam_prompt_encoder, net.sam_mask_decoder
        b, c, h, w = features.shape
        sparse = prompts.embed_points(points, labels)
        has = has_mask_input.reshape(1, 1, 1, 1)
        no_mask = prompts.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = has * prompts.mask_downscaling(mask_input) + (1.0 - has) * no_mask

        out_tokens = torch.cat(
            [dec.obj_score_token.weight, dec.iou_token.weight, dec.mask_tokens.weight]
        )
        tokens = torch.cat([out_tokens.expand(b, -1, -1), sparse], dim=1)
        image_pe = prompts.dense_pe().expand(b, -1, -1, -1)
        hs, image = dec.transformer(features + dense, image_pe, tokens)
        mask_tokens = hs[:, 2 : 2 + dec.num_mask_tokens]
        upscaled = dec.output_upscaling(image.transpose(1, 2).reshape(b, c, h, w))
        hyper = torch.stack(
            [mlp(mask_tokens[:, i]) for i, mlp in enumerate(dec.output_hypernetworks_mlps)], dim=1
        )
        masks = (hyper @ upscaled.flatten(2)).unflatten(-1, upscaled.shape[-2:])
        iou = dec.iou_prediction_head(hs[:, 1])
        object_score = dec.pred_obj_score_head(hs[:, 0])

        best = iou[:, 1:].argmax(-1) + 1
        if dec.dynamic_multimask:
            single = masks[:, 0].flatten(1)
            inner = (single > dec.stability_delta).sum(-1).float()
            outer = (single > -dec.stability_delta).sum(-1).float()
            stability = torch.where(outer > 0, inner / outer.clamp(min=1.0), 1.0)
            single_index = torch.where(stability >= dec.stability_thresh, 0, best)
        else:
            single_index = torch.zeros_like(best)

        present = object_score > 0  # (B, 1)
        masks = torch.where(present[..., None, None], masks, NO_OBJECT_LOGIT)
        gate = present.float()[..., None]  # (B, 1, 1)
        obj_ptr = gate * net.obj_ptr_proj(mask_tokens) + (1.0 - gate) * net.no_obj_ptr
        return masks, iou, obj_ptr, object_score, single_index


class _MaskPrompt(nn.Module):
    """The part of ``mask_as_output`` that is not the decoder."""

    def __init__(self, net: EfficientTAM) -> None:
        super().__init__()
        self.net = net

    def forward(self, mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        high = mask * 20.0 - 10.0
        side = high.shape[-1] // 4
        low = F.interpolate(high, (side, side), mode="bilinear", antialias=True)
        present = (mask.flatten(1) > 0).any(dim=1, keepdim=True).float()
        no_ptr = self.net.no_obj_ptr.expand(mask.shape[0], -1)
        return self.net.mask_downsample(mask), low, present * 20.0 - 10.0, no_ptr


class _MemoryEncoder(nn.Module):
    def __init__(self, net: EfficientTAM) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: Tensor, masks_high_res: Tensor, binarize: Tensor) -> Tensor:
        config = self.net.config
        soft = torch.sigmoid(masks_high_res)
        if config.binarize_mask_from_pts_for_mem_enc:
            hard = (masks_high_res > 0).float()
            soft = torch.where(binarize.reshape(-1, 1, 1, 1), hard, soft)
        mask = soft * config.sigmoid_scale_for_mem_enc + config.sigmoid_bias_for_mem_enc
        memory, _ = self.net.memory_encoder(features, mask)
        return memory


class _MemoryPrepare(nn.Module):
    """Keys and value tokens of one memory frame and the tables of its grid.

    As ``MemoryAttention.prepare``; ``pooled`` False in a pooled mode gives the unpooled
    keys and tokens (what attention uses when a single memory frame is attended), with no
    ln(l·l) anywhere.
    """

    def __init__(self, net: EfficientTAM, pooled: bool) -> None:
        super().__init__()
        self.net = net
        self.pooled = pooled

    def forward(self, memory: Tensor) -> tuple[Tensor, ...]:
        attn = self.net.memory_attention
        side = memory.shape[-1]
        mode, window = attn.layout
        pool = self.pooled and mode != "full"
        tokens = memory.flatten(2).transpose(1, 2)  # (B, N, kv)
        keys = []
        for layer in attn.layers:
            k = attn._spatial_keys(layer, tokens, side)
            if pool:
                k = attn._pool(k, side)
                if mode == "pooled-keys":
                    k = k + math.log(window * window)
            keys.append(k)
        values = attn._pool(tokens, side) if pool else tokens
        cos, sin = attn.rope.tables(side, memory.device, memory.dtype)
        if pool:
            cos, sin = attn._pool(cos[None], side)[0], attn._pool(sin[None], side)[0]
        outputs = (*keys, values, cos, sin)
        if mode == "pooled":
            ln = math.log(window * window) if pool else 0.0
            outputs = (*outputs, memory.new_full((1,), ln))
        return outputs


class _MemoryAttention(nn.Module):
    """``MemoryAttention.forward`` over stacked prepared frames (F and P dynamic).

    Keys arrive without their age term: ``rope(W_k · tpos[age])`` on the memory grid
    (``rope_cos``/``rope_sin`` from ``memory_prepare``) is added here per frame. Values
    are the narrow memory tokens, projected after attention (weights sum to one, so
    ``softmax(qkᵀ)·(W·x + b) = (softmax(qkᵀ)·x)·Wᵀ + b``): 4× less to mix and to keep.
    """

    def __init__(self, net: EfficientTAM) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: Tensor, pos: Tensor, *memory: Tensor) -> Tensor:
        attn = self.net.memory_attention
        n = len(attn.layers)
        keys = memory[:n]  # each (B, H, F, G, d)
        values, ages, pointers, rope_cos, rope_sin = memory[n : n + 5]  # values (B, F, G, kv)
        logit_bias = memory[n + 5] if len(memory) > n + 5 else None
        b, c, h, w = features.shape

        tpos = self.net.maskmem_tpos_enc.flatten(1)[ages]  # (F, kv)
        ptr_tokens = pointers.reshape(b, -1, attn.config.kv_dim)  # C/kv tokens per pointer
        spatial = values.flatten(1, 2)
        tokens = torch.cat([spatial, ptr_tokens], dim=1)  # (B, M, kv)
        bias = None
        if logit_bias is not None:
            bias = torch.cat(
                [logit_bias.expand(spatial.shape[1]), logit_bias.new_zeros(ptr_tokens.shape[1])]
            )

        cos, sin = attn.rope.tables(h, features.device, features.dtype)
        x = (features + 0.1 * pos).flatten(2).transpose(1, 2)
        for index, layer in enumerate(attn.layers):
            x = x + layer.self_attn(layer.norm1(x), cos, sin)
            cross = layer.cross_attn_image
            q = apply_rope(cross.heads(cross.q_proj(layer.norm2(x))), cos, sin)
            age = (tpos @ cross.k_proj.weight.T).unflatten(-1, (attn.config.num_heads, -1))
            age = age[:, :, None, :]  # (F, H, 1, d)
            age_keys = age * rope_cos + rotate_pairs(age) * rope_sin  # (F, H, G, d)
            mem_keys = (keys[index] + age_keys.transpose(0, 1)).flatten(2, 3)
            all_keys = torch.cat([mem_keys, cross.heads(cross.k_proj(ptr_tokens))], dim=2)
            logits = q @ (all_keys.transpose(-1, -2) * (q.shape[-1] ** -0.5))
            if bias is not None:
                logits = logits + bias
            mixed = logits.softmax(-1) @ tokens[:, None]  # (B, H, N, kv)
            v = cross.v_proj.weight.unflatten(0, (attn.config.num_heads, -1))  # (H, d, kv)
            out = torch.einsum("bhnk,hdk->bnhd", mixed, v).flatten(-2) + cross.v_proj.bias
            x = x + cross.out_proj(out)
            x = x + layer.linear2(F.relu(layer.linear1(layer.norm3(x))))
        x = attn.norm(x)
        return x.transpose(1, 2).reshape(b, c, h, w)


# -- graph table ---------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, dtype (numpy name), shape (ints or axis names)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class GraphSpec:
    name: str
    module: nn.Module
    example: tuple[Tensor, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def graph_names(mode: str) -> tuple[str, ...]:
    """The graphs an export in attention ``mode`` holds, in export order."""
    names = ["image_encoder", "no_memory", "prompt_decoder", "mask_prompt", "memory_encoder"]
    names.append("memory_prepare")
    if mode != "full":
        names.append("memory_prepare_unpooled")
    names.append("memory_attention")
    return tuple(names)


def _specs(net: EfficientTAM) -> dict[str, GraphSpec]:
    """Every graph with example inputs (dynamic axes ≥ 2 so the exporter keeps them
    symbolic) and named axes: B objects, N points, F memory frames, P pointers,
    G tokens of a memory grid (pooled or not)."""
    cfg = net.config
    c, s, h = cfg.hidden_dim, cfg.image_size, cfg.feature_size
    attn = cfg.memory_attention
    kv, heads, layers = attn.kv_dim, attn.num_heads, attn.num_layers
    d = attn.d_model // heads
    pool = attn.pool_window if attn.mode != "full" else 1
    gen = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen)

    def spec(name: str, dtype: str, *shape: int | str) -> TensorSpec:
        return TensorSpec(name, dtype, tuple(shape))

    fmap = ("B", c, h, h)
    key_names = [f"memory_keys_{i}" for i in range(layers)]
    grid_out = (
        spec("rope_cos", "float32", "G", d),
        spec("rope_sin", "float32", "G", d),
    )
    bias = (spec("logit_bias", "float32", 1),) if attn.mode == "pooled" else ()

    def prepare(pooled: bool) -> GraphSpec:
        return GraphSpec(
            "memory_prepare" if pooled else "memory_prepare_unpooled",
            _MemoryPrepare(net, pooled),
            (rand(2, kv, h, h),),
            (spec("memory", "float32", "B", kv, h, h),),
            (
                *(spec(f"keys_{i}", "float32", "B", heads, "G", d) for i in range(layers)),
                spec("values", "float32", "B", "G", kv),
                *grid_out,
                *bias,
            ),
        )

    grid = h * h // (pool * pool)
    specs = [
        GraphSpec(
            "image_encoder",
            _ImageEncoder(net),
            (rand(2, 3, s, s),),
            (spec("image", "float32", "B", 3, s, s),),
            (spec("features", "float32", *fmap), spec("pos", "float32", *fmap)),
        ),
        GraphSpec(
            "no_memory",
            _NoMemory(net),
            (rand(2, c, h, h),),
            (spec("features", "float32", *fmap),),
            (spec("conditioned", "float32", *fmap),),
        ),
        GraphSpec(
            "prompt_decoder",
            _PromptDecoder(net),
            (
                rand(2, c, h, h),
                torch.rand(2, 3, 2, generator=gen) * s,
                torch.tensor([[2, 3, 1], [1, 0, -1]], dtype=torch.int32),
                rand(2, 1, 4 * h, 4 * h),
                torch.ones(1),
            ),
            (
                spec("features", "float32", *fmap),
                spec("points", "float32", "B", "N", 2),
                spec("labels", "int32", "B", "N"),
                spec("mask_input", "float32", "B", 1, 4 * h, 4 * h),
                spec("has_mask_input", "float32", 1),
            ),
            (
                spec("masks", "float32", "B", 4, 4 * h, 4 * h),
                spec("iou", "float32", "B", 4),
                spec("obj_ptr", "float32", "B", 4, c),
                spec("object_score", "float32", "B", 1),
                spec("single_index", "int64", "B"),
            ),
        ),
        GraphSpec(
            "mask_prompt",
            _MaskPrompt(net),
            ((torch.rand(2, 1, s, s, generator=gen) > 0.5).float(),),
            (spec("mask", "float32", "B", 1, s, s),),
            (
                spec("mask_input", "float32", "B", 1, 4 * h, 4 * h),
                spec("low_res_logits", "float32", "B", 1, 4 * h, 4 * h),
                spec("object_score", "float32", "B", 1),
                spec("no_object_pointer", "float32", "B", c),
            ),
        ),
        GraphSpec(
            "memory_encoder",
            _MemoryEncoder(net),
            (rand(2, c, h, h), rand(2, 1, s, s) * 10, torch.tensor([True, False])),
            (
                spec("features", "float32", *fmap),
                spec("masks_high_res", "float32", "B", 1, s, s),
                spec("binarize", "bool", "B"),
            ),
            (spec("memory", "float32", "B", cfg.mem_dim, h, h),),
        ),
        prepare(True),
        prepare(False),
        GraphSpec(
            "memory_attention",
            _MemoryAttention(net),
            (
                rand(2, c, h, h),
                rand(2, c, h, h),
                *(rand(2, heads, 3, grid, d) for _ in range(layers)),
                rand(2, 3, grid, kv),
                torch.tensor([6, 1, 0]),
                rand(2, 4, c),
                rand(grid, d),
                rand(grid, d),
                *((torch.full((1,), math.log(pool * pool)),) if bias else ()),
            ),
            (
                spec("features", "float32", *fmap),
                spec("pos", "float32", *fmap),
                *(spec(n, "float32", "B", heads, "F", "G", d) for n in key_names),
                spec("memory_values", "float32", "B", "F", "G", kv),
                spec("memory_ages", "int64", "F"),
                spec("pointers", "float32", "B", "P", c),
                spec("rope_cos", "float32", "G", d),
                spec("rope_sin", "float32", "G", d),
                *bias,
            ),
            (spec("conditioned", "float32", *fmap),),
        ),
    ]
    return {g.name: g for g in specs}


# -- export --------------------------------------------------------------------------


@contextlib.contextmanager
def _clean_table_caches(net: EfficientTAM) -> Iterator[None]:
    """Position tables are cached per size; tracing fills the caches with fake tensors,
    which must reach neither the next graph's trace nor the torch path afterwards."""

    def clear() -> None:
        position._sine_table.cache_clear()
        net.memory_attention.rope._tables.clear()

    clear()
    try:
        yield
    finally:
        clear()


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[io.StringIO]:
    """The exporters print progress on stdout, log optional-op registrations and warn
    about traced shape arithmetic or renamed axes; keep it for error messages only."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()) as log:
            warnings.simplefilter("ignore")
            yield log
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _export_one(graph: GraphSpec, path: Path, opset: int, exporter: str) -> None:
    input_names = [t.name for t in graph.inputs]
    output_names = [t.name for t in graph.outputs]
    with _quiet_exporter() as log:
        try:
            if exporter == "dynamo":
                dims: dict[str, torch.export.Dim] = {}

                def axes(t: TensorSpec) -> dict[int, torch.export.Dim] | None:
                    named = {
                        i: dims.setdefault(a, torch.export.Dim(a))
                        for i, a in enumerate(t.shape)
                        if isinstance(a, str)
                    }
                    return named or None

                dynamic = {n: axes(t) for n, t in zip(input_names, graph.inputs, strict=True)}
                if isinstance(graph.module, _MemoryAttention):
                    fixed = ("features", "pos")
                    dynamic = (
                        dynamic["features"],
                        dynamic["pos"],
                        tuple(dynamic[n] for n in input_names if n not in fixed),
                    )
                torch.onnx.export(
                    graph.module,
                    graph.example,
                    str(path),
                    input_names=input_names,
                    output_names=output_names,
                    opset_version=opset,
                    dynamo=True,
                    external_data=False,
                    dynamic_shapes=dynamic,
                )
            else:
                dynamic_axes = {
                    t.name: {i: a for i, a in enumerate(t.shape) if isinstance(a, str)}
                    for t in (*graph.inputs, *graph.outputs)
                }
                torch.onnx.export(
                    graph.module,
                    graph.example,
                    str(path),
                    input_names=input_names,
                    output_names=output_names,
                    opset_version=opset,
                    dynamo=False,
                    dynamic_axes={k: v for k, v in dynamic_axes.items() if v},
                )
        except Exception as exc:  # the exporters raise many kinds; keep their message
            text = str(exc).strip()
            if len(text) > 800:  # torch.export errors run to pages; the cause keeps them
                text = text[:800] + " …"
            detail = log.getvalue().strip().splitlines()[-3:]
            raise ModelError(
                f"ONNX export of {graph.name} failed with the {exporter} exporter: "
                f"{type(exc).__name__}: {text}" + ("\n" + "\n".join(detail) if detail else "")
            ) from exc


def export_onnx(
    net: EfficientTAM,
    folder: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    exporter: str = "dynamo",
    graphs: Sequence[str] | None = None,
    source: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> dict:
    """Writes the stage graphs of ``net`` (in its current attention mode) and
    ``manifest.json`` into ``folder`` (created; stage it and rename for atomicity).

    ``graphs`` exports a subset (default: all of :func:`graph_names`); ``source`` is
    recorded in the manifest (checkpoint path or variant). Returns the manifest.
    """
    if opset < MIN_OPSET:
        raise ModelError(f"opset {opset} is too old: the graphs need opset {MIN_OPSET} or newer")
    if exporter not in EXPORTERS:
        raise ModelError(f"unknown exporter {exporter!r}; use one of {', '.join(EXPORTERS)}")
    mode = net.config.memory_attention.mode
    names = graph_names(mode)
    wanted = tuple(names if graphs is None else graphs)
    unknown = [g for g in wanted if g not in names]
    if unknown:
        raise ModelError(
            f"no graph named {', '.join(unknown)} in a {mode} export; graphs: {', '.join(names)}"
        )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    was_training = net.training
    net.eval()
    entries: dict[str, dict] = {}
    try:
        specs = _specs(net)
        for done, name in enumerate(wanted):
            if cancel is not None and cancel.is_set():
                raise CancelledError("ONNX export cancelled")
            if progress is not None:
                progress(name, done, len(wanted))
            graph = specs[name]
            filename = f"{name}.onnx"
            with _clean_table_caches(net), torch.no_grad():
                _export_one(graph, out / filename, opset, exporter)
            entries[name] = {
                "file": filename,
                "inputs": [_spec_json(t) for t in graph.inputs],
                "outputs": [_spec_json(t) for t in graph.outputs],
            }
    finally:
        net.train(was_training)
    if progress is not None:
        progress("manifest", len(wanted), len(wanted))
    manifest = build_manifest(net, entries, opset=opset, exporter=exporter, source=source)
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
    return manifest


def config_from_manifest(manifest: Mapping) -> EfficientTAMConfig:
    """The network configuration an export was made from (inverse of the manifest's
    ``config``), so a runtime tracks with the same settings."""
    try:
        fields = dict(manifest["config"])
        encoder = dict(fields.pop("encoder"))
        encoder["global_blocks"] = tuple(encoder["global_blocks"])
        attention = MemoryAttentionConfig(**fields.pop("memory_attention"))
        decoder = DecoderConfig(**fields.pop("decoder"))
        return EfficientTAMConfig(
            **fields, encoder=ViTConfig(**encoder), memory_attention=attention, decoder=decoder
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"the export's configuration cannot be read by this etam-plugin ({exc}); "
            "export the model again"
        ) from exc


def _spec_json(t: TensorSpec) -> dict:
    return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape)}


def build_manifest(
    net: EfficientTAM, graphs: dict[str, dict], *, opset: int, exporter: str, source: str | None
) -> dict:
    """What a runtime needs besides the graphs: sizes, attention mode, tracking settings,
    every graph's inputs and outputs (axis names: B objects, N points, F memory frames,
    P object pointers, G memory-grid tokens)."""
    from etam_plugin import __version__

    cfg = net.config
    attn = cfg.memory_attention
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "etam_plugin_version": __version__,
        "torch_version": torch.__version__,
        "exporter": exporter,
        "opset": opset,
        "variant": cfg.name,
        "source": source,
        "image_size": cfg.image_size,
        "feature_size": cfg.feature_size,
        "hidden_dim": cfg.hidden_dim,
        "mem_dim": cfg.mem_dim,
        "attention": {
            "mode": attn.mode,
            "pool_window": attn.pool_window,
            "num_layers": attn.num_layers,
            "num_heads": attn.num_heads,
            "kv_dim": attn.kv_dim,
        },
        "preprocess": {
            "resize": "Pillow bicubic (antialiased) to image_size², RGB",
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
        },
        "config": dataclasses.asdict(cfg),
        "graphs": graphs,
        "int8": None,
    }
