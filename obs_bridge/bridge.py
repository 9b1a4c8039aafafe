"""The bridge as a library: ``Bridge(BridgeConfig(...), tracker)``, ``start()``, ``stop()``.

It wires the three stages (capture → track → composite/output) with size-1 slots, starts
the stream server process and, unless disabled, the OBS controller; everything a command
line or a window needs is here — selection, stats, a headless ``run(frames=N)`` — so the
``etam-plugin live`` command is a thin layer over it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from etam_plugin.errors import CancelledError, CaptureError, EffectError, ObsError
from etam_plugin.matte import MatteOps
from etam_plugin.model import Prompt
from etam_plugin.obs_bridge.capture import CaptureThread, Frame, SourceSpec, VideoSource
from etam_plugin.obs_bridge.compositor import (
    CAMERA_LOST_MODES,
    Composited,
    CompositeThread,
    FrameSink,
)
from etam_plugin.obs_bridge.credentials import Secret, load_password
from etam_plugin.obs_bridge.effects import (
    Effect,
    ObjectEffect,
    parse_effect,
    parse_object_effect,
)
from etam_plugin.obs_bridge.flow import FlowWarper
from etam_plugin.obs_bridge.obs_control import ObsController, ObsSettings
from etam_plugin.obs_bridge.presence import PresenceMixer, PresencePolicy
from etam_plugin.obs_bridge.prompts import check_in_frame
from etam_plugin.obs_bridge.protocol import MaskTracker, tracker_device
from etam_plugin.obs_bridge.selections import SavedObject, SavedSelection, SelectionStore
from etam_plugin.obs_bridge.slots import LatestSlot
from etam_plugin.obs_bridge.stats import CounterRate, StageStats
from etam_plugin.obs_bridge.stream_server import StreamServer
from etam_plugin.obs_bridge.track_stage import MaskSnapshot, TrackThread
from etam_plugin.obs_bridge.tracker_factory import MODEL_NICENESS, ThreadTuner

log = logging.getLogger(__name__)

LIVE_MATTE = MatteOps(soft=1.0, feather=2.0)
"""Finishing for live use: soft edges from the logits and a 2 px feather. Temporal
smoothing (``smooth=N``) is off by default: it steadies a jittery edge but leaves a trail
behind fast motion, worse the slower the tracker runs."""


@dataclass
class BridgeConfig:
    """Everything the bridge needs; the ``live`` command fills it from its arguments.

    ``source``: camera index, device path, file (looped when ``loop``) or URL.
    ``width``/``height``/``fps``: requested capture format (frames are resized to
    ``width``×``height`` when the source delivers another size).
    ``effect``: an :class:`Effect` or a spec (``remove``, ``blur``, ``replace:bg.png``, …).
    ``prompts``: objects to select on the first frame tracked, one object per prompt
    (coordinates in pixels of the ``width``×``height`` frame; checked at start).
    ``obs``: where OBS is (None: do not control OBS, ``--no-obs``); ``password`` None
    reads ``ETAM_OBS_PASSWORD`` or the config file (``password_file`` or the default).
    ``stream``: serve the TCP stream (``stream_port`` 0 picks a free port).
    ``pause_when_hidden``: stop inference while OBS shows the source nowhere.
    ``mask_wait_ms``: how long a frame may wait for its own mask when the tracker's median
    step is shorter than that (a fast GPU model: exact masks; a slow one: never waited for).
    ``flow_warp``: move older masks onto newer frames with optical flow.
    ``model_niceness``: how many ``nice`` steps below the output the model runs (Linux).
    ``adapt_threads``: a model on the CPU runs on all cores or half of them, whichever its
    recent steps say is faster under the current load (see :class:`ThreadTuner`).
    ``camera_lost``: what the outputs get while the camera is lost: ``slate`` (says so),
    ``transparent``, or ``freeze`` (nothing: OBS keeps the last picture).
    ``remember_selection``: on stop, save the selected objects' prompts for this camera
    (in ``selection_store``, default the user state folder, see :mod:`selections`); on the
    next start with the same camera they are offered (``saved_selection``, the control
    window's "Restore") or, with ``restore_selection``, applied to the first frames after
    ``prompts``.
    ``object_effects``: an object's own effect by its number in ``prompts`` (1 = the first):
    ``pixelate``, ``blur`` or ``outline[:COLOUR]`` on top of the scene ``effect`` (see
    :class:`~etam_plugin.obs_bridge.effects.ObjectEffect`).
    """

    source: SourceSpec = 0
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    loop: bool = True
    effect: Effect | str = "remove"
    matte: MatteOps = LIVE_MATTE
    presence: PresencePolicy = field(default_factory=PresencePolicy)
    flow_warp: bool = True
    mask_wait_ms: float = 20.0
    prompts: tuple[Prompt, ...] = ()
    obs: ObsSettings | None = field(default_factory=ObsSettings)
    password: Secret | None = None
    password_file: str | Path | None = None
    stream: bool = True
    stream_host: str = "127.0.0.1"
    stream_port: int = 0
    virtual_camera: bool = False
    pause_when_hidden: bool = True
    status_log_s: float = 10.0
    model_niceness: int = MODEL_NICENESS
    adapt_threads: bool = True
    camera_lost: str = "slate"
    object_effects: dict[int, str] = field(default_factory=dict)
    remember_selection: bool = False
    restore_selection: bool = False
    selection_store: str | Path | None = None


class Bridge:
    """Live object masking from a camera into OBS. Use as a context manager or start/stop.

    ``tracker`` is anything that satisfies :class:`MaskTracker`; it is only ever called
    from the bridge's track thread.
    """

    def __init__(
        self,
        config: BridgeConfig,
        tracker: MaskTracker,
        *,
        sinks: tuple[FrameSink, ...] = (),
    ) -> None:
        self.config = config
        self.tracker = tracker
        self.effect = (
            parse_effect(config.effect) if isinstance(config.effect, str) else config.effect
        )
        self._extra_sinks = sinks
        self._ids = itertools.count(1)
        self._process = psutil.Process()
        self._rss_start: int | None = None
        self._t_start: float | None = None
        self._visible: bool | None = None
        self._started = False
        self._status_stop = threading.Event()
        self._slots_closed = False
        # stages
        self.capture_stats = StageStats("capture")
        self.track_stats = StageStats("track")
        self.composite_stats = StageStats("composite")
        self.output_age = StageStats("output_age")
        self._sent_rate = CounterRate()  # frames the stream handed to OBS, per second
        self.mask_age = StageStats("mask_age")
        self._to_track: LatestSlot[Frame] = LatestSlot("capture→track")
        self._to_composite: LatestSlot[Frame] = LatestSlot("capture→composite")
        self._masks: LatestSlot[MaskSnapshot] = LatestSlot("track→composite")
        self._preview: LatestSlot[Composited] = LatestSlot("preview")
        self.capture: CaptureThread | None = None
        self.track: TrackThread | None = None
        self.composite: CompositeThread | None = None
        self.stream: StreamServer | None = None
        self.obs: ObsController | None = None
        self.virtual_camera: Any = None
        self.size: tuple[int, int] | None = None
        self.initial_selections: list[Future] = []  # one per config prompt, in order
        self.object_effects: dict[int, ObjectEffect] = {}  # objects with their own effect
        self.saved_selection: SavedSelection | None = None  # offered, not applied yet
        self._object_prompts: dict[int, Prompt] = {}  # each selected object's last prompt
        self._prompts_lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Open the source, start the stages, the stream server and the OBS controller.

        Raises :class:`CaptureError` when the source cannot be opened, :class:`StreamError`
        when the stream cannot be served, :class:`ObsCredentialsError` for an unsafe
        password file — before anything is left running.
        """
        if self._started or self._slots_closed:
            raise RuntimeError("a bridge starts once: make a new Bridge to start again")
        cfg = self.config
        if cfg.camera_lost not in CAMERA_LOST_MODES:
            raise ValueError(
                f"camera_lost must be one of {CAMERA_LOST_MODES}, not {cfg.camera_lost!r}"
            )
        self._rss_start = self._process.memory_info().rss
        self._t_start = time.monotonic()
        password = cfg.password
        if cfg.obs is not None and password is None:
            password = load_password(config_path=cfg.password_file)
        source = VideoSource(cfg.source, width=cfg.width, height=cfg.height, fps=cfg.fps)
        source.open()  # CaptureError here, with nothing started yet
        first = source.read()  # open() has read it already: this cannot fail
        source.close()
        if first is None:
            raise CaptureError(f"{source.describe()} gave no first frame", source=cfg.source)
        h, w = first.shape[:2]
        self.size = (cfg.width, cfg.height) if cfg.width and cfg.height else (w, h)
        for prompt in cfg.prompts:
            check_in_frame(prompt, *self.size)  # PromptError, nothing started yet
        for number in cfg.object_effects:
            if not 1 <= number <= len(cfg.prompts):
                raise EffectError(
                    f"object effect for object {number}: only {len(cfg.prompts)} selected "
                    "at start (--point/--box number them from 1)"
                )
        object_effects = {n: parse_object_effect(spec) for n, spec in cfg.object_effects.items()}
        fps = source.fps
        sinks: list[FrameSink] = list(self._extra_sinks)
        try:
            if cfg.stream:
                self.stream = StreamServer(
                    *self.size, fps, port=cfg.stream_port, host=cfg.stream_host
                )
                self.stream.start()
                sinks.append(self.stream)
            if cfg.virtual_camera:
                from etam_plugin.obs_bridge.virtualcam import VirtualCameraSink

                self.virtual_camera = VirtualCameraSink(*self.size, fps)
                sinks.append(self.virtual_camera)
        except Exception:
            self._stop_outputs()
            raise
        self.track = TrackThread(
            self.tracker,
            self._to_track,
            self._masks,
            stats=self.track_stats,
            nice=cfg.model_niceness,
            tuner=self._thread_tuner(),
        )
        ids = [next(self._ids) for _ in cfg.prompts]
        self.initial_selections = [
            self._select(obj, prompt, None) for obj, prompt in zip(ids, cfg.prompts, strict=True)
        ]
        self.object_effects = {ids[n - 1]: e for n, e in object_effects.items() if e is not None}
        if cfg.remember_selection:
            saved = self._store().load(cfg.source)
            self.saved_selection = None if saved is None else saved.scaled_to(*self.size)
            if saved is not None and cfg.restore_selection:
                self.initial_selections += self.restore_selection()
        self.composite = CompositeThread(
            self._to_composite,
            self._masks,
            self.effect,
            sinks,
            mixer=PresenceMixer(cfg.presence, cfg.matte),
            warper=FlowWarper() if cfg.flow_warp else None,
            is_paused=lambda: self.track is not None and self.track.paused,
            stats=self.composite_stats,
            age=self.output_age,
            mask_age=self.mask_age,
            preview=self._preview,
            mask_wait_s=cfg.mask_wait_ms / 1000.0,
            track_stats=self.track_stats,
            camera_lost=self._camera_lost,
            camera_lost_mode=cfg.camera_lost,
            size=self.size,
        )
        self.composite.object_effects = dict(self.object_effects)
        self.capture = CaptureThread(
            source,
            [self._to_track, self._to_composite],
            size=self.size,
            loop=cfg.loop,
            stats=self.capture_stats,
        )
        self.track.start()
        self.composite.start()
        self.capture.start()
        if cfg.obs is not None and self.stream is not None:
            self.obs = ObsController(
                cfg.obs,
                password,
                self.stream.url,
                on_visibility=self._on_visibility,
                latency_ms=self.added_latency_ms,
            )
            self.obs.start()
        if cfg.status_log_s > 0:
            threading.Thread(target=self._log_status, name="etam-status", daemon=True).start()
        self._started = True
        log.info(
            "bridge: %s → %s, %dx%d @ %.2f fps, effect %s, device %s",
            source.describe(),
            self.stream.url if self.stream else "no stream",
            *self.size,
            fps,
            self.effect.name,
            tracker_device(self.tracker),
        )

    def stop(self) -> None:
        """Stop every thread and the stream process (and remember the selection when
        configured to); safe to call twice."""
        if self._started:
            self._save_selection()
        self._status_stop.set()
        if self.obs is not None:
            self.obs.stop()
        for stage in (self.capture, self.track, self.composite):
            if stage is not None:
                stage.stop()
        for slot in (self._to_track, self._to_composite, self._masks, self._preview):
            slot.close()
        self._slots_closed = True
        for stage in (self.capture, self.track, self.composite):
            if stage is not None and stage.is_alive():
                stage.join(5.0)
        self._stop_outputs()
        self._started = False

    def _thread_tuner(self) -> ThreadTuner | None:
        """For a torch model on the CPU (the only threads the bridge can set)."""
        if not self.config.adapt_threads or tracker_device(self.tracker) != "cpu":
            return None
        if "torch" not in sys.modules:
            return None
        from etam_plugin.devices import cpu_cores

        return ThreadTuner(cpu_cores())

    def _stop_outputs(self) -> None:
        if self.stream is not None:
            self.stream.stop()
        if self.virtual_camera is not None:
            self.virtual_camera.close()

    def __enter__(self) -> Bridge:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- selection ----------------------------------------------------------------------------
    def select(
        self, prompt: Prompt, obj_id: int | None = None, *, frame: Frame | None = None
    ) -> Future:
        """Select a new object (``obj_id`` None) or re-select one.

        ``frame``: the frame the prompt's coordinates refer to (the one the user clicked
        on, e.g. ``bridge.latest().frame``); the tracker steps on it, then selects — with a
        slow model the newest tracked frame may be a second away from what was on screen.
        Without it the prompt applies to the newest tracked frame.
        Returns a future that resolves to the object's id once the tracker has applied it.
        """
        if self.track is None:
            raise RuntimeError("start the bridge before selecting")
        obj = next(self._ids) if obj_id is None else obj_id
        return self._select(obj, prompt, frame)

    def _select(self, obj_id: int, prompt: Prompt, frame: Frame | None) -> Future:
        """Submit a selection and remember its prompt (what is saved for the next start):
        at once, so a click just before stopping counts, and taken back if the tracker
        refuses it."""
        assert self.track is not None
        with self._prompts_lock:
            before = self._object_prompts.get(obj_id)
            self._object_prompts[obj_id] = prompt
        future = self.track.submit("select", obj_id, prompt, frame=frame)

        def forget_if_refused(f: Future) -> None:
            if f.cancelled() or f.exception() is not None:
                with self._prompts_lock:
                    if self._object_prompts.get(obj_id) is prompt:
                        if before is None:
                            del self._object_prompts[obj_id]
                        else:
                            self._object_prompts[obj_id] = before

        future.add_done_callback(forget_if_refused)
        return future

    def restore_selection(self) -> list[Future]:
        """Select the objects saved on this camera's last stop (``saved_selection``) again,
        with their own effects, on the newest frame; returns one future per object."""
        saved, self.saved_selection = self.saved_selection, None
        if saved is None or self.track is None:
            return []
        futures = []
        for o in saved.objects:
            obj = next(self._ids)
            futures.append(self._select(obj, o.prompt, None))
            if o.effect:
                try:
                    self.set_object_effect(obj, o.effect)
                except EffectError as exc:
                    log.warning("live: remembered effect of object %d ignored: %s", obj, exc)
        log.info("live: %d remembered object(s) selected again", len(futures))
        return futures

    def _store(self) -> SelectionStore:
        return SelectionStore(self.config.selection_store)

    def _save_selection(self) -> None:
        """On stop: the selected objects' prompts, for the next start with this camera
        (nothing selected: what was saved before stays)."""
        if not self.config.remember_selection or self.size is None:
            return
        with self._prompts_lock:
            prompts = sorted(self._object_prompts.items())
        if not prompts:
            return
        objects = tuple(
            SavedObject(p, e.spec if (e := self.object_effects.get(i)) else None)
            for i, p in prompts
        )
        try:
            self._store().save(self.config.source, SavedSelection(self.size, objects))
        except OSError as exc:
            log.warning("live: could not remember the selection: %s", exc)
            return
        log.info("live: selection of %d object(s) remembered for the next start", len(objects))

    def remove(self, obj_id: int) -> Future:
        if self.track is None:
            raise RuntimeError("start the bridge before removing objects")
        self.set_object_effect(obj_id, None)
        with self._prompts_lock:
            self._object_prompts.pop(obj_id, None)
        return self.track.submit("remove", obj_id)

    def clear(self) -> Future:
        if self.track is None:
            raise RuntimeError("start the bridge before clearing")
        self.object_effects = {}
        if self.composite is not None:
            self.composite.object_effects = {}
        with self._prompts_lock:
            self._object_prompts.clear()
        return self.track.submit("clear")

    def set_object_effect(self, obj_id: int, effect: ObjectEffect | str | None) -> None:
        """Give object ``obj_id`` its own effect (``pixelate``, ``blur``, ``outline[:COLOUR]``)
        on top of the scene effect, or None / ``scene``: it follows the scene effect again.
        Takes effect from the next composited frame."""
        if isinstance(effect, str):
            effect = parse_object_effect(effect)
        chosen = {k: v for k, v in self.object_effects.items() if k != obj_id}
        if effect is not None:
            chosen[obj_id] = effect
        self.object_effects = chosen
        if self.composite is not None:
            self.composite.object_effects = dict(chosen)  # replaced whole, never mutated

    def set_effect(self, effect: Effect | str) -> None:
        """Switch the effect while running (takes effect from the next composited frame)."""
        self.effect = parse_effect(effect) if isinstance(effect, str) else effect
        if self.composite is not None:
            self.composite.effect = self.effect

    def set_presence(self, policy: PresencePolicy) -> None:
        """Change hold, fade and fallback while running (the next composited frame uses it;
        a policy is replaced whole, so the compositor never sees half of one)."""
        self.config.presence = policy
        if self.composite is not None:
            self.composite.mixer.policy = policy

    def set_sync_audio(self, inputs: tuple[str, ...] | list[str]) -> None:
        """Which OBS audio inputs are delayed by the bridge's latency from now on (empty:
        A/V sync off, every input's own offset given back). OBS's inputs with audio are in
        ``stats()["obs"]["audio_inputs"]``."""
        if self.obs is None:
            raise ObsError("A/V sync sets OBS inputs' audio offset: it needs OBS (not --no-obs)")
        self.obs.set_sync_audio(inputs)

    # -- inference pause (OBS visibility) -----------------------------------------------------
    def _on_visibility(self, visible: bool | None) -> None:
        self._visible = visible
        if self.track is None or not self.config.pause_when_hidden:
            return
        if visible is False:
            self.track.pause()
            log.info("bridge: source hidden in OBS, inference paused")
        elif self.track.paused:
            self.track.resume()
            log.info("bridge: inference resumed")

    def _camera_lost(self) -> bool:
        capture = self.capture
        return capture is not None and capture.status().state in ("reconnecting", "stalled")

    def added_latency_ms(self) -> float | None:
        """How much later than the camera the picture leaves the bridge (capture → output,
        median of the recent frames); None before there is a measure. ``--sync-audio``
        delays the microphone in OBS by this much."""
        snap = self.output_age.snapshot()
        return snap.p50_ms if snap.count >= 10 else None

    @property
    def inference_paused(self) -> bool:
        return self.track is not None and self.track.paused

    # -- results ------------------------------------------------------------------------------
    def latest(self) -> Composited | None:
        """The newest composited frame (for a preview); None before the first."""
        return self._preview.peek()[1]

    def run(
        self,
        frames: int | None = None,
        *,
        duration_s: float | None = None,
        cancel: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict:
        """Block until ``frames`` more frames were output (or ``duration_s`` passed, or
        ``cancel`` is set — then :class:`CancelledError`); returns :meth:`stats`."""
        if not self._started:
            self.start()
        start = self.composite_stats.count
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while True:
            done = self.composite_stats.count - start
            if progress is not None:
                progress(done)
            if frames is not None and done >= frames:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            if cancel is not None and cancel.wait(0.05):
                raise CancelledError("live run cancelled")
            self.check_obs()
            if cancel is None:
                time.sleep(0.05)
        return self.stats()

    def check_obs(self) -> None:
        """Raise :class:`ObsError` when another running bridge owns our OBS source: that ends
        the run (streaming there would take that bridge's picture away, or show ours
        nowhere)."""
        if self.obs is not None and self.obs.status().state == "conflict":
            raise ObsError(self.obs.status().last_error or "the OBS source is in use")

    def stats(self) -> dict:
        """Numbers for the status line and ``--stats``: per-stage fps and latency
        percentiles (ms), dropped frames, output, OBS, objects, device, RSS."""
        rss = self._process.memory_info().rss
        stream = self.stream.status().as_dict() if self.stream else None
        stream_rss = None
        if self.stream is not None and self.stream.pid is not None:
            with contextlib.suppress(psutil.Error):
                stream_rss = round(psutil.Process(self.stream.pid).memory_info().rss / 2**20, 1)
        objects = self.composite.objects if self.composite else ()
        composite = self.composite_stats.snapshot()
        delivered = self._sent_rate.update(stream["sent"]) if stream else composite.fps
        return {
            "device": tracker_device(self.tracker),
            "threads": {
                **_thread_settings(),
                "model_niceness": self.config.model_niceness,
                "adaptive": self.track is not None and self.track.tuner is not None,
            },
            "size": list(self.size) if self.size else None,
            "effect": self.effect.name,
            "object_effects": {str(k): e.name for k, e in sorted(self.object_effects.items())},
            "uptime_s": round(time.monotonic() - self._t_start, 2) if self._t_start else 0.0,
            "inference_paused": self.inference_paused,
            "obs_visible": self._visible,
            "stages": {
                "capture": self.capture_stats.snapshot(self._to_composite.dropped).as_dict(),
                "track": self.track_stats.snapshot(self._to_track.dropped).as_dict(),
                "composite": composite.as_dict(),
            },
            # what the output took (the stream: frames sent to OBS; the stream skips a frame
            # OBS has not read yet), per second recently; None in a stream's first 0.5 s
            "delivered_fps": None if delivered is None else round(delivered, 2),
            "latency_ms": {
                "output_age": self.output_age.snapshot().as_dict(),
                "mask_age": self.mask_age.snapshot().as_dict(),
            },
            "dropped": {
                "before_composite": self._to_composite.dropped,
                "skipped_by_tracker": self._to_track.dropped,
                "stream": stream["skipped"] if stream else 0,
            },
            "capture": self.capture.status().__dict__ if self.capture else None,
            "tracker_error": self.track.last_error if self.track else None,
            "tracker": self._tracker_stats(),
            "stream": stream,
            "obs": self.obs.status().as_dict() if self.obs else None,
            "objects": [o.__dict__ for o in objects],
            "rss_mb": {
                "start": round((self._rss_start or rss) / 2**20, 1),
                "now": round(rss / 2**20, 1),
                "stream_process": stream_rss,
            },
        }

    def _tracker_stats(self) -> dict:
        """The tracker's state size (constant over a long run) and its lost/found events."""
        track = self.track
        if track is None:
            return {"state_bytes": None, "events": {"lost": 0, "found": 0}, "recent_events": []}
        return {
            "state_bytes": track.state_bytes,
            "events": dict(track.event_counts),
            "recent_events": [
                {"obj_id": e.obj_id, "kind": e.kind, "frame_seq": e.frame_seq}
                for e in list(track.events)[-8:]
            ],
        }

    def _log_status(self) -> None:
        while not self._status_stop.wait(self.config.status_log_s):
            log.info("bridge: %s", status_line(self.stats()))


def _thread_settings() -> dict:
    """How the model's CPU threads run (the stats file says what a run was measured with)."""
    torch = sys.modules.get("torch")
    return {
        "torch": torch.get_num_threads() if torch is not None else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def status_line(stats: dict) -> str:
    """One line for the window and the log: OBS state, rates, latency, drops, device."""
    obs = stats.get("obs")
    if obs is None:
        obs_part = "OBS: off"
    elif obs["connected"]:
        shown = {True: "visible", False: "hidden", None: "?"}[obs["visible"]]
        obs_part = f"OBS: connected, source {shown}"
    else:
        obs_part = f"OBS: {obs['state']}" + (f" ({obs['last_error']})" if obs["last_error"] else "")
    st = stats["stages"]
    cap = stats.get("capture") or {}
    cam = (
        "camera lost"
        if cap.get("state") in ("reconnecting", "stalled")
        else f"{st['capture']['fps']:.1f} fps in"
    )
    paused = " (paused)" if stats["inference_paused"] else ""
    if not stats["objects"] and not paused:
        paused = " (idle: nothing selected)"
    dropped = stats["dropped"]["before_composite"] + stats["dropped"]["stream"]
    out = stats.get("delivered_fps")
    out = st["composite"]["fps"] if out is None else out
    return (
        f"{obs_part} · {cam} · {out:.1f} fps out · "
        f"track {st['track']['fps']:.1f} fps{paused} · "
        f"latency p50 {stats['latency_ms']['output_age']['p50_ms']:.0f} ms · "
        f"dropped {dropped} · {stats['device']}"
    )
