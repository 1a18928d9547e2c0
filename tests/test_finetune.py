"""viz.finetune: the generators, the file parsers, the training loop on a tiny random BERT, the
saved folder, the attention-change measures and the command line."""

import json
import random
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertModel

from viz.finetune.change import head_change, layer_sentence, mean_change
from viz.finetune.data import (
    INNER_VERBS,
    INNER_VERBS_HELD_OUT,
    MAX_CHARS,
    VERBS,
    VERBS_HELD_OUT,
    DataError,
    Dataset,
    Example,
    agreement_pair,
    generated,
    held_out_words,
    parse_table,
    sentiment_example,
)
from viz.finetune.job import FinetuneRequest, run_finetune, saved_result
from viz.finetune.train import (
    FinetuneConfig,
    batches,
    evaluate,
    finetune,
    load_classifier,
    predict,
    save,
)
from viz.pretrained.text import default_model_dir


class Quiet:
    def __init__(self):
        self.updates = []

    def check(self):
        pass

    def update(self, step, loss=None, snapshot=None):
        self.updates.append((step, loss, snapshot))


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A tiny random BERT (2 layers, 4 heads, 32 wide) with MiniLM's tokenizer, saved as safetensors."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-bert")
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=128)).save_pretrained(path)
    AutoTokenizer.from_pretrained(default_model_dir()).save_pretrained(path)
    return path


# --- generators -------------------------------------------------------------------------------

VERB_FORMS = {form for pairs in (VERBS, VERBS_HELD_OUT) for pair in pairs for form in pair}


@pytest.mark.parametrize("kind", ["simple", "pp", "relative"])
@pytest.mark.parametrize("held_out", [False, True])
def test_each_agreement_pair_differs_only_in_the_main_verbs_number(kind, held_out):
    rng = random.Random(kind + str(held_out))
    for _ in range(200):
        good, bad = agreement_pair(rng, kind, held_out)
        g, b = good.rstrip(".").split(), bad.rstrip(".").split()
        assert len(g) == len(b)
        diff = [i for i, (x, y) in enumerate(zip(g, b, strict=True)) if x != y]
        assert len(diff) == 1, (good, bad)
        # the differing word is the main verb (or its auxiliary): the singular form where the
        # subject is singular, in the acceptable sentence
        verb = next(v for v in VERBS + VERBS_HELD_OUT if good.endswith(f" {v[0]}.") or good.endswith(f" {v[1]}."))
        plural_subject = g[1].endswith("s")
        assert good.endswith(f" {verb[plural_subject]}."), good
        assert bad.endswith(f" {verb[not plural_subject]}."), bad
        if kind == "relative":  # the inner verb agrees with the attractor, of the other number
            inner = INNER_VERBS_HELD_OUT if held_out else INNER_VERBS
            attractor, inner_verb = g[4], g[5]
            pair = next(p for p in inner if inner_verb in p)
            assert pair.index(inner_verb) == int(attractor.endswith("s")) and attractor.endswith("s") != plural_subject


@pytest.mark.parametrize("task", ["agreement", "sentiment"])
def test_generated_sets_are_balanced_seeded_and_hold_out_their_words(task):
    ds = generated(task, seed=3)
    assert ds == generated(task, seed=3) and ds.train != generated(task, seed=4).train
    assert len(ds.train) == 4000 and len(ds.held_out) == 400
    for examples in (ds.train, ds.held_out, ds.held_out[:200]):  # any first 200 (the evaluation sample) too
        share = np.mean([e.label for e in examples])
        assert 0.4 <= share <= 0.6, share
    words = held_out_words(task)
    assert words
    seen = {w for e in ds.train for w in re.findall(r"[a-z]+", e.text.lower())}
    assert not seen & words, seen & words
    assert all(any(w in words for w in re.findall(r"[a-z]+", e.text.lower())) for e in ds.held_out)


