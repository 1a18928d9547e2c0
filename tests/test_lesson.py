"""The lesson as data (viz.lesson): every step on its default input and on a changed one, against
the real bundled models; notices computed from the data; checkers right, wrong and unreadable;
questions that survive JSON; context-aware vectors."""

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from viz import lesson
from viz.context import (
    WordNotFound,
    cosine_by_layer,
    find_word,
    weighted_parts,
    word_candidates,
    word_drift,
)
from viz.lesson import STEPS, LocalSources, Question, find_step

CHANGED = {
    "attention": {"text": "The dog chased the ball because it was bored.", "word": "it"},
    "softmax": {"logits": "3, 0, -2", "temperature": "0.5"},
    "scaled-dot-product": {"text": "My sister said she would call tomorrow.", "word": "she"},
    "context-vectors": {"a": "He went fishing on the bank of the lake.", "b": "The bank raised its interest rates.",
                        "word": "bank"},
    "qkv-dimensions": {"sentence": "a b c d e f g h i j", "d_model": "768", "heads": "12"},
    "self-cross": {"word": "transformer"},
    "multi-head": {"text": "Birds sing in the early morning light.", "layer": "4"},
    "positional-encodings": {"positions": "32", "d_model": "128"},
    "encoder-decoder": {"number": "907"},
    "bert": {"text": "Where is the station?", "pair": "Two streets to the left."},
    "vit": {"sample": "coffee"},
    "decoder": {"sequence": "one two, one t"},
    "finetuning": {"text": "A warm and clever story, I loved every minute."},
}
WRONG = {"number": "123456", "shape": "7 x 7 x 7", "token": "zzzz"}


@pytest.fixture(scope="module")
def src(lesson_finetuned):
    return LocalSources("cpu")


def test_at_least_ten_steps_with_unique_slugs_and_every_kind():
    assert len(STEPS) >= 10
    assert len({s.slug for s in STEPS}) == len(STEPS)
    assert {s.kind for s in STEPS} == set(lesson.KINDS)
    assert set(CHANGED) == {s.slug for s in STEPS}
    for s in STEPS:  # serialisable for a classroom that follows the teacher
        d = json.loads(json.dumps(s.to_dict()))
        assert d["slug"] == s.slug and d["fields"] and d["explanation"] and d["uses"]


@pytest.mark.parametrize("slug", [s.slug for s in STEPS])
def test_step_on_default_and_changed_input(src, slug):
    step = lesson.BY_SLUG[slug]
    notices, answers = [], []
    for values in (step.values(), step.values(CHANGED[slug])):
        data = step.compute(src, values)
        assert isinstance(step.figure(data), go.Figure)
        notice = step.notice(data)
        assert len(notice) > 40 and any(ch.isdigit() for ch in notice)
        q = step.question(data)
        assert q.kind == step.kind
        ok, msg = q.check(q.answer_text)
        assert ok and msg.startswith("Right"), (slug, q, msg)
        ok, msg = q.check(WRONG[q.kind])
        assert not ok and msg.startswith("Not quite"), (slug, msg)
        ok, msg = q.check("")
        assert not ok and msg
        back = Question.from_dict(json.loads(json.dumps(q.to_dict())))
        assert back == q and back.check(q.answer_text)[0]
        notices.append(notice)
        answers.append(q.answer)
    assert notices[0] != notices[1], f"{slug}: the notice does not follow the input"


def test_attention_notice_names_the_strongest_link(src):
    step = lesson.BY_SLUG["attention"]
    d = step.compute(src, step.values())
    t = d["trace"]
    w = t.weights[d["layer"], d["head"], d["i"], d["key"]]
    assert f"'{t.key_tokens[d['key']]}' ({w:.2f}) in layer {d['layer']}, head {d['head']}" in step.notice(d)
    assert abs(d["key"] - d["i"]) >= 2 and not t.meta["special"][d["key"]]
    # no other non-special, non-adjacent key of 'it' has a larger weight in any head
    far = np.abs(np.arange(len(t.key_tokens)) - d["i"]) >= 2
    far &= ~np.asarray(t.meta["special"])
    assert t.weights[:, :, d["i"], far].max() == pytest.approx(w)
    q = step.question(d)
    assert q.check(q.answer.upper())[0] and q.check(f"'{q.answer}'")[0]


