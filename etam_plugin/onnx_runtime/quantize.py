"""Int8 dynamic quantisation of an export's graphs, for the CPU.

Weights of matrix products (MatMul/Gemm) become int8 (per output channel); activations are
quantised on the fly (onnxruntime's ``quantize_dynamic``). Convolutions and embedding
look-ups stay float. Only products with a constant weight are quantised
(``MatMulConstBOnly``): the attention products between activations — queries
against memory keys — stay float, which is where the int8 error would hurt the masks most.
The int8 graphs are written beside the fp32 ones and listed under ``int8`` in the
manifest, so one folder serves both precisions and they can be compared on the same inputs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from etam_plugin.errors import OnnxError
from etam_plugin.onnx_runtime.manifest import MANIFEST_FILE, read_manifest

QUANTIZED_GRAPHS: tuple[str, ...] = (
    "image_encoder",
    "prompt_decoder",
    "memory_encoder",
    "memory_attention",
)
"""Graphs whose time goes into weight products; the others are a few small convolutions
and table look-ups that gain nothing from int8."""


def _quantize(source: Path, target: Path, per_channel: bool) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    # The dynamo exporter records shapes of initializers in value_info; the quantiser
    # turns Gemm into MatMul by transposing weights in place, then trips over the stale
    # shapes. Shape inference rebuilds them.
    weights = {t.name for t in model.graph.initializer}
    kept = [v for v in model.graph.value_info if v.name not in weights]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it logs a generic "consider pre-processing" hint
    try:
        quantize_dynamic(
            model,
            target,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=["MatMul", "Gemm"],
            extra_options={"MatMulConstBOnly": True},
        )
    finally:
        root.setLevel(level)


def quantize_export(
    folder: str | Path,
    *,
    graphs: Sequence[str] = QUANTIZED_GRAPHS,
    per_channel: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Adds ``NAME.int8.onnx`` for each of ``graphs`` present in the export at ``folder``
    and records them in its manifest (rewritten in place: quantise a staged folder).
    Returns the updated manifest."""
    manifest = read_manifest(folder)
    folder = manifest.folder
    raw = dict(manifest.raw)
    todo = [g for g in graphs if g in manifest.graphs]
    if not todo:
        raise OnnxError(
            f"{folder} has none of the graphs to quantise ({', '.join(graphs)})",
            path=folder,
            reason="graph-missing",
        )
    int8 = dict(raw.get("int8") or {})
    for done, name in enumerate(todo):
        if progress is not None:
            progress(name, done, len(todo))
        entry = dict(raw["graphs"][name])
        target = f"{name}.int8.onnx"
        try:
            _quantize(folder / entry["file"], folder / target, per_channel)
        except Exception as exc:  # onnxruntime.quantization raises assorted types
            raise OnnxError(
                f"int8 quantisation of {name} failed: {type(exc).__name__}: {exc}",
                path=folder / entry["file"],
                reason="unreadable",
            ) from exc
        entry["file"] = target
        int8[name] = entry
    raw["int8"] = int8
    raw["quantization"] = {
        "method": "onnxruntime.quantization.quantize_dynamic",
        "weight_type": "int8",
        "per_channel": per_channel,
        "matmul_const_b_only": True,
        "graphs": todo,
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(raw, indent=1))
    if progress is not None:
        progress("manifest", len(todo), len(todo))
    return raw