def test_sentiment_labels_follow_negation_contrast_and_too():
    rng = random.Random(0)
    for _ in range(100):
        text, label = sentiment_example(rng, "negated", False)
        adj = text.rstrip(".").split()[-1]
        assert label == (0 if adj in ("good", "great", "wonderful", "lovely", "brilliant", "fun", "charming", "moving")
                         else 1), text
        text, label = sentiment_example(rng, "too", False)
        assert label == (0 if "far too" in text else 1) and ("far too" in text or "a little" in text)
        text, label = sentiment_example(rng, "contrast", False)
        last = text.rstrip(".").split()[-1]
        assert label == int(last in ("good", "great", "wonderful", "lovely", "brilliant", "fun", "charming", "moving"))


# --- files ------------------------------------------------------------------------------------

def cola_bytes(n=30):
    rows = [f"src{i}\t{i % 2}\t{'' if i % 2 else '*'}\tSentence number {i} is here." for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def test_cola_imdb_and_two_column_files_parse():
    ds = parse_table(cola_bytes(), "in_domain_train.tsv")
    assert ds.labels == ("unacceptable", "acceptable") and len(ds.train) + len(ds.held_out) == 30
    assert {e.label for e in ds.train + ds.held_out} == {0, 1}
    assert all(e.label == int(e.text.split()[2]) % 2 for e in ds.train + ds.held_out)
    imdb = 'review,sentiment\n' + "".join(
        f'"A review, with commas<br /><br />and a break, number {i}.",{"positive" if i % 2 else "negative"}\n'
        for i in range(40))
    ds = parse_table(imdb.encode(), "IMDB Dataset.csv")
    assert ds.labels == ("negative", "positive") and len(ds.train) + len(ds.held_out) == 40
    assert all("<br" not in e.text and "commas and a break" in e.text for e in ds.train)
    two = "text,label\n" + "".join(f"row {i},{i % 2}\n" for i in range(25))
    assert parse_table(two.encode(), "x.csv").labels == ("class 0", "class 1")
    no_header = "".join(f"row {i}\t{'pos' if i % 2 else 'neg'}\n" for i in range(25))
    ds = parse_table(no_header.encode(), "x.tsv")
    assert ds.labels == ("negative", "positive") and len(ds.train) + len(ds.held_out) == 25


@pytest.mark.parametrize("data, message", [
    (b"", "is empty"),
    (b"\x00\x01\x02binary", "not a text file"),
    (b"caf\xe9,1\n" * 30, "not UTF-8 text (line 1"),
    (b"a,b,c\n" * 30, "3 columns"),
    (b"text,label\n" + b"ok,1\n" * 10 + b"bad row,maybe\n" + b"ok,0\n" * 20, "line 12: the label 'maybe'"),
    (b"text,label\n" + b"ok,1\n" * 5 + b"one,two,three\n", "line 7: 3 columns where the first row has 2"),
    (b"text,label\n" + b"ok,1\n" * 30, "only label 1"),
    (b"text,label\n" + b"ok,1\n" * 5 + b"ok,0\n" * 5, "10 examples; fine-tuning needs at least 20"),
    (b"text,label\n" + b",1\n" * 30, "line 2: the text is empty"),
    (b"text,label\n" + b'"never closed,1\n', "quote that never closes"),
    (b"text,label\n" + b"a" * (MAX_CHARS + 1) + b",1\n", "characters of text; the limit is"),
])
def test_malformed_files_get_a_sentence_naming_the_line(data, message):
    with pytest.raises(DataError, match=re.escape(message)):
        parse_table(data, "my file.csv")


@pytest.mark.parametrize("text", ["</script><script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{7*7}}",
                                  "🙂🚀🧠", "שלום עולם مرحبا", "a\u200bb\u200dc\u0007d", "../../etc/passwd", "NaN"])
def test_hostile_text_is_data_not_markup(text):
    rows = "text,label\n" + "".join(f'"{text} {i}",{i % 2}\n' for i in range(30))
    ds = parse_table(rows.encode(), text + ".csv")
    assert all(e.text.startswith(" ".join(text.split())) for e in ds.train)
    assert len(ds.source) < 200


# --- training on a tiny random BERT -----------------------------------------------------------

def test_batches_visit_every_example_once_per_epoch():
    draw = batches(10, 4, seed=0)
    first = [i for _ in range(5) for i in next(draw)]  # 20 = two epochs
    assert sorted(first[:10]) == list(range(10)) and sorted(first[10:]) == list(range(10))


def test_the_loop_fits_a_small_training_set(tiny_bert):
    texts = [f"sentence {w} here" for w in ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta")]
    train = tuple(Example(t, i % 2) for i, t in enumerate(texts))
    ds = Dataset("tiny", ("no", "yes"), train, train, "test")
    run = finetune(ds, FinetuneConfig(steps=60, lr=1e-3, batch=8), base=str(tiny_bert))
    assert run.losses[-1] < run.losses[0] / 4, run.losses[::10]
    ev = evaluate(run.model, run.tokenizer, train)
    assert ev.accuracy == 1.0 and ev.confusion == ((4, 0), (0, 4)) and ev.by_subset == {"all": 1.0}


def test_a_saved_model_reloads_with_plain_transformers_and_gives_the_same_logits(tiny_bert, tmp_path):
    ds = generated("sentiment")
    run = finetune(ds, FinetuneConfig(steps=3, lr=1e-4), base=str(tiny_bert))
    save(run, tmp_path / "out")
    cfg = json.loads((tmp_path / "out" / "config.json").read_text())
    assert cfg["id2label"] == {"0": "negative", "1": "positive"}
    assert (tmp_path / "out" / "model.safetensors").is_file() and not list((tmp_path / "out").glob("*.bin"))
    again = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").eval()
    tok = AutoTokenizer.from_pretrained(tmp_path / "out")
    texts = [e.text for e in ds.held_out[:5]]
    with torch.no_grad():
        ours = run.model.eval()(**tok(texts, padding=True, return_tensors="pt")).logits
        theirs = again(**tok(texts, padding=True, return_tensors="pt")).logits
    assert torch.allclose(ours, theirs, atol=1e-6)
    np.testing.assert_allclose(predict(again, tok, texts), torch.softmax(theirs, -1).numpy(), atol=1e-6)


def test_the_fresh_head_is_seeded(tiny_bert):
    a = load_classifier(str(tiny_bert), ("no", "yes"), seed=1)[0].classifier.weight
    b = load_classifier(str(tiny_bert), ("no", "yes"), seed=1)[0].classifier.weight
    c = load_classifier(str(tiny_bert), ("no", "yes"), seed=2)[0].classifier.weight
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_zero_steps_change_nothing_and_a_run_is_saved_and_read_back(tiny_bert):
    request = FinetuneRequest(task="sentiment", steps=0, base=str(tiny_bert))
    progress = Quiet()
    result = run_finetune(progress, request)
    assert result.js.shape == (2, 4) and np.all(result.js == 0) and np.allclose(result.cosine, 1.0)
    assert "No head's attention changed" in result.sentence()
    assert result.before.n == 200 and result.after.n == 400 and not result.reused
    assert progress.updates[0][2][0] == 0  # the first snapshot: accuracy before training, at step 0
    again = run_finetune(Quiet(), request)  # the same request: read back from its folder
    assert again.reused and again.folder == result.folder and np.array_equal(again.js, result.js)
    assert saved_result(result_dir(result)) is not None


def result_dir(result):
    from viz.pretrained.names import finetuned_dir

    return finetuned_dir() / result.folder


def test_a_few_steps_move_attention_and_the_folder_opens_on_the_text_page(tiny_bert):
    from viz.pretrained.text import load_text_model, trace_text

    result = run_finetune(Quiet(), FinetuneRequest(task="agreement", steps=5, lr=1e-3, base=str(tiny_bert)))
    assert result.js.max() > 0 and result.cosine.min() < 1
    assert [s for s, _, _ in result.evals] == [0, 5]  # before training, and after the last step
    assert set(result.after.by_subset) == {"attractor", "simple"}
    tm = load_text_model(result.folder)  # the text page's model box takes the folder's name
    assert tm.n_layers == 2 and trace_text(tm, "The dogs run.").weights.shape[:2] == (2, 4)


def test_the_folder_name_follows_everything_that_decides_the_run():
    base = FinetuneRequest()
    names = {base.folder_name(), FinetuneRequest(steps=401).folder_name(), FinetuneRequest(lr=5e-5).folder_name(),
             FinetuneRequest(seed=1).folder_name(), FinetuneRequest(task="sentiment").folder_name(),
             FinetuneRequest(task="file", data=b"x").folder_name(), FinetuneRequest(task="file", data=b"y").folder_name()}
    assert len(names) == 7 and all(re.fullmatch(r"[a-z]+-[0-9a-f]{10}", n) for n in names)


@pytest.mark.parametrize("kwargs, message", [
    (dict(steps=-1), "Steps must be a whole number from 0 to 3000"),
    (dict(steps=10**6), "Steps must be"),
    (dict(lr=float("nan")), "learning rate must be between"),
    (dict(lr=1.0), "learning rate must be between"),
    (dict(batch=0), "batch size"),
    (dict(task="<script>"), "There is no task"),
    (dict(task="file"), "Choose a file"),
])
def test_impossible_requests_are_refused_with_a_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FinetuneRequest(**kwargs).check()


# --- measures ---------------------------------------------------------------------------------

def test_head_change_is_zero_for_the_same_maps_and_one_for_disjoint_rows():
    rng = np.random.default_rng(0)
    w = rng.random((3, 2, 5, 5))
    w /= w.sum(-1, keepdims=True)
    js, cos = head_change(w, w)
    assert np.allclose(js, 0) and np.allclose(cos, 1)
    a, b = np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2))
    a[..., 0], b[..., 1] = 1, 1  # every query on another key
    js, cos = head_change(a, b)
    assert np.allclose(js, 1) and np.allclose(cos, 0)
    mixed = mean_change([(w, w), (w, w[:, ::-1])])
    assert mixed[0].shape == (3, 2) and (mixed[0] > 0).all()
    with pytest.raises(ValueError, match="same"):
        head_change(w, w[:, :, :4, :4])


