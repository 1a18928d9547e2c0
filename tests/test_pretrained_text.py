"""viz.pretrained: loading (bundled, tiny random BERT/RoBERTa/ELECTRA/DistilBERT, refusals) and trace_text."""

import socket

import numpy as np
import pytest
import torch
from transformers import (
    AutoModel,
    AutoTokenizer,
    BertConfig,
    BertModel,
    DistilBertConfig,
    DistilBertModel,
    ElectraConfig,
    ElectraModel,
    GPT2Config,
    RobertaConfig,
    RobertaModel,
)

from viz.pretrained import (
    ModelLoadError,
    TextInputError,
    default_model_dir,
    load_text_model,
    trace_text,
)
from viz.pretrained import text as text_module
from viz.pretrained.text import TRACE_ATTENTION

SENTENCE = "The quick brown fox jumps over the lazy dog."
TINY = {
    "bert": (BertModel, BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=64, max_position_embeddings=128)),
    "roberta": (RobertaModel, RobertaConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=3,
                                            num_attention_heads=2, intermediate_size=64,
                                            max_position_embeddings=130, pad_token_id=1, type_vocab_size=2)),
    "electra": (ElectraModel, ElectraConfig(vocab_size=30522, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                            num_attention_heads=4, intermediate_size=64, max_position_embeddings=128)),
    "distilbert": (DistilBertModel, DistilBertConfig(vocab_size=30522, dim=32, n_layers=2, n_heads=4,
                                                     hidden_dim=64, max_position_embeddings=128)),
}


