"""Drive OBS Studio over obs-websocket v5: our Media Source, visibility, reconnection.

The controller is its own thread and never touches the frame path: if OBS hangs, closes
or restarts, frames keep flowing to the stream server (OBS's media source reconnects to it
by itself) while the controller retries with backoff. On every (re)connection it creates or
updates the Media Source that plays our stream; while connected it watches scene and
visibility events and reports whether the source is seen (program or preview), so the bridge
can pause inference when nobody sees the output.

What a streamer's OBS does to that source is handled: a source deleted in OBS is created
again; one OBS restored without its fit (after a crash) is fitted to the canvas again; a
name OBS still holds after ``RemoveInput`` of a source used in two scenes (OBS 29 keeps such
an input listed, but refuses every scene item and input of that name) is left for the next
free name ("etam-plugin 2"); a source another running bridge owns is refused (each bridge
writes ``etam_owner`` into its source's settings). With ``sync_audio`` the given inputs'
audio sync offset follows the bridge's added latency, and goes back to what it was on stop
(or when the input is taken off the list while running, :meth:`ObsController.set_sync_audio`);
the inputs OBS has with audio are listed in the status, for the control window to offer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from etam_plugin.errors import ObsAuthError, ObsError
from etam_plugin.obs_bridge.backoff import Backoff
from etam_plugin.obs_bridge.credentials import ENV_VAR, Secret

log = logging.getLogger(__name__)

INPUT_KIND = "ffmpeg_source"

# Events after which the source's visibility may have changed.
_VISIBILITY_EVENTS = frozenset(
    {
        "SceneItemEnableStateChanged",
        "CurrentProgramSceneChanged",
        "CurrentPreviewSceneChanged",
        "SceneTransitionEnded",
        "SceneTransitionVideoEnded",
        "StudioModeStateChanged",
        "SceneItemCreated",
        "SceneItemRemoved",
        "InputCreated",
        "InputRemoved",
        "SceneRemoved",
        "CurrentSceneCollectionChanged",
    }
)
# Events after which the list of inputs with audio may have changed.
_INPUT_LIST_EVENTS = frozenset(
    {"InputCreated", "InputRemoved", "InputNameChanged", "CurrentSceneCollectionChanged"}
)
AUDIO_LIST_EVERY_S = 10.0  # look again at OBS's audio inputs this often (events do sooner)


def media_source_settings(url: str) -> dict[str, Any]:
    """Settings of an ffmpeg_source that plays our live stream with the least delay.

    No buffering, never closed when hidden (reopening costs a reconnect), reconnect after 1 s
    when the stream drops, keep the last frame rather than clearing at the stream's end.
    """
    return {
        "is_local_file": False,
        "input": url,
        "input_format": "nut",
        "buffering_mb": 0,
        "close_when_inactive": False,
        "restart_on_activate": False,
        "clear_on_media_end": False,
        "reconnect_delay_sec": 1,
        "hw_decode": False,
        # Probe no more than the NUT header: frames read while probing queue up in front of
        # the picture for as long as the stream plays.
        "ffmpeg_options": "probesize=32 analyzeduration=0",
    }


@dataclass(frozen=True)
class ObsSettings:
    """Where OBS is and what to create there. ``scene`` None: the current program scene."""

    host: str = "127.0.0.1"
    port: int = 4455
    scene: str | None = None
    source_name: str = "etam-plugin"
    request_timeout_s: float = 5.0
    poll_s: float = 1.0
    fit_to_canvas: bool = True
    sync_audio: tuple[str, ...] = ()  # inputs whose audio is delayed by our latency
    sync_step_ms: float = 20.0  # re-set the offset when the latency moved this much
    remove_on_stop: bool = False  # remove the source we created when stopping (benchmarks)


AUDIO_SYNC_MAX_MS = 20_000  # OBS's own limit for an input's audio sync offset
HELD_NAME_RETRIES = 12  # × 0.5 s: OBS 29 lists a deleted media source for about 4 s


class ObsConflictError(ObsError):
    """Another running bridge owns the source: retrying cannot help, so the controller stops."""


def owner_tag() -> str:
    """Who owns a source: host, pid, the process's start time (a reused pid differs) and a
    token of this bridge (two bridges in one process are two owners)."""
    import secrets

    import psutil

    started = f"{psutil.Process().create_time():.0f}"
    return f"{socket.gethostname()}/{os.getpid()}/{started}/{secrets.token_hex(4)}"


def owner_alive(tag: str) -> bool:
    """Whether the bridge that wrote ``tag`` still runs (on another host: assumed so)."""
    import psutil

    host, pid_text, started, *_ = [*tag.split("/"), "", "", ""]
    if host != socket.gethostname():
        return True
    try:
        return f"{psutil.Process(int(pid_text)).create_time():.0f}" == started
    except (ValueError, psutil.Error):
        return False


def parse_obs_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, port 4455) → (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep:
        host, port = text.strip(), "4455"
    try:
        number = int(port)
    except ValueError:
        raise ObsError(f"OBS address {text!r}: the port must be a number (HOST:PORT)") from None
    if not host or not 0 < number < 65536:
        raise ObsError(f"OBS address {text!r}: expected HOST:PORT, e.g. 127.0.0.1:4455")
    return host, number


@dataclass(frozen=True)
class ObsStatus:
    """The controller's view of OBS, for the status line and the stats file."""

    state: str  # "connecting" | "connected" | "unreachable" | "auth_failed" | "stopped"
    connected: bool
    obs_version: str | None
    scene: str | None
    source_ready: bool
    visible: bool | None  # None: unknown (not connected)
    last_error: str | None
    attempts: int
    connections: int
    retry_in_s: float | None
    source_name: str | None = None  # the source's name in OBS (another when ours was held)
    audio_offset_ms: int | None = None  # what --sync-audio last added to the inputs' offsets
    audio_inputs: tuple[str, ...] = ()  # OBS's inputs that have audio (not our source)
    sync_audio: tuple[str, ...] = ()  # the inputs that follow our latency now

    def as_dict(self) -> dict:
        return asdict(self)


