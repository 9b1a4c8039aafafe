"""Live object masking on a webcam, fed into OBS Studio and driven over obs-websocket.

Public API (imported lazily, so the stream server's process stays small)::

    from etam_plugin.obs_bridge import Bridge, BridgeConfig, ObsSettings
    with Bridge(BridgeConfig(source=0, effect="blur"), tracker) as bridge:
        bridge.select(Prompt(points_xy=((320, 240),), labels=(1,)))
        stats = bridge.run(frames=300)

Modules: ``capture`` (OpenCV sources, capture thread), ``track_stage`` (the tracker's thread),
``compositor`` (presence, flow warp, effects, outputs), ``effects``, ``presence``, ``flow``,
``stream_server``/``stream_child`` (NUT over TCP to OBS), ``obs_control`` (obs-websocket),
``credentials``, ``control_window`` (PySide6), ``testpattern``, ``tracker_factory`` (the real
LiveTracker, factories), ``protocol``, ``prompts`` (``--point``/``--box`` text),
``live_run`` (what ``etam-plugin live`` runs: start, run, stop, stats, exit code).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Bridge": "bridge",
    "BridgeConfig": "bridge",
    "LIVE_MATTE": "bridge",
    "status_line": "bridge",
    "MaskTracker": "protocol",
    "ObsSettings": "obs_control",
    "parse_obs_address": "obs_control",
    "PresencePolicy": "presence",
    "parse_effect": "effects",
    "parse_source": "capture",
    "parse_point": "prompts",
    "parse_box": "prompts",
    "Secret": "credentials",
    "load_password": "credentials",
    "build_live_tracker": "tracker_factory",
    "load_tracker_factory": "tracker_factory",
    "run_live": "live_run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
