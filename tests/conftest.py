"""Shared fixtures: paths to the team's footage and a per-test seeded RNG."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _origin_checkout() -> Path | None:
    """The checkout this one was cloned from, when that is a local folder (CI clones ours)."""
    try:
        url = subprocess.run(
            ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://")) if url else None
    return path if path is not None and path.is_dir() else None


def _find_media() -> Path:
    """``$ETAM_TEST_MEDIA``, else ``../shared/media`` beside this checkout or beside the
    checkout it was cloned from (a clean clone for CI may live anywhere)."""
    if "ETAM_TEST_MEDIA" in os.environ:
        return Path(os.environ["ETAM_TEST_MEDIA"])
    candidates = [REPO.parent / "shared" / "media"]
    origin = _origin_checkout()
    if origin is not None:
        candidates.append(origin.resolve().parent / "shared" / "media")
    return next((c for c in candidates if c.is_dir()), candidates[0])


MEDIA_DIR = _find_media()
os.environ.setdefault("ETAM_TEST_MEDIA", str(MEDIA_DIR))  # for the helper scripts tests run


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The read-only folder of real test footage (``../shared/media``)."""
    if not MEDIA_DIR.is_dir():
        pytest.fail(f"test footage not found at {MEDIA_DIR}; set ETAM_TEST_MEDIA")
    return MEDIA_DIR
