import numpy as np
import pytest

from viz.scratch.permutation import (
    PERMUTATIONS,
    make_permutation,
    permutation_demo,
    without_positions,
)
from viz.scratch.run import InputError
from viz.scratch.tasks import TASKS
from viz.scratch.train import checkpoint_path, load_checkpoint


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(checkpoint_path("reverse"))[0]


@pytest.mark.parametrize("kind", PERMUTATIONS)
@pytest.mark.parametrize("text", ["attention", "abcdefgh", "zz"])
def test_without_positions_the_encoder_is_permutation_equivariant(model, kind, text):
    demo = permutation_demo(model, TASKS["reverse"], text, kind, seed=5)
    assert sorted(demo.perm) == list(range(len(text)))
    assert demo.permuted_tokens == tuple(text[i] for i in demo.perm)
    bare = demo.without_positions
    assert bare.positional == "none"
    assert bare.output_error < 1e-4 and bare.weights_error < 1e-4
    np.testing.assert_allclose(bare.weights_restored, bare.weights, atol=1e-5)


@pytest.mark.parametrize("kind", PERMUTATIONS)
def test_with_positions_it_is_not(model, kind):
    demo = permutation_demo(model, TASKS["reverse"], "attention", kind, seed=5)
    assert demo.with_positions.positional == "sinusoidal"
    assert demo.with_positions.output_error > 0.1 and demo.with_positions.weights_error > 0.05
    assert not np.allclose(demo.with_positions.weights_restored, demo.with_positions.weights, atol=1e-3)
    assert demo.with_positions.weights.shape == (2, 4, 9, 9)  # (L, H, T, T)


def test_without_positions_keeps_every_weight(model):
    bare = without_positions(model)
    assert bare.cfg.positional == "none" and model.cfg.positional == "sinusoidal"
    for (name, a), (_, b) in zip(model.state_dict().items(), bare.state_dict().items(), strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), name
    assert bare.src_embed.position_table() is None


def test_permutations_and_bad_input():
    assert make_permutation("reverse", 4).tolist() == [3, 2, 1, 0]
    assert make_permutation("rotate by one", 4).tolist() == [1, 2, 3, 0]
    assert make_permutation("shuffle", 6, 1).tolist() == make_permutation("shuffle", 6, 1).tolist()
    with pytest.raises(ValueError):
        make_permutation("sideways", 3)
    with pytest.raises(InputError):
        permutation_demo(load_checkpoint(checkpoint_path("reverse"))[0], TASKS["reverse"], "", "reverse")


def test_learned_position_checkpoint_is_small_learned_and_accurate():
    from viz.scratch.train import evaluate, main

    path = checkpoint_path("reverse", "learned")
    assert path.name == "reverse_learned.pt" and path.stat().st_size < 2e6
    model, metrics = load_checkpoint(path)
    assert model.cfg.positional == "learned" and metrics["positional"] == "learned"
    assert model.src_embed.pos.weight.shape == (17, 64)
    acc = evaluate(model, TASKS["reverse"], n=1000)
    assert acc == metrics["held_out_exact_match"] and acc >= 0.99
    assert checkpoint_path("reverse") == checkpoint_path("reverse", "sinusoidal")
    with pytest.raises(SystemExit):
        main(["--task", "reverse", "--positional", "rotary"])  # not a choice: argparse refuses


def test_without_positions_drops_a_learned_table():
    learned = load_checkpoint(checkpoint_path("reverse", "learned"))[0]
    bare = without_positions(learned)
    assert bare.cfg.positional == "none" and not hasattr(bare.src_embed, "pos")
    demo = permutation_demo(learned, TASKS["reverse"], "learned", "reverse")
    assert demo.without_positions.output_error < 1e-4 < 0.1 < demo.with_positions.output_error
