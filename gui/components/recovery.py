"""Autosave and crash recovery: each running panel owns a folder under the recovery area and
autosaves its work there as a project (``autosave.etam``, written like any project save:
atomically). A clean exit removes the folder; a folder whose owner process is gone is what
a crashed (or killed) panel left behind, and the next panel offers to recover it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs
import psutil

from etam_plugin.errors import ProjectError
from etam_plugin.gui.components.project import LoadedProject, read_project

AUTOSAVE_NAME = "autosave.etam"
OWNER_NAME = "owner.json"
RUN_PREFIX = "run-"


def default_recovery_root() -> Path:
    """``~/.local/state/etam-plugin/recovery`` on Linux (platformdirs' state folder)."""
    return Path(platformdirs.user_state_dir("etam-plugin", appauthor=False)) / "recovery"


@dataclass(frozen=True)
class RecoveryCandidate:
    """Work a panel that is no longer running autosaved."""

    folder: Path
    project: LoadedProject
    saved_at: datetime | None
    origin: Path | None  # the project file it was opened from / saved as, if any
    summary: Mapping[str, Any]

    @property
    def source(self) -> Path:
        return self.project.state.source

    def describe(self) -> str:
        """One line for the recovery dialog."""
        when = self.saved_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if self.saved_at else "?"
        parts = [f"{self.source.name}, autosaved {when}"]
        s = self.summary
        if s:
            parts.append(
                f"{s.get('objects', 0)} object(s), {s.get('prompts', 0)} prompt(s), "
                f"{s.get('tracked', 0)} tracked frame(s)"
            )
        if self.origin is not None:
            parts.append(f"project {self.origin.name}")
        return " · ".join(parts)


def _process_matches(pid: int, started: float) -> bool:
    """Is process ``pid`` alive and the one that started at ``started`` (pids are reused)?"""
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, OSError):
        return False


class RecoveryArea:
    """The recovery folder of this user; :meth:`start_run` claims one for this process."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_recovery_root()
        self.run_folder: Path | None = None

    # -- this process's folder -----------------------------------------------------------
    def start_run(self) -> Path:
        """Create this process's folder (once) and record who owns it."""
        if self.run_folder is not None:
            return self.run_folder
        proc = psutil.Process()
        folder = self.root / f"{RUN_PREFIX}{os.getpid()}-{time.time_ns():x}"
        folder.mkdir(parents=True, exist_ok=False)
        owner = {"pid": os.getpid(), "started": proc.create_time(), "host": socket.gethostname()}
        (folder / OWNER_NAME).write_text(json.dumps(owner))
        self.run_folder = folder
        return folder

    @property
    def autosave_path(self) -> Path:
        return self.start_run() / AUTOSAVE_NAME

    def clear_autosave(self) -> None:
        """Forget this run's autosave (the work was saved, or discarded on purpose)."""
        if self.run_folder is None:
            return
        for child in self.run_folder.iterdir():
            if child.name != OWNER_NAME:
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        child.unlink()

    def finish_run(self) -> None:
        """A clean exit: nothing to recover."""
        if self.run_folder is not None:
            shutil.rmtree(self.run_folder, ignore_errors=True)
            self.run_folder = None

    # -- what others left ----------------------------------------------------------------
    def _orphaned(self, folder: Path) -> bool:
        try:
            owner = json.loads((folder / OWNER_NAME).read_text())
            pid, started, host = int(owner["pid"]), float(owner["started"]), str(owner["host"])
        except (OSError, ValueError, KeyError, TypeError):
            # No readable owner: a run that died while creating its folder (or damage).
            # Old enough to be sure nobody is still writing the owner file.
            return time.time() - folder.stat().st_mtime > 60
        if host != socket.gethostname():
            return False  # a panel on another computer sharing this home folder
        return not _process_matches(pid, started)

    def candidates(self) -> list[RecoveryCandidate]:
        """Autosaves of panels that are not running any more, newest first. Folders they
        left without anything to recover are removed on the way."""
        if not self.root.is_dir():
            return []
        found: list[RecoveryCandidate] = []
        for folder in sorted(self.root.glob(f"{RUN_PREFIX}*")):
            if folder == self.run_folder or not folder.is_dir() or not self._orphaned(folder):
                continue
            autosave = folder / AUTOSAVE_NAME
            if not autosave.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                continue
            try:
                project = read_project(autosave)
            except ProjectError:
                continue  # kept for a person to look at; never offered, never deleted
            info = project.extra.get("autosave", {}) if project.extra else {}
            saved_at = None
            with contextlib.suppress(KeyError, TypeError, ValueError):
                saved_at = datetime.fromisoformat(info["saved_at"])
            origin = Path(info["origin"]) if info.get("origin") else None
            found.append(
                RecoveryCandidate(folder, project, saved_at, origin, info.get("summary", {}))
            )
        found.sort(key=lambda c: c.saved_at.timestamp() if c.saved_at else 0.0, reverse=True)
        return found

    def discard(self, candidate: RecoveryCandidate) -> None:
        shutil.rmtree(candidate.folder, ignore_errors=True)
