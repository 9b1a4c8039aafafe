"""`etam-plugin bench media`: decode throughput, sequential vs frame-accurate random access.

For each clip: the time to index it (one demux pass), frames per second reading straight
through, and frames per second reading frames in random order (each a seek to the
keyframe before it and a decode forward, with the frame cache kept to 2 frames so every
jump is paid for), with the pictures decoded per random read, which is what the GOP
length costs. Clips: the team footage (``../shared/media``) and a generated 1080p H.264
clip with a 1-second GOP, as cameras write.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

NAME = "media"
HELP = "Decode speed: sequential vs frame-accurate random access (fps per clip)."

DEFAULT_MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "clips", nargs="*", type=Path, help="clips to measure (default: ../shared/media/*.mp4)"
    )
    parser.add_argument("--random", type=int, default=20, help="random reads per clip")
    parser.add_argument(
        "--generated-seconds",
        type=float,
        default=10.0,
        help="length of the generated 1080p clip (0 = skip it)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json", metavar="PATH", help="also write the numbers to PATH ('-': stdout)"
    )


def _generate_1080p(folder: Path, seconds: float) -> Path:
    """H.264 1920×1080 at 30000/1001 with a keyframe every 30 frames and B-frames."""
    from fractions import Fraction

    import av
    import numpy as np

    path = folder / "generated_1080p.mp4"
    count = max(2, round(seconds * 30000 / 1001))
    yy, xx = np.mgrid[0:1080, 0:1920]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.codec_context.gop_size = 30
        stream.codec_context.max_b_frames = 2
        stream.options = {"preset": "veryfast", "crf": "20"}
        for i in range(count):
            rgb = np.empty((1080, 1920, 3), np.uint8)
            rgb[..., 0] = (xx + 7 * i) % 256
            rgb[..., 1] = (yy + 3 * i) % 256
            rgb[..., 2] = ((xx // 64 + yy // 64 + i // 8) % 2) * 200
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def measure(path: Path, random_reads: int, seed: int) -> dict:
    import numpy as np

    from etam_plugin.media import VideoFileSource
    from etam_plugin.media.probe import scan

    t0 = time.perf_counter()
    info, index = scan(path)
    scan_s = time.perf_counter() - t0
    src = VideoFileSource(path, _scanned=(info, index))
    t0 = time.perf_counter()
    n = 0
    for _ in src:
        n += 1
    seq_s = time.perf_counter() - t0
    jumper = VideoFileSource(path, cache_frames=2, _scanned=(info, index))
    picks = np.random.default_rng(seed).integers(0, len(jumper), random_reads)
    t0 = time.perf_counter()
    for i in picks:
        jumper[int(i)]
    rnd_s = time.perf_counter() - t0
    keyframes = len(index.keyframes)
    return {
        "clip": path.name,
        "size": [info.width, info.height],
        "codec": info.codec,
        "frames": n,
        "keyframes": keyframes,
        "mean_gop": round(n / keyframes, 1),
        "index_ms": round(scan_s * 1000, 1),
        "sequential_fps": round(n / seq_s, 1),
        "random_fps": round(len(picks) / rnd_s, 2),
        "decoded_per_random_read": round(jumper.decoded / max(1, len(picks)), 1),
        "random_vs_sequential": round((len(picks) / rnd_s) / (n / seq_s), 3),
    }


def run(args: argparse.Namespace) -> int:
    clips = list(args.clips) or sorted(DEFAULT_MEDIA.glob("*.mp4"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.generated_seconds > 0:
            print(f"generating a {args.generated_seconds:g} s 1080p H.264 clip …", flush=True)
            clips.append(_generate_1080p(Path(tmp), args.generated_seconds))
        header = (
            f"{'clip':<22} {'size':>10} {'frames':>6} {'GOP':>6} {'index ms':>9} "
            f"{'seq fps':>8} {'random fps':>10} {'decoded/read':>12} {'ratio':>6}"
        )
        print(header)
        for path in clips:
            row = measure(Path(path), args.random, args.seed)
            rows.append(row)
            w, h = row["size"]
            print(
                f"{row['clip']:<22} {f'{w}x{h}':>10} {row['frames']:>6} {row['mean_gop']:>6} "
                f"{row['index_ms']:>9} {row['sequential_fps']:>8} {row['random_fps']:>10} "
                f"{row['decoded_per_random_read']:>12} {row['random_vs_sequential']:>6}",
                flush=True,
            )
    if args.json:
        text = json.dumps({"benchmark": NAME, "random_reads": args.random, "clips": rows}, indent=2)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(args.json).write_text(text + "\n")
    return 0
