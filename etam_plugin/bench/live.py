"""`etam-plugin bench live`: per-frame latency of the live tracker, ours vs the reference.

Frames are real footage (a shared clip, looped). Ours: :class:`LiveTracker.step` (image
encoder, memory attention, decoder, memory encoder, mask at frame size). The reference has
no streaming tracker; the same work is its ``track_step`` fed frame by frame with a growing
output dict, as a streaming wrapper around it would do (memories stored in bfloat16 as its
video predictor does). Both run in one process, alternating frame by frame.
Also: first-click latency on a frame whose features are cached (the panel's click), and
the tracker's state size after ``--state-frames`` frames.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from etam_plugin.devices import DEVICES, DTYPES

NAME = "live"
HELP = "Live tracker latency (median, p95), ours vs the reference; state size over time."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", default="mobile")
    parser.add_argument("--clip", type=Path, help="video to stream (default: shared juggle.mp4)")
    parser.add_argument("--frames", type=int, default=40, help="timed frames")
    parser.add_argument(
        "--frame-size", default="640x360", help="WxH the clip is scaled to (a webcam's size)"
    )
    parser.add_argument("--warmup", type=int, default=16, help="untimed frames (fills memory)")
    parser.add_argument("--vs-reference", action="store_true")
    parser.add_argument(
        "--state-frames",
        default="100",
        help="comma-separated frame counts at which to report the state size (e.g. 100,10000)",
    )
    parser.add_argument(
        "--state-network",
        choices=("same", "tiny"),
        default="same",
        help="network for the state-size run: the benchmarked one, or a tiny test network "
        "(same state layout, fast enough for 10,000 frames on a CPU)",
    )
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=DEVICES)
    parser.add_argument(
        "--dtype", default="float32", choices=DTYPES,
        help="precision of both trackers (ours: bfloat16 stages on a CPU with native bfloat16, "
        "autocast on a GPU; the reference: autocast)",
    )  # fmt: skip
    parser.add_argument(
        "--cuda-graphs", action="store_true", help="ours replays CUDA graphs (CUDA only)"
    )
    parser.add_argument("--json", type=Path)


def _frames(path: Path | None, count: int, size: tuple[int, int] = (640, 360)):
    import av
    import numpy as np

    if path is None:
        path = Path(__file__).resolve().parents[3] / "shared" / "media" / "juggle.mp4"
        if not path.is_file():  # the team's footage sits beside a checkout, not an install
            raise SystemExit(f"bench live: no --clip given and no {path}; give --clip VIDEO")
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(
                frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()
            )
            if len(frames) == count:
                break
    return [np.ascontiguousarray(f) for f in frames]


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return f"cuda ({torch.cuda.get_device_name()})"
    return device


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="etam-bench-live-") as tmp:
        return _run(args, Path(tmp))


def _engines(args: argparse.Namespace, folder: Path):
    """Ours as ``etam-plugin live`` builds it (``engines.build_engine``), on seeded random
    weights saved to ``folder``; a float32 one on the same weights for the panel's click and
    the state sizes (as before: they never took ``--dtype``/``--cuda-graphs``); and the
    state dict, which the reference loads into its own network."""
    from etam_plugin.bench._reference_oracle import shaped_random_state_dict
    from etam_plugin.engines import EngineOptions, build_engine
    from etam_plugin.model import get_config, save_checkpoint

    sd = shaped_random_state_dict(get_config(args.variant).with_attention("full"), seed=0)
    weights = folder / f"random_{args.variant}.pt"
    save_checkpoint(sd, weights)
    options = EngineOptions(
        checkpoint=weights,
        variant=args.variant,
        device=args.device,
        dtype=args.dtype,
        cuda_graphs=args.cuda_graphs,
        threads=args.threads,
    )
    plain = replace(options, dtype="float32", cuda_graphs=False)
    engine = build_engine(options)
    return engine, engine if plain == options else build_engine(plain), sd


def _run(args: argparse.Namespace, folder: Path) -> int:
    import torch

    from etam_plugin.model import LiveTracker, Prompt, build_model, get_config, tiny_test_config

    engine, plain, sd = _engines(args, folder)
    device, dtype = engine.device.type, engine.dtype
    config = get_config(args.variant)
    model = plain.model  # float32 on ``device``: the panel's click and the state sizes
    total = args.warmup + args.frames + 1
    try:
        fw, fh = (int(v) for v in args.frame_size.lower().split("x"))
    except ValueError:
        print(f"--frame-size must be WxH, e.g. 1920x1080, not {args.frame_size!r}")
        return 2
    frames = _frames(args.clip, min(total, 200), (fw, fh))
    frame = lambda i: frames[i % len(frames)]  # noqa: E731
    h, w = frames[0].shape[:2]
    prompt = Prompt(points_xy=((w * 0.5, h * 0.5),), labels=(1,))
    report: dict = {
        "variant": args.variant,
        "threads": torch.get_num_threads(),
        "frame": [w, h],
        "device": _device_name(device),
        "dtype": args.dtype,
        "cuda_graphs": bool(args.cuda_graphs),
    }

    tracker = LiveTracker(None, engine=engine)
    # the reference is its own network class: it loads the same state dict, not an engine
    ref = _ReferenceStream(config, sd, device, dtype) if args.vs_reference else None
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    with torch.inference_mode():
        tracker.step(frame(0))
        t0 = time.perf_counter()
        tracker.select(1, prompt)
        report["first_click_ms"] = (time.perf_counter() - t0) * 1e3
        if ref is not None:
            ref.select(frame(0), prompt)
        ours_ms, ref_ms = [], []
        for i in range(1, total):
            sync()
            t0 = time.perf_counter()
            tracker.step(frame(i))
            sync()
            if i > args.warmup:
                ours_ms.append((time.perf_counter() - t0) * 1e3)
            if ref is not None:
                t0 = time.perf_counter()
                ref.step(frame(i))
                sync()
                if i > args.warmup:
                    ref_ms.append((time.perf_counter() - t0) * 1e3)
        # A second object's click on a new frame, as the bridge answers it: the frame's
        # features and the object's own decoder pass, before the first object is tracked
        # on that frame (its mask is published then).
        sync()
        t0 = time.perf_counter()
        tracker.advance(frame(total))
        tracker.select(2, Prompt(points_xy=((w * 0.25, h * 0.75),), labels=(1,)))
        sync()
        report["second_click_ms"] = (time.perf_counter() - t0) * 1e3
        tracker.track()
    graphs = getattr(tracker.engine.model, "stats", None)
    if graphs is not None:
        report["graph_stats"] = dict(vars(graphs))
    report["panel_click_ms"] = _panel_click_ms(model, frames[:2])
    report["ours"] = {"median_ms": statistics.median(ours_ms), "p95_ms": _pct(ours_ms, 0.95)}
    print(
        f"{args.variant}: ours   median {report['ours']['median_ms']:.0f} ms, "
        f"p95 {report['ours']['p95_ms']:.0f} ms; select {report['first_click_ms']:.0f} ms; "
        f"panel click (features cached) {report['panel_click_ms']:.0f} ms; a second "
        f"object's click {report['second_click_ms']:.0f} ms "
        f"({report['second_click_ms'] / report['ours']['median_ms']:.2f} of a step)"
    )
    if ref is not None:
        report["reference"] = {"median_ms": statistics.median(ref_ms), "p95_ms": _pct(ref_ms, 0.95)}
        report["ratio_median"] = report["ours"]["median_ms"] / report["reference"]["median_ms"]
        print(
            f"{args.variant}: ref    median {report['reference']['median_ms']:.0f} ms, "
            f"p95 {report['reference']['p95_ms']:.0f} ms; ours/ref {report['ratio_median']:.2f}"
            f" ({1 / report['ratio_median']:.2f}x the reference's frames per second)"
        )
    if graphs is not None:
        print(f"CUDA graphs: {report['graph_stats']}")

    counts = sorted(int(c) for c in args.state_frames.split(",") if c)
    state_model = model
    if args.state_network == "tiny":
        torch.manual_seed(0)
        # a raw network: the tiny test config has no weights file to build an engine from
        state_model = build_model(tiny_test_config(image_size=32))
    report["state"] = _state_sizes(LiveTracker(state_model), frame, prompt, counts)
    report["state_network"] = args.state_network
    for n, size in report["state"].items():
        print(f"state after {n} frames: {size} bytes ({args.state_network} network)")
    sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


def _panel_click_ms(model, frames) -> float:
    """A click in the panel on a frame already shown (its features cached): the median of
    a few clicks, each re-applying the object's prompt with one more point."""
    from etam_plugin.model import Prompt, VideoSession, clicks

    session = VideoSession(model, frames)
    session.add_object(1)
    h, w = frames[0].shape[:2]
    points = [(w * 0.5, h * 0.5)]
    session.add_prompt(0, 1, Prompt(tuple(points), (1,)))  # encodes and caches the frame
    times = []
    for k in range(1, 4):
        points.append((w * (0.3 + 0.1 * k), h * 0.4))
        t0 = time.perf_counter()
        session.set_prompts(0, 1, clicks(Prompt(tuple(points), (1,) + (0,) * k)))
        times.append((time.perf_counter() - t0) * 1e3)
    session.close()
    return statistics.median(times)


