"""Shared fixtures: paths to the team's footage and a per-test seeded RNG."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MEDIA_DIR = Path(os.environ.get("ETAM_TEST_MEDIA", REPO.parent / "shared" / "media"))


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The read-only folder of real test footage (``../shared/media``)."""
    if not MEDIA_DIR.is_dir():
        pytest.fail(f"test footage not found at {MEDIA_DIR}; set ETAM_TEST_MEDIA")
    return MEDIA_DIR
