"""`etam-plugin export-onnx VARIANT|CHECKPOINT --out DIR`: the network's stages as ONNX.

Writes one graph per stage and ``manifest.json`` into a staged folder next to ``--out``,
checks every graph against the torch network on the same inputs (numbers kept in the
manifest), optionally adds int8 graphs with their agreement against fp32, then renames
the folder into place: a failure or Ctrl-C leaves no half-written export behind.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "export-onnx"
HELP = "Export the network's stages as ONNX graphs for the ONNX Runtime backend."

PARITY_TOLERANCE = 1e-3
"""Largest |ORT − torch| accepted on any stage output in fp32."""
DEFAULT_OPSET = 18  # as etam_plugin.model.onnx_export (which imports torch: not at CLI start)
EXPORTERS = ("dynamo", "torchscript")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from etam_plugin.model import ATTENTION_MODES, POOL_WINDOWS, VARIANTS

    parser.add_argument(
        "source",
        metavar="VARIANT|CHECKPOINT",
        help=f"a checkpoint file or one of {', '.join(VARIANTS)}",
    )
    parser.add_argument("--out", type=Path, required=True, help="export folder (replaced whole)")
    parser.add_argument(
        "--variant", choices=VARIANTS, help="variant of CHECKPOINT (default: inferred)"
    )
    parser.add_argument("--attention", choices=ATTENTION_MODES, help="memory attention mode")
    parser.add_argument("--pool-window", type=int, choices=POOL_WINDOWS, default=None)
    parser.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})"
    )
    parser.add_argument("--quantize", choices=("int8",), help="also write int8 graphs (CPU)")
    parser.add_argument("--exporter", choices=EXPORTERS, default="dynamo")
    parser.add_argument(
        "--download", action="store_true", help="download a variant's weights when missing"
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the check against the torch network"
    )
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def _random_images(size: int, count: int) -> list:
    import numpy as np

    rng = np.random.default_rng(0)
    return [rng.standard_normal((1, 3, size, size)).astype(np.float32) for _ in range(count)]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from etam_plugin.errors import OnnxError
    from etam_plugin.export.atomic import StagedDir
    from etam_plugin.export.targets import folder_target, refuse_inputs_inside
    from etam_plugin.model import VARIANTS, export_onnx, graph_names, load_model
    from etam_plugin.onnx_runtime import MANIFEST_FILE, OnnxStages
    from etam_plugin.onnx_runtime.quantize import quantize_export
    from etam_plugin.onnx_runtime.verify import compare_stages, int8_agreement
    from etam_plugin.weights import resolve_checkpoint

    def owns(name: str) -> bool:  # what an export writes: graphs, their data, the manifest
        return name == MANIFEST_FILE or name.endswith((".onnx", ".onnx.data", ".json"))

    out = folder_target(args.out, "--out", owns=owns)  # before the (long) export
    checkpoint = resolve_checkpoint(args.source, download=args.download)
    refuse_inputs_inside(out, {"checkpoint": Path(checkpoint)}, "--out")
    variant = args.variant or (args.source if args.source in VARIANTS else None)
    net = load_model(checkpoint, variant, attention=args.attention, pool_window=args.pool_window)
    graphs = graph_names(net.config.memory_attention.mode)
    steps = len(graphs) + (0 if args.no_verify else 1) + (2 if args.quantize else 0)
    staged = StagedDir(out, owns=owns)
    try:
        with tqdm(total=steps, desc="export-onnx", unit="step", file=sys.stderr) as bar:

            def progress(name: str, done: int, total: int) -> None:
                bar.set_postfix_str(name)

            def advance(name: str, done: int, total: int) -> None:
                progress(name, done, total)
                if name != "manifest" and done:
                    bar.update(1)

            manifest = export_onnx(
                net,
                staged.tmp,
                opset=args.opset,
                exporter=args.exporter,
                source=str(checkpoint),
                progress=advance,
            )
            bar.update(1)
            if not args.no_verify:
                bar.set_postfix_str("check against torch")
                diffs = compare_stages(net, OnnxStages(staged.tmp, providers="cpu"))
                worst = max(diffs, key=diffs.get)
                manifest["verification"] = {
                    "max_abs_diff": diffs,
                    "tolerance": PARITY_TOLERANCE,
                    "inputs": "seeded random, real sizes",
                }
                if diffs[worst] > PARITY_TOLERANCE:
                    raise OnnxError(
                        f"the exported {worst} differs from torch by {diffs[worst]:.2e} "
                        f"(> {PARITY_TOLERANCE:.0e}); try --exporter or another --opset",
                        path=args.out,
                        reason="parity",
                    )
                (staged.tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
                bar.update(1)
            if args.quantize:
                bar.set_postfix_str("int8")
                manifest = quantize_export(staged.tmp)
                bar.update(1)
                bar.set_postfix_str("int8 agreement")
                fp32 = OnnxStages(staged.tmp, providers="cpu")
                int8 = OnnxStages(staged.tmp, providers="cpu", precision="int8")
                agreement = int8_agreement(fp32, int8, *_random_images(fp32.manifest.image_size, 2))
                manifest["quantization"]["agreement_vs_fp32"] = {
                    **agreement.__dict__,
                    "inputs": "seeded random images, a box + click, one tracked frame",
                }
                (staged.tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
                bar.update(1)
        out = staged.commit()
    except BaseException:
        staged.discard()
        raise
    if args.json:
        print(json.dumps(manifest, indent=1))
    else:
        _summary(manifest, out)
    return 0


def _summary(manifest: dict, out: Path) -> None:
    attn = manifest["attention"]
    print(out)
    print(
        f"  {manifest['variant']} at {manifest['image_size']}², attention {attn['mode']} "
        f"(window {attn['pool_window']}), opset {manifest['opset']}, "
        f"{manifest['exporter']} exporter"
    )
    check = manifest.get("verification")
    if check:
        worst = max(check["max_abs_diff"].values())
        print(f"  fp32 vs torch: max |diff| {worst:.1e} over {len(check['max_abs_diff'])} checks")
    quant = manifest.get("quantization")
    if quant and "agreement_vs_fp32" in quant:
        a = quant["agreement_vs_fp32"]
        print(
            f"  int8 vs fp32: mask IoU {a['prompted_iou']:.4f} prompted, "
            f"{a['tracked_iou']:.4f} tracked; max logit error "
            f"{max(a['prompted_logit_error'], a['tracked_logit_error']):.3f}"
        )
