"""Sessions share one model (st.cache_resource) and run in threads: captures must not mix."""

import threading

import torch

from viz.hooks import recording
from viz.scratch.model import Transformer, TransformerConfig, capture


def test_concurrent_captures_on_a_shared_model_each_see_their_own_tensors():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(src_vocab=12, tgt_vocab=12)).eval()
    inputs = {name: (torch.randint(3, 12, (1, n)), torch.randint(3, 12, (1, n - 1)))
              for name, n in (("a", 5), ("b", 9))}
    with torch.no_grad():
        expected = {}
        for name, (src, tgt) in inputs.items():
            with capture(model) as store:
                model(src, tgt)
            expected[name] = store["encoder.0.self_attn.hook_weights"].clone()

    problems = []
    barrier = threading.Barrier(2)

    def session(name):
        src, tgt = inputs[name]
        barrier.wait()
        for _ in range(40):
            with torch.no_grad(), capture(model) as store:
                model(src, tgt)
            got = store["encoder.0.self_attn.hook_weights"]
            # The two inputs differ in length, so another session's tensor has another shape. Values
            # are compared to rounding only: on a loaded machine torch may split a reduction
            # differently from one pass to the next (seen in CI: same shape, last bits differ).
            if got.shape != expected[name].shape:
                problems.append(f"session {name} recorded another session's tensor {tuple(got.shape)}")
            elif not torch.allclose(got, expected[name], rtol=1e-5, atol=1e-6):
                diff = (got - expected[name]).abs().max().item()
                problems.append(f"session {name} recorded other values (largest difference {diff:.2e})")

    threads = [threading.Thread(target=session, args=(n,)) for n in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not problems, problems[:3]


def test_recording_ignores_other_threads_and_cleans_up():
    lin = torch.nn.Linear(2, 2)
    with recording([("lin", lin)]) as store:
        t = threading.Thread(target=lambda: lin(torch.ones(1, 2)))
        t.start()
        t.join()
        assert store == {}  # another thread's pass is not ours
        lin(torch.zeros(1, 2))
        assert set(store) == {"lin"}
    assert not lin._forward_hooks


def test_capture_stops_recording_when_its_block_ends_even_on_an_error_and_blocks_nest():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(src_vocab=12, tgt_vocab=12)).eval()
    other = Transformer(TransformerConfig(src_vocab=12, tgt_vocab=12)).eval()
    src, tgt = torch.randint(3, 12, (1, 5)), torch.randint(3, 12, (1, 4))
    with torch.no_grad():
        try:
            with capture(model) as failed:
                raise RuntimeError("a forward pass that fails")
        except RuntimeError:
            pass
        with capture(model) as outer:
            with capture(other) as inner:
                other(src, tgt)  # only the inner block watches `other`
            assert outer == {} and len(inner) > 0
            model(src, tgt)
        assert set(inner) == set(outer)  # the same architecture: the same paths
        before = {k: v.clone() for k, v in outer.items()}
        model(torch.randint(3, 12, (1, 7)), tgt)  # after the block: nothing is recorded
    assert failed == {}
    assert all(torch.equal(outer[k], before[k]) for k in before)


def test_two_open_blocks_on_one_model_both_record_and_the_outer_outlives_the_inner():
    model = Transformer(TransformerConfig(src_vocab=12, tgt_vocab=12)).eval()
    src, tgt = torch.randint(3, 12, (1, 5)), torch.randint(3, 12, (1, 4))
    with torch.no_grad(), capture(model) as outer:
        with capture(model) as inner:
            model(src, tgt)
        assert set(inner) == set(outer) and len(outer) > 0
        inner.clear()
        model(src, tgt)  # the inner block has ended; the outer is still open
        assert inner == {} and len(outer) > 0
