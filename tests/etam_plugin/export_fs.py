"""Real file-system failure conditions for the export and timeline tests: a read-only
folder and a full disk, made with tmpfs mounts where the test may mount (CI runs as root
in a container that allows it), else with the best mechanism that really fails writes."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(args: list[str]) -> bool:
    if shutil.which("mount") is None:
        return False
    out = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    return out.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path``; skips the test where mounting is not permitted."""
    path.mkdir(parents=True, exist_ok=True)
    if not _mount(["-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)]):
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def read_only_dir(path: Path, files: dict[str, bytes] | None = None) -> Iterator[Path]:
    """A folder whose writes fail for real, holding ``files``. As root, chmod does not stop
    writes, so it is a tmpfs remounted read-only; without root, chmod 0555 is enough."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        for name, data in (files or {}).items():
            (path / name).write_bytes(data)
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    with tmpfs(path, "1m"):
        for name, data in (files or {}).items():
            (path / name).write_bytes(data)
        if not _mount(["-o", "remount,ro", str(path)]):
            pytest.skip("cannot remount read-only here")
        yield path


def listing(path: Path) -> list[str]:
    """Everything in a folder, hidden files included (leftovers would show here)."""
    return sorted(p.name for p in path.iterdir())
