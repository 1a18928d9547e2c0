import pytest
import torch

from viz import dimensions as dims
from viz.scratch.model import MultiHeadAttention, capture


@pytest.mark.parametrize("args, words", [
    ((10, 0, 8), "d_model = 0"),
    ((10, 8, 16), "h = 16 heads is more than d_model = 8"),
    ((10, 100, 8), "not divisible by h = 8"),
    ((0, 64, 4), "n = 0"),
    ((10, 64, 0), "at least one head"),
    ((10, 64, 4, 0, 16), "at least one dimension"),
    ((10, 64, 4, None, None, 0), "batch = 0"),
    ((10, 64.5, 4), "not a whole number"),
    ((10, float("nan"), 4), "not a whole number"),
    ((10, 10**7, 4), "larger than"),
])
def test_invalid_sizes_get_a_sentence(args, words):
    with pytest.raises(dims.DimensionError, match=words):
        dims.make_dims(*args)


def test_divisibility_message_lists_the_divisors_and_override_is_allowed():
    with pytest.raises(dims.DimensionError, match="Choose h from 1, 2, 4, 5, 10, 20, 25, 50, 100"):
        dims.make_dims(10, 100, 8)
    d = dims.make_dims(10, 100, 8, d_k=12, d_v=12)  # W_O maps h·d_v = 96 back to 100: legal
    assert dims.trace_shapes(d)[-2].shape == (10, 96)


def test_paper_sizes():
    d = dims.make_dims(10, 512, 8)
    shapes = {s.name: s.shape for s in dims.trace_shapes(d)}
    assert shapes["Q_i = X·W_Q,i"] == (10, 64)
    assert shapes["Q_i·K_iᵀ"] == (10, 10)
    assert shapes["concat(heads)"] == (10, 512)
    assert dims.total_parameters(d, biases=False) == 4 * 512 * 512
    assert dims.total_parameters(d) == 4 * 512 * 512 + 4 * 512
    batched = dims.trace_shapes(dims.make_dims(10, 512, 8, batch=3))
    assert all(s.shape[0] == 3 for s in batched)


@pytest.mark.parametrize("n, d_model, h, batch", [(7, 64, 4, None), (5, 48, 3, 2), (3, 32, 1, None)])
def test_traced_shapes_and_parameter_counts_match_a_real_layer(n, d_model, h, batch):
    """The tracer against the from-scratch model's MultiHeadAttention on a real input."""
    d = dims.make_dims(n, d_model, h, batch=batch)
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_model, h)
    x = torch.randn(batch or 1, n, d_model)
    with capture(mha) as store:
        out = mha(x, x)
    real = [x, store["hook_q"][:, 0], store["hook_k"][:, 0], store["hook_v"][:, 0],
            store["hook_q"][:, 0] @ store["hook_k"][:, 0].transpose(-2, -1), store["hook_scores"][:, 0],
            store["hook_weights"][:, 0], store["hook_weights"][:, 0] @ store["hook_v"][:, 0],
            store["hook_weights"] @ store["hook_v"], out]
    real[8] = real[8].transpose(1, 2).reshape(batch or 1, n, -1)  # concat of heads
    for step, t in zip(dims.trace_shapes(d), real, strict=True):
        shape = tuple(t.shape) if batch else tuple(t.shape[1:])
        assert step.shape == shape, step.name
    assert dims.total_parameters(d) == sum(p.numel() for p in mha.parameters())
    table = {r.matrix: r for r in dims.parameter_table(d)}
    assert table["W_O"].weights == mha.w_o.weight.numel() and table["W_O"].biases == mha.w_o.bias.numel()


def test_head_weight_is_a_transposed_row_block_of_the_linear_weight():
    torch.manual_seed(1)
    mha = MultiHeadAttention(32, 4)
    x = torch.randn(1, 6, 32)
    with capture(mha) as store:
        mha(x, x)
    w, b = mha.w_q.weight.detach().numpy(), mha.w_q.bias.detach().numpy()
    assert w.shape == (32, 32)  # (out, in)
    for head in range(4):
        assert dims.head_weight(w, head, 4).shape == (32, 8)  # (d_model, d_k)
        err = dims.projection_error(x[0].numpy(), w, b, store["hook_q"][0, head].numpy(), head, 4)
        assert err < 1e-5
    assert dims.projection_error(x[0].numpy(), w, b, store["hook_q"][0, 1].numpy(), 0, 4) > 0.1


