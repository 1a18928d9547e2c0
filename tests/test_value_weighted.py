"""Value-weighted attention (viz.attention.weighted_norms, AttentionTrace.w_o): against loops, and
against each model's own output projection captured by a forward hook."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.image_fixtures import save_tiny_vit
from viz.attention import split_output_projection, weighted_norms
from viz.pretrained import load_text_model, trace_text
from viz.pretrained.image import load_image_model, trace_image
from viz.scratch.run import run
from viz.scratch.tasks import TASKS
from viz.scratch.train import checkpoint_path, load_checkpoint
from viz.trace import AttentionTrace, TraceError


def test_weighted_norms_equal_a_loop_over_every_cell():
    rng = np.random.default_rng(0)
    L, H, Tq, Tk, D, C = 2, 3, 4, 5, 6, 7
    w, v, o = rng.random((L, H, Tq, Tk)), rng.normal(size=(L, H, Tk, D)), rng.normal(size=(L, H, D, C))
    got = weighted_norms(w, v, o)
    for ly, h, i, j in np.ndindex(L, H, Tq, Tk):
        want = w[ly, h, i, j] * np.sqrt(sum(sum(v[ly, h, j, d] * o[ly, h, d, c] for d in range(D)) ** 2 for c in range(C)))
        assert got[ly, h, i, j] == pytest.approx(want, rel=1e-4)
    with pytest.raises(ValueError, match="do not fit"):
        weighted_norms(w, v[:, :, :4], o)


def test_split_output_projection_is_what_a_linear_layer_does_to_concatenated_heads():
    torch.manual_seed(0)
    H, D = 4, 8
    lin = torch.nn.Linear(H * D, 12)
    z = torch.randn(H, D)
    per_head = split_output_projection(lin.weight.detach().numpy(), H)  # (H, D, C)
    want = lin(z.reshape(1, H * D))[0].detach().numpy()
    got = np.einsum("hd,hdc->c", z.numpy(), per_head) + lin.bias.detach().numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="does not split"):
        split_output_projection(lin.weight.detach().numpy(), 5)


def test_a_trace_refuses_a_w_o_of_the_wrong_shape():
    w = np.full((1, 2, 3, 3), 1 / 3, dtype=np.float32)
    qkv = np.zeros((1, 2, 3, 4), dtype=np.float32)
    with pytest.raises(TraceError, match="w_o shape"):
        AttentionTrace(("a", "b", "c"), ("a", "b", "c"), w, w, qkv, qkv, qkv, w_o=np.zeros((1, 2, 5, 8), np.float32))


def _check_sum(trace: AttentionTrace, outputs: list[np.ndarray], biases: list[np.ndarray]) -> None:
    """Σ_h Σ_j weights · (values @ w_o) + bias equals the output projection's output, every layer."""
    assert trace.w_o is not None and len(outputs) == trace.n_layers
    for layer, (out, bias) in enumerate(zip(outputs, biases, strict=True)):
        z = np.einsum("hij,hjd->hid", trace.weights[layer], trace.values[layer])  # (H, Tq, D)
        rebuilt = np.einsum("hid,hdc->ic", z, trace.w_o[layer]) + bias  # (Tq, C)
        np.testing.assert_allclose(rebuilt, out, atol=1e-4, err_msg=f"layer {layer}")


def _hooked(modules):
    outputs, handles = [], []
    for m in modules:
        handles.append(m.register_forward_hook(lambda mod, args, out: outputs.append(out[0].detach().float().numpy())))
    return outputs, handles


def test_the_bundled_text_models_heads_add_up_to_its_output_projection():
    tm = load_text_model()
    dense = [tm.model.get_submodule(tm.family.o.format(i=i)) for i in range(tm.n_layers)]
    outputs, handles = _hooked(dense)
    try:
        trace = trace_text(tm, "The bank by the river flooded, so it closed.")
    finally:
        for h in handles:
            h.remove()
    _check_sum(trace, outputs, [d.bias.detach().numpy() for d in dense])
    assert trace.w_o.shape == (6, 12, 32, 384)
    assert trace_text(tm, "Another sentence.").w_o is trace.w_o  # one array per model, not per trace


def test_the_scratch_models_heads_add_up_to_its_output_projection():
    model, _ = load_checkpoint(checkpoint_path("reverse"))
    layers = [model.get_submodule(f"encoder.{i}.self_attn.w_o") for i in range(model.cfg.n_encoder_layers)]
    outputs, handles = _hooked(layers)
    try:
        r = run(model, TASKS["reverse"], "attention")
    finally:
        for h in handles:
            h.remove()
    # run() decodes greedily first (many passes), then records one teacher-forced pass: its
    # encoder outputs are the last n_layers the hooks saw.
    _check_sum(r.encoder, outputs[-len(layers):], [m.bias.detach().numpy() for m in layers])
    assert r.cross.w_o.shape == (2, 4, model.cfg.d_model // 4, model.cfg.d_model)


def test_the_image_models_heads_add_up_to_its_output_projection(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_MODEL_DIRS", str(tmp_path))
    model = load_image_model(str(save_tiny_vit(tmp_path / "vit")))
    dense = [m for n, m in model.model.named_modules() if n.endswith("attention.o_proj")]  # transformers 5's ViT
    outputs, handles = _hooked(dense)
    try:
        trace = trace_image(model, Image.new("RGB", (40, 40), (120, 30, 200)))
    finally:
        for h in handles:
            h.remove()
    _check_sum(trace, outputs, [d.bias.detach().numpy() for d in dense])
