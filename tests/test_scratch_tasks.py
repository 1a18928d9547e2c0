import numpy as np
import pytest
import torch

from viz.scratch.run import InputError, prepare_input, run, run_many
from viz.scratch.tasks import BOS, EOS, TASKS, is_held_out, number_to_words
from viz.scratch.train import TrainConfig, checkpoint_path, evaluate, load_checkpoint, train


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (15, "fifteen"), (40, "forty"), (412, "four hundred twelve"),
    (1000, "one thousand"), (100_010, "one hundred thousand ten"),
    (999_999, "nine hundred ninety nine thousand nine hundred ninety nine"),
])
def test_number_to_words(n, words):
    assert " ".join(number_to_words(n)) == words


def test_held_out_split_is_never_sampled_for_training():
    rng = np.random.default_rng(0)
    for task in TASKS.values():
        assert not any(is_held_out(task.sample(rng)) for _ in range(300))
        assert all(is_held_out(task.sample(rng, held_out=True)) for _ in range(50))


def test_prepare_input_messages():
    rev = TASKS["reverse"]
    with pytest.raises(InputError, match="Type something"):
        prepare_input(rev, "   ")
    with pytest.raises(InputError, match=r"'!', '7'"):
        prepare_input(rev, "hi!7")
    assert prepare_input(rev, "Hello").text == "hello"
    long = prepare_input(rev, "a" * 40)
    assert long.text == "a" * 16 and "truncated" in long.notes[0]
    assert prepare_input(TASKS["num2words"], "007").text == "7"


@pytest.mark.parametrize("name, minimum", [("reverse", 0.99), ("sort", 0.99), ("num2words", 0.95)])
def test_bundled_checkpoint_accuracy(name, minimum):
    path = checkpoint_path(name)
    assert path.stat().st_size < 2_000_000
    model, metrics = load_checkpoint(path)
    acc = evaluate(model, TASKS[name], n=1000)
    assert acc >= minimum
    assert acc == pytest.approx(metrics["held_out_exact_match"])  # the README's number is this one


def test_run_returns_consistent_traces():
    model, _ = load_checkpoint(checkpoint_path("reverse"))
    r = run(model, TASKS["reverse"], "attention")
    assert r.output_text == "noitnetta" and r.correct
    Ts, Tt = 9, 10  # 9 letters; 9 written letters + </s>
    assert r.encoder.weights.shape == (2, 4, Ts, Ts)
    assert r.cross.weights.shape == (2, 4, Tt, Ts)
    assert r.decoder_self.weights.shape == (2, 4, Tt, Tt)
    assert (r.decoder_self.weights[..., ~r.decoder_self.mask] == 0).all()
    np.testing.assert_allclose(r.cross.weights.sum(-1), 1, atol=1e-5)
    # Reversal: the last layer's cross-attention (mean over heads) is an anti-diagonal band:
    # the position writing letter i reads the mirrored letter Ts-1-i and its neighbours.
    w = r.cross.weights[-1].mean(0)[:Ts]
    mirror = np.arange(Ts)[::-1]
    band = np.mean([w[i, max(0, mirror[i] - 1): mirror[i] + 2].sum() for i in range(Ts)])
    assert band >= 0.8
    assert r.embeddings.shape == (Ts, 64)


def test_training_is_seeded_and_learns():
    task = TASKS["reverse"]
    a = train(task, TrainConfig(steps=20, batch_size=16, seed=3))
    b = train(task, TrainConfig(steps=20, batch_size=16, seed=3))
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert a.losses == b.losses
    assert np.mean(a.losses[-5:]) < np.mean(a.losses[:5])


def _greedy_alone(model, task, text):
    """Greedy decoding of one input written out here, one decoder pass per token, no batch."""
    src = torch.tensor([task.encode_src(text)])
    memory, out = model.encode(src), [BOS]
    with torch.no_grad():
        for _ in range(task.max_tgt_len + 1):
            nxt = int(model.decode(torch.tensor([out]), memory, src)[0, -1].argmax())
            out.append(nxt)
            if nxt == EOS:
                break
    return out[1:]


@pytest.mark.parametrize("name", ["reverse", "sort", "num2words"])
def test_run_many_equals_each_input_alone(name):
    """Students who press Enter together share one batched decoding: inputs of different lengths,
    padded, get exactly the output and the attention each gets alone."""
    model, _ = load_checkpoint(checkpoint_path(name))
    task = TASKS[name]
    rng = np.random.default_rng(1)
    texts = [task.example, *(task.sample(rng) for _ in range(9))]
    texts += ["x", "Hello" if name != "num2words" else "007"]  # 1 symbol; changed case or leading zeros
    texts = [t for t in texts if not _unusable(task, t)]
    assert len({len(t) for t in texts}) >= 3  # really different lengths, so padding happens
    together = run_many(model, task, texts)
    for text, r in zip(texts, together, strict=True):
        alone = run(model, task, text)
        tokens = _greedy_alone(model, task, prepare_input(task, text).text)
        assert r.output_tokens == alone.output_tokens == tuple(task.decode_tgt(tokens)), text
        assert r.notes == alone.notes
        for part in ("encoder", "decoder_self", "cross"):
            a, b = getattr(r, part), getattr(alone, part)
            assert a.weights.shape == b.weights.shape
            np.testing.assert_allclose(a.weights, b.weights, atol=1e-6)
            np.testing.assert_allclose(a.values, b.values, atol=1e-6)


def _unusable(task, text):
    try:
        prepare_input(task, text)
    except InputError:
        return True
    return False


def test_run_many_refuses_a_bad_input_with_its_sentence():
    model, _ = load_checkpoint(checkpoint_path("reverse"))
    with pytest.raises(InputError, match="no token for '!'"):
        run_many(model, TASKS["reverse"], ["hello", "hi!"])