def test_same_seed_same_sheet_other_seed_other_sheet():
    a, b = dims.worksheet(7), dims.worksheet(7)
    assert [q.text for q in a] == [q.text for q in b] and [q.answer for q in a] == [q.answer for q in b]
    assert [q.text for q in dims.worksheet(8)] != [q.text for q in a]
    assert len(a) == 8 and len({q.kind for q in a}) == 8


def test_a_known_sheet_is_stable_across_machines():
    # Pinned: a teacher hands out "sheet 1"; it must read the same next year.
    first = dims.worksheet(1)[0]
    assert (first.kind, first.dims.d_model, first.dims.h, first.dims.n) == PINNED_SHEET_1_FIRST


PINNED_SHEET_1_FIRST = ("v", 768, 6, 16)


def _real_answer(q: dims.Question):
    """The answer to a worksheet question, read from a real MultiHeadAttention's tensors."""
    d = q.dims
    torch.manual_seed(0)
    mha = MultiHeadAttention(d.d_model, d.h)
    B = d.batch or 1
    x = torch.randn(B, d.n, d.d_model)
    with capture(mha) as store:
        out = mha(x, x)
    i = q.head
    qi, ki, vi = store["hook_q"][0, i], store["hook_k"][0, i], store["hook_v"][0, i]
    heads = (store["hook_weights"] @ store["hook_v"])[0]  # (h, n, d_v)
    return {
        "q": lambda: tuple(qi.shape), "k": lambda: tuple(ki.shape), "v": lambda: tuple(vi.shape),
        "w_q": lambda: dims.head_weight(mha.w_q.weight.detach().numpy(), i, d.h).shape,
        "scores": lambda: tuple((qi @ ki.T).shape),
        "weights": lambda: tuple(store["hook_weights"][0, i].shape),
        "head": lambda: tuple(heads[i].shape),
        "concat": lambda: tuple(heads.transpose(0, 1).reshape(d.n, -1).shape),
        "w_o": lambda: tuple(mha.w_o.weight.T.shape),  # math orientation: (h·d_v, d_model)
        "w_o_params": lambda: mha.w_o.weight.numel(),
        "w_q_params": lambda: mha.w_q.weight.numel(),
        "linear_weight": lambda: tuple(mha.w_q.weight.shape),
        "output": lambda: tuple(out[0].shape),
        "batched_q": lambda: tuple(store["hook_q"].shape),
    }[q.kind]()


@pytest.mark.parametrize("seed", range(6))
def test_worksheet_answers_are_the_shapes_of_real_tensors(seed):
    sheet = dims.worksheet(seed, n_questions=len(dims.KINDS))
    assert {q.kind for q in sheet} == set(dims.KINDS)
    for q in sheet:
        assert _real_answer(q) == q.answer, q.text
        assert dims.check_answer(q, q.answer_text)


@pytest.mark.parametrize("typed", ["10 x 64", "10x64", "10×64", "(10, 64)", "[10,64]", "10 , 64",
                                   "10 X 64", "10*64", "10 by 64", " 10 64 "])
def test_shape_answers_tolerate_spacing_and_separators(typed):
    q = next(q for q in dims.worksheet(0, len(dims.KINDS)) if q.kind == "q")
    q = dims.Question(q.number, "q", q.text, (10, 64), q.dims, q.head)
    assert dims.check_answer(q, typed)
    assert not dims.check_answer(q, "64 x 10")


@pytest.mark.parametrize("typed", ["262144", "262,144", "262 144", "262_144"])
def test_count_answers_tolerate_thousands_separators(typed):
    q = next(q for q in dims.worksheet(0, len(dims.KINDS)) if q.kind == "w_o_params")
    q = dims.Question(q.number, q.kind, q.text, 262144, q.dims, q.head)
    assert dims.check_answer(q, typed) and not dims.check_answer(q, "262145")


@pytest.mark.parametrize("typed, count", [("", False), ("ten by four", False), ("10 x", False),
                                          ("lots", True), ("1.5e3", True)])
def test_unreadable_answers_raise_a_sentence(typed, count):
    with pytest.raises(dims.AnswerError):
        dims.parse_answer(typed, count)