def test_layer_sentence_names_the_layers_that_moved_most():
    js = np.array([[0.0, 0.01], [0.02, 0.02], [0.2, 0.1], [0.3, 0.3]])
    text = layer_sentence(js, 0.5, 0.97)
    assert "most in layers 2 and 3" in text and "the last two" in text and "least in layer 0" in text
    assert "rose from 50% to 97%" in text
    assert "attention moved while accuracy did not" in layer_sentence(js, 0.5, 0.51)


# --- the command line -------------------------------------------------------------------------

def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "viz.finetune", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--data", "/nonexistent/file.tsv"], "is not a file"),
    (["--steps", "-5"], "Steps must be a whole number"),
    (["--lr", "nan"], "learning rate"),
    (["--threads", "-1"], "--threads must be at least 1"),
])
def test_the_command_line_refuses_bad_input_in_one_sentence(args, message):
    done = cli(*args)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_command_line_refuses_a_malformed_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\n" + b"ok,1\n" * 10 + b"bad,perhaps\n")
    done = cli("--data", str(bad))
    assert done.returncode == 2 and "line 12: the label 'perhaps'" in done.stderr and "Traceback" not in done.stderr


def test_the_command_line_trains_saves_and_reports(tiny_bert, tmp_path):
    done = cli("--task", "sentiment", "--steps", "4", "--lr", "1e-3", "--base", str(tiny_bert),
               "--out", str(tmp_path / "cli"), "--threads", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "held-out accuracy" in done.stdout and "attention change per layer" in done.stdout
    assert re.search(r"layer 1: \d\.\d{4}  \d\.\d{4}", done.stdout)
    assert (tmp_path / "cli" / "model.safetensors").is_file()
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path / "cli").config.id2label[1] == "positive"