@pytest.fixture(scope="module")
def minilm():
    return load_text_model()


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny_dir(request, tmp_path_factory):
    """A tiny random model of one family, saved as safetensors with MiniLM's tokenizer."""
    cls, config = TINY[request.param]
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp(request.param)
    cls(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(path)
    assert list(path.glob("*.safetensors")) and not list(path.glob("*.bin"))
    return path


def reference_attentions(path, text, pair=None):
    """transformers' own output_attentions, loaded independently of viz."""
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    enc = tok(text, pair, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return tok.convert_ids_to_tokens(enc["input_ids"][0]), np.stack([a[0].numpy() for a in out.attentions])


def check_trace_matches_transformers(trace, path, text, pair=None):
    tokens, ref = reference_attentions(path, text, pair)
    assert list(trace.query_tokens) == tokens == list(trace.key_tokens)
    assert trace.weights.shape == ref.shape
    np.testing.assert_allclose(trace.weights, ref, atol=1e-5)


def test_bundled_model_weights_equal_transformers_output_attentions(minilm):
    trace = trace_text(minilm, SENTENCE)
    assert trace.weights.shape[:2] == (6, 12)
    check_trace_matches_transformers(trace, default_model_dir(), SENTENCE)


def test_bundled_model_at_512_tokens_equals_transformers_output_attentions(minilm):
    text = "word " * 510  # 510 + [CLS] + [SEP]: the longest input, where rounding has most to add up
    trace = trace_text(minilm, text)
    assert trace.weights.shape[-1] == 512
    check_trace_matches_transformers(trace, default_model_dir(), text)


def test_weights_come_from_the_traced_attention_where_the_probe_agrees(minilm, tiny_dir):
    for tm in (minilm, load_text_model(str(tiny_dir))):
        assert tm.traced_attention
        assert tm.model.config._attn_implementation == TRACE_ATTENTION
        assert trace_text(tm, SENTENCE).meta["weights_from"].startswith("softmax(q·kᵀ·scaling) of the forward pass's own Q and K")


def test_traced_attention_is_sdpa_in_threads_that_do_not_trace(minilm):
    """The model is shared: a plain forward elsewhere gets SDPA's output and leaves no weights behind."""
    enc = minilm.tokenizer(SENTENCE, return_tensors="pt")
    ref = AutoModel.from_pretrained(default_model_dir(), attn_implementation="sdpa").eval()
    with torch.no_grad():
        np.testing.assert_allclose(minilm.model(**enc).last_hidden_state.numpy(),
                                   ref(**enc).last_hidden_state.numpy(), atol=1e-5)


def test_a_causal_bert_is_traced_with_its_mask(tmp_path):
    """A decoder-configured BERT masks future tokens: the traced attention applies the model's mask."""
    cls, config = TINY["bert"]
    torch.manual_seed(0)
    cls(BertConfig(**{**config.to_dict(), "is_decoder": True})).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(tmp_path)
    trace = trace_text(load_text_model(str(tmp_path)), SENTENCE)
    check_trace_matches_transformers(trace, tmp_path, SENTENCE)
    assert np.triu(trace.weights, k=1).max() == 0


def test_a_model_the_probe_refuses_stays_eager_and_exact(tmp_path, monkeypatch):
    """Where the traced weights differ from eager's (forced here with a negative tolerance), eager stays."""
    monkeypatch.setitem(text_module.PROBE_TOLERANCE, torch.float32, -1.0)
    cls, config = TINY["bert"]
    torch.manual_seed(0)
    cls(config).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(tmp_path)
    tm = load_text_model(str(tmp_path))
    assert not tm.traced_attention and tm.model.config._attn_implementation == "eager"
    trace = trace_text(tm, SENTENCE)
    assert trace.meta["weights_from"] == "the model's eager output_attentions"
    check_trace_matches_transformers(trace, tmp_path, SENTENCE)


def test_non_finite_attention_is_refused_on_the_traced_path(tmp_path):
    """The traced path keeps no weights; the trace checks from Q and K that every weight it would
    compute is finite. A NaN in the last layer's query projection reaches the weights: refused
    with a sentence, at once. A NaN in its value projection reaches the output but not the
    weights: the trace is built, and its weights, when computed, are finite."""
    cls, config = TINY["bert"]
    torch.manual_seed(0)
    cls(config).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(tmp_path)
    tm = load_text_model(str(tmp_path))
    assert tm.traced_attention
    assert not trace_text(tm, SENTENCE).weights_computed
    last = tm.n_layers - 1
    for name in ("query", "value"):
        weight = tm.model.get_submodule(f"encoder.layer.{last}.attention.self.{name}").weight
        saved = weight.detach().clone()
        with torch.no_grad():
            weight[0, 0] = float("nan")
        try:
            if name == "query":
                with pytest.raises(TextInputError, match="not usable"):
                    trace_text(tm, SENTENCE)
            else:
                trace = trace_text(tm, SENTENCE)
                assert np.isnan(trace.values).any() and np.isfinite(trace.weights).all()
        finally:
            with torch.no_grad():
                weight.copy_(saved)


def test_traced_weights_are_computed_when_read(minilm):
    """A traced trace holds Q, K and V; one head is computed on its own, all heads on the first
    read of .weights (then kept, read-only), and both equal transformers' eager weights."""
    trace = trace_text(minilm, SENTENCE)
    assert not trace.weights_computed and trace.meta["weights_from"].startswith("softmax")
    assert trace.weights_fn is text_module.softmax_weights_torch
    L, H, T = trace.n_layers, trace.n_heads, len(trace.query_tokens)
    assert trace.nbytes >= 4 * L * H * T * T  # counted before they exist: a byte-bounded cache stays bounded
    head = trace.head(L - 1, H - 1)
    assert not trace.weights_computed  # one head did not compute them all
    _, eager = reference_attentions(default_model_dir(), SENTENCE)
    np.testing.assert_allclose(head, eager[L - 1, H - 1], atol=1e-5)
    weights = trace.weights
    assert trace.weights_computed and trace.weights is weights and not weights.flags.writeable
    np.testing.assert_allclose(weights, eager, atol=1e-5)
    np.testing.assert_array_equal(trace.head(L - 1, H - 1), head)


def test_tiny_models_of_each_family_match_transformers(tiny_dir):
    tm = load_text_model(str(tiny_dir))
    trace = trace_text(tm, SENTENCE, "A second sentence.")
    check_trace_matches_transformers(trace, tiny_dir, SENTENCE, "A second sentence.")
    assert trace.queries.shape[:2] == trace.weights.shape[:2]


def test_softmax_of_captured_q_k_reproduces_the_eager_models_own_weights(minilm, tiny_dir):
    """Q and K from the hooks, against transformers' eager output_attentions (not against the
    trace's own weights, which the forward pass computes from these same Q and K)."""
    for tm, path in ((minilm, default_model_dir()), (load_text_model(str(tiny_dir)), tiny_dir)):
        t = trace_text(tm, SENTENCE)
        q, k = torch.from_numpy(t.queries), torch.from_numpy(t.keys)
        scores = (q @ k.transpose(-2, -1)) / np.sqrt(t.d_head)  # (L, H, T, T), from the hooks alone
        _, eager = reference_attentions(path, SENTENCE)
        np.testing.assert_allclose(torch.softmax(scores, -1).numpy(), eager, atol=1e-5)
        assert t.scores is None  # not kept: recomputed per head on demand
        for layer, head in ((0, 0), (t.n_layers - 1, t.n_heads - 1)):
            np.testing.assert_allclose(t.head_scores(layer, head), scores[layer, head].numpy(), atol=1e-4)
            np.testing.assert_allclose(t.row_scores(layer, head, 2), scores[layer, head, 2].numpy(), atol=1e-4)


def test_neuron_view_score_is_the_models_own_score_for_a_real_query_and_key(minilm):
    """score_terms on a real (query, key) pair: its softmax over the row is the eager model's row,
    and score differences are the log-ratios of the model's own weights (softmax keeps nothing else)."""
    from viz.attention import score_terms

    t = trace_text(minilm, SENTENCE)
    _, eager = reference_attentions(default_model_dir(), SENTENCE)
    T = len(t.query_tokens)
    for layer, head, qi in ((0, 2, 3), (3, 7, 5), (5, 11, T - 1)):
        row = np.array([score_terms(t.queries[layer, head, qi], t.keys[layer, head, j], t.meta["scaling"])["score"]
                        for j in range(T)])
        soft = np.exp(row - row.max())
        np.testing.assert_allclose(soft / soft.sum(), eager[layer, head, qi], atol=1e-5)
        own = np.log(eager[layer, head, qi].astype(np.float64))
        np.testing.assert_allclose(row - row[0], own - own[0], atol=1e-3)


def test_values_are_the_value_projection_per_head(minilm):
    t = trace_text(minilm, SENTENCE)
    layer0 = minilm.model.encoder.layer[0]
    with torch.no_grad():
        h0 = minilm.model.embeddings(**{k: v for k, v in minilm.tokenizer(SENTENCE, return_tensors="pt").items()
                                       if k in ("input_ids", "token_type_ids")})
        v = layer0.attention.self.value(h0)[0]  # (T, H*D)
    T, H, D = len(t.query_tokens), t.n_heads, t.d_head
    np.testing.assert_allclose(t.values[0], v.view(T, H, D).transpose(0, 1).numpy(), atol=1e-5)


def test_hooks_are_removed_after_tracing(minilm):
    trace_text(minilm, SENTENCE)
    projections = [m for name, m in minilm.model.named_modules() if name.endswith((".query", ".key", ".value"))]
    assert len(projections) == 3 * 6
    assert all(not m._forward_hooks for m in projections)  # transformers' own hooks sit elsewhere


def test_tokens_line_up_with_the_weights(minilm):
    t = trace_text(minilm, "Hello, world! Naïve café.", "Second part")
    expected = minilm.tokenizer.convert_ids_to_tokens(minilm.tokenizer("Hello, world! Naïve café.", "Second part")["input_ids"])
    assert list(t.query_tokens) == expected
    assert t.weights.shape[-2:] == (len(expected), len(expected))
    np.testing.assert_allclose(t.weights.sum(-1), 1.0, atol=1e-5)
    assert t.meta["cls_positions"] == [0]
    assert [t.query_tokens[i] for i in t.meta["sep_positions"]] == ["[SEP]", "[SEP]"]
    assert t.query_tokens[t.meta["pair_start"]] == "second"
    assert t.meta["segment_ids"][t.meta["pair_start"] - 1] == 0 and t.meta["segment_ids"][t.meta["pair_start"]] == 1


def test_600_tokens_are_truncated_to_512_with_a_message(minilm):
    t = trace_text(minilm, "word " * 598)  # 598 + [CLS] + [SEP] = 600 tokens
    assert len(t.query_tokens) == 512 and t.weights.shape[-1] == 512
    assert t.query_tokens[-1] == "[SEP]"
    assert t.meta["truncated"]
    assert "600 tokens" in t.meta["notes"][0] and "512" in t.meta["notes"][0]
    short = trace_text(minilm, "word " * 10)
    assert not short.meta["truncated"] and not short.meta["notes"]


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u200b\u200c\u200d", "\x00\x01\x07"])
def test_empty_or_invisible_text_is_refused_with_a_sentence(minilm, text):
    with pytest.raises(TextInputError) as err:
        trace_text(minilm, text)
    assert err.value.args[0].endswith(".") and ("empty" in str(err.value) or "kept nothing" in str(err.value))


def test_emoji_and_right_to_left_text_trace_with_a_note(minilm):
    t = trace_text(minilm, "I love 🍕 and שלום עולם and مرحبا")
    assert "[UNK]" in t.query_tokens
    assert any("vocabulary" in n for n in t.meta["notes"])
    assert np.isfinite(t.weights).all()


def test_bfloat16_option_runs_close_to_float32(minilm):
    half = load_text_model(None, dtype="bfloat16")
    t16, t32 = trace_text(half, SENTENCE), trace_text(minilm, SENTENCE)
    assert half.model.dtype == torch.bfloat16 and t16.meta["dtype"] == "bfloat16"
    assert t16.weights.dtype == np.float32
    assert np.abs(t16.weights - t32.weights).max() < 0.1


def test_no_network_is_used(minilm, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    t = trace_text(load_text_model(), SENTENCE)
    assert t.weights.shape[:2] == (6, 12)


def test_pickle_weights_are_refused(tmp_path):
    cls, config = TINY["bert"]
    config.save_pretrained(tmp_path)
    torch.save(cls(config).state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="pickle") as err:
        load_text_model(str(tmp_path))
    assert "safetensors" in str(err.value)


def test_unknown_hub_id_offline_gives_a_sentence():
    with pytest.raises(ModelLoadError, match="Could not load") as err:
        load_text_model("no-such-user/no-such-model-xyz")
    assert "local folder" in str(err.value)


def test_a_family_without_a_known_attention_table_is_refused(tmp_path):
    GPT2Config(n_layer=1, n_head=2, n_embd=8).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="'gpt2' model"):
        load_text_model(str(tmp_path))


def test_a_missing_folder_is_explained(tmp_path):
    with pytest.raises(ModelLoadError, match="not a folder"):
        load_text_model(str(tmp_path / "missing"))


@pytest.mark.gpu
def test_cuda_trace_matches_cpu():
    cpu = trace_text(load_text_model(), SENTENCE)
    gpu = trace_text(load_text_model(None, device="cuda"), SENTENCE)
    assert gpu.meta["device"].startswith("cuda")
    assert gpu.weights_fn.keywords == {"device": "cuda"}  # left-out weights are computed on the GPU
    np.testing.assert_allclose(gpu.head(2, 3), cpu.head(2, 3), atol=1e-5)
    np.testing.assert_allclose(gpu.weights, cpu.weights, atol=1e-4)
    half = trace_text(load_text_model(None, device="cuda", dtype="float16"), SENTENCE)
    assert np.abs(half.weights - cpu.weights).max() < 0.05


def test_torch_weights_of_a_traced_trace_equal_numpys():
    """The traced path computes left-out weights with torch (softmax_weights_torch); the contract is
    viz.trace.softmax_weights's, masks and rows with nothing to attend included."""
    from viz.trace import softmax_weights

    rng = np.random.default_rng(5)
    q, k = rng.normal(size=(2, 3, 6, 8)).astype(np.float32), rng.normal(size=(2, 3, 7, 8)).astype(np.float32)
    mask = rng.random((6, 7)) > 0.3
    mask[4] = False  # a query with nothing to attend
    for m in (None, mask):
        np.testing.assert_allclose(text_module.softmax_weights_torch(q, k, 0.35, m), softmax_weights(q, k, 0.35, m),
                                   atol=1e-6)
    assert (text_module.softmax_weights_torch(q, k, 0.35, mask)[:, :, 4] == 0).all()


def test_torch_weights_on_a_device_that_fails_come_from_the_cpu():
    """A GPU trace computes its left-out weights on its device; where that device cannot (here: no
    such GPU, on a machine with or without CUDA), the CPU computes the same numbers instead."""
    from viz.trace import softmax_weights

    rng = np.random.default_rng(6)
    q, k = rng.normal(size=(2, 5, 8)).astype(np.float32), rng.normal(size=(2, 5, 8)).astype(np.float32)
    mask = np.tril(np.ones((5, 5), bool))
    for device in ("cuda:99", "no-such-device"):
        np.testing.assert_allclose(text_module.softmax_weights_torch(q, k, 0.35, mask, device=device),
                                   softmax_weights(q, k, 0.35, mask), atol=1e-6)


def test_the_recorder_refuses_q_k_v_of_different_shapes():
    """The traced attention keeps Q, K and V in one buffer; a model whose K or V differ in shape
    from Q (grouped heads, say) cannot be traced that way, and says so."""
    rec = text_module._Recorder(2)
    q = torch.zeros(1, 4, 3, 8)
    with pytest.raises(ModelLoadError, match="differ in shape"):
        rec.record(q, torch.zeros(1, 2, 3, 8), torch.zeros(1, 2, 3, 8), 0.35)
    rec.record(q, q, q, 0.35)
    with pytest.raises(ModelLoadError, match="different shapes"):
        rec.record(torch.zeros(1, 4, 5, 8), torch.zeros(1, 4, 5, 8), torch.zeros(1, 4, 5, 8), 0.35)
    assert rec.layer == 1 and rec.qkv.shape == (3, 2, 1, 4, 3, 8)
