"""The OBS controller against a scripted stand-in for obs-websocket-py's client: backoff,
error messages, source creation/update and visibility. (The real OBS: test_obs_real.py.)"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from obswebsocket.exceptions import ConnectionFailure

from etam_plugin.errors import ObsError
from etam_plugin.obs_bridge.backoff import Backoff
from etam_plugin.obs_bridge.credentials import Secret
from etam_plugin.obs_bridge.obs_control import (
    AUDIO_SYNC_MAX_MS,
    ObsController,
    ObsSettings,
    media_source_settings,
    parse_obs_address,
)

URL = "tcp://127.0.0.1:5555"


class FakeObs:
    """Just enough of OBS's request set, with scripted connection outcomes."""

    def __init__(self, outcomes: list[str] | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.attempts: list[float] = []
        self.passwords: list[str] = []
        self.requests: list[tuple[str, dict]] = []
        self.scenes = {"Scene": {}}
        self.program = "Scene"
        self.inputs: dict[str, dict] = {}
        self.active = True
        self.clients: list[FakeClient] = []
        self.transforms: dict[int, dict] = {}
        self.audio: dict[str, int] = {}

    def factory(self, host: str, port: int, password: str, timeout: float, on_disconnect) -> Any:
        client = FakeClient(self, password, on_disconnect)
        self.clients.append(client)
        return client

    def handle(self, name: str, data: dict) -> tuple[bool, dict]:
        self.requests.append((name, data))
        if name == "GetVersion":
            return True, {"obsVersion": "29.0.2"}
        if name == "GetCurrentProgramScene":
            return True, {"currentProgramSceneName": self.program}
        if name == "GetSceneList":
            return True, {"scenes": [{"sceneName": s} for s in self.scenes]}
        if name == "CreateScene":
            self.scenes[data["sceneName"]] = {}
            return True, {}
        if name == "GetInputSettings":
            found = self.inputs.get(data["inputName"])
            return (True, dict(found)) if found else (False, {})
        if name == "CreateInput":
            self.inputs[data["inputName"]] = {
                "inputKind": data["inputKind"],
                "inputSettings": data["inputSettings"],
            }
            self.scenes[data["sceneName"]][data["inputName"]] = 7
            return True, {"sceneItemId": 7}
        if name == "SetInputSettings":
            self.inputs[data["inputName"]]["inputSettings"].update(data["inputSettings"])
            return True, {}
        if name == "GetSceneItemId":
            item = self.scenes[data["sceneName"]].get(data["sourceName"])
            return (True, {"sceneItemId": item}) if item else (False, {})
        if name == "CreateSceneItem":
            self.scenes[data["sceneName"]][data["sourceName"]] = 8
            return True, {"sceneItemId": 8}
        if name == "GetVideoSettings":
            return True, {"baseWidth": 1920, "baseHeight": 1080}
        if name == "SetSceneItemTransform":
            self.transforms[data["sceneItemId"]] = data["sceneItemTransform"]
            return True, {}
        if name == "GetSceneItemTransform":
            fitted = {"positionX": 0.0, "positionY": 0.0, "boundsType": "OBS_BOUNDS_SCALE_INNER",
                      "boundsWidth": 1920.0, "boundsHeight": 1080.0}  # fmt: skip
            return True, {"sceneItemTransform": self.transforms.get(data["sceneItemId"], fitted)}
        if name == "GetInputList":  # video inputs, then audio-only ones (a mic)
            names = [*self.inputs, *(a for a in self.audio if a not in self.inputs)]
            return True, {"inputs": [{"inputName": n} for n in names]}
        if name in ("GetInputAudioSyncOffset", "SetInputAudioSyncOffset"):
            if data["inputName"] not in self.audio:
                return False, {}
            if name == "SetInputAudioSyncOffset":
                self.audio[data["inputName"]] = data["inputAudioSyncOffset"]
            return True, {"inputAudioSyncOffset": self.audio[data["inputName"]]}
        if name == "RemoveInput":
            del self.inputs[data["inputName"]]
            for items in self.scenes.values():
                items.pop(data["inputName"], None)
            return True, {}
        if name == "GetSourceActive":
            if data["sourceName"] not in self.inputs:
                return False, {}
            return True, {"videoActive": self.active, "videoShowing": False}
        raise AssertionError(f"unexpected request {name}")

    def names(self) -> list[str]:
        return [n for n, _ in self.requests]


class FakeClient:
    def __init__(self, obs: FakeObs, password: str, on_disconnect) -> None:
        self.obs, self.password, self.on_disconnect = obs, password, on_disconnect
        self.handlers: list = []
        self.connected = False

    def connect(self) -> None:
        self.obs.attempts.append(time.monotonic())
        self.obs.passwords.append(self.password)
        outcome = self.obs.outcomes.pop(0) if self.obs.outcomes else "ok"
        if outcome == "refused":
            raise ConnectionFailure("[Errno 111] Connection refused")
        if outcome == "auth":
            raise ConnectionFailure("Empty response to Identify, password may be inconnect.")
        self.connected = True

    def disconnect(self) -> None:
        self.connected = False

    def register(self, func, event=None) -> None:
        self.handlers.append(func)

    def call(self, request: Any) -> Any:
        if not self.connected:
            raise ConnectionFailure("socket is already closed.")
        ok, data = self.obs.handle(request.name, request.data())
        request.input(data, ok)
        return request

    def fire(self, name: str) -> None:
        event = type(name, (), {"name": name})()
        for handler in self.handlers:
            handler(event)

    def drop(self) -> None:
        self.connected = False
        self.on_disconnect(self)


def controller(obs: FakeObs, password: str | None = "pw", **kw: Any) -> ObsController:
    settings = ObsSettings(
        scene=kw.pop("scene", None),
        source_name="etam",
        poll_s=0.05,
        sync_audio=kw.pop("sync_audio", ()),
    )
    return ObsController(
        settings,
        Secret(password) if password else None,
        URL,
        backoff=Backoff(initial=0.05, factor=2, maximum=0.2, jitter=0),
        client_factory=obs.factory,
        **kw,
    )


def wait_for(check, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_unreachable_obs_is_retried_with_growing_delays_then_connects() -> None:
    obs = FakeObs(["refused"] * 4)
    c = controller(obs)
    c.start()
    try:
        wait_for(lambda: c.status().connected)
        gaps = [b - a for a, b in zip(obs.attempts, obs.attempts[1:], strict=False)]
        assert len(gaps) == 4
        assert gaps[0] == pytest.approx(0.05, abs=0.03) and gaps[2] == pytest.approx(0.2, abs=0.05)
        assert gaps[3] == pytest.approx(0.2, abs=0.05)  # capped
        st = c.status()
        assert st.state == "connected" and st.attempts == 4 and st.last_error is None
        assert st.obs_version == "29.0.2" and st.scene == "Scene" and st.source_ready
        assert obs.passwords[-1] == "pw"
    finally:
        c.stop()
    assert c.status().state == "stopped"


def test_source_is_created_with_low_latency_settings_and_fitted() -> None:
    obs = FakeObs()
    c = controller(obs, scene="Live")
    c.start()
    try:
        wait_for(lambda: c.status().connected)
        assert obs.inputs["etam"]["inputSettings"]["etam_owner"] == c.owner
    finally:
        c.stop()
    assert "Live" in obs.scenes  # the chosen scene is created when missing
    created = obs.inputs["etam"]
    assert created["inputKind"] == "ffmpeg_source"
    # ours while it ran; given up on stop, so that the next bridge may take it
    assert created["inputSettings"] == {**media_source_settings(URL), "etam_owner": ""}
    assert created["inputSettings"]["buffering_mb"] == 0
    assert created["inputSettings"]["close_when_inactive"] is False
    assert "SetSceneItemTransform" in obs.names()


def test_existing_source_is_updated_only_when_it_differs() -> None:
    obs = FakeObs()
    c = controller(obs)
    ours = {**media_source_settings(URL), "etam_owner": c.owner}  # this bridge's, from before
    obs.inputs["etam"] = {"inputKind": "ffmpeg_source", "inputSettings": ours}
    obs.scenes["Scene"]["etam"] = 3
    c.start()
    wait_for(lambda: c.status().connected)
    names = obs.names()
    c.stop()
    assert "SetInputSettings" not in names  # no needless restart of the media source
    assert "CreateInput" not in obs.names()

    obs.inputs["etam"]["inputSettings"]["input"] = "tcp://127.0.0.1:1"
    obs.requests.clear()
    c = controller(obs)  # a new bridge: a crashed one's source is taken over
    obs.inputs["etam"]["inputSettings"]["etam_owner"] = f"{socket.gethostname()}/999999999/1/x"
    c.start()
    wait_for(lambda: c.status().connected)
    c.stop()
    assert "SetInputSettings" in obs.names()
    assert obs.inputs["etam"]["inputSettings"]["input"] == URL


def test_wrong_and_missing_password_messages() -> None:
    obs = FakeObs(["auth"] * 100)
    c = controller(obs, password="hunter2-secret")
    c.start()
    try:
        wait_for(lambda: c.status().attempts >= 3)
        st = c.status()
        assert st.state == "auth_failed" and not st.connected
        assert "refused the password" in st.last_error
        assert "hunter2-secret" not in repr(st)
    finally:
        c.stop()
    obs = FakeObs(["auth"] * 100)
    c = controller(obs, password=None)
    c.start()
    try:
        wait_for(lambda: c.status().attempts >= 1)
        assert "asks for a password and none was given" in c.status().last_error
        assert obs.passwords[0] == ""
    finally:
        c.stop()


def test_an_input_of_another_kind_with_our_name_is_an_error() -> None:
    obs = FakeObs()
    obs.inputs["etam"] = {"inputKind": "image_source", "inputSettings": {}}
    c = controller(obs)
    c.start()
    try:
        wait_for(lambda: c.status().attempts >= 1 and c.status().last_error is not None)
        assert "image_source" in c.status().last_error
        assert not c.status().connected
    finally:
        c.stop()


def test_visibility_follows_events_and_is_unknown_while_disconnected() -> None:
    obs = FakeObs()
    seen: list[bool | None] = []
    c = controller(obs, on_visibility=seen.append)
    c.start()
    try:
        wait_for(lambda: seen == [True])
        obs.active = False
        obs.clients[-1].fire("SceneItemEnableStateChanged")
        wait_for(lambda: seen == [True, False])
        obs.active = True
        obs.clients[-1].fire("CurrentProgramSceneChanged")
        wait_for(lambda: seen == [True, False, True])
        obs.clients[-1].drop()  # OBS closed
        wait_for(lambda: seen[-1] is True and c.status().connections == 2)
        assert None in seen[3:]  # unknown while the connection was down
    finally:
        c.stop()


def test_stop_is_prompt_even_during_a_long_backoff() -> None:
    obs = FakeObs(["refused"] * 100)
    c = ObsController(
        ObsSettings(),
        None,
        URL,
        backoff=Backoff(initial=30, maximum=30),
        client_factory=obs.factory,
    )
    c.start()
    wait_for(lambda: c.status().attempts == 1)
    t0 = time.monotonic()
    c.stop()
    assert time.monotonic() - t0 < 1 and not c.is_alive()
    assert threading.active_count() < 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:4455", ("127.0.0.1", 4455)),
        ("obs.local", ("obs.local", 4455)),
        ("[::1]:4460", ("[::1]", 4460)),
    ],
)
def test_parse_obs_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_obs_address(text) == expected


