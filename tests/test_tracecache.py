"""viz.tracecache: the byte-bounded LRU, single flight, the micro-batcher, and batched text traces
equal to unbatched ones (tiny random models, threads; no Streamlit)."""

import threading
import time

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig

from tests.test_pretrained_text import TINY
from viz.pretrained import default_model_dir, load_text_model, trace_text
from viz.pretrained import text as text_mod
from viz.pretrained.text import TextInputError, trace_texts
from viz.tracecache import MicroBatcher, TraceCache, batching_enabled, freeze, nbytes_of


def arr(kb: int) -> np.ndarray:
    return np.zeros(kb * 256, dtype=np.float32)  # kb KiB


def test_lru_is_bounded_by_bytes_and_touching_keeps_a_value():
    c = TraceCache(max_bytes=10 * 1024)
    for key in "abc":
        c.get_or_compute(key, lambda: arr(3))
    assert len(c) == 3 and c.bytes == 9 * 1024
    c.get("a")  # a is now the most recent: b goes first
    c.get_or_compute("d", lambda: arr(3))
    assert "b" not in c and {"a", "c", "d"} <= {k for k in "abcd" if k in c}
    assert c.bytes <= c.max_bytes and c.evictions == 1
    big = c.get_or_compute("big", lambda: arr(11))  # larger than the budget: returned, not kept
    assert big.nbytes == 11 * 1024 and "big" not in c and "a" in c
    c.get_or_compute("e", lambda: arr(7))  # room for 7 KiB: two older ones go
    assert c.bytes <= c.max_bytes and "e" in c


def test_many_small_traces_fit_where_entry_count_did_not():
    c = TraceCache(max_bytes=2 * 2**20)
    for i in range(30):  # a class of 30, each with its own small trace
        c.get_or_compute(("student", i), lambda: arr(40))
    assert len(c) == 30 and all(("student", i) in c for i in range(30))


def test_concurrent_identical_requests_compute_once():
    c = TraceCache(max_bytes=2**20)
    calls, start = [], threading.Barrier(8)
    results = [None] * 8

    def compute():
        calls.append(1)
        time.sleep(0.2)  # long enough for every thread to arrive while it runs
        return arr(1)

    def worker(i):
        start.wait()
        results[i] = c.get_or_compute("same", compute)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(r is results[0] for r in results) and not results[0].flags.writeable


def test_an_error_reaches_every_waiter_and_is_not_cached():
    c = TraceCache(max_bytes=2**20)
    errors, start = [], threading.Barrier(4)

    def compute():
        time.sleep(0.1)
        raise ValueError("bad text")

    def worker():
        start.wait()
        try:
            c.get_or_compute("k", compute)
        except ValueError as err:
            errors.append(str(err))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == ["bad text"] * 4 and "k" not in c
    assert c.get_or_compute("k", lambda: arr(1)).nbytes == 1024  # a later request computes again


