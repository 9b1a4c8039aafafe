"""A real OBS Studio under Xvfb for tests: isolated HOME, random port and password.

Set-up facts are in ``shared/notes/obs-headless.md``: Mesa software GL, the websocket
settings written once in ``global.ini``, and the "Server started successfully" log line
that says when to connect.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np

READY_LINE = "Server started successfully"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Xvfb:
    """A virtual X display; the server picks a free display number itself."""

    def __init__(self, size: str = "1280x720x24") -> None:
        read_fd, write_fd = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.proc.kill()
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ObsStudio:
    """One OBS process (restartable) with its own HOME under ``root``."""

    def __init__(self, root: Path, display: str) -> None:
        self.root = root
        self.home = root / "home"
        self.display = display
        self.port = free_port()
        self.password = "pw-" + secrets.token_urlsafe(12)
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._write_config()

    def _write_config(self) -> None:
        cfg = self.home / ".config" / "obs-studio"
        cfg.mkdir(parents=True, exist_ok=True)
        (cfg / "global.ini").write_text(
            "[General]\nFirstRun=false\n\n"
            "[OBSWebSocket]\n"
            "FirstLoad=false\nServerEnabled=true\n"
            f"ServerPort={self.port}\nAlertsEnabled=false\nAuthRequired=true\n"
            f"ServerPassword={self.password}\n"
        )

    @property
    def log_path(self) -> Path:
        return self.root / f"obs-{self.starts}.log"

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "HOME": str(self.home),
            "DISPLAY": self.display,
            "LIBGL_ALWAYS_SOFTWARE": "1",
            "QT_QPA_PLATFORM": "xcb",
        }
        env.pop("XDG_CONFIG_HOME", None)
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                shutil.which("obs") or "obs",
                "--minimize-to-tray",
                "--disable-shutdown-check",
                "--multi",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_LINE in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.kill()
        raise RuntimeError(f"OBS did not start its websocket server:\n{tail}")

    def kill(self) -> None:
        """SIGKILL: what a crash looks like to the bridge."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self):
        """A connected obs-websocket client for the test's own checks (caller disconnects)."""
        from obswebsocket import obsws

        c = obsws("127.0.0.1", self.port, self.password, timeout=10)
        c.connect()
        return c


def call(client, name: str, **data) -> dict:
    """Call a request and fail loudly if OBS refuses it."""
    from obswebsocket import requests

    r = client.call(getattr(requests, name)(**data))
    assert r.status, f"OBS refused {name} {data}: {r}"
    return dict(r.datain)


def screenshot(client, source: str) -> np.ndarray:
    """RGBA (H, W, 4) uint8 screenshot of a scene or source, at its own size."""
    from PIL import Image

    data = call(client, "GetSourceScreenshot", sourceName=source, imageFormat="png")["imageData"]
    raw = base64.b64decode(data.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGBA"))