def _state_sizes(tracker, frame, prompt, counts: list[int]) -> dict[str, int]:
    import torch

    sizes = {}
    with torch.inference_mode():
        tracker.step(frame(0))
        tracker.select(1, prompt)
        for i in range(1, max(counts) + 1):
            tracker.step(frame(i))
            if i in counts:
                sizes[str(i)] = tracker.state_bytes()
    return sizes


class _ReferenceStream:
    """The reference's ``track_step`` driven one frame at a time."""

    def __init__(self, config, state_dict, device: str = "cpu", dtype=None) -> None:
        import torch

        from etam_plugin.bench._reference_oracle import build_reference_video_predictor

        self.config = config
        self.device = device
        self.dtype = dtype if dtype is not None else torch.float32
        self.ref = build_reference_video_predictor(config)
        self.ref.load_state_dict(state_dict)
        self.ref.to(device)
        self.output_dict = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
        self.index = 0

    def _features(self, rgb):
        from etam_plugin.model.preprocess import to_model_input

        x = to_model_input(rgb, self.config.image_size, self.device)[None]
        backbone = self.ref.forward_image(x)
        _, feats, pos, sizes = self.ref._prepare_backbone_features(backbone)
        return feats, pos, sizes

    def _store(self, out, key):
        import torch

        out["maskmem_features"] = out["maskmem_features"].to(torch.bfloat16)
        self.output_dict[key][self.index] = out
        # a streaming wrapper keeps only what the next frames can use
        non_cond = self.output_dict["non_cond_frame_outputs"]
        for t in [t for t in non_cond if t < self.index - self.config.max_obj_ptrs_in_encoder]:
            del non_cond[t]

    def _autocast(self):
        import torch

        enabled = self.dtype != torch.float32
        return torch.autocast(torch.device(self.device).type, dtype=self.dtype, enabled=enabled)

    def select(self, rgb, prompt) -> None:
        with self._autocast():
            self._select(rgb, prompt)

    def step(self, rgb) -> None:
        with self._autocast():
            self._step(rgb)

    def _select(self, rgb, prompt) -> None:
        import torch

        feats, pos, sizes = self._features(rgb)
        h, w = rgb.shape[:2]
        pts = torch.tensor(prompt.points_xy, dtype=torch.float32)[None]
        pts = (pts / torch.tensor([w, h]) * self.config.image_size).to(self.device)
        labels = torch.tensor(prompt.labels, dtype=torch.int32)[None].to(self.device)
        out = self.ref.track_step(
            frame_idx=0, is_init_cond_frame=True, current_vision_feats=feats,
            current_vision_pos_embeds=pos, feat_sizes=sizes,
            point_inputs={"point_coords": pts, "point_labels": labels}, mask_inputs=None,
            output_dict=self.output_dict, num_frames=10**9, run_mem_encoder=True,
        )  # fmt: skip
        self._store(out, "cond_frame_outputs")

    def _step(self, rgb) -> None:
        import torch.nn.functional as F

        self.index += 1
        feats, pos, sizes = self._features(rgb)
        out = self.ref.track_step(
            frame_idx=self.index, is_init_cond_frame=False, current_vision_feats=feats,
            current_vision_pos_embeds=pos, feat_sizes=sizes, point_inputs=None,
            mask_inputs=None, output_dict=self.output_dict, num_frames=10**9,
            run_mem_encoder=True,
        )  # fmt: skip
        self._store(out, "non_cond_frame_outputs")
        h, w = rgb.shape[:2]
        full = F.interpolate(out["pred_masks"], (h, w), mode="bilinear", align_corners=False)
        (full > 0).cpu()  # the mask on the host, as ours delivers it