def test_softmax_numbers(src):
    step = lesson.BY_SLUG["softmax"]
    d = step.compute(src, step.values())
    x = np.array([2, 1, 0.5, -1.0])
    assert f"takes {np.exp(2) / np.exp(x).sum():.2f} of the weight" in step.notice(d)
    q = step.question(d)
    assert q.answer == round(np.exp(1) / np.exp(x / 2).sum(), 2)  # T = 2
    assert q.check(f"{q.answer + 0.005:.3f}")[0] and not q.check(f"{q.answer + 0.05:.2f}")[0]
    assert "too high" in q.check("0.99")[1] and "too low" in q.check("0.01")[1]
    assert "not a number" in q.check("abc")[1]
    with pytest.raises(ValueError):
        step.compute(src, step.values({"logits": "NaN"}))


def test_scaled_score_and_the_divide_by_d_k_slip(src):
    step = lesson.BY_SLUG["scaled-dot-product"]
    d = step.compute(src, step.values())
    q = step.question(d)
    dot, D = d["terms"]["dot"], d["trace"].d_head
    assert q.answer == round(dot / math.sqrt(D), 2)
    assert d["trace"].row_scores(d["layer"], d["head"], d["i"])[d["key"]] == pytest.approx(dot / math.sqrt(D), abs=1e-3)
    ok, msg = q.check(f"{dot / D:.2f}")
    assert not ok and "square root" in msg


def test_qkv_catches_the_w_q_slip(src):
    step = lesson.BY_SLUG["qkv-dimensions"]
    d = step.compute(src, step.values())
    q = step.question(d)
    assert q.answer == (512, 64)
    for typed in ("512 x 64", "(512, 64)", "512×64", "512 by 64"):
        assert q.check(typed)[0], typed
    ok, msg = q.check("64 x 512")
    assert not ok and "nn.Linear" in msg
    assert "(d × d_k)" in step.slip
    with pytest.raises(ValueError, match="not divisible"):
        step.compute(src, step.values({"d_model": "64", "heads": "12"}))
    with pytest.raises(ValueError, match="Type a sentence"):
        step.compute(src, step.values({"sentence": "   "}))


def test_positional_catches_the_sin_cos_slip(src):
    step = lesson.BY_SLUG["positional-encodings"]
    d = step.compute(src, step.values())
    q = step.question(d)
    angle = 2 / 10000 ** (2 / 64)
    assert q.answer == round(math.cos(angle), 2)
    ok, msg = q.check(f"{math.sin(angle):.2f}")
    assert not ok and "cos" in msg
    assert "cos for index 2i+1" in step.slip


def test_cross_shape_and_its_transpose(src):
    step = lesson.BY_SLUG["self-cross"]
    d = step.compute(src, step.values())
    q = step.question(d)
    assert q.answer == (10, 9)  # "attention": 9 input letters, 9 output letters + </s>
    ok, msg = q.check("9 x 10")
    assert not ok and "decoder's queries" in msg
    with pytest.raises(ValueError):
        step.compute(src, step.values({"word": "<script>"}))


def test_encoder_decoder_counts_masked_cells(src):
    step = lesson.BY_SLUG["encoder-decoder"]
    d = step.compute(src, step.values())
    T = len(d["run"].decoder_self.query_tokens)
    assert step.question(d).answer == T * (T - 1) // 2


def test_bert_and_vit_answers(src):
    bert = lesson.BY_SLUG["bert"]
    d = bert.compute(src, bert.values())
    assert bert.question(d).answer == len(d["trace"].query_tokens) == 14
    assert "sentence B starts at position 9" in bert.notice(d)
    vit = lesson.BY_SLUG["vit"]
    d = vit.compute(src, vit.values())
    q = vit.question(d)
    n = d["grid"].n_patches
    assert q.answer == (n + 1, n + 1)
    ok, msg = q.check(f"{n} x {n}")
    assert not ok and "CLS" in msg
    with pytest.raises(ValueError, match="no sample image"):
        vit.compute(src, vit.values({"sample": "../../etc/passwd"}))


