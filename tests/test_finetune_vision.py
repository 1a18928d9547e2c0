"""Fine-tuning a Vision Transformer (viz.finetune.vision) on the generated shapes, and reading picture
zips: a tiny random ViT for the loop, the saved folder read back by plain transformers."""

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from tests.image_fixtures import save_tiny_vit
from viz.finetune import vision
from viz.finetune.images import (
    CLASSES,
    SIZE,
    ImageDataError,
    patch_coverage,
    read_zip,
    shape_picture,
    shapes,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(save_tiny_vit(tmp_path_factory.mktemp("vit"), classifier=False, image_size=SIZE, patch=14))


def test_shapes_are_seeded_balanced_and_masked():
    a, b = shapes(40, 8, seed=3), shapes(40, 8, seed=3)
    assert np.array_equal(np.asarray(a.train[5].image), np.asarray(b.train[5].image))
    assert not np.array_equal(np.asarray(a.train[0].image), np.asarray(a.held_out[0].image))
    assert [sum(p.label == k for p in a.train) for k in range(len(CLASSES))] == [10] * 4
    for p in a.train[:8]:
        assert p.image.size == (SIZE, SIZE) and p.mask.shape == (SIZE, SIZE)
        assert 0.03 < p.mask.mean() < 0.25  # an object, not the whole picture
        cover = patch_coverage(p.mask, 14)
        assert cover.shape == (64,) and cover.max() > 0.5 and np.isclose(cover.mean(), p.mask.mean())


def test_the_object_is_where_its_mask_says():
    rng = np.random.default_rng(0)
    pic = shape_picture(rng, 0)
    px = np.asarray(pic.image).astype(float)
    inside, outside = px[pic.mask], px[~pic.mask]
    assert inside.std(axis=0).max() < 1e-6  # one flat colour inside the mask
    assert outside.std(axis=0).max() > 5  # the cluttered background


def test_training_moves_the_loss_and_the_saved_folder_reloads(tiny, tmp_path):
    from transformers import AutoModelForImageClassification

    ds = shapes(32, 8)
    cfg = vision.VisionConfig(steps=6, batch=8, lr=1e-3, train_blocks=1)
    r = vision.run_vision(ds, cfg, tmp_path / "out", base=tiny)
    assert len(r["losses"]) == 6 and "the last 1 of 2 blocks" in r["trained"]
    assert 0 <= r["accuracy"] <= 1 and len(r["confusion"]) == 4
    assert r["before"]["share"].shape == (2,) and 0 < r["before"]["chance"] < 1
    assert "CLS puts" in r["sentence"]
    back = AutoModelForImageClassification.from_pretrained(tmp_path / "out")
    assert back.config.id2label[2] == "triangle"
    x = vision.pixels(ds.held_out[:2])
    with torch.no_grad():
        np.testing.assert_allclose(back(pixel_values=x).logits.numpy(),
                                   vision.load_classifier(ds.labels, str(tmp_path / "out")).eval()(
                                       pixel_values=x).logits.detach().numpy(), atol=1e-5)
    from viz.pretrained.image import load_image_model
    loaded = load_image_model(str(tmp_path / "out"))
    assert loaded.labels[0] == "circle" and loaded.prep.resize_to == (SIZE, SIZE)


def test_zero_steps_change_nothing(tiny, tmp_path):
    ds = shapes(16, 8)
    r = vision.run_vision(ds, vision.VisionConfig(steps=0), tmp_path / "zero", base=tiny)
    np.testing.assert_allclose(r["before"]["share"], r["after"]["share"])
    assert r["accuracy"] == r["before_accuracy"]


def test_frozen_blocks_do_not_change(tiny):
    ds = shapes(16, 4)
    base = vision.load_classifier(ds.labels, tiny)
    first = {k: v.clone() for k, v in base.state_dict().items() if ".layers.0." in k}
    run = vision.finetune_vit(ds, vision.VisionConfig(steps=3, batch=4, lr=1e-2, train_blocks=1), tiny)
    after = run.model.state_dict()
    assert all(torch.equal(first[k], after[k]) for k in first)
    last = [k for k in after if ".layers.1." in k]
    assert first and last
    assert any(not torch.equal(base.state_dict()[k], after[k]) for k in last)


def test_training_on_cached_frozen_features_equals_running_the_whole_model(tiny):
    ds = shapes(16, 4)
    cfg = vision.VisionConfig(steps=4, batch=4, lr=1e-3, train_blocks=1)
    fast, slow = vision.finetune_vit(ds, cfg, tiny), vision.finetune_vit(ds, cfg, tiny, cache_frozen=False)
    np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-4)
    assert len(vision._blocks(fast.model)) == 2  # the full stack is back after training
    x = vision.pixels(ds.held_out)
    with torch.no_grad():
        np.testing.assert_allclose(fast.model(pixel_values=x).logits.numpy(), slow.model(pixel_values=x).logits.numpy(),
                                   atol=1e-4)


