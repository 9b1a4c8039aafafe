"""The encoder's fast paths against their plain definitions, on grids the parity tests miss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from etam_plugin.model.config import tiny_test_config
from etam_plugin.model.image_encoder import PatchEmbed, ViTAttention, ViTTrunk


def _padded_window_attention(attn: ViTAttention, x: torch.Tensor) -> torch.Tensor:
    """The textbook form: zero-pad the grid, project every token, attend per window."""
    b, h, w, d = x.shape
    s = attn.window
    xp = F.pad(x, (0, 0, 0, -w % s, 0, -h % s))
    hp, wp = xp.shape[1:3]
    win = xp.reshape(b, hp // s, s, wp // s, s, d).permute(0, 1, 3, 2, 4, 5).reshape(-1, s * s, d)
    q, k, v = (
        attn.qkv(win).reshape(win.shape[0], s * s, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    )
    out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(-1, s * s, d)
    out = out.reshape(b, hp // s, wp // s, s, s, d).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, d)
    return attn.proj(out[:, :h, :w])


@pytest.mark.parametrize("grid", [(8, 8), (5, 3), (9, 13), (4, 12), (1, 1)])
def test_windowed_attention_equals_pad_then_partition(grid: tuple[int, int]) -> None:
    torch.manual_seed(0)
    attn = ViTAttention(16, 2, window=4)
    torch.nn.init.normal_(attn.qkv.bias)  # padded tokens must carry the bias
    x = torch.randn(2, *grid, 16)
    with torch.inference_mode():
        torch.testing.assert_close(attn(x), _padded_window_attention(attn, x))


def test_windowed_attention_has_gradients() -> None:
    torch.manual_seed(0)
    attn = ViTAttention(8, 2, window=4).double()
    torch.nn.init.normal_(attn.qkv.bias)
    x = torch.randn(1, 6, 5, 8, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(attn, (x,))


def test_patch_embedding_equals_the_convolution() -> None:
    torch.manual_seed(0)
    embed = PatchEmbed(16, 24)
    x = torch.randn(2, 3, 64, 48)
    with torch.inference_mode():
        torch.testing.assert_close(embed(x), embed.proj(x).permute(0, 2, 3, 1))


def test_resized_position_embedding_follows_loaded_weights() -> None:
    trunk = ViTTrunk(tiny_test_config().encoder)
    side = trunk.config.pos_embed_grid + 3
    with torch.inference_mode():
        before = trunk.position_embedding(side, side).clone()
        state = {k: torch.randn_like(v) for k, v in trunk.state_dict().items()}
        trunk.load_state_dict(state)
        after = trunk.position_embedding(side, side)
    assert not torch.equal(before, after)
    fresh = ViTTrunk(tiny_test_config().encoder)
    fresh.load_state_dict(state)
    with torch.inference_mode():
        torch.testing.assert_close(after, fresh.position_embedding(side, side))