def test_decoder_step_predicts_what_followed_the_earlier_copy(src):
    step = lesson.BY_SLUG["decoder"]
    d = step.compute(src, step.values())  # "the fox jumps. the fox j"
    q = step.question(d)
    assert q.answer == "u" and "after the last “j”" in q.prompt
    assert "“u” at position 10" in step.notice(d) and "induction head" in step.notice(d)
    assert "“u”" not in q.prompt  # the question does not name its answer
    d = step.compute(src, step.values({"sequence": "go to the bank. go to the b"}))
    assert step.question(d).answer == "a"
    for bad in ("", "{{7*7}}", "a" * 200):
        with pytest.raises(ValueError):
            step.compute(src, step.values({"sequence": bad}))


def test_find_step_reads_numbers_and_slugs_and_refuses_the_rest():
    assert find_step("5") == (4, None)
    assert find_step("vit") == (10, None) and find_step("11") == (10, None)  # old links keep their step
    assert find_step("decoder") == (11, None) and find_step("12") == (11, None)
    assert find_step("finetuning") == (len(STEPS) - 1, None)
    assert find_step(None) == (0, None)
    for bad in ("999", "0", "abc", "-1", "<script>alert(1)</script>", "1e309"):
        index, msg = find_step(bad)
        assert index == 0 and "Showing step 1" in msg


# --- context-aware vectors ----------------------------------------------------------------------

def test_bank_drifts_apart_and_the_same_sentence_does_not(src):
    tm = src._text_model()
    cands = word_candidates(tm.tokenizer, "bank")
    river, money = src.text_hidden("We sat on the bank of the river."), src.text_hidden("I paid cash into the bank.")
    d = word_drift("bank", cands, *river, *money)
    assert d.vectors_a.shape == (tm.n_layers + 1, tm.model.config.hidden_size)
    assert d.cosine[-1] < d.cosine[0] - 0.1  # context pulls the two apart
    same = word_drift("bank", cands, *river, *river)
    np.testing.assert_allclose(same.cosine, 1.0, atol=1e-5)
    np.testing.assert_allclose(cosine_by_layer(d.vectors_a, d.vectors_b), d.cosine)


def test_a_word_of_several_pieces_is_their_mean(src):
    tm = src._text_model()
    cands = word_candidates(tm.tokenizer, "riverbank")
    tokens, hidden = src.text_hidden("The riverbank was muddy.")
    pos = find_word(tokens, cands)
    assert len(pos) == 2
    d = word_drift("riverbank", cands, tokens, hidden, *src.text_hidden("A riverbank is green."))
    np.testing.assert_allclose(d.vectors_a, hidden[:, pos].mean(axis=1))
    data = lesson.context_data(src, "The riverbank was muddy.", "A riverbank is green.", "riverbank")
    assert "2 word pieces" in data["notes"][0]


def test_missing_or_bad_words_say_so(src):
    tm = src._text_model()
    with pytest.raises(WordNotFound, match="not in sentence B"):
        lesson.context_data(src, "The bank is closed.", "The cat sleeps.", "bank")
    for bad in ("", "two words", "x" * 60):
        with pytest.raises(WordNotFound):
            word_candidates(tm.tokenizer, bad)


def test_weighted_parts_sum_to_the_heads_output(src):
    trace = src.text_trace("The cat sat on the mat because it was tired.")
    p = weighted_parts(trace, 3, 5, 8)
    np.testing.assert_allclose(p.parts.sum(0), p.output)
    np.testing.assert_allclose(p.output, trace.weights[3, 5, 8] @ trace.values[3, 5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.norms, np.abs(trace.weights[3, 5, 8]) * np.linalg.norm(trace.values[3, 5], axis=-1),
                               rtol=1e-5, atol=1e-6)
