"""Drive OBS Studio over obs-websocket v5: our Media Source, visibility, reconnection.

The controller is its own thread and never touches the frame path: if OBS hangs, closes
or restarts, frames keep flowing to the stream server (OBS's media source reconnects to it
by itself) while the controller retries with backoff. On every (re)connection it creates or
updates the Media Source that plays our stream; while connected it watches scene and
visibility events and reports whether the source is seen (program or preview), so the bridge
can pause inference when nobody sees the output.
"""

from __future__ import annotations

import contextlib
import logging
import threading
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
        self._status = ObsStatus("connecting", False, None, None, False, None, None, 0, 0, None)

    # -- public -----------------------------------------------------------------------------
    def status(self) -> ObsStatus:
        with self._lock:
            return self._status

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
            except ObsError as exc:
                self._connect_failed(exc)
                continue
            self.backoff.reset()
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
        while not self._stop_event.is_set():
            woke = self._wake.wait(self.settings.poll_s)
            self._wake.clear()
            if self._lost.is_set():
                raise ObsError("the connection to OBS was lost")
            if self._stop_event.is_set():
                return
            if woke:
                # A transition reports its end shortly after the scene change: look again then.
                self._stop_event.wait(0.05)
            self._refresh_visibility()

    def _on_event(self, event: Any) -> None:
        """Called on the library's receive thread: only flag, never call OBS from here."""
        name = getattr(event, "name", "")
        if name == "ExitStarted":
            self._on_lost()
        elif name in _VISIBILITY_EVENTS:
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
        """Create (or update) our Media Source in the chosen scene; returns the scene name."""
        s = self.settings
        scene = s.scene or self._call("GetCurrentProgramScene")["currentProgramSceneName"]
        scenes = {x["sceneName"] for x in self._call("GetSceneList")["scenes"]}
        if scene not in scenes:
            self._call("CreateScene", sceneName=scene)
            log.info("OBS: created scene %r", scene)
        wanted = media_source_settings(self.stream_url)
        try:
            current = self._call("GetInputSettings", inputName=s.source_name)
        except _RequestFailed:
            current = None
        if current is None:
            try:
                item = self._call(
                    "CreateInput",
                    sceneName=scene,
                    inputName=s.source_name,
                    inputKind=INPUT_KIND,
                    inputSettings=wanted,
                    sceneItemEnabled=True,
                )
            except _RequestFailed:
                raise ObsError(
                    f"OBS refused to create the media source {s.source_name!r} in scene "
                    f"{scene!r}: is a scene or source already called {s.source_name!r}? "
                    "Choose another source name",
                    host=s.host,
                    port=s.port,
                ) from None
            log.info("OBS: created media source %r -> %s", s.source_name, self.stream_url)
            if s.fit_to_canvas:
                self._fit(scene, int(item["sceneItemId"]))
            return scene
        if current.get("inputKind") != INPUT_KIND:
            raise ObsError(
                f"OBS already has an input named {s.source_name!r} of kind "
                f"{current.get('inputKind')!r}; choose another source name"
            )
        have = current.get("inputSettings", {})
        if any(have.get(k) != v for k, v in wanted.items()):
            self._call(
                "SetInputSettings", inputName=s.source_name, inputSettings=wanted, overlay=True
            )
            log.info("OBS: updated media source %r -> %s", s.source_name, self.stream_url)
        try:
            self._call("GetSceneItemId", sceneName=scene, sourceName=s.source_name)
        except _RequestFailed:
            item = self._call(
                "CreateSceneItem", sceneName=scene, sourceName=s.source_name, sceneItemEnabled=True
            )
            if s.fit_to_canvas:
                self._fit(scene, int(item["sceneItemId"]))
        return scene

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
        try:
            active = self._call("GetSourceActive", sourceName=self.settings.source_name)
            visible = bool(active.get("videoActive") or active.get("videoShowing"))
        except _RequestFailed:
            visible = False  # our source was removed: nobody can see it
        self._report_visibility(visible)

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
