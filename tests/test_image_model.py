"""load_image_model / trace_image on tiny random models saved to disk, and the preprocessing."""

import numpy as np
import pytest
import torch
from PIL import Image

from tests.image_fixtures import save_tiny_dinov2, save_tiny_vit
from viz.attention import masked_softmax
from viz.pretrained.image import ImageModelError, Preprocessing, load_image_model, trace_image


def _photo(w=300, h=200, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def tiny_vit(tmp_path_factory):
    return load_image_model(str(save_tiny_vit(tmp_path_factory.mktemp("vit"))))


def test_trace_shapes_tokens_and_scores(tiny_vit):
    trace = trace_image(tiny_vit, _photo())
    L, H, T = 2, 2, 1 + 4 * 4
    assert trace.weights.shape == (L, H, T, T)
    assert trace.queries.shape == trace.keys.shape == trace.values.shape == (L, H, T, 8)
    assert trace.query_tokens[:3] == ("CLS", "r0c0", "r0c1") and trace.query_tokens[-1] == "r3c3"
    assert trace.meta["grid"].rows == 4 and trace.meta["image"].shape == (32, 32, 3)
    np.testing.assert_allclose(trace.weights.sum(-1), 1.0, atol=1e-5)
    # the hooked Q and K reproduce the weights the model returned: they are the tensors it used
    assert trace.scores is None  # recomputed per head on demand
    for layer in range(L):
        for head in range(H):
            again = masked_softmax(torch.from_numpy(trace.head_scores(layer, head))).numpy()
            np.testing.assert_allclose(again, trace.weights[layer, head], atol=1e-6)


def test_hooks_are_removed_and_output_unchanged(tiny_vit):
    def hooks():  # transformers keeps hooks of its own; ours must all be gone
        return sum(len(m._forward_hooks) for m in tiny_vit.model.modules())

    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        before = tiny_vit.model(pixel_values=x).logits
    n = hooks()
    trace_image(tiny_vit, _photo())
    assert hooks() == n
    with torch.inference_mode():
        after = tiny_vit.model(pixel_values=x).logits
    torch.testing.assert_close(before, after)


def test_classifier_gives_top5_with_probabilities(tiny_vit):
    top5 = trace_image(tiny_vit, _photo()).meta["top5"]
    assert len(top5) == 5
    probs = [p for _, p in top5]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert all(lab.startswith("label <") for lab, _ in top5)


def test_dinov2_without_head_has_no_labels(tmp_path):
    model = load_image_model(str(save_tiny_dinov2(tmp_path)))
    trace = trace_image(model, _photo(100, 80))
    assert "top5" not in trace.meta
    assert trace.weights.shape == (3, 2, 1 + 16 * 16, 1 + 16 * 16)  # the default 224-px crop, 14-px patches


def test_pickle_weights_are_refused(tmp_path):
    folder = save_tiny_vit(tmp_path)
    from safetensors.torch import load_file

    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ImageModelError, match="pickle"):
        load_image_model(str(folder))


def test_unknown_hub_id_offline_is_a_sentence():
    with pytest.raises(ImageModelError, match="not a local folder"):
        load_image_model("nobody-here/no-such-vit-model")


def test_non_vit_model_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
              ).save_pretrained(tmp_path, safe_serialization=True)
    with pytest.raises(ImageModelError, match="'bert' model"):
        load_image_model(str(tmp_path))


def test_preprocessing_shortest_edge_centre_crop_and_normalisation():
    prep = Preprocessing()
    img = np.zeros((256, 512, 3), np.uint8)  # wide: 512 x 256
    img[:, 144:368] = 200  # the centre 224 columns
    cropped = prep.crop_image(Image.fromarray(img))
    assert cropped.size == (224, 224)
    assert np.asarray(cropped)[:, 2:-2].min() == 200  # the crop is the centre strip
    x = prep.pixel_values(cropped)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 100, 100], (200 / 255 - np.array(prep.mean)) / np.array(prep.std), rtol=1e-5)
    small = prep.crop_image(_photo(40, 30))  # shortest edge 30 -> 256, then the crop
    assert small.size == (224, 224)


def test_preprocessing_from_vit_folder(tmp_path):
    prep = Preprocessing.from_folder(save_tiny_vit(tmp_path))
    assert prep.resize_to == (32, 32) and prep.crop is None and prep.mean == (0.5, 0.5, 0.5)
    assert prep.crop_image(_photo(300, 100)).size == (32, 32)