class ObsClient(Protocol):
    """The part of ``obswebsocket.obsws`` the controller uses (a test can stand in)."""

    def connect(self) -> None: ...
    def disconnect(self) -> None: ...
    def call(self, request: Any) -> Any: ...
    def register(self, func: Callable[[Any], None], event: Any = None) -> None: ...


def _default_client(
    host: str, port: int, password: str, timeout: float, on_disconnect: Callable[[Any], None]
) -> ObsClient:
    """obs-websocket-py's client, made to report a reset connection as a disconnect.

    Its receive thread re-raises a socket error (OBS killed: "connection reset") instead of
    calling ``on_disconnect``, which leaves the loss to be found by the next request and an
    unhandled exception in a thread. The subclass catches that one case; it also bounds the
    handshake by ``timeout`` (a frozen OBS must not hang the controller).
    """
    import websocket
    from obswebsocket import obsws
    from obswebsocket.core import RecvThread

    class _RecvThread(RecvThread):
        def run(self) -> None:
            try:
                super().run()
            except OSError:
                if self.running:
                    self.running = False
                    if self.core.on_disconnect:
                        self.core.on_disconnect(self.core)

    class _Client(obsws):
        def connect(self) -> None:
            self.ws = websocket.WebSocket()
            try:
                self.ws.connect(f"ws://{self.host}:{self.port}", timeout=self.timeout)
                self._auth()
            except OSError as exc:  # refused, reset, timed out: what obsws reports too
                from obswebsocket.exceptions import ConnectionFailure

                raise ConnectionFailure(str(exc)) from None
            self.ws.settimeout(None)  # from now on the receive thread waits for events
            self.thread_recv = _RecvThread(self)
            self.thread_recv.daemon = True
            self.thread_recv.start()

    return _Client(host, port, password, timeout=timeout, on_disconnect=on_disconnect)


