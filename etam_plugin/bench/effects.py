"""`etam-plugin bench effects`: milliseconds per frame of each live effect (default 1080p).

Times :mod:`etam_plugin.obs_bridge.effects` one frame at a time as the bridge's compositor
calls them, plus the other per-frame work of that stage (matte finishing of a new mask,
presence mixing, optical-flow warp, the copy into the stream server's shared buffer), so
the table adds up to what a camera frame costs. Frames are real footage when ``--source``
is given (scaled to ``--size``), else a synthetic textured picture; the matte is a moving
soft-edged disc.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

from etam_plugin.bench._common import parse_size

NAME = "effects"
HELP = "Milliseconds per frame of each live effect of the OBS bridge (1080p by default)."

EFFECT_SPECS = (
    "remove",
    "blur",
    "replace:#00b140",
    "replace:IMAGE",
    "highlight",
    "highlight:glow",
    "highlight:spotlight",
    "privacy:pixelate",
    "privacy:blur",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="1920x1080", help="frame size WxH (default 1920x1080)")
    parser.add_argument("--frames", type=int, default=40, help="timed frames per item (default 40)")
    parser.add_argument("--source", help="a video whose first frames to use (scaled to --size)")
    parser.add_argument("--only", help="comma-separated effect specs to time (default: all)")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the numbers to PATH ('-': stdout)"
    )


def _frames(w: int, h: int, n: int, source: str | None) -> list:
    frames = list(itertools.islice(_frame_stream(w, h, source), n))
    if not frames:
        raise SystemExit(f"no frames in {source}")
    return frames


def _frame_stream(w: int, h: int, source: str | None):
    """Frames one at a time (a looping clip, or texture sliding 3 px a frame)."""
    import numpy as np

    if source:
        import av

        while True:
            count = 0
            with av.open(source) as c:
                for f in c.decode(video=0):
                    count += 1
                    yield f.reformat(width=w, height=h, format="rgb24").to_ndarray()
            if count == 0:
                return
    rng = np.random.default_rng(0)
    tex = rng.integers(40, 215, (h // 8 + 1, w // 8 + 1, 3), np.uint8)
    base = np.kron(tex, np.ones((8, 8, 1), np.uint8))[:h, :w]
    for i in itertools.count():
        yield np.roll(base, 3 * i, axis=1)


def _mattes(w: int, h: int, n: int) -> list:
    import numpy as np

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = min(w, h) * 0.3
    out = []
    for i in range(n):
        d = np.sqrt((xx - w * 0.4 - i * w / 300) ** 2 + (yy - h * 0.55) ** 2)
        out.append(np.clip((r - d) / 3.0 + 0.5, 0, 1).astype(np.float32))
    return out


def _time(fn, args: list, warmup: int = 3) -> list[float]:
    for i in range(min(warmup, len(args))):
        fn(*args[i])
    times = []
    for a in args:
        t0 = time.perf_counter()
        fn(*a)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def _discs(w: int, h: int, count: int) -> list:
    """``count`` soft-edged discs side by side, each a fifth of the frame's height across
    (a person, a mug, a document), as masks and logits of one tracker result."""
    import numpy as np

    from etam_plugin.model import ObjectResult

    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = h * 0.1
    out = {}
    for i in range(count):
        d = np.sqrt((xx - w * (i + 1) / (count + 1)) ** 2 + (yy - h * 0.5) ** 2)
        logits = ((r - d) / 2.0).astype(np.float32)
        out[i + 1] = ObjectResult(i + 1, logits > 0, 0.9, 5.0, logits)
    return out


def _composite_rows(add, frames: list, w: int, h: int, n: int) -> None:
    """A whole composited frame (presence mix, flow warp of a mask 3 frames old, scene
    effect, objects' own effects) with 1 and 3 objects, all on the scene effect or two
    with their own (pixelate, outline): what a streamer's per-object choice costs."""
    from etam_plugin.obs_bridge.bridge import LIVE_MATTE
    from etam_plugin.obs_bridge.capture import Frame
    from etam_plugin.obs_bridge.compositor import CompositeThread
    from etam_plugin.obs_bridge.effects import parse_effect, parse_object_effect
    from etam_plugin.obs_bridge.flow import FlowWarper
    from etam_plugin.obs_bridge.presence import PresenceMixer
    from etam_plugin.obs_bridge.slots import LatestSlot
    from etam_plugin.obs_bridge.track_stage import MaskSnapshot

    cases = [
        ("remove", 1, {}),
        ("remove", 3, {}),
        ("remove", 3, {2: "pixelate", 3: "outline"}),
        ("blur", 1, {}),
        ("blur", 3, {2: "pixelate", 3: "outline"}),
    ]
    for spec, count, own in cases:
        objects = _discs(w, h, count)
        mixer = PresenceMixer(ops=LIVE_MATTE)
        mixer.update(objects, 0.0)
        stage = CompositeThread(
            LatestSlot("f"), LatestSlot("m"), parse_effect(spec), [], mixer=mixer,
            warper=FlowWarper(history=n + 8),
        )  # fmt: skip
        stage.object_effects = {i: parse_object_effect(e) for i, e in own.items()}
        snaps = [MaskSnapshot(max(1, i - 2), 0.0, 0.0, objects, 1, None) for i in range(n)]
        stage.warper.remember(0, frames[0])
        args = [(Frame(i + 1, 0.0, f, i), snaps[i], 0.0) for i, f in enumerate(frames)]
        label = f"composite {spec}, {count} object{'s' * (count > 1)}"
        if own:
            label += " (" + ", ".join(own.values()) + ")"
        add(label, _time(stage._composite, args), "frame")


def run(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from etam_plugin.matte import MatteOps
    from etam_plugin.model import ObjectResult
    from etam_plugin.obs_bridge.bridge import LIVE_MATTE
    from etam_plugin.obs_bridge.effects import ReplaceBackground, parse_effect
    from etam_plugin.obs_bridge.flow import FlowWarper
    from etam_plugin.obs_bridge.presence import PresenceMixer
    from etam_plugin.obs_bridge.shared_frame import SharedFrameBuffer

    w, h = parse_size(args.size, minimum=64)
    n = max(1, args.frames)
    frames = _frames(w, h, n, args.source)
    mattes = _mattes(w, h, n)
    pairs = list(zip(frames, mattes, strict=True))
    specs = [s.strip() for s in args.only.split(",")] if args.only else list(EFFECT_SPECS)
    rows: list[dict] = []

    def add(name: str, times: list[float], kind: str) -> None:
        arr = np.asarray(times)
        rows.append(
            {
                "item": name,
                "kind": kind,
                "median_ms": round(float(np.median(arr)), 2),
                "p90_ms": round(float(np.percentile(arr, 90)), 2),
                "fps_alone": round(1000.0 / float(np.median(arr)), 1),
            }
        )

    image = np.dstack([np.full((720, 1280), v, np.uint8) for v in (30, 90, 160)])
    for spec in specs:
        effect = ReplaceBackground(image=image) if spec == "replace:IMAGE" else parse_effect(spec)
        add(spec, _time(effect.apply, pairs), "effect")

    # The rest of a composited frame's work.
    masks = [m > 0.5 for m in mattes]
    logits = [((m - 0.5) * 16).astype(np.float32) for m in mattes]
    live = PresenceMixer(ops=LIVE_MATTE)
    results = [
        ({1: ObjectResult(1, mk, 0.9, 5.0, lg)},) for mk, lg in zip(masks, logits, strict=True)
    ]
    add(f"finish new mask ({LIVE_MATTE})", _time(lambda o: live.update(o, 0.0), results), "mask")
    smooth = PresenceMixer(ops=MatteOps(soft=1.0, feather=2.0, smooth=2))
    add("finish new mask (+ smooth=2)", _time(lambda o: smooth.update(o, 0.0), results), "mask")
    add(
        "presence mix (1 object)",
        _time(lambda: live.mix(0.0, (h, w), 1.0, selected=True), [()] * n),
        "frame",
    )
    warper = FlowWarper()
    add(
        "flow: remember a frame (small grey)",
        _time(lambda i, f: warper.remember(i, f), list(enumerate(frames))),
        "frame",
    )
    warper.history = n + 1
    add(
        "flow warp (3 frames)",
        _time(lambda i: warper.warp(mattes[i], i, min(i + 3, n - 1)), [(i,) for i in range(n)]),
        "frame",
    )
    # A model on a CPU: the mask arrives ~45 frames (1.5 s) late; the first warp hops
    # through the remembered frames, later ones extend the anchor by one flow.
    late = FlowWarper()
    for seq, frame in enumerate(itertools.islice(_frame_stream(w, h, args.source), n + 45)):
        late.remember(seq, frame)

    def catch_up(i: int) -> None:
        late.drop_anchor()  # as when a new mask arrives
        late.warp(mattes[i], 0, 45)

    add(
        "flow warp, mask 45 frames late (catch-up)",
        _time(catch_up, [(i,) for i in range(n)]),
        "mask",
    )
    late.warp(mattes[0], 0, 45)
    add(
        "flow warp, mask 45+ frames late (per frame)",
        _time(lambda i: late.warp(mattes[0], 0, 45 + i), [(i,) for i in range(1, n)]),
        "frame",
    )
    _composite_rows(add, frames, w, h, n)
    shared = SharedFrameBuffer.create(w, h)
    try:
        rgba = [cv2.cvtColor(f, cv2.COLOR_RGB2RGBA) for f in frames]
        add("copy to stream server", _time(shared.put, [(r,) for r in rgba]), "frame")
    finally:
        shared.close()
        shared.unlink()

    header = f"{w}x{h}, {n} frames, OpenCV threads {cv2.getNumThreads()}"
    if args.source:
        header += f", source {args.source}"
    print(header)
    print(f"{'item':<44} {'median ms':>10} {'p90 ms':>8} {'fps alone':>10}")
    for r in rows:
        print(
            f"{r['item']:<44} {r['median_ms']:>10.2f} {r['p90_ms']:>8.2f} {r['fps_alone']:>10.1f}"
        )
    if args.json:
        payload = {
            "size": [w, h],
            "frames": n,
            "source": args.source,
            "opencv_threads": cv2.getNumThreads(),
            "rows": rows,
        }
        text = json.dumps(payload, indent=2)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            with open(args.json, "w") as fh:
                fh.write(text + "\n")
    return 0