@pytest.mark.parametrize("text", ["host:port", ":4455", "h:0", "h:70000"])
def test_parse_obs_address_errors(text: str) -> None:
    with pytest.raises(ObsError, match="OBS address"):
        parse_obs_address(text)


def test_a_name_taken_by_a_scene_is_explained() -> None:
    obs = FakeObs()
    obs.scenes["etam"] = {}  # OBS shares one namespace between scenes and inputs
    real_handle = obs.handle

    def handle(name: str, data: dict) -> tuple[bool, dict]:
        if name == "CreateInput" and data["inputName"] in obs.scenes:
            obs.requests.append((name, data))
            return False, {}
        return real_handle(name, data)

    obs.handle = handle  # type: ignore[method-assign]
    c = controller(obs)
    c.start()
    try:
        wait_for(lambda: c.status().last_error is not None)
        assert "already called 'etam'" in c.status().last_error
    finally:
        c.stop()


def test_audio_offset_is_set_again_after_obs_restarts_and_restored_on_stop() -> None:
    """--sync-audio: set once the latency is known, on top of the mic's own offset (which
    corrects what the bridge cannot measure); an OBS that restarted with the mic's old
    offset gets ours again on reconnection; the user's own value comes back on stop."""
    obs = FakeObs()
    obs.audio["Mic"] = 15
    c = controller(obs, sync_audio=("Mic", "Nope"), latency_ms=lambda: 123.4)
    c.start()
    try:
        wait_for(lambda: obs.audio["Mic"] == 15 + 123 and c.status().audio_offset_ms == 123)
        obs.clients[-1].drop()  # OBS restarts, and forgot our offset
        obs.audio["Mic"] = 15
        wait_for(lambda: c.status().connections == 2 and obs.audio["Mic"] == 15 + 123)
    finally:
        c.stop()
    assert obs.audio["Mic"] == 15


