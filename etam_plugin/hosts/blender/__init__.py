"""Installs the Blender add-on (``etam_vse``, beside this file) into a Blender's user
add-on folder, records which Python runs etam-plugin for it, and enables it.

Blender is asked for its own folders (``bpy.utils.user_resource``), so the install honours
``BLENDER_USER_SCRIPTS`` / ``BLENDER_USER_CONFIG`` and each Blender version's layout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from etam_plugin.atomic import stage_prefix
from etam_plugin.errors import EtamError

ADDON = "etam_vse"
ADDON_SOURCE = Path(__file__).resolve().parent / ADDON
_MARK = "ETAM_VSE="
_FIND_FOLDER = (
    "import bpy; print('" + _MARK + "' + bpy.utils.user_resource('SCRIPTS', path='addons', "
    "create=True))"
)
# Without --factory-startup: the user's preferences are loaded, changed and saved back.
_ENABLE = (
    "import bpy, sys; bpy.ops.preferences.addon_enable(module='" + ADDON + "'); "
    "ok = '" + ADDON + "' in bpy.context.preferences.addons; "
    "bpy.ops.wm.save_userpref(); print('" + _MARK + "' + str(ok)); sys.exit(0 if ok else 3)"
)


class BlenderError(EtamError):
    """Blender could not be found, asked or changed."""


@dataclass(frozen=True)
class Installed:
    blender: Path
    folder: Path  # the add-on's folder in Blender's user scripts
    python: str
    checkpoint: str


def find_blender(given: str | Path | None = None) -> Path:
    """``given``, else ``$BLENDER``, else ``blender`` on PATH."""
    name = str(given or os.environ.get("BLENDER") or "blender")
    found = shutil.which(name)
    if found is None:
        raise BlenderError(
            f"Blender not found ({name}): give --blender /path/to/blender "
            "(on macOS: /Applications/Blender.app/Contents/MacOS/Blender)"
        )
    return Path(found)


def _ask(blender: Path, expr: str, factory: bool) -> str:
    cmd = [str(blender), "-b"] + (["--factory-startup"] if factory else [])
    cmd += ["--python-exit-code", "3", "--python-expr", expr]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BlenderError(f"could not run {blender}: {exc}") from exc
    for line in done.stdout.splitlines():
        if line.startswith(_MARK):
            return line[len(_MARK) :].strip()
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    raise BlenderError(f"{blender} did not answer (exit {done.returncode}): {tail[0]}")


def _copy_addon(folder: Path, config: dict) -> Path:
    """Replaces only our own add-on folder (one with our ``bl_info``), atomically."""
    target = folder / ADDON
    if target.exists():
        marker = target / "__init__.py"
        if not marker.is_file() or "etam-plugin" not in marker.read_text(errors="replace"):
            raise BlenderError(f"{target} exists and is not this add-on: not replacing it")
    prefix = stage_prefix(target)  # a killed install's leftovers are swept by the next
    staged = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=folder)) / ADDON
    shutil.copytree(ADDON_SOURCE, staged, ignore=shutil.ignore_patterns("__pycache__"))
    (staged / "etam_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    old = Path(tempfile.mkdtemp(prefix=prefix, suffix=".old", dir=folder)) / ADDON
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old.parent, ignore_errors=True)
    shutil.rmtree(staged.parent, ignore_errors=True)
    return target


def install(
    blender: str | Path | None = None, *, checkpoint: str = "", python: str | None = None
) -> Installed:
    """Puts the add-on into ``blender``'s user add-on folder with this Python (or
    ``python``) and ``checkpoint`` recorded, then enables it in Blender's preferences."""
    exe = find_blender(blender)
    python = python or sys.executable
    if checkpoint and Path(checkpoint).expanduser().exists():
        checkpoint = str(Path(checkpoint).expanduser().resolve())
    folder = Path(_ask(exe, _FIND_FOLDER, factory=True))
    folder.mkdir(parents=True, exist_ok=True)
    target = _copy_addon(folder, {"python": python, "checkpoint": checkpoint})
    if _ask(exe, _ENABLE, factory=False) != "True":
        raise BlenderError(f"Blender did not enable the add-on in {target}")
    return Installed(exe, target, python, checkpoint)
