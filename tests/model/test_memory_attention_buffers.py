"""Memory attention's CPU inference path (reused scratch buffers for logits, keys and MLP
activations, in-place residuals) computes what the plain path computes, and what it returns
is never overwritten by a later call (the parity tests cover the values themselves)."""

from __future__ import annotations

import pytest
import torch

from etam_plugin.model import build_model, get_config
from etam_plugin.model.memory_attention import MemoryInput


@pytest.mark.parametrize("mode", ["full", "pooled", "pooled-keys"])
def test_buffered_inference_equals_the_plain_path(mode: str) -> None:
    torch.manual_seed(0)
    config = get_config("ti_512x512", attention=mode)
    net = build_model(config).eval()
    side, c = config.feature_size, config.hidden_dim
    gen = torch.Generator().manual_seed(1)

    def situation(batch: int) -> tuple[torch.Tensor, torch.Tensor, MemoryInput]:
        feats = torch.randn(batch, c, side, side, generator=gen)
        pos = torch.randn(batch, c, side, side, generator=gen)
        with torch.no_grad():
            frames = [
                (net.prepare_memory(torch.randn(batch, config.mem_dim, side, side, generator=gen)),
                 age)
                for age in (config.num_maskmem - 1, 2, 0)
            ]  # fmt: skip
        pointers = torch.randn(batch, 5, c, generator=gen)
        return feats, pos, MemoryInput(frames=frames, pointers=pointers)

    first, second = situation(1), situation(2)
    with torch.inference_mode():
        got_first = net.condition_on_memory(*first)
        kept = got_first.clone()
        got_second = net.condition_on_memory(*second)  # reuses (and grows) the buffers
    with torch.enable_grad():  # the plain path: fresh tensors, no in-place updates
        want_first = net.condition_on_memory(*first).detach()
        want_second = net.condition_on_memory(*second).detach()
    assert torch.equal(got_first, kept), "a later call overwrote an earlier result"
    assert torch.allclose(got_first, want_first, atol=1e-5, rtol=0)
    assert torch.allclose(got_second, want_second, atol=1e-5, rtol=0)