class ObsController(threading.Thread):
    """Keeps a connection to OBS, our Media Source in place, and the visibility known.

    ``on_visibility(visible)`` is called from this thread whenever what OBS shows changes:
    True/False while connected, None when the connection is lost (unknown).
    """

    def __init__(
        self,
        settings: ObsSettings,
        password: Secret | None,
        stream_url: str,
        *,
        on_visibility: Callable[[bool | None], None] | None = None,
        backoff: Backoff | None = None,
        client_factory: Callable[..., ObsClient] = _default_client,
        latency_ms: Callable[[], float | None] | None = None,
    ) -> None:
        super().__init__(name="etam-obs", daemon=True)
        self.settings = settings
        self._password = password
        self.stream_url = stream_url
        self.on_visibility = on_visibility
        self.backoff = backoff or Backoff(initial=0.5, maximum=5.0)
        self._client_factory = client_factory
        self._client: ObsClient | None = None
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._lost = threading.Event()
        self._lock = threading.Lock()
        self._status = ObsStatus(
            "connecting", False, None, None, False, None, None, 0, 0, None, settings.source_name,
            sync_audio=tuple(settings.sync_audio),
        )  # fmt: skip
        self.source_name = settings.source_name
        self.latency_ms = latency_ms
        self.owner = owner_tag()
        self._created = False  # we created the source (remove_on_stop removes only that)
        self._audio_set: float | None = None  # the offset last set on the sync inputs
        self._audio_before: dict[str, int] = {}  # their offsets before we changed them
        self._audio_missing: set[str] = set()
        self._sync_inputs: tuple[str, ...] = tuple(settings.sync_audio)  # changes live
        self._sync_changed = False
        self._list_audio = threading.Event()  # look at OBS's audio inputs again
        self._audio_listed_at = 0.0

    # -- public -----------------------------------------------------------------------------
    def status(self) -> ObsStatus:
        with self._lock:
            return self._status

    def set_sync_audio(self, inputs: tuple[str, ...] | list[str]) -> None:
        """Which inputs follow the latency from now on (empty: A/V sync off). An input taken
        off the list gets its own offset back, as on stop; applied on this thread shortly
        (at once when connected, else on the next connection)."""
        chosen = tuple(dict.fromkeys(inputs))
        with self._lock:
            self._sync_inputs = chosen
            self._sync_changed = True
        self._set(sync_audio=chosen)
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)
        self._drop_client()
        self._set(state="stopped", connected=False, visible=None, retry_in_s=None)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = ObsStatus(**{**asdict(self._status), **changes})

    # -- thread -------------------------------------------------------------------------------
    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._connect()
            except ObsConflictError as exc:
                log.error("OBS: %s", exc)
                self._drop_client()
                self._set(state="conflict", connected=False, last_error=str(exc), retry_in_s=None)
                return  # another bridge streams there: retrying cannot help
            except ObsError as exc:
                self._connect_failed(exc)
                continue
            self.backoff.reset()
            self._audio_set = None  # a restarted OBS may have lost our offset: set it again
            try:
                self._serve()
            except ObsError as exc:
                if not self._stop_event.is_set():
                    log.warning("OBS: %s; reconnecting", exc)
                    self._set(last_error=str(exc))
            finally:
                self._drop_client()
                if not self._stop_event.is_set():
                    self._set(state="connecting", connected=False, source_ready=False)
                    self._report_visibility(None)

    def _connect_failed(self, exc: ObsError) -> None:
        delay = self.backoff.next_delay()
        state = "auth_failed" if isinstance(exc, ObsAuthError) else "unreachable"
        before = self.status()
        if before.last_error != str(exc):
            log.warning("OBS: %s (retrying with backoff)", exc)
        self._set(
            state=state,
            connected=False,
            last_error=str(exc),
            attempts=before.attempts + 1,
            retry_in_s=round(delay, 2),
        )
        self._stop_event.wait(delay)

    def _connect(self) -> None:
        s = self.settings
        self._set(state="connecting")
        self._lost.clear()
        client = self._client_factory(
            s.host,
            s.port,
            self._password.reveal() if self._password else "",
            s.request_timeout_s,
            lambda _ws: self._on_lost(),
        )
        try:
            client.connect()
        except Exception as exc:
            _close_quietly(client)
            raise self._explain(exc) from None
        self._client = client
        client.register(self._on_event)
        version = self._call("GetVersion").get("obsVersion")
        scene = self._ensure_source()
        before = self.status()
        self._set(
            state="connected",
            connected=True,
            obs_version=version,
            scene=scene,
            source_ready=True,
            last_error=None,
            connections=before.connections + 1,
            retry_in_s=None,
        )
        log.info(
            "OBS %s at %s:%d: source %r ready in scene %r",
            version,
            s.host,
            s.port,
            s.source_name,
            scene,
        )

    def _explain(self, exc: Exception) -> ObsError:
        """Turn the library's failure into an error that says what to do (no password)."""
        s = self.settings
        text = str(exc)
        where = f"{s.host}:{s.port}"
        if "Identify" in text or "password" in text.lower() or "4009" in text:
            if not self._password:
                return ObsAuthError(
                    f"OBS at {where} asks for a password and none was given: set {ENV_VAR} "
                    "or put it in the config file (see 'etam-plugin live --help')",
                    host=s.host,
                    port=s.port,
                )
            return ObsAuthError(
                f"OBS at {where} refused the password (check {ENV_VAR} or the config file "
                "against OBS → Tools → WebSocket Server Settings)",
                host=s.host,
                port=s.port,
            )
        if "refused" in text.lower() or "errno 111" in text.lower():
            return ObsError(
                f"OBS is not reachable at {where}: is it running, with its WebSocket server "
                "enabled (Tools → WebSocket Server Settings)?",
                host=s.host,
                port=s.port,
            )
        return ObsError(
            f"cannot talk to OBS at {where}: {type(exc).__name__}: {text}", host=s.host, port=s.port
        )

    def _serve(self) -> None:
        """While connected: re-check visibility after relevant events, and every ``poll_s``."""
        self._refresh_visibility()
        self._list_audio.set()
        self._refresh_audio_inputs()
        self._sync_audio()
        while not self._stop_event.is_set():
            woke = self._wake.wait(self.settings.poll_s)
            self._wake.clear()
            if self._lost.is_set():
                raise ObsError("the connection to OBS was lost")
            if self._stop_event.is_set():
                break
            if woke:
                # A transition reports its end shortly after the scene change: look again then.
                self._stop_event.wait(0.05)
            self._refresh_visibility()
            self._refresh_audio_inputs()
            self._sync_audio()
        self._leave()

    def _on_event(self, event: Any) -> None:
        """Called on the library's receive thread: only flag, never call OBS from here."""
        name = getattr(event, "name", "")
        if name == "ExitStarted":
            self._on_lost()
        if name in _INPUT_LIST_EVENTS:
            self._list_audio.set()
        if name in _VISIBILITY_EVENTS or name in _INPUT_LIST_EVENTS:
            self._wake.set()

    def _on_lost(self) -> None:
        self._lost.set()
        self._wake.set()

    # -- requests -------------------------------------------------------------------------
    def _call(self, name: str, **data: Any) -> dict[str, Any]:
        from obswebsocket import requests

        client = self._client
        if client is None:
            raise ObsError("not connected to OBS")
        try:
            response = client.call(getattr(requests, name)(**data))
        except Exception as exc:
            self._lost.set()
            raise ObsError(
                f"OBS request {name} failed: {type(exc).__name__}: {exc}",
                host=self.settings.host,
                port=self.settings.port,
            ) from None
        if not response.status:
            raise _RequestFailed(name, data)
        return dict(response.datain)

    def _ensure_source(self) -> str:
        """Create (or update) our Media Source in the chosen scene; returns the scene name.

        When OBS holds our name without letting it be used (see the module's docstring),
        the next free name is taken ("etam-plugin 2", …) and logged.
        """
        s = self.settings
        scene = s.scene or self._call("GetCurrentProgramScene")["currentProgramSceneName"]
        scenes = {x["sceneName"] for x in self._call("GetSceneList")["scenes"]}
        if scene not in scenes:
            self._call("CreateScene", sceneName=scene)
            log.info("OBS: created scene %r", scene)
        # OBS removes a deleted input a few seconds later (its player stops first): wait
        # for our own name that long before taking another
        for _ in range(HELD_NAME_RETRIES):
            if self._ensure_named(scene, self.source_name) or self._stop_event.wait(0.5):
                return scene
        names = [self.source_name] + [f"{s.source_name} {i}" for i in range(2, 10)]
        for name in dict.fromkeys(names):
            if self._ensure_named(scene, name):
                if name != self.source_name:
                    log.warning(
                        "OBS still holds a removed source named %r (it was in two scenes): "
                        "using %r instead",
                        self.source_name,
                        name,
                    )
                    self.source_name = name
                    self._set(source_name=name)
                return scene
        raise ObsError(
            f"OBS refuses every name from {s.source_name!r} to {names[-1]!r}: restart OBS "
            "or choose another --source-name",
            host=s.host,
            port=s.port,
        )

    def _ensure_named(self, scene: str, name: str) -> bool:
        """Our source under ``name`` in ``scene``, created or updated and fitted; False when
        OBS lists an input of that name that cannot be used any more."""
        s = self.settings
        wanted = {**media_source_settings(self.stream_url), "etam_owner": self.owner}
        try:
            current = self._call("GetInputSettings", inputName=name)
        except _RequestFailed:
            current = None
        if current is None:
            try:
                item = self._call(
                    "CreateInput",
                    sceneName=scene,
                    inputName=name,
                    inputKind=INPUT_KIND,
                    inputSettings=wanted,
                    sceneItemEnabled=True,
                )
            except _RequestFailed:
                raise ObsError(
                    f"OBS refused to create the media source {name!r} in scene "
                    f"{scene!r}: is a scene or source already called {name!r}? "
                    "Choose another source name",
                    host=s.host,
                    port=s.port,
                ) from None
            self._created = True
            log.info("OBS: created media source %r -> %s", name, self.stream_url)
            if s.fit_to_canvas:
                self._fit(scene, int(item["sceneItemId"]))
            return True
        if current.get("inputKind") != INPUT_KIND:
            raise ObsError(
                f"OBS already has an input named {name!r} of kind "
                f"{current.get('inputKind')!r}; choose another source name"
            )
        have = current.get("inputSettings", {})
        owner = have.get("etam_owner")
        if owner and owner != self.owner and owner_alive(owner):
            raise ObsConflictError(
                f"the OBS source {name!r} is in use by another etam-plugin live ({owner}); "
                "stop that one or choose another --source-name",
                host=s.host,
                port=s.port,
            )
        try:
            item_id = int(
                self._call("GetSceneItemId", sceneName=scene, sourceName=name)["sceneItemId"]
            )
            fresh = False
        except _RequestFailed:
            try:
                item = self._call(
                    "CreateSceneItem", sceneName=scene, sourceName=name, sceneItemEnabled=True
                )
            except _RequestFailed:
                return False  # listed, yet no scene item can be made of it: a removed input
            item_id, fresh = int(item["sceneItemId"]), True
        if any(have.get(k) != v for k, v in wanted.items()):
            self._call("SetInputSettings", inputName=name, inputSettings=wanted, overlay=True)
            log.info("OBS: updated media source %r -> %s", name, self.stream_url)
        if s.fit_to_canvas and (fresh or self._unfitted(scene, item_id)):
            self._fit(scene, item_id)
        return True

    def _unfitted(self, scene: str, item_id: int) -> bool:
        """Whether the item looks as OBS restores one without its transform (at its own
        size, in the corner), or as our fit to a canvas size that has changed since. An
        item the user has moved or scaled is theirs: it is left alone."""
        t = self._call("GetSceneItemTransform", sceneName=scene, sceneItemId=item_id)[
            "sceneItemTransform"
        ]
        video = self._call("GetVideoSettings")
        at_origin = not t.get("positionX") and not t.get("positionY") and not t.get("rotation")
        if t.get("boundsType", "OBS_BOUNDS_NONE") == "OBS_BOUNDS_NONE":
            return at_origin and t.get("scaleX") == 1.0 and t.get("scaleY") == 1.0
        ours = t.get("boundsType") == "OBS_BOUNDS_SCALE_INNER" and at_origin
        canvas = (float(video["baseWidth"]), float(video["baseHeight"]))
        return ours and (t.get("boundsWidth"), t.get("boundsHeight")) != canvas

    def _fit(self, scene: str, item_id: int) -> None:
        video = self._call("GetVideoSettings")
        self._call(
            "SetSceneItemTransform",
            sceneName=scene,
            sceneItemId=item_id,
            sceneItemTransform={
                "positionX": 0.0,
                "positionY": 0.0,
                "alignment": 5,  # top left
                "boundsType": "OBS_BOUNDS_SCALE_INNER",
                "boundsAlignment": 0,
                "boundsWidth": float(video["baseWidth"]),
                "boundsHeight": float(video["baseHeight"]),
            },
        )

    def _refresh_visibility(self) -> None:
        visible = self._source_active()
        if not visible and not self._in_scene():
            # our source (or its item in our scene) was removed in OBS: the stream would go
            # to no one, so put it back (under another name when OBS holds the old one)
            log.warning("OBS: the source %r was removed; creating it again", self.source_name)
            self._set(scene=self._ensure_source())
            visible = self._source_active()
        self._report_visibility(bool(visible))

    def _source_active(self) -> bool | None:
        """Shown in program or preview; None when OBS has no input of that name."""
        try:
            active = self._call("GetSourceActive", sourceName=self.source_name)
        except _RequestFailed:
            return None
        return bool(active.get("videoActive") or active.get("videoShowing"))

    def _in_scene(self) -> bool:
        scene = self.status().scene
        if scene is None:
            return True  # not placed yet: the connection does that
        try:
            self._call("GetSceneItemId", sceneName=scene, sourceName=self.source_name)
        except _RequestFailed:
            return False
        return True

    # -- audio sync -----------------------------------------------------------------------
    def _refresh_audio_inputs(self) -> None:
        """List OBS's inputs that carry audio (those whose audio sync offset OBS will read:
        it refuses that request for a video-only input), when an input came or went and
        every ``AUDIO_LIST_EVERY_S``."""
        now = time.monotonic()
        if not self._list_audio.is_set() and now - self._audio_listed_at < AUDIO_LIST_EVERY_S:
            return
        self._list_audio.clear()
        self._audio_listed_at = now
        names = [str(i["inputName"]) for i in self._call("GetInputList").get("inputs", [])]
        audio = []
        for name in names:
            if name == self.source_name:
                continue  # our own picture: never delay it
            try:
                self._call("GetInputAudioSyncOffset", inputName=name)
            except _RequestFailed:
                continue
            audio.append(name)
        if tuple(audio) != self.status().audio_inputs:
            self._set(audio_inputs=tuple(audio))

    def _sync_audio(self) -> None:
        """Delay the chosen inputs by the bridge's latency on top of their own offsets (re-set
        when it moved by ``sync_step_ms`` or more), remembering each input's own offset to
        restore it; an input taken off the list gets that offset back.

        On top, not instead: the user's own offset already corrects what the bridge cannot
        measure (OBS's media source, a Bluetooth mic), and replacing it lost that."""
        with self._lock:
            inputs, changed = self._sync_inputs, self._sync_changed
            self._sync_changed = False
        if any(name not in inputs for name in self._audio_before):
            self._restore_audio(keep=inputs)  # taken off the list (or not given back yet)
        if changed:
            self._audio_set = None  # set the new list at once
            self._audio_missing &= set(inputs)
            if not inputs:
                self._set(audio_offset_ms=None)
        latency = self.latency_ms() if (inputs and self.latency_ms is not None) else None
        if latency is None or latency <= 0:
            return
        if self._audio_set is not None and abs(latency - self._audio_set) < (
            self.settings.sync_step_ms
        ):
            return
        offset = round(min(latency, AUDIO_SYNC_MAX_MS))
        for name in inputs:
            try:
                if name not in self._audio_before:
                    before = self._call("GetInputAudioSyncOffset", inputName=name)
                    self._audio_before[name] = int(before["inputAudioSyncOffset"])
                total = min(self._audio_before[name] + offset, AUDIO_SYNC_MAX_MS)
                self._call("SetInputAudioSyncOffset", inputName=name, inputAudioSyncOffset=total)
            except _RequestFailed:
                if name not in self._audio_missing:
                    log.warning("OBS: no audio input %r to delay (--sync-audio)", name)
                    self._audio_missing.add(name)
                continue
            self._audio_missing.discard(name)
        if self._audio_set is None or abs(offset - self._audio_set) >= 1:
            log.info(
                "OBS: audio of %s delayed by %d ms more than its own offset to match the picture",
                inputs,
                offset,
            )
        self._audio_set = offset
        self._set(audio_offset_ms=offset)

    def _restore_audio(self, keep: tuple[str, ...] = ()) -> None:
        """Give the inputs not in ``keep`` their own audio sync offsets back."""
        restored = []
        for name, before in list(self._audio_before.items()):
            if name in keep:
                continue
            try:
                self._call("SetInputAudioSyncOffset", inputName=name, inputAudioSyncOffset=before)
            except _RequestFailed:
                pass  # the input is gone from OBS: nothing to give back
            except ObsError:
                continue  # connection lost: kept, to give back on the next connection
            del self._audio_before[name]  # re-read if chosen again: the user's value then
            restored.append(name)
        if restored:
            log.info("OBS: audio sync offsets of %s restored", restored)

    def _leave(self) -> None:
        """On stop, while still connected: give the sync inputs their own offsets back, and
        remove the source we created when asked to (a benchmark's), else give it up."""
        self._restore_audio()
        with contextlib.suppress(ObsError):
            if self.settings.remove_on_stop and self._created:
                self._call("RemoveInput", inputName=self.source_name)
                log.info("OBS: removed the media source %r", self.source_name)
            else:  # free for the next bridge (a stopped one is no owner)
                self._call(
                    "SetInputSettings",
                    inputName=self.source_name,
                    inputSettings={"etam_owner": ""},
                    overlay=True,
                )

    def _report_visibility(self, visible: bool | None) -> None:
        if self.status().visible == visible:
            return
        self._set(visible=visible)
        if visible is not None:
            log.info("OBS: source %s", "visible" if visible else "hidden")
        if self.on_visibility is not None:
            try:
                self.on_visibility(visible)
            except Exception:
                log.exception("OBS: visibility callback failed")

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _close_quietly(client)


class _RequestFailed(ObsError):
    """OBS answered a request with a failure status (e.g. no such input)."""

    def __init__(self, name: str, data: dict[str, Any]) -> None:
        super().__init__(f"OBS refused {name} {data}")
        self.request = name


def _close_quietly(client: ObsClient) -> None:
    """Disconnect, and close the socket even when the library thinks it is already closed
    (after a refused password it keeps the socket open)."""
    with contextlib.suppress(Exception):
        client.disconnect()
    ws = getattr(client, "ws", None)
    if ws is not None:
        with contextlib.suppress(Exception):
            ws.shutdown()
