"""Atomic file replacement: a temporary file beside the target, fsynced, then renamed.

A full disk, a read-only folder or a kill mid-write leaves the old file (or none), never half
a file. Standard library only, so every layer above the model can use it (the model keeps
its own staging of session files, being the bottom layer).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` to write (same folder, so the rename is
    atomic; same suffix, for writers that pick a format by extension). When the block ends
    cleanly it is synced to disk and renamed over ``path``; when it raises, it is removed."""
    path = Path(path)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".partial{path.suffix}", dir=path.parent
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
