"""`etam-plugin bench matte`: milliseconds per frame for each matte finishing op.

Runs on a synthetic frame (default 1920×1080): a subject-sized blob with a noisy edge,
a few islands and holes, logits shaped like the model's, and a textured guide frame.
Reports the median and the best of ``--repeat`` runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from etam_plugin.bench._common import parse_size

NAME = "matte"
HELP = "Milliseconds per frame of each matte op (grow, feather, refine, smoothing, ...)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="1920x1080", help="frame size WxH (default 1920x1080)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per op (median)")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the numbers to PATH ('-': stdout)"
    )


def _inputs(w: int, h: int) -> tuple:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Logits: positive inside an ellipse covering ~1/4 of the frame, with a wobbly edge,
    # rising ~1.5 per px across the edge like the model's upsampled logits (a 2-3 px ramp).
    d = np.sqrt(((xx - w * 0.5) / (w * 0.28)) ** 2 + ((yy - h * 0.55) / (h * 0.38)) ** 2)
    wobble = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 9) * 0.4
    logits = np.clip((1.0 - d + wobble) * h * 0.38 * 1.5, -40, 40).astype(np.float32)
    for _ in range(12):  # specks and holes for the region ops
        cx, cy, r = rng.integers(0, w), rng.integers(0, h), int(rng.integers(2, 6))
        cv2.circle(logits, (int(cx), int(cy)), r, float(rng.choice([-20.0, 20.0])), -1)
    guide = np.clip(
        np.dstack([xx / w * 200, yy / h * 180, (logits > 0) * 120 + 40])
        + rng.normal(0, 6, (h, w, 3)),
        0,
        255,
    ).astype(np.uint8)
    return logits, guide


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, best) milliseconds; the best is the one to compare on a busy machine."""
    fn()  # warm-up: first-call allocations and OpenCV's thread pool
    samples = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(samples), min(samples)


def run(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from etam_plugin import matte

    w, h = parse_size(args.size)
    logits, guide = _inputs(w, h)
    soft = matte.soft_matte(logits)
    hard = matte.threshold(logits, level=0.0)
    others = {1: soft, 2: np.roll(soft, w // 8, axis=1), 3: np.roll(soft, h // 8, axis=0)}
    seq = [soft] * 7
    smoother = matte.TemporalSmoother(0.75)
    smoother(soft)
    full = matte.MatteOps.parse("soft=1,fill_holes=64,drop_islands=64,grow=2,refine=8,feather=3")

    def smooth_one_frame() -> None:
        # steady state of a radius-3 window: one frame in, one frame out
        for _ in matte.smooth_sequence(seq, 3):
            pass

    ops: list[tuple[str, Callable[[], object]]] = [
        ("soft_matte", lambda: matte.soft_matte(logits, softness=2.0)),
        ("threshold", lambda: matte.threshold(logits, level=0.0)),
        ("invert", lambda: matte.invert(soft)),
        ("grow_shrink(+3)", lambda: matte.grow_shrink(soft, 3)),
        ("grow_shrink(-3)", lambda: matte.grow_shrink(soft, -3)),
        ("grow_shrink(+20)", lambda: matte.grow_shrink(soft, 20)),
        ("grow_shrink(+3, hard)", lambda: matte.grow_shrink(hard, 3)),
        ("feather(4, centered)", lambda: matte.feather(soft, 4)),
        ("feather(4, outward)", lambda: matte.feather(soft, 4, mode="outward")),
        ("feather(4, inward)", lambda: matte.feather(soft, 4, mode="inward")),
        ("feather(16, centered)", lambda: matte.feather(soft, 16)),
        ("fill_holes(64)", lambda: matte.fill_holes(hard, 64)),
        ("drop_islands(64)", lambda: matte.drop_islands(hard, 64)),
        ("drop_islands(64, soft)", lambda: matte.drop_islands(soft, 64)),
        ("combine(3, union)", lambda: matte.combine(others, "union")),
        ("combine(3, index)", lambda: matte.combine(others, "index")),
        ("refine_edges(r=8)", lambda: matte.refine_edges(soft, guide, radius=8)),
        ("refine_edges(r=8, full-res fit)", lambda: matte.refine_edges(soft, guide, subsample=1)),
        ("refine_edges(r=16)", lambda: matte.refine_edges(soft, guide, radius=16)),
        ("TemporalSmoother step", lambda: smoother(soft)),
        ("smooth_sequence(r=3), per frame", lambda: smooth_one_frame()),
        ("MatteOps(" + str(full) + ")", lambda: full.apply(logits, guide=guide, logits=True)),
    ]
    rows = []
    print(
        f"matte ops on {w}×{h}, {args.repeat} runs (median, best), "
        f"OpenCV threads: {cv2.getNumThreads()}"
    )
    width = max(len(name) for name, _ in ops)
    print(f"  {'op':<{width}}  {'median':>9}  {'best':>9}")
    for name, fn in ops:
        ms, best = _time(fn, args.repeat)
        if name.startswith("smooth_sequence"):
            ms, best = ms / len(seq), best / len(seq)
        rows.append({"op": name, "ms": round(ms, 3), "best_ms": round(best, 3)})
        print(f"  {name:<{width}}  {ms:6.2f} ms  {best:6.2f} ms")
    if args.json:
        data = {"benchmark": NAME, "size": [w, h], "repeat": args.repeat, "ops": rows}
        text = json.dumps(data, indent=2)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(args.json).write_text(text + "\n")
    return 0
