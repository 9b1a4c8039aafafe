"""`etam-plugin bench onnx`: live-tracker latency per frame, torch vs ONNX Runtime (fp32,
int8), and how closely the ONNX masks follow the torch ones.

Each backend's LiveTracker follows the same objects through the same frames; backends
take turns clip by clip, in alternating order over ``--rounds`` (not frame by frame: two
runtimes' worker threads interleaved in one process slow each other down). Latency is one
``LiveTracker.step`` (preprocessing, image encoder, memory attention, decoder, memory
encoder, preparing the new memory), median and p95 after ``--warmup`` frames; ratios are
against torch. Agreement: mask IoU against torch per frame and object, and int8 against
fp32 on the same inputs (mask IoU, largest logit difference) for a prompted and a
tracked frame.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

NAME = "onnx"
HELP = "Live-tracker ms per frame: torch vs ONNX Runtime fp32 vs int8 (median, p95, ratios)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        help="weights file or variant name (default: seeded random weights of the right shapes)",
    )
    parser.add_argument(
        "--export", type=Path, help="an export of the same weights (default: exported now)"
    )
    parser.add_argument("--source", type=Path, help="video or image sequence (default: synthetic)")
    parser.add_argument("--frames", type=int, default=24, help="frames to track (default 24)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first frames")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs per backend, in alternating order"
    )
    parser.add_argument("--objects", type=int, choices=(1, 2), default=1)
    parser.add_argument("--threads", type=int, default=0, help="threads for both (0: default)")
    parser.add_argument("--providers", default="cpu", help="ORT providers (default cpu)")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 graphs")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers ('-': stdout)")


def _frames(source: Path | None, count: int) -> list:
    import numpy as np

    if source is not None:
        from etam_plugin.media import open_source

        src = open_source(source)
        return [src[i] for i in range(min(count, len(src)))]
    # A textured background and a bright disc that moves: something to track.
    h, w = 360, 640
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.dstack([(xx * 0.3) % 255, (yy * 0.5) % 255, ((xx + yy) * 0.2) % 255])
    frames = []
    for i in range(count):
        cx, cy = 200 + 6 * i, 180 + 2 * i
        disc = (xx - cx) ** 2 + (yy - cy) ** 2 < 60**2
        frame = base.copy()
        frame[disc] = (230, 200, 40)
        frames.append(frame.astype(np.uint8))
    return frames


def _torch_engine(checkpoint: str | None, folder: Path, threads: int):
    """The torch engine (float32 on the CPU, as ``--backend torch`` builds it) whose network
    is exported and compared; without ``checkpoint`` seeded random weights saved to
    ``folder``."""
    from etam_plugin.engines import EngineOptions, build_engine

    weights = "seeded random weights (shaped: objects present)"
    if checkpoint is None:
        from etam_plugin.bench._reference_oracle import shaped_random_state_dict
        from etam_plugin.model import get_config, save_checkpoint

        checkpoint = str(folder / "random_mobile.pt")
        save_checkpoint(shaped_random_state_dict(get_config("ti_512x512"), seed=4), checkpoint)
    else:
        from etam_plugin.weights import resolve_checkpoint

        checkpoint = weights = str(resolve_checkpoint(checkpoint))  # downloads if asked
    options = EngineOptions(
        checkpoint=checkpoint,
        variant="mobile",
        device="cpu",
        dtype="float32",
        cuda_graphs=False,
        threads=threads,
    )
    return build_engine(options), weights


def _export(net, folder: Path, int8: bool) -> None:
    from etam_plugin.model import export_onnx
    from etam_plugin.onnx_runtime.quantize import quantize_export

    print(f"exporting mobile to {folder} (a few minutes)…", file=sys.stderr)
    export_onnx(net, folder, progress=lambda name, i, n: print(f"  {name}", file=sys.stderr))
    if int8:
        quantize_export(folder)


def _track(engine, frames: list, prompts: dict, warmup: int) -> tuple[list[float], list]:
    """One backend through the whole clip: ms per step after ``warmup``, and results."""
    from etam_plugin.model import LiveTracker

    tracker = LiveTracker(None, engine=engine)
    tracker.step(frames[0])
    for obj_id, prompt in prompts.items():
        tracker.select(obj_id, prompt)
    samples, results = [], []
    for i, frame in enumerate(frames[1:], start=1):
        t0 = time.perf_counter()
        results.append(tracker.step(frame))
        if i > warmup:
            samples.append((time.perf_counter() - t0) * 1000.0)
    return samples, results


def _iou(a, b) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered), "p95_ms": p95, "n": len(ordered)}


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    from etam_plugin.model import Prompt
    from etam_plugin.model.preprocess import to_model_input
    from etam_plugin.onnx_runtime import OnnxStages, describe_engine, make_engine
    from etam_plugin.onnx_runtime.verify import int8_agreement

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = args.threads or None
    frames = _frames(args.source, args.frames + 1)
    if len(frames) < args.warmup + 3:
        raise SystemExit(f"need at least {args.warmup + 3} frames, the source has {len(frames)}")
    with tempfile.TemporaryDirectory(prefix="etam-bench-onnx-") as tmp:
        engine, weights = _torch_engine(args.checkpoint, Path(tmp), args.threads)
        folder = args.export
        if folder is None:
            folder = Path(tmp) / "mobile"
            _export(engine.model, folder, not args.no_int8)
        engines = {"torch": engine}
        # ``--providers`` names ONNX Runtime's execution providers, which EngineOptions (a
        # device) does not offer: the export's engines are made from the folder directly
        engines["ort_fp32"] = make_engine(
            "onnx", folder, providers=args.providers.split(","), threads=threads
        )
        if not args.no_int8:
            engines["ort_int8"] = make_engine(
                "onnx",
                folder,
                providers=args.providers.split(","),
                precision="int8",
                threads=threads,
            )

        h, w = frames[0].shape[:2]
        prompts = {1: Prompt(points_xy=((w * 0.5, h * 0.5),), labels=(1,))}
        if args.objects == 2:
            prompts[2] = Prompt(box_xyxy=(w * 0.05, h * 0.55, w * 0.35, h * 0.98))
        times: dict[str, list[float]] = {name: [] for name in engines}
        masks: dict[str, list] = {}
        order = list(engines)
        for round_ in range(args.rounds):
            for name in order if round_ % 2 == 0 else order[::-1]:
                samples, results = _track(engines[name], frames, prompts, args.warmup)
                times[name] += samples
                masks.setdefault(name, results)
        ious: dict[str, list[float]] = {name: [] for name in engines if name != "torch"}
        for name in ious:
            for ours, ref in zip(masks[name], masks["torch"], strict=True):
                ious[name] += [_iou(ours.objects[o].mask, ref.objects[o].mask) for o in prompts]

        agreement = None
        if not args.no_int8:
            images = [to_model_input(f, 512)[None].numpy() for f in frames[:2]]
            fp32 = OnnxStages(folder, providers=args.providers.split(","), threads=threads)
            int8 = OnnxStages(
                folder, providers=args.providers.split(","), precision="int8", threads=threads
            )
            agreement = int8_agreement(fp32, int8, *images).__dict__

    stats = {name: _stats(samples) for name, samples in times.items()}
    base = stats["torch"]["median_ms"]
    report = {
        "variant": "mobile",
        "weights": weights,
        "source": str(args.source) if args.source else "synthetic 640x360",
        "frames_timed": len(times["torch"]),
        "rounds": args.rounds,
        "objects": args.objects,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "backends": {name: describe_engine(e) for name, e in engines.items()},
        "latency": stats,
        "speedup_vs_torch": {name: base / s["median_ms"] for name, s in stats.items()},
        "mask_iou_vs_torch": {
            name: {"mean": statistics.fmean(v), "min": min(v)} for name, v in ious.items()
        },
        "int8_vs_fp32": agreement,
    }
    _print(report)
    if args.json == "-":
        print(json.dumps(report, indent=1))
    elif args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


def _print(report: dict) -> None:
    print(
        f"live tracker, mobile, {report['objects']} object(s), {report['frames_timed']} frames "
        f"timed, {report['threads']} threads; {report['weights']}"
    )
    print(
        f"{'backend':10} {'median ms':>10} {'p95 ms':>8} {'× torch':>8} {'IoU mean':>9} {'min':>7}"
    )
    for name, s in report["latency"].items():
        iou = report["mask_iou_vs_torch"].get(name)
        iou_text = f"{iou['mean']:9.4f} {iou['min']:7.4f}" if iou else f"{'—':>9} {'—':>7}"
        print(
            f"{name:10} {s['median_ms']:10.1f} {s['p95_ms']:8.1f} "
            f"{report['speedup_vs_torch'][name]:8.2f} {iou_text}"
        )
    agreement = report["int8_vs_fp32"]
    if agreement:
        print(
            f"int8 vs fp32 (same inputs): mask IoU {agreement['prompted_iou']:.4f} prompted, "
            f"{agreement['tracked_iou']:.4f} tracked; max logit error "
            f"{agreement['prompted_logit_error']:.3f} / {agreement['tracked_logit_error']:.3f}"
        )