def test_budget_from_the_environment(monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_TRACE_CACHE_MB", "3")
    assert TraceCache.from_env().max_bytes == 3 * 2**20
    monkeypatch.delenv("ATTENTION_LENS_TRACE_CACHE_MB")
    assert TraceCache.from_env().max_bytes == 2048 * 2**20
    monkeypatch.setenv("ATTENTION_LENS_TRACE_CACHE_MB", "lots")
    with pytest.raises(ValueError, match="ATTENTION_LENS_TRACE_CACHE_MB must be a number"):
        TraceCache.from_env()


def test_batching_is_on_unless_switched_off(monkeypatch):
    monkeypatch.delenv("ATTENTION_LENS_BATCH", raising=False)
    assert batching_enabled("cuda:0") and batching_enabled("cpu")
    monkeypatch.setenv("ATTENTION_LENS_BATCH", "off")
    assert not batching_enabled("cpu") and not batching_enabled("cuda")


def run_together(batcher, items):
    """Submit every item from its own thread at once; return results (or exceptions) in order."""
    out, start = [None] * len(items), threading.Barrier(len(items))

    def worker(i):
        start.wait()
        try:
            out[i] = batcher.submit(items[i])
        except Exception as err:  # noqa: BLE001 - the test looks at it
            out[i] = err

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_micro_batcher_batches_requests_that_arrive_together():
    seen = []

    def run_batch(items):
        seen.append(list(items))
        return [x * 10 for x in items]

    b = MicroBatcher(run_batch, window_s=0.2, max_batch=4)
    out = run_together(b, list(range(6)))
    assert out == [x * 10 for x in range(6)]  # each caller got its own result
    assert sorted(x for batch in seen for x in batch) == list(range(6))  # each item ran once
    assert max(b.batches) > 1 and all(n <= 4 for n in b.batches) and len(seen) < 6


def test_requests_arriving_during_a_batch_join_the_next_one():
    started, release = threading.Event(), threading.Event()
    seen = []

    def run_batch(items):
        seen.append(list(items))
        if len(seen) == 1:
            started.set()
            release.wait(5)
        return list(items)

    b = MicroBatcher(run_batch, window_s=0.0)
    first = threading.Thread(target=b.submit, args=("first",))
    first.start()
    started.wait(5)
    out = [None] * 4
    later = [threading.Thread(target=lambda i=i: out.__setitem__(i, b.submit(i))) for i in range(4)]
    for t in later:
        t.start()
    time.sleep(0.2)  # all four wait behind the running batch
    release.set()
    for t in [first, *later]:
        t.join()
    assert out == [0, 1, 2, 3] and seen[0] == ["first"]
    assert sorted(x for batch in seen[1:] for x in batch) == [0, 1, 2, 3] and len(seen) == 2


def test_one_bad_item_fails_only_its_caller():
    def run_batch(items):
        if "bad" in items:
            raise ValueError("bad item")
        return [s.upper() for s in items]

    out = run_together(MicroBatcher(run_batch, window_s=0.2), ["a", "bad", "c"])
    assert out[0] == "A" and out[2] == "C" and isinstance(out[1], ValueError)


def test_disabled_batcher_runs_each_alone():
    b = MicroBatcher(lambda items: [len(items)] * len(items), enabled=False)
    assert run_together(b, ["x", "y", "z"]) == [1, 1, 1] and list(b.batches) == [1, 1, 1]


def test_nbytes_and_freeze_of_nested_values():
    v = {"a": arr(1), "b": [arr(2), "xx"]}
    assert nbytes_of(v) >= 3 * 1024
    freeze(v)
    assert not v["a"].flags.writeable and not v["b"][0].flags.writeable


# --- batched text traces, tiny random models ------------------------------------------------------

ITEMS = [("The cat sat.", None), ("A much longer sentence, with more words in it than the first.", None),
         ("Short one", "and its pair"), ("Hi", None)]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Tiny random BERT, RoBERTa, DistilBERT (traced attention), a causal BERT (eager: the traced
    weights assume an encoder that attends to every token, and the probe sees they differ), and a
    BERT kept on eager by a probe forced to refuse (the output_attentions path)."""
    tok = AutoTokenizer.from_pretrained(default_model_dir())
    models = {}
    for fam in ("bert", "roberta", "distilbert", "bert-causal", "bert-eager"):
        cls, config = TINY[fam.split("-")[0]]
        if fam == "bert-causal":
            config = BertConfig(**{**config.to_dict(), "is_decoder": True})
        torch.manual_seed(0)
        path = tmp_path_factory.mktemp(fam)
        cls(config).save_pretrained(path)
        tok.save_pretrained(path)
        with pytest.MonkeyPatch.context() as mp:
            if fam == "bert-eager":
                mp.setitem(text_mod.PROBE_TOLERANCE, torch.float32, -1.0)
            models[fam] = load_text_model(str(path))
    assert models["bert"].traced_attention
    assert not models["bert-causal"].traced_attention and not models["bert-eager"].traced_attention
    return models


@pytest.mark.parametrize("fam", ["bert", "roberta", "distilbert", "bert-causal", "bert-eager"])
def test_batched_traces_equal_unbatched_ones(tiny_models, fam):
    tm = tiny_models[fam]
    batched = trace_texts(tm, ITEMS)
    lengths = {len(t.query_tokens) for t in batched}
    assert len(lengths) == len(ITEMS)  # different lengths: padding was needed
    assert len(text_mod._length_groups([len(t.query_tokens) for t in batched])[0]) >= 3
    for (text, pair), got in zip(ITEMS, batched, strict=True):
        alone = trace_text(tm, text, pair)
        assert got.query_tokens == alone.query_tokens and got.meta == alone.meta
        for name in ("weights", "queries", "keys", "values"):
            np.testing.assert_allclose(getattr(got, name), getattr(alone, name), atol=1e-5, err_msg=name)
        np.testing.assert_allclose(got.weights.sum(-1), 1, atol=1e-5)  # no weight leaked to padding
        np.testing.assert_allclose(got.head_scores(1, 1), alone.head_scores(1, 1), atol=1e-5)


def test_one_batch_is_one_forward_pass_and_a_bad_input_is_isolated(tiny_models):
    tm = tiny_models["bert"]
    before = text_mod.forward_passes()
    similar = [ITEMS[0], ITEMS[2], ITEMS[3]]  # 3 to 8 tokens: one padded batch
    assert len({len(t.query_tokens) for t in trace_texts(tm, similar)}) == 3
    assert text_mod.forward_passes() == before + 1
    with pytest.raises(TextInputError):
        trace_texts(tm, [("fine", None), ("   ", None)])
    out = run_together(MicroBatcher(lambda items: trace_texts(tm, items), window_s=0.2),
                       [("fine", None), ("   ", None), ("also fine", None)])
    assert isinstance(out[1], TextInputError)
    assert out[0].query_tokens == trace_text(tm, "fine").query_tokens


def test_identical_requests_from_many_sessions_run_one_forward_pass(tiny_models):
    tm = tiny_models["bert"]
    cache = TraceCache(max_bytes=2**26)
    batcher = MicroBatcher(lambda items: trace_texts(tm, items), enabled=False)
    before = text_mod.forward_passes()

    def session(text):
        return cache.get_or_compute(("text", text), lambda: batcher.submit((text, None)))

    class Sessions:  # 12 sessions: 8 ask for one text, 4 for another, all at once
        def submit(self, text):
            return session(text)

    out = run_together(Sessions(), ["same text"] * 8 + ["other text"] * 4)
    assert text_mod.forward_passes() - before == 2
    assert all(t is out[0] for t in out[:8]) and all(t is out[8] for t in out[8:])
    assert not out[0].weights.flags.writeable and not out[0].queries.flags.writeable


def test_inputs_of_very_different_lengths_are_not_padded_together(tiny_models):
    tm = tiny_models["bert"]
    long = "word " * 100
    before = text_mod.forward_passes()
    traces = trace_texts(tm, [("short", None), (long, None), ("also short", None)])
    assert text_mod.forward_passes() - before == 2  # the two short ones together, the long one alone
    assert [len(t.query_tokens) for t in traces] == [3, 102, 4]
    assert text_mod._length_groups([512, 512, 512, 15, 14]) == [[4, 3], [0, 1], [2]]


@pytest.mark.gpu
def test_batched_traces_equal_unbatched_ones_on_cuda():
    tm = load_text_model(None, "cuda")
    items = [("The cat sat on the mat.", None), ("A longer sentence than the first, with a pair.", "Yes."), ("Hi", None)]
    for (text, pair), got in zip(items, trace_texts(tm, items), strict=True):
        alone = trace_text(tm, text, pair)
        np.testing.assert_allclose(got.weights, alone.weights, atol=1e-4)
        np.testing.assert_allclose(got.queries, alone.queries, atol=1e-4)
