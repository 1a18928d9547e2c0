import pytest
import torch

from viz.attention import causal_mask
from viz.scratch.model import HookPoint, MultiHeadAttention, Transformer, TransformerConfig, capture


def copy_into_torch_mha(ours: MultiHeadAttention, d_model: int, n_heads: int) -> torch.nn.MultiheadAttention:
    """An independent oracle: torch's own MultiheadAttention holding our weights."""
    ref = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        ref.out_proj.weight.copy_(ours.w_o.weight)
        ref.out_proj.bias.copy_(ours.w_o.bias)
    return ref.eval()


@pytest.mark.parametrize("masked", [False, True])
def test_multihead_attention_equals_torch(masked):
    torch.manual_seed(0)
    d_model, n_heads = 32, 4
    ours = MultiHeadAttention(d_model, n_heads).eval()
    ref = copy_into_torch_mha(ours, d_model, n_heads)
    xq, xkv = torch.randn(2, 5, d_model), torch.randn(2, 5, d_model)
    mask = causal_mask(5) if masked else None
    with torch.no_grad(), capture(ours) as store:
        out = ours(xq, xkv, mask)
        # torch's boolean attn_mask means True = NOT allowed: the opposite convention.
        expected, expected_w = ref(xq, xkv, xkv, attn_mask=None if mask is None else ~mask,
                                   average_attn_weights=False)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(store["hook_weights"], expected_w, atol=1e-6, rtol=1e-5)


def test_cross_attention_shapes():
    mha = MultiHeadAttention(16, 2)
    with capture(mha) as store:
        out = mha(torch.randn(1, 3, 16), torch.randn(1, 7, 16))
    assert out.shape == (1, 3, 16)
    assert store["hook_q"].shape == (1, 2, 3, 8)
    assert store["hook_k"].shape == (1, 2, 7, 8)
    assert store["hook_weights"].shape == (1, 2, 3, 7)


def test_capture_does_not_change_the_math_and_cleans_up():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(src_vocab=10, tgt_vocab=12)).eval()
    src, tgt = torch.randint(3, 10, (2, 6)), torch.randint(3, 12, (2, 4))
    plain = model(src, tgt)
    with capture(model) as store:
        watched = model(src, tgt)
    torch.testing.assert_close(plain, watched)
    n_hooks = sum(isinstance(m, HookPoint) for m in model.modules())
    assert len(store) == n_hooks > 0
    assert all(not m._forward_hooks for m in model.modules())


def test_decoder_cannot_see_the_future():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(src_vocab=10, tgt_vocab=12)).eval()
    src = torch.randint(3, 10, (1, 5))
    a = torch.tensor([[1, 4, 5, 6, 7]])
    b = torch.tensor([[1, 4, 5, 9, 9]])  # differs from position 3 on
    torch.testing.assert_close(model(src, a)[:, :3], model(src, b)[:, :3])
    assert not torch.allclose(model(src, a)[:, 3:], model(src, b)[:, 3:])


def test_no_library_attention_inside():
    import inspect

    import viz.scratch.model as m

    source = inspect.getsource(m)
    for banned in ("nn.MultiheadAttention", "nn.Transformer", "scaled_dot_product_attention"):
        assert banned not in source.replace("No nn.MultiheadAttention, nn.Transformer* or F.scaled_dot_product_attention", "")


@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "none"])
def test_positional_options(positional):
    model = Transformer(TransformerConfig(src_vocab=10, tgt_vocab=10, positional=positional))
    assert model(torch.randint(3, 10, (1, 4)), torch.randint(3, 10, (1, 3))).shape == (1, 3, 10)


def test_config_errors_are_sentences():
    with pytest.raises(ValueError, match="not divisible"):
        TransformerConfig(src_vocab=5, tgt_vocab=5, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="positional"):
        TransformerConfig(src_vocab=5, tgt_vocab=5, positional="rotary")
