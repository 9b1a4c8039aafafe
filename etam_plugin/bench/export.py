"""`etam-plugin bench export`: frames per second of each export format.

Times :func:`etam_plugin.export.export_mattes` end to end (colour conversion, matte
quantisation, encoding, muxing, atomic rename) on frames held in memory, so decoding the
source is not counted. Frames are real footage when ``--source`` is given (scaled to
``--size``), else a synthetic textured picture; the matte is a moving soft-edged disc.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from etam_plugin.bench._common import parse_size

NAME = "export"
HELP = "Frames per second of each matte export format (ProRes 4444, PNG16, ...)."

_SUFFIX = {"prores4444": ".mov", "luma": ".mov", "luma-ffv1": ".mkv", "webm": ".webm"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="1920x1080", help="frame size WxH (default 1920x1080)")
    parser.add_argument("--frames", type=int, default=24, help="frames per format (default 24)")
    parser.add_argument(
        "--formats", default="all", help="comma-separated format names, or 'all' (default)"
    )
    parser.add_argument("--source", help="a video whose first frames to use (scaled to --size)")
    parser.add_argument(
        "--out-dir", help="where to write (default: a temp folder; pick the disk you care about)"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the numbers to PATH ('-': stdout)"
    )


def _frames(w: int, h: int, n: int, source: str | None) -> list:
    import numpy as np

    if source:
        import av

        out = []
        with av.open(source) as c:
            for f in c.decode(video=0):
                out.append(f.reformat(width=w, height=h, format="rgb24").to_ndarray())
                if len(out) == n:
                    break
        if not out:
            raise SystemExit(f"no frames in {source}")
        return [out[i % len(out)] for i in range(n)]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.dstack([xx / w * 220, yy / h * 200, (xx + yy) / (w + h) * 180])
    return [
        np.clip(base + rng.normal(0, 8, (h, w, 3)) + 4 * i, 0, 255).astype(np.uint8)
        for i in range(n)
    ]


def _mattes(w: int, h: int, n: int) -> list:
    import numpy as np

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = min(w, h) * 0.3
    out = []
    for i in range(n):
        d = np.sqrt((xx - w * 0.35 - i * w / 200) ** 2 + (yy - h * 0.5) ** 2)
        out.append(np.clip((r - d) / 8 + 0.5, 0, 1).astype(np.float32))
    return out


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


def run(args: argparse.Namespace) -> int:
    from fractions import Fraction

    from etam_plugin.export import available_formats, export_mattes
    from etam_plugin.media.info import VideoInfo

    w, h = parse_size(args.size)
    n = max(2, args.frames)
    formats = list(available_formats()) if args.formats == "all" else args.formats.split(",")
    frames, mattes = _frames(w, h, n, args.source), _mattes(w, h, n)
    info = VideoInfo(
        path=Path(args.source or "synthetic"),
        width=w,
        height=h,
        frame_count=n,
        frame_rate=Fraction(24000, 1001),
        start_timecode="01:00:00:00",
        color_space="bt709",
    )
    rows = []
    what = f"source: {args.source}" if args.source else "synthetic"
    print(f"export of {n} frames at {w}×{h} ({what})")
    with tempfile.TemporaryDirectory(dir=args.out_dir, prefix="etam-bench-") as tmp:
        runs = [(fmt, fmt, {}) for fmt in formats]
        if "prores4444" in formats:  # the faster encoder, as an option
            runs.append(("prores4444 (prores_aw)", "prores4444", {"encoder": "prores_aw"}))
        for label, fmt, options in runs:
            out = Path(tmp) / f"bench_{len(rows)}{_SUFFIX.get(fmt, '')}"
            t0 = time.perf_counter()
            final = export_mattes(
                frames.__getitem__, info, mattes.__getitem__, fmt, out, options=options
            )
            seconds = time.perf_counter() - t0
            mb = _size_of(final) / 1e6
            rows.append(
                {
                    "format": label,
                    "fps": round(n / seconds, 2),
                    "seconds": round(seconds, 3),
                    "megabytes": round(mb, 2),
                }
            )
            print(f"  {label:<22} {n / seconds:7.2f} frames/s  {mb:8.1f} MB")
    if args.json:
        data = {
            "benchmark": NAME,
            "size": [w, h],
            "frames": n,
            "source": args.source,
            "results": rows,
        }
        text = json.dumps(data, indent=2)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(args.json).write_text(text + "\n")
    return 0
