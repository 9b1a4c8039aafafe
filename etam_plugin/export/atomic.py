"""Outputs appear whole or not at all: write under a hidden name next to the target, rename.

A rename within one folder is atomic on POSIX file systems, so an editor (or a watch folder)
never sees a half-written matte; on any failure the staged file or folder is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from etam_plugin.atomic import stage_prefix
from etam_plugin.errors import ExportError
from etam_plugin.export.targets import Owns, foreign


def _describe(exc: BaseException) -> str:
    """``OSError`` text without the temp path (the user cares about the target)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def export_error(target: Path, action: str, exc: BaseException) -> ExportError:
    """An :class:`ExportError` naming the target, what failed and the OS reason."""
    err = ExportError(f"cannot {action} {target}: {_describe(exc)}", path=target)
    err.__cause__ = exc
    return err


def _check_parent(target: Path) -> None:
    parent = target.parent
    if not parent.is_dir():
        raise ExportError(f"output folder does not exist: {parent}", path=target)


class StagedFile:
    """A temp file in the target's folder; :meth:`commit` renames it onto the target."""

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target).expanduser().absolute()
        _check_parent(self.target)
        if self.target.is_dir():
            raise ExportError(f"output path is a folder: {self.target}", path=self.target)
        try:
            fd, tmp = tempfile.mkstemp(
                prefix=stage_prefix(self.target), suffix=".partial", dir=self.target.parent
            )
        except OSError as exc:
            raise export_error(self.target, "write", exc) from exc
        os.close(fd)
        self.tmp = Path(tmp)
        self.done = False

    def commit(self) -> Path:
        """Flush to disk and rename into place (replacing an older output)."""
        try:
            with open(self.tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(self.tmp, 0o644)
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.discard()
            raise export_error(self.target, "finish", exc) from exc
        self.done = True
        return self.target

    def discard(self) -> None:
        if not self.done:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()
        self.done = True


class StagedDir:
    """A temp folder next to the target folder; :meth:`commit` renames it onto the target.

    An existing target folder is moved aside first and deleted only after the new one is in
    place, so a failure never leaves the user with neither. ``owns`` (a file-name test):
    the existing folder is replaced only if everything in it passes, checked again at
    commit, so a file put there meanwhile is never deleted.
    """

    def __init__(self, target: str | Path, *, owns: Owns | None = None) -> None:
        self.target = Path(target).expanduser().absolute()
        self.owns = owns
        _check_parent(self.target)
        if self.target.exists() and not self.target.is_dir():
            raise ExportError(f"output path is a file, not a folder: {self.target}", path=target)
        if owns is not None and self.target.is_dir():
            foreign(self.target, owns, "output folder")
        try:
            self.tmp = Path(
                tempfile.mkdtemp(
                    prefix=stage_prefix(self.target), suffix=".partial", dir=self.target.parent
                )
            )
        except OSError as exc:
            raise export_error(self.target, "write", exc) from exc
        self.done = False

    def commit(self) -> Path:
        old: Path | None = None
        try:
            if self.owns is not None and self.target.is_dir():
                foreign(self.target, self.owns, "output folder")
        except ExportError:
            self.discard()
            raise
        try:
            os.chmod(self.tmp, 0o755)
            if self.target.exists():
                old = Path(
                    tempfile.mkdtemp(
                        prefix=stage_prefix(self.target), suffix=".old", dir=self.target.parent
                    )
                )
                os.replace(self.target, old / "previous")
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.discard()
            if old is not None and (old / "previous").exists() and not self.target.exists():
                with contextlib.suppress(OSError):  # if this fails too, `old` keeps it
                    os.replace(old / "previous", self.target)
                    old.rmdir()
            raise export_error(self.target, "finish", exc) from exc
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.done = True
        return self.target

    def discard(self) -> None:
        if not self.done:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.done = True
