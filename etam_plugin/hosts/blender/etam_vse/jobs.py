"""The tracking job the add-on runs: our command line as a subprocess (pure Python, no
``bpy``). Blender's Python never imports torch; the Python that runs etam-plugin is the one
``etam-plugin blender install`` recorded in ``etam_config.json``."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_NAME = "etam_config.json"
MATTE_SUFFIX = "_matte"


class SetupError(Exception):
    """The add-on cannot start a job (no Python recorded, no weights named, …)."""


@dataclass(frozen=True)
class JobSpec:
    """One strip's job: media frames ``first..last`` of ``media`` tracked from the prompts,
    exported as a grey PNG matte into the folder ``out``."""

    python: str
    checkpoint: str
    media: str
    first: int
    last: int
    out: Path
    points: tuple[str, ...] = ()
    boxes: tuple[str, ...] = ()
    prompts_file: str = ""
    objects: str = "all"
    matte_ops: str = ""
    direction: str = "both"
    extra: tuple[str, ...] = field(default_factory=tuple)


def read_config(addon_folder: Path) -> dict:
    """What the installer recorded (python, checkpoint); empty when nothing was."""
    try:
        data = json.loads((addon_folder / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def split_prompts(text: str) -> tuple[str, ...]:
    """Prompts typed in one field: separated by spaces, commas inside each kept."""
    return tuple(shlex.split(text.replace(";", " ")))


def output_name(strip_name: str) -> str:
    """A file-system-safe folder name for a strip's matte, distinct for distinct strip names
    (``shot #1`` and ``shot _1`` both sanitise to ``shot__1``; the hash tells them apart)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", strip_name).strip("._") or "strip"
    if safe != strip_name:
        safe += "-" + hashlib.sha1(strip_name.encode("utf-8")).hexdigest()[:6]
    return safe


def check_setup(spec: JobSpec) -> None:
    """Refuses a job that cannot start, in one line, before anything runs."""
    if not spec.python:
        raise SetupError("no etam-plugin Python recorded: run `etam-plugin blender install`")
    if not Path(spec.python).is_file():
        raise SetupError(
            f"etam-plugin's Python is gone ({spec.python}): run `etam-plugin blender "
            "install` again from the environment that has etam-plugin"
        )
    if not spec.checkpoint:
        raise SetupError(
            "no weights chosen: set a checkpoint file (or variant name) in the add-on's "
            "preferences, or pass --checkpoint to `etam-plugin blender install`"
        )
    if not (spec.points or spec.boxes or spec.prompts_file):
        raise SetupError("no prompts: give points (FRAME:OBJ:X,Y) or boxes for this strip")


def command(spec: JobSpec) -> list[str]:
    """The ``etam-plugin track`` call for ``spec`` (JSON progress lines on stderr)."""
    cmd = [
        spec.python, "-m", "etam_plugin", "track", spec.media,
        "--checkpoint", spec.checkpoint,
        "--start", str(spec.first), "--end", str(spec.last),
        "--direction", spec.direction,
        "--export", "png", "--export-option", "content=matte", "--out", str(spec.out),
        "--objects", spec.objects or "all",
        "--progress", "json",
    ]  # fmt: skip
    for point in spec.points:
        cmd += ["--point", point]
    for box in spec.boxes:
        cmd += ["--box", box]
    if spec.prompts_file:
        cmd += ["--prompts", spec.prompts_file]
    if spec.matte_ops:
        cmd += ["--matte-ops", spec.matte_ops]
    return cmd + list(spec.extra)


@dataclass(frozen=True)
class PanelSpec:
    """The panel opened on a strip: its media, its used frames as in/out, the strip's
    prompts to start from, and the strip's prompts file the panel keeps up to date."""

    python: str
    media: str
    first: int
    last: int
    prompts_out: Path
    prompts_in: str = ""
    points: tuple[str, ...] = ()
    boxes: tuple[str, ...] = ()
    checkpoint: str = ""


def prompts_file(out: Path) -> Path:
    """A strip's prompts, kept beside its matte folder ``out``."""
    return out.with_name(out.name + ".prompts.json")


def panel_command(spec: PanelSpec) -> list[str]:
    """The ``etam-plugin panel`` call for ``spec``."""
    cmd = [
        spec.python, "-m", "etam_plugin", "panel", spec.media,
        "--start", str(spec.first), "--end", str(spec.last),
        "--prompts-out", str(spec.prompts_out),
    ]  # fmt: skip
    if spec.prompts_in:
        cmd += ["--prompts", spec.prompts_in]
    if spec.checkpoint:  # the weights the strip is then tracked with
        cmd += ["--checkpoint", spec.checkpoint]
    for point in spec.points:
        cmd += ["--point", point]
    for box in spec.boxes:
        cmd += ["--box", box]
    return cmd


def prompt_count(path: Path) -> int:
    """How many prompt calls a prompts.json holds (0 when missing or unreadable)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    return len(entries) if isinstance(entries, list) else 0


def progress_of(line: str) -> tuple[str, int, int] | None:
    """(stage, done, total) from one of the job's JSON progress lines, else None."""
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
        return str(data["stage"]), int(data["done"]), int(data["total"])
    except (ValueError, KeyError, TypeError):
        return None


def failure(lines: list[str], returncode: int) -> str:
    """The one line that says why the job failed (our CLI prints its error last)."""
    text = [ln.strip() for ln in lines if ln.strip() and progress_of(ln.strip()) is None]
    if not text:
        return f"etam-plugin track stopped with exit code {returncode}"
    last = text[-1]
    return re.sub(r"^etam-plugin track: error: ", "", last)


def matte_files(out: Path, first: int, last: int) -> list[str]:
    """The matte's files for media frames ``first..last``, in order; raises
    :class:`SetupError` when any is missing (a job that did not finish)."""
    pattern = re.compile(rf"^{re.escape(out.name)}{MATTE_SUFFIX}\.(\d+)\.png$")
    by_frame = {}
    if out.is_dir():
        for entry in out.iterdir():
            match = pattern.match(entry.name)
            if match:
                by_frame[int(match.group(1))] = entry.name
    missing = [f for f in range(first, last + 1) if f not in by_frame]
    if missing:
        raise SetupError(
            f"the matte in {out} lacks {len(missing)} of frames {first}..{last} "
            f"(first missing: {missing[0]})"
        )
    return [by_frame[f] for f in range(first, last + 1)]
