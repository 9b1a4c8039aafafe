"""The live selection remembered per camera, so a restart picks the same objects again.

On stop the bridge saves each selected object's prompt (its clicks and box as given, in
pixels of the frame they were given on) and its own effect, keyed by the camera: the device
index or path, the file, or the URL (without any user name or password in it). The next
start with the same camera can apply them to its first frames (``--restore-selection``) or
the control window offers them. The file is JSON in the user state folder
(``~/.local/state/etam-plugin/live-selections.json`` on Linux); a missing or unreadable
file is an empty memory, never an error that stops a stream.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from etam_plugin.atomic import write_bytes_atomic
from etam_plugin.model import Prompt
from etam_plugin.obs_bridge.capture import SourceSpec

log = logging.getLogger(__name__)

FILE_NAME = "live-selections.json"
MAX_CAMERAS = 50  # the oldest entries beyond this are dropped


def default_store_path() -> Path:
    from platformdirs import user_state_path

    return user_state_path("etam-plugin", appauthor=False) / FILE_NAME


def camera_key(source: SourceSpec) -> str:
    """What identifies a camera across runs: ``camera:N``, an absolute path (symlinks such
    as /dev/v4l/by-id/… kept: they name the device, not the slot), or the URL without its
    credentials."""
    if isinstance(source, int):
        return f"camera:{source}"
    text = str(source).strip()
    if "://" in text:
        parts = urlsplit(text)
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return os.path.abspath(os.path.expanduser(text))


@dataclass(frozen=True)
class SavedObject:
    prompt: Prompt
    effect: str | None = None  # the object's own effect spec (None: the scene's)


@dataclass(frozen=True)
class SavedSelection:
    """The objects selected on a camera when the bridge last stopped."""

    size: tuple[int, int]  # the frame size the coordinates refer to
    objects: tuple[SavedObject, ...]
    saved_at: float = 0.0

    def scaled_to(self, width: int, height: int) -> SavedSelection:
        """The same selection for a frame of another size (the camera at another
        resolution): coordinates scaled, clamped into the frame."""
        if (width, height) == self.size:
            return self
        sx, sy = width / self.size[0], height / self.size[1]

        def x(v: float) -> float:
            return min(max(v * sx, 0.0), width - 1.0)

        def y(v: float) -> float:
            return min(max(v * sy, 0.0), height - 1.0)

        objects = []
        for o in self.objects:
            p, box = o.prompt, o.prompt.box_xyxy
            scaled_box = None if box is None else (x(box[0]), y(box[1]), x(box[2]), y(box[3]))
            points = tuple((x(a), y(b)) for a, b in p.points_xy)
            objects.append(SavedObject(Prompt(points, p.labels, scaled_box), o.effect))
        return SavedSelection((width, height), tuple(objects), self.saved_at)


class SelectionStore:
    """Reads and writes the remembered selections (one JSON file, written atomically)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("live: cannot read the remembered selections %s: %s", self.path, exc)
            return {}
        cameras = data.get("cameras") if isinstance(data, dict) else None
        return cameras if isinstance(cameras, dict) else {}

    def load(self, source: SourceSpec) -> SavedSelection | None:
        """The selection last saved for this camera; None when there is none (or it is
        unreadable: then it is logged and forgotten)."""
        entry = self._read().get(camera_key(source))
        if not entry:
            return None
        try:
            objects = tuple(
                SavedObject(
                    Prompt(
                        points_xy=tuple((float(a), float(b)) for a, b in o.get("points", ())),
                        labels=tuple(int(v) for v in o.get("labels", ())),
                        box_xyxy=None if o.get("box") is None else tuple(map(float, o["box"])),
                    ),
                    o.get("effect"),
                )
                for o in entry["objects"]
            )
            w, h = (int(v) for v in entry["size"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("live: ignoring a damaged remembered selection: %s", exc)
            return None
        if not objects or w <= 0 or h <= 0:
            return None
        return SavedSelection((w, h), objects, float(entry.get("saved_at", 0.0)))

    def save(self, source: SourceSpec, selection: SavedSelection | None) -> None:
        """Remember ``selection`` for this camera (None or no objects: forget it)."""
        cameras = self._read()
        key = camera_key(source)
        cameras.pop(key, None)
        if selection is not None and selection.objects:
            cameras[key] = {
                "size": list(selection.size),
                "saved_at": time.time(),
                "objects": [
                    {
                        "points": [list(p) for p in o.prompt.points_xy],
                        "labels": list(o.prompt.labels),
                        "box": None if o.prompt.box_xyxy is None else list(o.prompt.box_xyxy),
                        "effect": o.effect,
                    }
                    for o in selection.objects
                ],
            }
        while len(cameras) > MAX_CAMERAS:
            del cameras[min(cameras, key=lambda k: cameras[k].get("saved_at", 0.0))]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": 1, "cameras": cameras}
        write_bytes_atomic(self.path, (json.dumps(payload, indent=1) + "\n").encode())
