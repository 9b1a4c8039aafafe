"""Atomic file replacement: a temporary file beside the target, fsynced, then renamed.

A full disk, a read-only folder or a kill mid-write leaves the old file (or none), never half
a file. Standard library only, so every layer above the model can use it (the model keeps
its own staging of session files, being the bottom layer).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

STAGE_MARK = ".etam"
"""Staged names are ``.NAME.etam<pid>.<random>.partial…``: the writing process's id in the
name lets a later run remove what a killed one (SIGKILL, power cut) left behind."""


def stage_prefix(target: Path) -> str:
    """The name prefix of this process's staged files for ``target`` (see :func:`sweep_stale`)."""
    sweep_stale(target)
    return f".{target.name}{STAGE_MARK}{os.getpid()}."


def sweep_stale(target: Path) -> None:
    """Removes staged files and folders for ``target`` left by processes that are gone.
    Only our own names are touched: ``.NAME.etam<pid>.*`` whose process no longer exists."""
    ours = re.compile(
        rf"{re.escape(f'.{target.name}{STAGE_MARK}')}(\d+)\.[a-z0-9_]{{8}}\.(partial|old).*"
    )
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            match = ours.fullmatch(entry.name)
            if match is None or _alive(int(match.group(1))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive, not ours to judge
    return True


@contextlib.contextmanager
def replaced_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` to write (same folder, so the rename is
    atomic; same suffix, for writers that pick a format by extension). When the block ends
    cleanly it is synced to disk and renamed over ``path``; when it raises, it is removed."""
    path = Path(path)
    fd, name = tempfile.mkstemp(
        prefix=stage_prefix(path), suffix=f".partial{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; other tools (editors, OBS) read these
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """``data`` to ``path``, all or nothing (OSError on a full or read-only disk)."""
    with replaced_atomically(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def scratch_folder(kind: str) -> Iterator[Path]:
    """A private temporary folder for one job, removed when the block ends (Ctrl-C and
    SIGTERM included); one left by a killed process is removed by the next job."""
    root = Path(tempfile.gettempdir())
    folder = Path(
        tempfile.mkdtemp(prefix=stage_prefix(root / f"etam-{kind}"), suffix=".partial", dir=root)
    )
    from etam_plugin.model.video_session import UNDO_SHELF  # a job's sessions: torch is in

    sweep_stale(root / UNDO_SHELF)  # the undo records of a killed process's sessions
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
