"""`etam-plugin bench bridge soak|latency|click`: the OBS bridge over time, its delay in OBS,
and how soon a click shows.

``soak``: runs the bridge headless on a looping synthetic clip for ``--frames`` frames
(default 10,000) with a real reader on its stream (the ffmpeg CLI, or OBS with ``--obs``),
and prints, per window of frames, the output rate, per-stage latency percentiles, drops and
the RSS of both processes — so growth in memory or latency over a long run shows.

``latency``: end to end through a running OBS (``--obs HOST:PORT``, password from
``ETAM_OBS_PASSWORD`` or the config file). Frames carry a counter; the benchmark compares
the counter in OBS's picture (``GetSourceScreenshot``) with the counter of the frame the
bridge captured last, and reports the difference in frames.

``click``: no OBS; a file camera (``--source``, default the shared juggle.mp4) with one
object tracked, so the model steps all the time. ``--samples`` clicks at random moments of
its steps, each a new object on the frame a control window would show (``latest()``),
each removed again once it showed. Frames carry a counter (their capture sequence number):
the benchmark reports, per click, how many frames after the clicked one the first output
frame carrying the clicked object's mask is, in frames, ms and model steps (the track
stage's median step), and whether it is within one model step plus one frame.

The tracker is the real EfficientTAM LiveTracker (``--checkpoint``, ``mobile`` by default)
unless ``--tracker module:callable`` or ``--tracker path/file.py:callable`` names another
(e.g. ``tests/obs_bridge/doubles.py:ColourTracker``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from etam_plugin.engines import add_engine_arguments

NAME = "bridge"
HELP = "OBS bridge soak (RSS and latency over 10,000 frames) and end-to-end latency in OBS."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mode", choices=("soak", "latency", "click"), help="what to measure")
    parser.add_argument("--frames", type=int, default=10_000, help="soak length (default 10000)")
    parser.add_argument("--window", type=int, default=1000, help="soak report window (frames)")
    parser.add_argument("--samples", type=int, default=40, help="latency screenshots (default 40)")
    parser.add_argument("--size", default="640x360", help="frame size WxH (default 640x360)")
    parser.add_argument(
        "--source", type=Path, help="click: the file camera (default: the shared juggle.mp4)"
    )
    parser.add_argument("--seed", type=int, default=0, help="click: where and when to click")
    parser.add_argument("--fps", type=float, default=30.0, help="clip frame rate (default 30)")
    parser.add_argument(
        "--effect",
        default=None,
        help="effect spec (soak: remove, latency: highlight:dim, which keeps the counter readable)",
    )
    parser.add_argument(
        "--tracker", default="live", help="'live' (EfficientTAM) or module:callable"
    )
    add_engine_arguments(
        parser.add_argument_group("the live tracker's engine (with --tracker live)"),
        dtype="auto",
        checkpoint_help="checkpoint path or variant (default mobile)",
        default="mobile",
    )
    parser.add_argument("--obs", metavar="HOST:PORT", help="drive this OBS (needed for latency)")
    parser.add_argument(
        "--scene", help="OBS scene to add the source to (default: the program scene)"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the numbers to PATH ('-': stdout)"
    )


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--size must look like 640x360, got {text!r}") from None
    if w < 320 or h < 120:
        raise SystemExit("--size must be at least 320x120 (the frame counter needs the room)")
    return w, h


def _tracker(args: argparse.Namespace) -> Any:
    from etam_plugin.engines import engine_options
    from etam_plugin.obs_bridge.tracker_factory import build_live_tracker, load_tracker_factory

    if args.tracker == "live":
        return build_live_tracker(engine_options(args))
    return load_tracker_factory(args.tracker)()


def _write_json(args: argparse.Namespace, payload: dict) -> None:
    if not args.json:
        return
    text = json.dumps(payload, indent=2)
    if args.json == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(args.json).write_text(text + "\n")


class _Reader:
    """The ffmpeg CLI reading the bridge's stream and throwing frames away (restarted if it
    connected while the server was between two listens)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.proc: subprocess.Popen | None = None
        self.restarts = -1

    def poll(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self.restarts += 1
            self.proc = subprocess.Popen(
                ["ffmpeg", "-v", "quiet", "-f", "nut", "-i", self.url, "-f", "null", "-"],
                stdin=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def _config(args: argparse.Namespace, clip: Path, pattern: Any, effect: str) -> Any:
    from etam_plugin.model import Prompt
    from etam_plugin.obs_bridge.bridge import BridgeConfig
    from etam_plugin.obs_bridge.obs_control import ObsSettings, parse_obs_address

    x, y = pattern.discs[0].position(0, pattern.width, pattern.height)
    obs = None
    if args.obs:
        host, port = parse_obs_address(args.obs)
        obs = ObsSettings(
            host=host,
            port=port,
            scene=args.scene,
            source_name="etam-bench-stream",
            remove_on_stop=True,  # a benchmark leaves the scene as it found it
        )
    return BridgeConfig(
        source=str(clip),
        fps=args.fps,
        effect=effect,
        prompts=(Prompt(points_xy=((x, y),), labels=(1,)),),
        obs=obs,
        status_log_s=0,
    )


def _row_text(r: dict) -> str:
    return (
        f"{r['frames']:>6} frames {r['elapsed_s']:>7.1f} s  out {r['out_fps']:5.1f} fps  "
        f"track {r['track_fps']:5.1f} fps  age p50/p90/p99 {r['output_age_p50_ms']:.1f}/"
        f"{r['output_age_p90_ms']:.1f}/{r['output_age_p99_ms']:.1f} ms  mask age "
        f"{r['mask_age_p50_ms']:.0f} ms  drops {r['dropped_before_composite']}+"
        f"{r['stream_skipped']}  RSS {r['rss_mb']:.1f}+{r['stream_rss_mb']} MB  "
        f"steps {r['track_steps']} ({r['track_p50_ms']:.0f} ms p50)  "
        f"state {r['tracker_state_kb']} kB"
    )


def _soak(args: argparse.Namespace, bridge: Any) -> dict:
    from tqdm import tqdm

    reader = None if args.obs else _Reader(bridge.stream.url)
    rows: list[dict] = []
    done = 0
    start_count = bridge.composite_stats.count
    t_start = time.monotonic()
    bar = tqdm(total=args.frames, unit="frame", desc="soak")
    try:
        while done < args.frames:
            target = min(args.frames, done + args.window)
            while bridge.composite_stats.count - start_count < target:
                if reader is not None:
                    reader.poll()
                time.sleep(0.1)
                now_done = bridge.composite_stats.count - start_count
                bar.update(min(now_done, args.frames) - bar.n)
            done = target
            s = bridge.stats()
            row = {
                "frames": done,
                "elapsed_s": round(time.monotonic() - t_start, 1),
                "out_fps": s["stages"]["composite"]["fps"],
                "track_fps": s["stages"]["track"]["fps"],
                "output_age_p50_ms": s["latency_ms"]["output_age"]["p50_ms"],
                "output_age_p90_ms": s["latency_ms"]["output_age"]["p90_ms"],
                "output_age_p99_ms": s["latency_ms"]["output_age"]["p99_ms"],
                "mask_age_p50_ms": s["latency_ms"]["mask_age"]["p50_ms"],
                "composite_p50_ms": s["stages"]["composite"]["p50_ms"],
                "track_p50_ms": s["stages"]["track"]["p50_ms"],
                "dropped_before_composite": s["dropped"]["before_composite"],
                "stream_skipped": s["dropped"]["stream"],
                "stream_sent": (s["stream"] or {}).get("sent"),
                "track_p90_ms": s["stages"]["track"]["p90_ms"],
                "track_steps": s["stages"]["track"]["count"],
                "tracker_state_kb": (
                    None
                    if s["tracker"]["state_bytes"] is None
                    else round(s["tracker"]["state_bytes"] / 1024, 1)
                ),
                "rss_mb": s["rss_mb"]["now"],
                "stream_rss_mb": s["rss_mb"]["stream_process"],
            }
            rows.append(row)
            tqdm.write(_row_text(row))
    finally:
        bar.close()
        if reader is not None:
            reader.stop()
    final = bridge.stats()
    first, last = rows[0], rows[-1]
    summary = {
        "rss_mb_start": final["rss_mb"]["start"],
        "rss_mb_after_first_window": first["rss_mb"],
        "rss_mb_end": last["rss_mb"],
        "stream_rss_mb_first_window": first["stream_rss_mb"],
        "stream_rss_mb_end": last["stream_rss_mb"],
        "output_age_p50_ms_first_last": [first["output_age_p50_ms"], last["output_age_p50_ms"]],
        "output_age_p90_ms_first_last": [first["output_age_p90_ms"], last["output_age_p90_ms"]],
        "reader_restarts": reader.restarts if reader is not None else None,
        "track_p50_ms_first_last": [first["track_p50_ms"], last["track_p50_ms"]],
        "tracker_state_kb_first_last": [first["tracker_state_kb"], last["tracker_state_kb"]],
        "track_steps": last["track_steps"],
    }
    print(
        f"RSS {summary['rss_mb_start']} MB at start, {first['rss_mb']} MB after "
        f"{first['frames']} frames, {last['rss_mb']} MB at {last['frames']}; stream process "
        f"{first['stream_rss_mb']} → {last['stream_rss_mb']} MB. Output age p50 "
        f"{first['output_age_p50_ms']} → {last['output_age_p50_ms']} ms, p90 "
        f"{first['output_age_p90_ms']} → {last['output_age_p90_ms']} ms."
    )
    return {"windows": rows, "summary": summary, "final": final}


def _latency(args: argparse.Namespace, bridge: Any, pattern: Any) -> dict:
    import base64
    import io
    import random

    import numpy as np
    from obswebsocket import obsws, requests
    from PIL import Image

    from etam_plugin.obs_bridge.credentials import load_password
    from etam_plugin.obs_bridge.obs_control import parse_obs_address
    from etam_plugin.obs_bridge.testpattern import read_counter

    host, port = parse_obs_address(args.obs)
    password = load_password()
    client = obsws(host, port, password.reveal() if password else "", timeout=10)
    client.connect()

    # The bridge fits its source to OBS's canvas, so the counter is drawn at the canvas's
    # scale: ask for the scene scaled back to the stream's size (same aspect ratio), or else
    # for the media source itself, at its own size.
    video = client.call(requests.GetVideoSettings()).datain
    canvas = (video.get("baseWidth"), video.get("baseHeight"))
    same_aspect = bool(canvas[0] and canvas[1]) and canvas[0] * pattern.height == (
        canvas[1] * pattern.width
    )

    problem = ["nothing asked yet"]  # why the counter was not read last time
    last_image: list[np.ndarray] = []

    def shot() -> np.ndarray | None:
        status = bridge.obs.status()
        if status.scene is None:
            problem[0] = f"the bridge has no scene in OBS yet ({status})"
            return None
        if same_aspect:
            request = requests.GetSourceScreenshot(
                sourceName=status.scene,
                imageFormat="png",
                imageWidth=pattern.width,
                imageHeight=pattern.height,
            )
        else:
            request = requests.GetSourceScreenshot(
                sourceName=bridge.obs.source_name, imageFormat="png"
            )
        r = client.call(request)
        if not r.status:
            problem[0] = f"OBS refused the screenshot: {r.datain}"
            return None
        data = r.datain["imageData"].split(",", 1)[1]
        image = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))
        last_image[:] = [image]
        return image

    def counter() -> int | None:
        image = shot()
        if image is None:
            return None
        value = read_counter(image)
        if value is None:
            problem[0] = (
                f"counter unreadable in a {image.shape[1]}×{image.shape[0]} screenshot "
                f"(opaque {100 * float((image[..., 3] > 0).mean()):.0f} %, mean RGB "
                f"{image[..., :3].reshape(-1, 3).mean(0).round().tolist()})"
            )
        return value

    try:
        deadline = time.monotonic() + 120  # a fresh OBS on software GL can be slow to start
        while counter() is None:
            if time.monotonic() > deadline:
                saved = ""
                if last_image:
                    fd, name = tempfile.mkstemp(prefix="etam-latency-", suffix=".png")
                    os.close(fd)
                    path = Path(name)
                    Image.fromarray(last_image[0]).save(path)
                    saved = f"; last screenshot: {path}"
                stats = bridge.stats()
                stages = {k: v.get("count") for k, v in stats["stages"].items()}
                raise SystemExit(
                    "OBS never showed the stream's frame counter in 120 s: "
                    f"{problem[0]}; frames per stage {stages}; stream {stats.get('stream')}; "
                    f"OBS {stats.get('obs')}{saved}"
                )
            time.sleep(0.2)
        time.sleep(2.0)  # let the tracker and OBS settle
        lags, lags_before, unreadable, shot_ms = [], [], 0, []
        n = pattern.frames
        for _ in range(args.samples):
            time.sleep(random.uniform(0.1, 0.3))
            before = bridge.capture.latest_index
            t0 = time.perf_counter()
            shown = counter()
            captured = bridge.capture.latest_index  # the newest frame the bridge has read
            shot_ms.append((time.perf_counter() - t0) * 1000.0)
            if shown is None:
                unreadable += 1
                continue
            lags.append((captured - shown) % n)
            lags_before.append((before - shown) % n)
    finally:
        client.disconnect()
    if not lags:
        raise SystemExit("no readable screenshot")
    period_ms = 1000.0 / args.fps

    def spread(values: list[int]) -> dict:
        a = np.asarray(values, dtype=np.float64)
        return {
            "median": float(np.median(a)),
            "p90": float(np.percentile(a, 90)),
            "min": int(a.min()),
            "max": int(a.max()),
            "median_ms": round(float(np.median(a)) * period_ms, 1),
        }

    s = bridge.stats()
    # OBS renders the screenshot somewhere between our request and its answer, so the delay
    # lies between the newest frame captured when we asked and the newest when it answered.
    result = {
        "samples": len(lags),
        "unreadable": unreadable,
        "lag_frames_lower": spread(lags_before),
        "lag_frames_upper": spread(lags),
        "screenshot_ms_median": round(float(np.median(shot_ms)), 1),
        "bridge_output_age_p50_ms": s["latency_ms"]["output_age"]["p50_ms"],
        "mask_age_p50_ms": s["latency_ms"]["mask_age"]["p50_ms"],
        "track_p50_ms": s["stages"]["track"]["p50_ms"],
        "track_fps": s["stages"]["track"]["fps"],
        "out_fps": s["stages"]["composite"]["fps"],
        "raw_lags_lower_upper": list(zip(lags_before, lags, strict=True)),
    }
    lo, hi = result["lag_frames_lower"], result["lag_frames_upper"]
    print(
        f"OBS shows a frame {lo['median']:.0f}–{hi['median']:.0f} frames older than the newest "
        f"captured (medians of the bounds; p90 {lo['p90']:.0f}–{hi['p90']:.0f}) ≈ "
        f"{lo['median_ms']}–{hi['median_ms']} ms at {args.fps:g} fps; screenshot round trip "
        f"{result['screenshot_ms_median']} ms. Bridge: capture→output p50 "
        f"{result['bridge_output_age_p50_ms']} ms, {result['out_fps']} fps out, tracker "
        f"{result['track_fps']} fps ({result['track_p50_ms']} ms/step), mask age p50 "
        f"{result['mask_age_p50_ms']} ms; {unreadable} unreadable of {args.samples}."
    )
    return result