def test_audio_offset_on_top_of_the_users_stays_within_obs_limit() -> None:
    """The user's own offset plus the bridge's latency never exceeds what OBS accepts."""
    obs = FakeObs()
    obs.audio["Mic"] = AUDIO_SYNC_MAX_MS - 10
    c = controller(obs, sync_audio=("Mic",), latency_ms=lambda: 123.4)
    c.start()
    try:
        wait_for(lambda: obs.audio["Mic"] == AUDIO_SYNC_MAX_MS)
    finally:
        c.stop()
    assert obs.audio["Mic"] == AUDIO_SYNC_MAX_MS - 10


def test_audio_sync_is_switched_live_and_offers_the_inputs_with_audio() -> None:
    """The control window's choice: OBS's inputs with audio are listed (not our own source,
    not a video-only one); sync turned on for one input delays it by the latency on top of
    its own offset, moving to another gives the first its own offset back, turning sync off
    restores every one, and an input created in OBS meanwhile shows up in the list."""
    obs = FakeObs()
    obs.audio.update({"Mic": 15, "Desktop": -40})
    obs.inputs["Camera"] = {"inputKind": "v4l2_input", "inputSettings": {}}  # no audio
    c = controller(obs, latency_ms=lambda: 200.0)
    c.start()
    try:
        wait_for(lambda: c.status().audio_inputs == ("Mic", "Desktop"))
        assert c.status().sync_audio == () and obs.audio == {"Mic": 15, "Desktop": -40}
        c.set_sync_audio(["Mic"])
        wait_for(lambda: obs.audio["Mic"] == 215 and c.status().audio_offset_ms == 200)
        assert c.status().sync_audio == ("Mic",) and obs.audio["Desktop"] == -40
        c.set_sync_audio(["Desktop"])
        wait_for(lambda: obs.audio == {"Mic": 15, "Desktop": 160})
        c.set_sync_audio(["Desktop", "Mic"])
        wait_for(lambda: obs.audio == {"Mic": 215, "Desktop": 160})
        c.set_sync_audio([])  # off: the user's own offsets are back
        wait_for(lambda: obs.audio == {"Mic": 15, "Desktop": -40})
        assert c.status().audio_offset_ms is None
        obs.audio["Headset"] = 0  # plugged in while running
        obs.clients[-1].fire("InputCreated")
        wait_for(lambda: "Headset" in c.status().audio_inputs)
        c.set_sync_audio(["Headset"])
        wait_for(lambda: obs.audio["Headset"] == 200)
    finally:
        c.stop()
    assert obs.audio == {"Mic": 15, "Desktop": -40, "Headset": 0}
