"""`etam-plugin bench model`: milliseconds per network component and per tracked frame.

Ours and (with ``--vs-reference``) the reference implementation are timed in the same
run, interleaved round by round so that machine noise hits both alike; ratios are
ours / reference. A tracked frame = image encoder + memory attention over
``--memory-frames`` memories and 16 object pointers + decoder + memory encoder (+ for us,
preparing the new memory frame for later attention, which the reference does not need).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

NAME = "model"
HELP = "Time the network's components and a tracked frame, ours vs the reference."

COMPONENTS = ("encoder", "memory_attention", "decoder", "memory_encoder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variants", default="mobile,ti_512x512", help="comma-separated")
    parser.add_argument(
        "--attention",
        default="all",
        help="full, pooled, pooled-keys, or all (default: all three)",
    )
    parser.add_argument("--memory-frames", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per component")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or this thread's CPU time (with --threads 1: robust on a busy machine)",
    )
    parser.add_argument("--vs-reference", action="store_true", help="also time the reference")
    parser.add_argument("--json", type=Path, help="write the numbers here")


def run(args: argparse.Namespace) -> int:
    import torch

    from etam_plugin.model import get_config

    if args.threads:
        torch.set_num_threads(args.threads)
    modes = ("full", "pooled", "pooled-keys") if args.attention == "all" else (args.attention,)
    rows = []
    for variant in args.variants.split(","):
        base = get_config(variant)
        for mode in modes:
            config = base.with_attention(mode)
            row = measure(config, args.memory_frames, args.repeats, args.vs_reference, args.clock)
            rows.append(row)
            _print_row(row)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"threads": torch.get_num_threads(), "clock": args.clock, "rows": rows}, indent=1
            )
        )
    return 0


def measure(
    config, memory_frames: int, repeats: int, vs_reference: bool, clock: str = "wall"
) -> dict:
    """Median ms of each component (and the sum per tracked frame) for one config."""
    import torch

    from etam_plugin.bench._reference_oracle import shaped_random_state_dict
    from etam_plugin.model import build_model
    from etam_plugin.model.memory_attention import MemoryInput

    sd = shaped_random_state_dict(config.with_attention("full"), seed=0)
    ours = build_model(config)
    ours.load_state_dict(sd)
    s, c = config.image_size, config.hidden_dim
    gen = torch.Generator().manual_seed(0)
    image = torch.randn(1, 3, s, s, generator=gen)
    feats, pos = ours.encode_image(image)
    side = config.feature_size
    memories = [
        torch.randn(1, config.mem_dim, side, side, generator=gen).to(torch.bfloat16)
        for _ in range(memory_frames)
    ]
    pointers = torch.randn(1, config.max_obj_ptrs_in_encoder, c, generator=gen)
    prepared = [ours.prepare_memory(m.float()) for m in memories]
    ages = [config.num_maskmem - 1, *list(range(memory_frames - 1))]
    mask_logits = torch.randn(1, 1, 4 * side, 4 * side, generator=gen) * 4

    def ours_attention() -> None:
        # One new memory frame is prepared per tracked frame; the others are cached.
        fresh = ours.prepare_memory(memories[-1].float())
        frames = [*zip(prepared[:-1], ages[:-1], strict=True), (fresh, ages[-1])]
        ours.condition_on_memory(feats, pos, MemoryInput(frames=frames, pointers=pointers))

    timers: dict[str, dict[str, Callable[[], object]]] = {
        "ours": {
            "encoder": lambda: ours.encode_image(image),
            "memory_attention": ours_attention,
            "decoder": lambda: ours.predict_masks(feats, multimask=True),
            "memory_encoder": lambda: ours.encode_memory(
                feats, ours.upscale(mask_logits), from_points=False
            ),
        }
    }
    if vs_reference:
        timers["reference"] = _reference_timers(
            config, sd, image, feats, pos, memories, pointers, mask_logits
        )
    now = time.thread_time if clock == "cpu" else time.perf_counter
    samples: dict[str, dict[str, list[float]]] = {
        impl: {k: [] for k in COMPONENTS} for impl in timers
    }
    with torch.inference_mode():
        for fns in timers.values():  # warm-up
            for fn in fns.values():
                fn()
        for _ in range(repeats):
            for component in COMPONENTS:
                for impl, fns in timers.items():
                    t0 = now()
                    fns[component]()
                    samples[impl][component].append((now() - t0) * 1e3)
    row: dict = {
        "variant": config.name,
        "attention": config.memory_attention.mode,
        "memory_frames": memory_frames,
        "pointers": config.max_obj_ptrs_in_encoder,
    }
    for impl, comp in samples.items():
        medians = {k: statistics.median(v) for k, v in comp.items()}
        medians["per_frame"] = sum(medians.values())
        row[impl] = medians
    if vs_reference:
        row["ratio"] = {k: row["ours"][k] / row["reference"][k] for k in row["ours"]}
    return row


def _reference_timers(config, sd, image, feats, pos, memories, pointers, mask_logits):
    """The reference on the same situation: frame ``P`` (P = pointer count) attends the
    conditioning frame 0 and frames P-6 … P-1, and the pointers of frames 0 … P-1."""
    from etam_plugin.bench._reference_oracle import build_reference_model

    ref = build_reference_model(config)
    ref.load_state_dict(sd)
    side = config.feature_size
    flat = feats.flatten(2).permute(2, 0, 1)
    flat_pos = pos.flatten(2).permute(2, 0, 1)
    high = ref_upscale(mask_logits, config.image_size)
    _, mem_pos = ref._encode_new_memory(
        current_vision_feats=[flat],
        feat_sizes=[(side, side)],
        pred_masks_high_res=high,
        is_mask_from_pts=False,
    )
    current = pointers.shape[1]
    recent = list(range(current - (len(memories) - 1), current))
    by_frame = {0: memories[0], **dict(zip(recent, memories[1:], strict=True))}
    outputs = {
        t: {
            "maskmem_features": by_frame.get(t, memories[0]),
            "maskmem_pos_enc": mem_pos,
            "obj_ptr": pointers[:, t],
        }
        for t in range(current)
    }
    output_dict = {
        "cond_frame_outputs": {0: outputs[0]},
        "non_cond_frame_outputs": {t: outputs[t] for t in range(1, current)},
    }
    return {
        "encoder": lambda: ref.forward_image(image),
        "memory_attention": lambda: ref._prepare_memory_conditioned_features(
            frame_idx=current,
            is_init_cond_frame=False,
            current_vision_feats=[flat],
            current_vision_pos_embeds=[flat_pos],
            feat_sizes=[(side, side)],
            output_dict=output_dict,
            num_frames=1000,
        ),
        "decoder": lambda: ref._forward_sam_heads(backbone_features=feats, multimask_output=True),
        "memory_encoder": lambda: ref._encode_new_memory(
            current_vision_feats=[flat],
            feat_sizes=[(side, side)],
            pred_masks_high_res=high,
            is_mask_from_pts=False,
        ),
    }


def ref_upscale(low, size):
    import torch.nn.functional as F

    return F.interpolate(low, (size, size), mode="bilinear", align_corners=False)


def _print_row(row: dict) -> None:
    head = f"{row['variant']:<12} {row['attention']:<12}"
    parts = [f"{k}={row['ours'][k]:.0f}" for k in (*COMPONENTS, "per_frame")]
    print(f"{head} ours ms: " + " ".join(parts), file=sys.stdout)
    if "reference" in row:
        parts = [f"{k}={row['reference'][k]:.0f}" for k in (*COMPONENTS, "per_frame")]
        print(f"{'':<25} ref  ms: " + " ".join(parts))
        parts = [f"{k}={row['ratio'][k]:.2f}" for k in (*COMPONENTS, "per_frame")]
        print(f"{'':<25} ratio : " + " ".join(parts))
    sys.stdout.flush()
