"""Real VideoSessions on a tiny seeded network, for the panel's tests on the real model."""

from __future__ import annotations

from pathlib import Path


class TinyModelFactory:
    """Real VideoSessions on a tiny seeded network (the panel's SessionFactory)."""

    def __init__(self, seed: int = 0) -> None:
        import torch

        from etam_plugin.model import build_model, tiny_test_config

        torch.manual_seed(seed)  # 2: objects are present (masks of ~1/4 of the synthetic clip)
        self.model = build_model(tiny_test_config()).eval()
        self.sessions: list = []

    def create(self, frames):
        from etam_plugin.model import VideoSession

        session = VideoSession(self.model, frames)
        self.sessions.append(session)
        return session

    def open(self, folder: Path, frames):
        from etam_plugin.model import VideoSession

        session = VideoSession.open(folder, self.model, frames)
        self.sessions.append(session)
        return session

    def describe(self) -> str:
        return "tiny-test · cpu · float32"