def _default_clip() -> Path:
    path = Path(__file__).resolve().parents[3] / "shared" / "media" / "juggle.mp4"
    if not path.is_file():  # the team's footage sits beside a checkout, not an install
        raise SystemExit(f"bench bridge click: no --source given and no {path}; give --source")
    return path


def _click_config(args: argparse.Namespace, clip: Path, size: tuple[int, int]) -> Any:
    from etam_plugin.model import Prompt
    from etam_plugin.obs_bridge.bridge import BridgeConfig

    w, h = size
    return BridgeConfig(
        source=str(clip),
        width=w,
        height=h,
        fps=args.fps,
        effect=args.effect or "remove",
        prompts=(Prompt(points_xy=((w / 2, h / 2),), labels=(1,)),),  # the model always steps
        obs=None,
        stream=False,
        status_log_s=0,
    )


def _clicks(args: argparse.Namespace, bridge: Any) -> dict:
    """Clicks at random moments of the model's steps; per click, the first output frame that
    carries the clicked object's mask, counted in frames from the clicked one."""
    import random

    import numpy as np

    from etam_plugin.model import Prompt

    rng = random.Random(args.seed)
    w, h = bridge.size

    def wait(check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (value := check()) is not None:
                return value
            time.sleep(0.002)
        raise SystemExit(f"bench bridge click: no {what} in {timeout:.0f} s")

    def ids(shown: Any) -> set[int]:
        return {i for i, _ in shown.object_mattes}

    wait(lambda: bridge.track_stats.count >= 4 or None, 300, "four model steps")
    rows: list[dict] = []
    for _ in range(args.samples):
        step_s = max(bridge.track_stats.snapshot().p50_ms, 1.0) / 1000.0
        time.sleep(rng.uniform(0.0, step_s))  # anywhere within a step
        seen = bridge.latest()  # what a control window shows at the click
        before = ids(seen)
        point = (rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h)
        t_click = time.monotonic()
        future = bridge.select(Prompt(points_xy=(point,), labels=(1,)), frame=seen.frame)

        def first_with_it(before: set[int] = before) -> Any:
            shown = bridge.latest()
            return shown if ids(shown) - before else None

        shown = wait(first_with_it, 60, "output frame with the clicked object's mask")
        t_shown = time.monotonic()
        obj_id = future.result(timeout=60)
        rows.append(
            {
                "frames": shown.frame.seq - seen.frame.seq,
                "ms": round((t_shown - t_click) * 1000.0, 1),
                "step_ms": round(step_s * 1000.0, 1),
                "mask_on_frame": shown.mask_seq - seen.frame.seq,  # 0: the clicked frame
            }
        )
        bridge.remove(obj_id).result(timeout=60)
        wait(lambda o=obj_id: o not in ids(bridge.latest()) or None, 60, "removal")
    s = bridge.stats()
    step_ms = s["stages"]["track"]["p50_ms"]
    frame_ms = 1000.0 / (s["stages"]["capture"]["fps"] or args.fps)
    frames = np.asarray([r["frames"] for r in rows], dtype=np.float64)
    steps = np.asarray([r["ms"] / r["step_ms"] for r in rows])
    bound = step_ms / frame_ms + 1.0  # one model step + one frame, in frames
    result = {
        "clicks": rows,
        "track_p50_ms": step_ms,
        "frame_ms": round(frame_ms, 1),
        "frames_p50": float(np.median(frames)),
        "frames_max": int(frames.max()),
        "steps_p50": round(float(np.median(steps)), 2),
        "steps_max": round(float(steps.max()), 2),
        "bound_frames": round(bound, 1),
        "within_bound": int((frames <= bound).sum()),
        "clicked_frame_masks": sum(r["mask_on_frame"] == 0 for r in rows),
        "out_fps": s["stages"]["composite"]["fps"],
    }
    print(
        f"click → first output frame with its mask: p50 {result['frames_p50']:.0f} frames "
        f"({result['steps_p50']} steps), max {result['frames_max']} frames "
        f"({result['steps_max']} steps); model step p50 {step_ms:.0f} ms = "
        f"{step_ms / frame_ms:.1f} frames; within 1 step + 1 frame: {result['within_bound']}"
        f"/{len(rows)}; mask made on the clicked frame: {result['clicked_frame_masks']}"
        f"/{len(rows)}; output {result['out_fps']} fps"
    )
    return result


def run(args: argparse.Namespace) -> int:
    from etam_plugin.obs_bridge.tracker_factory import prepare_live_threads

    prepare_live_threads()  # as the live command does, before torch loads
    from etam_plugin.obs_bridge.bridge import Bridge
    from etam_plugin.obs_bridge.testpattern import TestPattern

    if args.mode == "latency" and not args.obs:
        raise SystemExit(
            "latency needs a running OBS: --obs HOST:PORT (password in ETAM_OBS_PASSWORD)"
        )
    w, h = _size(args.size)
    load_start = list(os.getloadavg())  # others' work on this machine skews every number
    tracker = _tracker(args)
    if args.mode == "click":
        bridge = Bridge(_click_config(args, args.source or _default_clip(), (w, h)), tracker)
        bridge.start()
        try:
            result = _clicks(args, bridge)
        finally:
            bridge.stop()
        return _report(args, bridge, load_start, (w, h), bridge.effect.name, result)
    # The clip loops; long enough that a counter difference is never ambiguous.
    pattern = TestPattern(width=w, height=h, frames=600, fps=args.fps)
    with tempfile.TemporaryDirectory(prefix="etam-bench-bridge-") as tmp:
        clip = pattern.write(Path(tmp) / "pattern.mkv")
        effect = args.effect or ("remove" if args.mode == "soak" else "highlight:dim")
        bridge = Bridge(_config(args, clip, pattern, effect), tracker)
        bridge.start()
        try:
            soak = args.mode == "soak"
            result = _soak(args, bridge) if soak else _latency(args, bridge, pattern)
        finally:
            bridge.stop()
    return _report(args, bridge, load_start, (w, h), effect, result)


def _report(
    args: argparse.Namespace,
    bridge: Any,
    load_start: list[float],
    size: tuple[int, int],
    effect: str,
    result: dict,
) -> int:
    w, h = size
    payload = {
        "mode": args.mode,
        "cpu_count": os.cpu_count(),
        "loadavg_start_end": [load_start, list(os.getloadavg())],
        "size": [w, h],
        "fps": args.fps,
        "effect": effect,
        "tracker": args.tracker
        if args.tracker != "live"
        else f"live:{args.checkpoint}" + (f" ({args.variant})" if args.variant else ""),
        "device": bridge.stats()["device"],
        **result,
    }
    _write_json(args, payload)
    return 0