@pytest.mark.parametrize("bad", [dict(steps=-1), dict(steps=10**6), dict(lr=0), dict(lr=float("nan")),
                                 dict(batch=0), dict(train_blocks=-1), dict(schedule="linear"),
                                 dict(head_lr_scale=0), dict(head_lr_scale=float("inf"))])
def test_impossible_settings_get_a_sentence(bad):
    with pytest.raises(ValueError, match="must"):
        vision.VisionConfig(**bad)


def test_the_cosine_schedule_ends_near_zero_and_a_constant_one_does_not_move(tiny, monkeypatch):
    seen = {}
    real = torch.optim.AdamW.step

    def record(self, *a, **k):
        seen.setdefault(self.param_groups[0]["initial_lr"], []).append(self.param_groups[0]["lr"])
        return real(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    ds = shapes(8, 4)
    vision.finetune_vit(ds, vision.VisionConfig(steps=4, batch=4, lr=1e-3, train_blocks=1), tiny)
    vision.finetune_vit(ds, vision.VisionConfig(steps=4, batch=4, lr=2e-3, train_blocks=1, schedule="constant"), tiny)
    np.testing.assert_allclose(seen[1e-3], [1e-3 * 0.5 * (1 + np.cos(np.pi * s / 4)) for s in range(4)])
    assert seen[2e-3] == [2e-3] * 4


def test_the_fresh_head_learns_at_its_own_rate_and_every_learning_parameter_is_in_one_group(tiny, monkeypatch):
    seen = []
    real = torch.optim.AdamW.step

    def record(self, *a, **k):
        seen.append([(len(g["params"]), g["lr"]) for g in self.param_groups])
        return real(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    cfg = vision.VisionConfig(steps=1, batch=4, lr=1e-3, train_blocks=1, schedule="constant", head_lr_scale=10)
    run = vision.finetune_vit(shapes(8, 4), cfg, tiny)
    (blocks, blocks_lr), (head, head_lr) = seen[0]
    learning = [p for p in run.model.parameters() if p.requires_grad]
    assert head == len(list(run.model.classifier.parameters())) == 2  # weight and bias
    assert blocks + head == len(learning) and blocks > head
    assert blocks_lr == pytest.approx(1e-3) and head_lr == pytest.approx(1e-2)
    seen.clear()
    vision.finetune_vit(shapes(8, 4), vision.VisionConfig(steps=1, batch=4, train_blocks=0), tiny)
    assert seen[0][0][0] == 2 and seen[0][1][0] == 2  # only the final LayerNorm (weight, bias) and the head


@pytest.mark.parametrize("blocks", [0, 2])
def test_only_the_head_learning_or_every_block_on_cached_features_equals_the_whole_model(tiny, blocks):
    """0 learning blocks (the page offers it) once failed: there was no block after the frozen ones to
    take the cached features from. Both ends give the same numbers as running the whole model."""
    ds = shapes(8, 4)
    cfg = vision.VisionConfig(steps=3, batch=4, lr=1e-3, train_blocks=blocks)
    fast = vision.finetune_vit(ds, cfg, tiny)
    slow = vision.finetune_vit(ds, cfg, tiny, cache_frozen=False)
    np.testing.assert_allclose(fast.losses, slow.losses, rtol=1e-4)


def _zip(files: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, "PNG")
    return buf.getvalue()


def test_a_zip_of_class_folders_is_read_and_split():
    ds = read_zip(_zip({f"pets/{c}/{i}.png": _png(c) for c in ("red", "blue") for i in range(10)}
                       | {"pets/readme.txt": b"hi", "__MACOSX/pets/red/._0.png": b"x"}))
    assert ds.labels == ("blue", "red") and len(ds.held_out) == 2 and len(ds.train) == 18
    assert ds.train[0].image.size == (SIZE, SIZE) and ds.train[0].mask is None


@pytest.mark.parametrize("files, says", [
    (None, "not a zip"),
    ({"a/1.png": _png("red")}, "at least two class folders"),
    ({"../evil/1.png": _png("red"), "b/1.png": _png("red")}, "leaves its folder"),
    ({"/abs/1.png": _png("red"), "b/1.png": _png("red")}, "leaves its folder"),
    ({"a/1.png": b"not a png", "a/2.png": _png("red"), "b/1.png": _png("red"), "b/2.png": _png("red")}, "1.png"),
    ({"a/1.png": _png("red"), "b/1.png": _png("red"), "b/2.png": _png("red")}, "at least 2"),
])
def test_bad_zips_get_a_sentence(files, says):
    data = b"PK not really" if files is None else _zip(files)
    with pytest.raises(ImageDataError, match=says):
        read_zip(data)


def test_a_zip_bomb_and_too_many_files_are_refused(monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/big.png", b"\0" * 30_000_000)
        z.writestr("b/big.png", b"\0" * 30_000_000)
    monkeypatch.setattr("viz.finetune.images.MAX_UNPACKED_BYTES", 50_000_000)
    assert len(buf.getvalue()) < 1_000_000
    with pytest.raises(ImageDataError, match="zip bomb"):
        read_zip(buf.getvalue())
    monkeypatch.setattr("viz.finetune.images.MAX_ZIP_FILES", 3)
    with pytest.raises(ImageDataError, match="limit is 3"):
        read_zip(_zip({f"a/{i}.png": b"" for i in range(4)}))


def test_the_command_line_refuses_a_bad_images_argument(capsys):
    from viz.finetune.__main__ import main

    assert main(["--images", "nothing-here.tar"]) == 2
    assert "--images takes 'shapes' or a .zip" in capsys.readouterr().err


def test_share_and_pointing_game_on_hand_built_maps():
    on = np.array([[True, True, False, False], [False, False, False, True]])  # (B=2, P=4)
    maps = np.array([[[0.5, 0.25, 0.25, 0.0], [0.0, 0.0, 0.1, 0.9]],     # layer 0
                     [[0.1, 0.1, 0.8, 0.0], [0.25, 0.25, 0.25, 0.25]]])  # layer 1: (L=2, B=2, P=4)
    share, hit = vision.on_object(maps, on)
    np.testing.assert_allclose(share, [[0.75, 0.9], [0.2, 0.25]])
    # picture 1, layer 1: a tie; argmax takes the first patch, which is not the object's
    np.testing.assert_array_equal(hit, [[True, True], [False, False]])
    share, hit = vision.on_object(maps[0], on)  # one map per picture (rollout's shape)
    np.testing.assert_allclose(share, [0.75, 0.9])
    np.testing.assert_array_equal(hit, [True, True])


def test_the_object_patches_cover_the_mask_and_rollout_is_measured(tiny):
    pics = shapes(8, 8).held_out[:4]
    on = vision.object_patches(pics, 14)
    cover = np.stack([patch_coverage(p.mask, 14) for p in pics])
    assert on.shape == (4, (SIZE // 14) ** 2) and np.all(on[cover >= vision.OBJECT_COVER])
    assert np.all(on.sum(1) >= 1) and not np.any(on[cover == 0])
    model = vision.load_classifier(CLASSES, tiny).eval()
    cls, rolled = vision.cls_maps(model, pics)
    assert cls.shape == (2, 4, 64) and rolled.shape == (4, 64)
    np.testing.assert_allclose(cls.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(rolled.sum(-1), 1, atol=1e-9)
    look = vision.object_attention(model, pics)
    assert 0 <= look["rollout_share"] <= 1 and 0 <= look["rollout_pointing"] <= 1
    assert "Rollout (every layer together)" in vision.attention_sentence(look, look)
