"""The lesson: the course notes' storyline as data, from attention in general to BERT and ViT.

No streamlit. Each Step has a stable slug (its id), a title, an explanation, the existing viz
functions and figures it is built from (`uses`), its input fields with defaults, and four
functions of the data on screen:

    data = step.compute(sources, values)   # values: {field name: str}; raises ValueError subclasses
    fig = step.figure(data)                # an existing viz.figures function on that data
    step.notice(data) -> str               # "what to notice", computed from the data
    q = step.question(data)                # a Question whose answer comes from the data
    q.check("0.42") -> (ok, message)       # pure; q.to_dict() / Question.from_dict() serialise it

`sources` supplies the models' outputs: LocalSources here (plain calls, for tests and notebooks),
or the app's cached loaders (viz.ui.lesson_ui), so a rerun does no new forward pass.
Typed answers are read by the app's existing parsers (viz.dimensions.parse_answer for shapes and
counts, viz.softmax_lab.parse_numbers for decimals).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from viz import dimensions as dims
from viz import positional as pos
from viz import softmax_lab as lab
from viz.attention import head_stats, score_terms
from viz.context import (
    WordNotFound,
    locate,
    strongest_link,
    weighted_parts,
    word_candidates,
    word_drift,
)
from viz.images import SAMPLES
from viz.trace import AttentionTrace

KINDS = ("number", "shape", "token")
NOT_TUNED = ("This server has not fine-tuned the lesson's model yet. It does when a teacher starts a class; "
             "or fine-tune it here (about two minutes, in the server's training queue).")


class LessonNotReady(ValueError):
    """A step whose model this server has not made yet (the lesson's fine-tune)."""
UNREADABLE = "(not readable)"


# --- questions ----------------------------------------------------------------------------------

def _norm_token(text: str) -> str:
    return re.sub(r"^(##|Ġ|▁)", "", str(text).strip().strip("'\"“”‘’`").strip()).lower()


@dataclass(frozen=True)
class Question:
    prompt: str
    kind: str  # one of KINDS
    answer: float | int | tuple[int, ...] | str
    tolerance: float = 0.0  # numbers: how far from the answer still counts as right
    hint: str = ""  # said after a wrong answer (never the answer itself)
    decoys: tuple[tuple[object, str], ...] = ()  # known wrong answers (the notes' slips) and what to say

    @property
    def answer_text(self) -> str:
        return self._label(self.answer)

    def _label(self, value) -> str:
        """A value of the answer's kind as the page writes it (decimals as the tolerance needs)."""
        if self.kind == "shape":
            return dims.format_shape(value)
        if self.kind == "number" and not isinstance(self.answer, int):
            return f"{float(value):.{max(0, -math.floor(math.log10(self.tolerance or 0.01)))}f}"
        return str(value)

    def _read(self, text: str):
        """The typed answer in the answer's type, or ValueError with a sentence."""
        if self.kind == "shape":
            return dims.parse_answer(text, count=False)
        if self.kind == "token":
            token = _norm_token(text)
            if not token:
                raise ValueError("Type a token first, for example: cat")
            return token
        if isinstance(self.answer, int):
            return dims.parse_answer(text, count=True)
        return float(lab.parse_numbers(text, what="answer", max_count=1)[0])

    def _same(self, got, want) -> bool:
        if self.kind == "token":
            return got == _norm_token(want)
        if self.kind == "shape":
            return tuple(got) == tuple(want)
        return abs(float(got) - float(want)) <= self.tolerance + 1e-9

    def check(self, text: str) -> tuple[bool, str]:
        """(right?, a sentence to show). Pure: no model, no streamlit."""
        try:
            got = self._read(text)
        except ValueError as err:
            return False, str(err)
        if self._same(got, self.answer):
            return True, f"Right: {self.answer_text}."
        for decoy, message in self.decoys:
            if self._same(got, decoy):
                return False, f"Not quite. {message}"
        side = ""
        if self.kind == "number":
            side = " (too high)" if float(got) > float(self.answer) else " (too low)"
        return False, f"Not quite{side}. {self.hint}".strip()

    def bucket(self, text: str) -> tuple[str, bool]:
        """A typed answer as a class's counts group it: (label, right?). The label is the answer read
        in its kind, so '.41' and '0.410' count together; answers that cannot be read share one label."""
        try:
            got = self._read(text)
        except ValueError:
            return UNREADABLE, False
        return self._label(got), self._same(got, self.answer)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["answer"] = list(self.answer) if self.kind == "shape" else self.answer
        d["decoys"] = [[list(a) if isinstance(a, tuple) else a, m] for a, m in self.decoys]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Question:
        shape = d["kind"] == "shape"
        answer = tuple(d["answer"]) if shape else d["answer"]
        decoys = tuple((tuple(a) if shape else a, m) for a, m in d.get("decoys", ()))
        return cls(d["prompt"], d["kind"], answer, d.get("tolerance", 0.0), d.get("hint", ""), decoys)


def tally(question: Question, answers: list[str]) -> list[tuple[str, int, bool]]:
    """A class's answers counted: [(label, count, right?)], most frequent first (ties by label)."""
    counts: dict[str, list] = {}
    for text in answers:
        label, right = question.bucket(text)
        counts.setdefault(label, [0, right])[0] += 1
    return sorted(((label, n, right) for label, (n, right) in counts.items()), key=lambda r: (-r[1], r[0]))


# --- where the data come from -------------------------------------------------------------------

class Sources(Protocol):
    def text_trace(self, text: str, pair: str = "") -> AttentionTrace: ...
    def head_stats(self, text: str, pair: str = "") -> dict: ...
    def text_hidden(self, text: str) -> tuple[tuple[str, ...], np.ndarray]: ...
    def word_candidates(self, word: str) -> list[list[str]]: ...
    def scratch_run(self, task: str, text: str): ...
    def image_trace(self, sample: str) -> AttentionTrace: ...
    def decoder_run(self, text: str) -> dict: ...
    def finetune_pair(self, text: str) -> dict: ...


def lesson_finetune():
    """(folder name, FinetuneResult) of the lesson's fine-tune on this server; LessonNotReady if
    it has not run (viz.finetune.job.lesson_request says which run)."""
    from viz.finetune.job import lesson_request, saved_result
    from viz.pretrained.names import finetuned_dir

    folder = lesson_request().folder_name()
    result = saved_result(finetuned_dir() / folder)
    if result is None:
        raise LessonNotReady(NOT_TUNED)
    return folder, result


def decoder_run(dec, report, trace_of, text: str) -> dict:
    """The bundled decoder on `text`: its ids, the induction head's trace, the next token's
    probabilities. `trace_of(ids)` traces (cached in the app); DecoderInputError for bad text."""
    from viz.sampling import next_token_probs

    ids = dec.encode(text)
    return dict(ids=ids, trace=trace_of(ids), report=report, probs=next_token_probs(dec.next_logits(ids)),
                vocab=dec.vocab)


class LocalSources:
    """The bundled models, called directly and memoised (tests, notebooks)."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        # Memoised per instance (not lru_cache on the methods, which would keep every instance alive).
        self._text_model = lru_cache(maxsize=1)(self._text_model)
        self.text_trace = lru_cache(maxsize=16)(self.text_trace)
        self.text_hidden = lru_cache(maxsize=16)(self.text_hidden)
        self.scratch_run = lru_cache(maxsize=16)(self.scratch_run)
        self.image_trace = lru_cache(maxsize=4)(self.image_trace)
        self._decoder = lru_cache(maxsize=1)(self._decoder)
        self._tuned = lru_cache(maxsize=1)(self._tuned)

    def _text_model(self):
        from viz.pretrained import load_text_model
        return load_text_model(None, self.device)

    def text_trace(self, text: str, pair: str = "") -> AttentionTrace:
        from viz.pretrained import trace_text
        return trace_text(self._text_model(), text, pair or None)

    def head_stats(self, text: str, pair: str = "") -> dict:
        t = self.text_trace(text, pair)
        return head_stats(t.weights, t.meta["cls_positions"], t.meta["sep_positions"])

    def text_hidden(self, text: str):
        from viz.pretrained.text import hidden_states
        return hidden_states(self._text_model(), text)

    def word_candidates(self, word: str) -> list[list[str]]:
        return word_candidates(self._text_model().tokenizer, word)

    def scratch_run(self, task: str, text: str):
        from viz.scratch.run import run
        from viz.scratch.tasks import TASKS
        from viz.scratch.train import checkpoint_path, load_checkpoint
        model, _ = load_checkpoint(checkpoint_path(task), self.device)
        return run(model, TASKS[task], text)

    def image_trace(self, sample: str) -> AttentionTrace:
        from viz.images import sample_image
        from viz.pretrained import dinov2_onnx
        from viz.pretrained.image import load_image_model, trace_image
        dinov2_onnx.ensure_converted()
        return trace_image(load_image_model(None, device=self.device), sample_image(sample))

    def _decoder(self):
        from viz.pretrained.decoder import head_report, load_decoder
        dec = load_decoder("", self.device)
        return dec, head_report(dec)

    def decoder_run(self, text: str) -> dict:
        dec, report = self._decoder()
        return decoder_run(dec, report, dec.trace, text)

    def _tuned(self, folder: str):
        from viz.pretrained import load_text_model
        return load_text_model(folder, self.device)

    def finetune_pair(self, text: str) -> dict:
        from viz.pretrained import trace_text
        folder, result = lesson_finetune()
        return dict(base=self.text_trace(text), tuned=trace_text(self._tuned(folder), text), result=result)


# --- steps --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    name: str  # also the URL parameter
    label: str
    default: str
    options: tuple[str, ...] = ()  # empty: free text


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    explanation: str  # markdown, our own words
    uses: str  # the existing viz functions and figures the step is built from
    fields: tuple[Field, ...]
    kind: str  # the question's kind (fixed per step; the answer comes from the data)
    compute: Callable[[Sources, dict], dict]
    figure: Callable[[dict], object]
    notice: Callable[[dict], str]
    question: Callable[[dict], Question]
    slip: str = ""  # a slip in the course notes that this step corrects
    slip_gives_answer: bool = False  # the slip's correction is the answer: shown once answered
    # The figure while the question is open, where `figure` prints the answer (a title that
    # states the score, a box that states the shape); None: `figure` gives nothing away.
    open_figure: Callable[[dict], object] | None = None

    def values(self, given: dict | None = None) -> dict[str, str]:
        """Every field's value: the given one where there is one, else the default."""
        given = given or {}
        return {f.name: str(given.get(f.name, f.default)) for f in self.fields}

    def to_dict(self) -> dict:
        return dict(slug=self.slug, title=self.title, explanation=self.explanation, uses=self.uses,
                    kind=self.kind, slip=self.slip, fields=[asdict(f) for f in self.fields])


SENTENCE = Field("text", "Sentence", "The cat sat on the mat because it was tired.")
WORD = Field("word", "Word to follow", "it")


def _word_index(src: Sources, trace: AttentionTrace, word: str) -> int:
    return locate(trace.query_tokens, src.word_candidates(word), word, "the sentence")[0]


def _link(src: Sources, v: dict) -> dict:
    """The sentence's trace, the word's position and its strongest non-adjacent link."""
    trace = src.text_trace(v["text"])
    i = _word_index(src, trace, v["word"])
    layer, head, key, w = strongest_link(trace, i, min_distance=2)
    return dict(trace=trace, i=i, layer=layer, head=head, key=key, w=w, word=trace.query_tokens[i])


def _ranked(trace: AttentionTrace, layer: int, head: int, i: int) -> list[int]:
    """Keys of row i in one head, largest weight first, without i itself, special tokens and
    punctuation (the first is always there: strongest_link picked it)."""
    special = trace.meta.get("special", [False] * len(trace.key_tokens))
    row = trace.head(layer, head)[i]
    return [int(j) for j in np.argsort(-row, kind="stable")
            if j != i and not special[j] and any(c.isalnum() for c in trace.key_tokens[j])]


# 1. attention in general
def _attention_figure(d):
    """The head's heatmap with the followed word's row framed in red and its weights printed on
    it (two decimals, white on dark cells): the question ranks that row's cells."""
    from viz.figures.text import head_figure
    fig = head_figure(d["trace"], d["layer"], d["head"])
    row, i = d["trace"].head(d["layer"], d["head"])[d["i"]], d["i"]
    fig.add_shape(type="rect", x0=-0.5, x1=len(row) - 0.5, y0=i - 0.5, y1=i + 0.5, line=dict(color="#c0262d", width=3))
    for j, w in enumerate(row):
        fig.add_annotation(x=j, y=i, text=f"{w:.2f}".removeprefix("0"), showarrow=False,
                           font=dict(size=12, color="white" if w > 0.55 else "#1f2130"))
    return fig


def _attention_notice(d):
    t, L, H = d["trace"], d["trace"].n_layers, d["trace"].n_heads
    ranked = _ranked(t, d["layer"], d["head"], d["i"])
    nxt = ranked[1] if len(ranked) > 1 else None
    then = "" if nxt is None else (f" Its next choice there: '{t.key_tokens[nxt]}' "
                                   f"({t.weights[d['layer'], d['head'], d['i'], nxt]:.2f}).")
    return (f"Of all {L * H} heads, '{d['word']}' attends most to '{t.key_tokens[d['key']]}' ({d['w']:.2f}) "
            f"in layer {d['layer']}, head {d['head']} (shown; neighbours skipped).{then}")


def _attention_question(d):
    """Which word takes the largest, second- or third-largest share: the deepest rank whose weight,
    as the figure prints it (two decimals), is at least 0.03 and stands apart from the next one."""
    t = d["trace"]
    ranked = _ranked(t, d["layer"], d["head"], d["i"])
    printed = [round(float(t.weights[d["layer"], d["head"], d["i"], j]), 2) for j in ranked] + [-1.0]
    rank = next(r for r in (2, 1, 0) if r == 0 or (r < len(ranked) and printed[r] >= 0.03
                                                   and printed[r] > printed[r + 1] and printed[r - 1] > printed[r]))
    nth = ("largest", "second-largest", "third-largest")[rank]
    return Question(f"In the head shown, which word takes the {nth} share of the attention of '{d['word']}' "
                    "(not counting itself, [CLS], [SEP] and punctuation)?", "token", t.key_tokens[ranked[rank]],
                    hint="Read the framed row: its weights are printed on it.")


# 2. softmax and temperature
def _softmax_compute(src, v):
    logits = lab.parse_numbers(v["logits"])
    T = float(v["temperature"])
    return dict(logits=logits, T=T, res=lab.softmax_with_temperature(logits, T),
                hot=lab.softmax_with_temperature(logits, 2 * T))


def _softmax_figure(d):
    from viz.figures.teaching import softmax_bars
    return softmax_bars(d["logits"], d["res"].weights, f"softmax at T = {d['T']:g}")


def _softmax_notice(d):
    w, x = d["res"].weights, d["logits"]
    return (f"At T = {d['T']:g} the largest logit ({x.max():g}) takes {w.max():.2f} of the weight and the "
            f"smallest ({x.min():g}) {w.min():.2f}; entropy {d['res'].entropy:.2f} of at most "
            f"{d['res'].max_entropy:.2f} nats. The weights sum to {w.sum():.2f}.")


def _softmax_question(d):
    return Question(f"Predict: at T = {2 * d['T']:g} (twice as hot), what weight does the largest logit get? "
                    "Two decimals.", "number", round(float(d["hot"].weights.max()), 2), 0.01,
                    "A hotter softmax divides every logit by a larger T before exp: the weights flatten.")


# 3. scaled dot-product attention
def _scaled_compute(src, v):
    d = _link(src, v)
    t, layer, h = d["trace"], d["layer"], d["head"]
    d["terms"] = score_terms(t.queries[layer, h, d["i"]], t.keys[layer, h, d["key"]], t.meta["scaling"])
    return d


def _scaled_figure(d, show_score: bool = True):
    from viz.figures.text import neuron_figure
    t = d["trace"]
    return neuron_figure(d["terms"], t.weights[d["layer"], d["head"], d["i"]], t.key_tokens, d["word"], d["key"],
                         show_score=show_score)


def _scaled_notice(d):
    s, t = d["terms"], d["trace"]
    return (f"q·k = {s['dot']:.2f} for '{d['word']}' → '{t.key_tokens[d['key']]}' (layer {d['layer']}, head "
            f"{d['head']}); × 1/√{t.d_head} = {s['scaling']:.4f} gives the score {s['score']:.2f}; the softmax "
            f"of the row's {len(t.key_tokens)} scores turns it into the weight {d['w']:.2f}.")


def _scaled_question(d):
    s, D = d["terms"], d["trace"].d_head
    return Question(f"q·k = {s['dot']:.2f} and d_k = {D}. What is the score q·k / √d_k? Two decimals.",
                    "number", round(float(s["score"]), 2), 0.01, "Divide by the square root of d_k, not by d_k.",
                    decoys=((round(float(s["dot"]) / D, 2), "That divides by d_k; the scaling is its square root."),))


# 4. context-aware vectors
CONTEXT_A = Field("a", "Sentence A", "We sat on the bank of the river and watched the water.")
CONTEXT_B = Field("b", "Sentence B", "I paid the cheque into my bank account this morning.")
CONTEXT_WORD = Field("word", "Word in both", "bank")


def context_data(src: Sources, a: str, b: str, word: str, layer: int | None = None,
                 head: int | None = None) -> dict:
    """The word's drift between A and B, and x'_i of its first piece in A for one head (by default
    the head where it attends most to a non-adjacent token)."""
    cands = src.word_candidates(word)
    drift = word_drift(word, cands, *src.text_hidden(a), *src.text_hidden(b))
    trace = src.text_trace(a)
    i = locate(trace.query_tokens, cands, word, "sentence A")[0]
    if layer is None or head is None:
        layer, head, _, _ = strongest_link(trace, i, min_distance=2)
    notes = []
    if len(drift.pieces) > 1:
        notes.append(f"'{word}' is {len(drift.pieces)} word pieces ({' '.join(drift.pieces)}): its vector is "
                     f"their mean; the weighted parts are those of its first piece.")
    return dict(drift=drift, trace=trace, i=i, layer=layer, head=head,
                parts=weighted_parts(trace, layer, head, i), notes=notes)


def context_figure(d):
    from viz.figures.context import context_figure as fig
    return fig(d["drift"], d["parts"], d["trace"].key_tokens, d["layer"], d["head"])


def context_notice(d):
    c, dr, p, t = d["drift"].cosine, d["drift"], d["parts"], d["trace"]
    big = int(np.argmax(p.norms))
    return (f"'{dr.word}' starts at cosine {c[0]:.2f} (embeddings) and ends at {c[-1]:.2f} after the last layer; "
            f"the two are least alike after layer {dr.least_alike} ({c[1:].min():.2f}). In sentence A, layer "
            f"{d['layer']} head {d['head']}, the largest part of its output comes from '{t.key_tokens[big]}' "
            f"(w = {p.weights[big]:.2f}, length {p.norms[big]:.2f}).")


def _context_question(d):
    dr = d["drift"]
    return Question(f"After which layer (0 to {len(dr.cosine) - 2}) are the two '{dr.word}' vectors least alike?",
                    "number", dr.least_alike, hint="Find the lowest point of the top curve (the embeddings don't count).")


# 5. queries, keys, values and their dimensions
def _qkv_compute(src, v):
    n = len(v["sentence"].split())
    if n == 0:
        raise dims.DimensionError("Type a sentence: n is its number of words.")
    d = dims.make_dims(n, int(v["d_model"]), int(v["heads"]))
    return dict(dims=d, steps=dims.trace_shapes(d), total=dims.total_parameters(d, biases=False))


def _qkv_figure(d, open_question: bool = False):
    """The shape diagram, three boxes to a row (they stay wide enough on a projector). While the
    question is open the per-head weight matrices' shapes (the answer) read "?"."""
    from viz.figures.teaching import shape_diagram
    x = d["dims"]

    def note(s):
        return s.note.split(":")[0] + ": ? × ?" if open_question and s.note.startswith(("W_Q", "W_K", "W_V")) else s.note

    return shape_diagram([(s.name, f"{s.symbolic} = {dims.format_shape(s.shape)}", note(s)) for s in d["steps"]],
                         title=f"n = {x.n}, d_model = {x.d_model}, h = {x.h}, d_k = {x.d_k}, d_v = {x.d_v}",
                         per_row=3, font_px=14)


def _qkv_notice(d):
    x = d["dims"]
    return (f"With n = {x.n} words, d_model = {x.d_model} and h = {x.h}: each head's Q, K and V are "
            f"{x.n} × {x.d_k}, its scores {x.n} × {x.n}; the layer's four projections hold {d['total']:,} weights.")


W_Q_SLIP = ("The notes write W^Q as (d_k × d), but Q = X·W^Q with X (n × d) needs W^Q to be (d × d_k). "
            "PyTorch's nn.Linear(d, d_k) stores its weight as (out, in) = (d_k × d) and computes x·Wᵀ: "
            "the same numbers, transposed.")


def _qkv_question(d):
    x = d["dims"]
    decoys = () if x.d_model == x.d_k else (((x.d_k, x.d_model), "That is how nn.Linear stores it, (out, in); "
                                             "in Q = X·W_Q the matrix is (d_model × d_k)."),)
    return Question("In Q = X·W_Q for one head, what is the shape of W_Q?", "shape", (x.d_model, x.d_k),
                    hint="X is n × d_model and Q is n × d_k: what fits between them?", decoys=decoys)


# 6. self- vs cross-attention
def _cross_compute(src, v):
    run = src.scratch_run("reverse", v["word"])
    L = run.cross.n_layers
    mirror = [float(np.trace(np.fliplr(run.cross.weights[L - 1, h][:-1]))) for h in range(run.cross.n_heads)]
    return dict(run=run, layer=L - 1, head=int(np.argmax(mirror)))


def _cross_figure(d):
    from viz.figures.teaching import attention_pair
    r, layer, h = d["run"], d["layer"], d["head"]
    return attention_pair([("encoder self-attention", r.encoder.weights[layer, h],
                            r.encoder.query_tokens, r.encoder.key_tokens),
                           ("decoder cross-attention", r.cross.weights[layer, h],
                            r.cross.query_tokens, r.cross.key_tokens)], f"Layer {layer}, head {h}")


def _cross_notice(d):
    c, layer, h = d["run"].cross, d["layer"], d["head"]
    w = c.weights[layer, h]
    hits = sum(int(np.argmax(w[t])) == len(c.key_tokens) - 1 - t for t in range(min(len(c.query_tokens) - 1,
                                                                                    len(c.key_tokens))))
    return (f"'{d['run'].source}' → '{d['run'].output_text}'. In cross-attention (layer {layer}, head {h}) "
            f"{hits} of {len(c.key_tokens)} output letters look hardest at the input letter they copy "
            f"(the mirror position); self-attention is {len(c.key_tokens)} × {len(c.key_tokens)}, "
            f"cross-attention {w.shape[0]} × {w.shape[1]}.")


def _cross_question(d):
    c = d["run"].cross
    tq, tk = len(c.query_tokens), len(c.key_tokens)
    decoys = () if tq == tk else (((tk, tq), "Rows are the decoder's queries, columns the encoder's keys."),)
    return Question("What is the shape of one head's cross-attention weights (rows × columns)?", "shape", (tq, tk),
                    hint="Count the output tokens (rows) and the input tokens (columns).", decoys=decoys)


# 7. multi-head attention
def _heads_compute(src, v):
    trace = src.text_trace(v["text"])
    layer = int(v["layer"])
    if not 0 <= layer < trace.n_layers:
        raise ValueError(f"Layer {layer} does not exist: the model has layers 0 to {trace.n_layers - 1}.")
    return dict(trace=trace, layer=layer, stats=src.head_stats(v["text"]))


def _heads_figure(d):
    from viz.figures import heads_grid
    return heads_grid(d["trace"], d["layer"], title=f"Every head of layer {d['layer']}", edge_ticks=True)


def _heads_notice(d):
    s, layer = d["stats"], d["layer"]
    prev, sep, own = (int(np.argmax(s[c][layer])) for c in ("to_prev", "to_sep", "to_self"))
    e = s["entropy"][layer]
    return (f"Layer {layer}: head {prev} puts {s['to_prev'][layer, prev]:.0%} of its weight on the previous token, "
            f"head {sep} {s['to_sep'][layer, sep]:.0%} on [SEP], head {own} {s['to_self'][layer, own]:.0%} on the token "
            f"itself; entropies run from {e.min():.2f} to {e.max():.2f} nats.")


def _heads_question(d):
    s, layer = d["stats"], d["layer"]
    return Question(f"Which head of layer {layer} puts the most weight on the next token?", "number",
                    int(np.argmax(s["to_next"][layer])), hint="Look for a stripe just right of the diagonal.")


# 8. positional encodings
def _pe_compute(src, v):
    n, d = int(v["positions"]), int(v["d_model"])
    return dict(pe=pos.sinusoidal(n, d), wl=pos.wavelengths(d), n=n, d=d)


def _pe_figure(d):
    from viz.figures.teaching import pe_heatmap
    return pe_heatmap(d["pe"], f"PE, {d['n']} positions × {d['d']} dimensions")


def _pe_notice(d):
    sim = pos.cosine_similarity(d["pe"])
    return (f"Dimensions 0 and 1 repeat every {d['wl'][0]:.1f} positions, dimensions {d['d'] - 2} and "
            f"{d['d'] - 1} every {d['wl'][-1]:,.0f}: fast waves tell neighbours apart, slow ones distant "
            f"positions. Cosine of PE(0) and PE(1): {sim[0, 1]:.2f}; of PE(0) and PE({d['n'] - 1}): {sim[0, -1]:.2f}.")


PE_SLIP = ("The notes print the second formula with sin; the paper (and this figure) use cos for index 2i+1: "
           "PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).")


def _pe_question(d):
    angle = 2 / 10000 ** (2 / d["d"])
    return Question(f"With d_model = {d['d']}, what is PE(pos = 2, dimension 3)? Two decimals.", "number",
                    round(float(d["pe"][2, 3]), 2), 0.01, "Dimension 3 is 2i+1 with i = 1.",
                    decoys=((round(math.sin(angle), 2), "That is sin: odd dimensions use cos."),))


# 9. the encoder-decoder of Vaswani et al.
def _encdec_compute(src, v):
    run = src.scratch_run("num2words", v["number"])
    return dict(run=run, layer=run.decoder_self.n_layers - 1)


def _encdec_figure(d):
    from viz.figures import attention_heatmap
    t, layer = d["run"].decoder_self, d["layer"]
    return attention_heatmap(t.head(layer, 0), t.query_tokens, t.key_tokens, t.mask,
                             title=f"Decoder masked self-attention, layer {layer}, head 0")


def _encdec_notice(d):
    r = d["run"]
    m = r.decoder_self.mask
    verdict = "right" if r.correct else f"expected '{r.expected_text}'"
    return (f"'{r.source}' → '{r.output_text}' ({verdict}). {r.encoder.n_layers} encoder and "
            f"{r.decoder_self.n_layers} decoder layers, {r.encoder.n_heads} heads each. Row t of the decoder "
            f"sees positions ≤ t only: {int((~m).sum())} of {m.size} cells are masked (grey).")


def _encdec_question(d):
    m = d["run"].decoder_self.mask
    return Question(f"How many cells of the decoder's {m.shape[0]} × {m.shape[1]} self-attention matrix are masked?",
                    "number", int((~m).sum()), hint="Count the cells above the diagonal: later positions.")


# 10. BERT
def _bert_compute(src, v):
    trace = src.text_trace(v["text"], v["pair"])
    stats = src.head_stats(v["text"], v["pair"])
    layer, head = np.unravel_index(int(np.argmax(stats["to_sep"])), stats["to_sep"].shape)
    return dict(trace=trace, stats=stats, layer=int(layer), head=int(head))


def _bert_figure(d):
    from viz.figures.text import head_figure
    return head_figure(d["trace"], d["layer"], d["head"])


def _bert_notice(d):
    t, s = d["trace"], d["stats"]["to_sep"]
    ps = t.meta["pair_start"]
    where = f"sentence B starts at position {ps}" if ps else "one sentence only (type sentence B for a pair)"
    return (f"BERT reads {len(t.query_tokens)} tokens: [CLS], your words, [SEP]; {where}. Layer {d['layer']}, "
            f"head {d['head']} (shown) sends {s[d['layer'], d['head']]:.0%} of its attention to [SEP]; "
            f"{int((s > 0.5).sum())} of {s.size} heads send more than half there.")


def _bert_question(d):
    return Question("How many tokens does BERT read for your input, [CLS] and [SEP] included?", "number",
                    len(d["trace"].query_tokens), hint="Count the labels on the figure's axis.")


# 11. the Vision Transformer
def _vit_compute(src, v):
    if v["sample"] not in SAMPLES:
        raise ValueError(f"There is no sample image '{v['sample']}'; choose one of {', '.join(SAMPLES)}.")
    trace = src.image_trace(v["sample"])
    grid, L = trace.meta["grid"], trace.n_layers
    on_patches = trace.weights[L - 1, :, 0, grid.n_prefix:].sum(-1)  # (H,)
    return dict(trace=trace, grid=grid, layer=L - 1, head=int(np.argmax(on_patches)))


def _vit_figure(d):
    from viz.figures.image import attention_overlay_figure
    t, g = d["trace"], d["grid"]
    return attention_overlay_figure(t.meta["image"], g.to_grid(t.head(d["layer"], d["head"])[0]), g,
                                    f"CLS → patches, layer {d['layer']}, head {d['head']}")


def _vit_notice(d):
    t, g = d["trace"], d["grid"]
    row = t.head(d["layer"], d["head"])[0]
    top = g.n_prefix + int(np.argmax(row[g.n_prefix:]))
    side = t.meta["image"].shape[0]
    return (f"The {side} × {side} picture is cut into {g.rows} × {g.cols} = {g.n_patches} patches of {g.patch} px; "
            f"with CLS the model reads {len(t.query_tokens)} tokens. In layer {d['layer']}, head {d['head']}, CLS "
            f"reads most from patch {t.key_tokens[top]} ({row[top]:.3f}) and keeps {row[0]:.3f} for itself.")


def _vit_question(d):
    T, n = len(d["trace"].query_tokens), d["grid"].n_patches
    return Question("What is the shape of one head's attention matrix for this image?", "shape", (T, T),
                    hint="Every token, CLS included, is both a query and a key.",
                    decoys=(((n, n), "That counts the patches only: CLS is a token too."),))


# 12. decoders (after BERT and ViT: appended, so that the links to steps 1 to 11 keep their steps)
def _spoken(token: str) -> str:
    return "space" if token == " " else token


def _decoder_compute(src, v):
    d = src.decoder_run(v["sequence"])
    layer, head = d["report"].induction
    nxt = int(np.argmax(d["probs"]))
    return dict(d, layer=layer, head=head, next=nxt, last=d["vocab"][d["ids"][-1]])


def _decoder_figure(d):
    from viz.figures import attention_heatmap
    t = d["trace"]
    return attention_heatmap(t.head(d["layer"], d["head"]), t.query_tokens, t.key_tokens, t.mask,
                             title=f"Decoder masked self-attention, layer {d['layer']}, head {d['head']}")


def _decoder_notice(d):
    t, ids = d["trace"], d["ids"]
    row = t.head(d["layer"], d["head"])[-1]
    key = int(np.argmax(row))
    target = np.flatnonzero(np.asarray(ids[:-1]) == ids[-1]) + 1  # after an earlier copy of the last token
    where = (f"the token after an earlier “{_spoken(d['last'])}”" if key in target.tolist() else
             "not a token after an earlier copy of it")
    nxt = _spoken(d["vocab"][d["next"]])
    return (f"The last position (“{_spoken(d['last'])}”) puts {row[key]:.0%} of head {d['layer']}.{d['head']}'s "
            f"attention on “{_spoken(d['vocab'][ids[key]])}” at position {key}, {where}; the model predicts "
            f"“{nxt}” with probability {d['probs'][d['next']]:.0%}. This head is an induction head "
            f"(prefix-matching score {d['report'].induction_score:.2f}): it copies what came next last time. "
            f"Grey cells are masked: no position reads a later one, so the model can be trained to predict them.")


def _decoder_question(d):
    return Question(f"Which token does the model predict after the last “{_spoken(d['last'])}”? (Type a letter, "
                    "or space.)", "token", _spoken(d["vocab"][d["next"]]),
                    hint="Read the last row of the figure: where does that position look, and what is written "
                         "there?")


# 13. fine-tuning (appended after the decoder, so that every older link keeps its step)
def _ft_compute(src, v):
    from viz.finetune.change import head_change
    d = src.finetune_pair(v["text"])
    js, cos = head_change(d["base"].weights, d["tuned"].weights)
    layer, head = np.unravel_index(int(np.argmax(js)), js.shape)
    return dict(d, js=js, cos=cos, layer=int(layer), head=int(head))


FT_TITLE = "How much each head's attention changed on your sentence"


def _ft_figure(d, mark: bool = True):
    from viz.figures.finetune import change_grid
    return change_grid(d["js"], d["cos"], FT_TITLE, (d["layer"], d["head"]) if mark else None)


def _ft_notice(d):
    from viz.finetune.change import layer_sentence
    from viz.finetune.job import N_PROBE
    r, js = d["result"], d["js"]
    return (f"The darkest cell is layer {d['layer']}, head {d['head']} (divergence {js[d['layer'], d['head']]:.3f}; "
            f"0 is unchanged, 1 the most two distributions can differ). On your sentence: {layer_sentence(js)} "
            f"Averaged over {N_PROBE} held-out reviews, after {r.steps} steps of fine-tuning: "
            f"{layer_sentence(r.js, r.before.accuracy, r.after.accuracy)}")


def _ft_question(d):
    L = d["js"].shape[0]
    return Question(f"Which layer holds the head whose attention changed most on your sentence? (0 to {L - 1})",
                    "number", d["layer"], hint="Find the darkest cell of the grid and read its row's number.")


STEPS: tuple[Step, ...] = (
    Step("attention", "Attention: which words, which pixels",
         "A model reading a sentence cannot treat every word alike: to understand one word it has to look "
         "at a few others. Attention is a learned, soft way of choosing where to look: each word hands out "
         "weights that sum to 1 over the whole input. For an image the same idea picks pixels (step 11). "
         "Below, a real BERT on your sentence: the row of the word you follow is where it looks.",
         "viz.context.strongest_link, viz.figures.text.head_figure (the text page's heatmap)",
         (SENTENCE, WORD), "token", _link, _attention_figure, _attention_notice, _attention_question),
    Step("softmax", "Softmax and temperature",
         "The weights come from a softmax: exponentiate every score and divide by the total, so they are "
         "positive and sum to 1. Dividing the scores by a temperature T first changes how decisive it is: "
         "a small T hands almost everything to the largest score, a large T spreads the weight evenly.",
         "viz.softmax_lab.softmax_with_temperature, viz.figures.teaching.softmax_bars (the softmax lab)",
         (Field("logits", "Scores (numbers separated by commas)", "2, 1, 0.5, -1"),
          Field("temperature", "Temperature T", "1", ("0.25", "0.5", "1", "2", "4"))),
         "number", _softmax_compute, _softmax_figure, _softmax_notice, _softmax_question),
    Step("scaled-dot-product", "Scaled dot-product attention",
         "Where do the scores come from? Each word asks with a query vector q, each word answers with a "
         "key vector k, and the score is their dot product. With d_k dimensions, a sum of d_k products "
         "grows with d_k, so it is divided by √d_k to keep the softmax from saturating: "
         "softmax(QKᵀ / √d_k)·V.",
         "viz.attention.score_terms, viz.figures.text.neuron_figure (the text page's neuron view)",
         (SENTENCE, WORD), "number", _scaled_compute, _scaled_figure, _scaled_notice, _scaled_question,
         open_figure=lambda d: _scaled_figure(d, show_score=False)),
    Step("context-vectors", "Context-aware vectors",
         "Attention's output for word i is a blend: x′ᵢ = Σⱼ wᵢⱼ·vⱼ, every word's value vector scaled by "
         "how much word i attends to it. So the same word gets a different vector in a different sentence: "
         "'bank' by a river and 'bank' for money start as the same embedding and drift apart as each layer "
         "mixes in its neighbours.",
         "viz.context.word_drift, viz.context.weighted_parts, viz.figures.context.context_figure "
         "(also the text page's 'Context vectors' view)",
         (CONTEXT_A, CONTEXT_B, CONTEXT_WORD), "number",
         lambda src, v: context_data(src, v["a"], v["b"], v["word"]), context_figure, context_notice,
         _context_question),
    Step("qkv-dimensions", "Queries, keys, values and their dimensions",
         "Q, K and V are three projections of the same input X (one row per word): Q = X·W_Q, K = X·W_K, "
         "V = X·W_V. With h heads, each head gets d_k = d_model / h dimensions, so the heads together "
         "cost as much as one full-width head. Change the sentence or the sizes and follow every shape.",
         "viz.dimensions.make_dims, trace_shapes, viz.figures.teaching.shape_diagram (the dimension tracer)",
         (Field("sentence", "Sentence (n = number of words)", "the fish swam near the bank"),
          Field("d_model", "d_model", "512", ("64", "128", "256", "512", "768")),
          Field("heads", "Heads h", "8", ("1", "2", "4", "8", "12", "16"))),
         "shape", _qkv_compute, _qkv_figure, _qkv_notice, _qkv_question, slip=W_Q_SLIP, slip_gives_answer=True,
         open_figure=lambda d: _qkv_figure(d, open_question=True)),
    Step("self-cross", "Self-attention and cross-attention",
         "In self-attention a sequence attends to itself: queries, keys and values all come from the same "
         "words. In cross-attention the queries come from one sequence (the output being written) and the "
         "keys and values from another (the input). Our small from-scratch model reverses a word: watch "
         "each output letter find the input letter it copies.",
         "viz.scratch.run (the from-scratch model), viz.figures.teaching.attention_pair",
         (Field("word", "A word for the from-scratch model (lowercase letters)", "attention"),),
         "shape", _cross_compute, _cross_figure, _cross_notice, _cross_question),
    Step("multi-head", "Multi-head attention",
         "One softmax can only look one way at a time. Multi-head attention runs several smaller attentions "
         "side by side, each with its own W_Q, W_K, W_V, and concatenates their outputs. Heads specialise: "
         "one follows the previous word, one rests on [SEP], one spreads out.",
         "viz.attention.head_stats, viz.figures.heads_grid",
         (SENTENCE, Field("layer", "Layer", "1", tuple(str(i) for i in range(6)))),
         "number", _heads_compute, _heads_figure, _heads_notice, _heads_question),
    Step("positional-encodings", "Positional encodings",
         "Attention compares words with words and never sees their order: shuffle the input and each word's "
         "weights just move with it. So a position vector is added to each embedding. Vaswani et al. use "
         "waves: sin on even dimensions, cos on odd ones, each pair at its own wavelength.",
         "viz.positional.sinusoidal, viz.figures.teaching.pe_heatmap (the positional page)",
         (Field("positions", "Positions", "64", ("16", "32", "64", "128")),
          Field("d_model", "d_model", "64", ("16", "32", "64", "128", "256"))),
         "number", _pe_compute, _pe_figure, _pe_notice, _pe_question, slip=PE_SLIP),
    Step("encoder-decoder", "The encoder-decoder of Vaswani et al.",
         "The original transformer has two stacks. The encoder reads the whole input with self-attention. "
         "The decoder writes the output one token at a time: its self-attention is masked so a position "
         "cannot peek at later ones, and its cross-attention reads the encoder. Here a small trained model "
         "writes a number in words.",
         "viz.scratch.run (num2words), viz.figures.attention_heatmap with the causal mask",
         (Field("number", "A number for the from-scratch model (0 to 999)", "412"),),
         "number", _encdec_compute, _encdec_figure, _encdec_notice, _encdec_question),
    Step("bert", "BERT: sentence pairs, [CLS] and [SEP]",
         "BERT keeps only the encoder and is trained to fill in hidden words, so every word sees both sides. "
         "Its input is one or two sentences: [CLS] first (its final vector feeds classifiers), [SEP] after "
         "each sentence, and a segment id telling the two apart. Many heads park their attention on [SEP] "
         "when they have nothing better to do.",
         "viz.attention.head_stats, viz.figures.text.head_figure (the text page)",
         (Field("text", "Sentence A", "The cat sat on the mat."), Field("pair", "Sentence B", "It was tired.")),
         "number", _bert_compute, _bert_figure, _bert_notice, _bert_question),
    Step("vit", "The Vision Transformer: patches and CLS",
         "A Vision Transformer treats an image like a sentence: it cuts it into square patches, flattens each "
         "into a vector, adds a position embedding, and puts a CLS token in front. The same attention then "
         "decides which pixels matter: here, where CLS looks in the last layer of DINOv2.",
         "viz.pretrained.image.trace_image, viz.figures.image.attention_overlay_figure (the image page)",
         (Field("sample", "Picture", "chelsea", tuple(SAMPLES)),),
         "shape", _vit_compute, _vit_figure, _vit_notice, _vit_question),
    Step("decoder", "Decoders and the next token",
         "GPT keeps only the decoder. Every layer is masked self-attention: a position reads itself and the "
         "tokens before it, never a later one, and the last position's output is a probability for every "
         "possible next token. Our small decoder (2 layers, characters as tokens) was trained on random "
         "text followed by its copy. To continue a copy it learned a trick real language models use too: "
         "find where the current token occurred before, and copy what came after it (an induction head).",
         "viz.scratch.gpt, viz.pretrained.decoder.head_report, viz.figures.attention_heatmap (the Decoder page)",
         (Field("sequence", "A sequence (lowercase letters, digits, space, punctuation)", "the fox jumps. the fox j"),),
         "token", _decoder_compute, _decoder_figure, _decoder_notice, _decoder_question),
    Step("finetuning", "Fine-tuning: what changes",
         "Every model so far was pretrained on huge amounts of text or pictures. Fine-tuning trains one a "
         "little further on a task of your own: here, a classifier head (positive or negative) on top of "
         "the BERT of the first steps, trained on short generated film reviews, with every weight free to "
         "move. Does attention move too? The grid compares each head's attention on your sentence before "
         "and after fine-tuning: 0 means unchanged.",
         "viz.finetune (the Fine-tuning page), viz.finetune.change.head_change, viz.figures.finetune.change_grid",
         (Field("text", "Sentence", "The acting was not good, and the film was far too long."),),
         "number", _ft_compute, _ft_figure, _ft_notice, _ft_question,
         open_figure=lambda d: _ft_figure(d, mark=False)),
)

BY_SLUG = {s.slug: s for s in STEPS}


def find_step(value: str | None) -> tuple[int, str | None]:
    """A URL's ?step= (1-based number or slug) -> (0-based index, a sentence if it was not usable)."""
    if value is None or not str(value).strip():
        return 0, None
    v = str(value).strip()
    if v.isdigit() and 1 <= int(v) <= len(STEPS):
        return int(v) - 1, None
    if v in BY_SLUG:
        return STEPS.index(BY_SLUG[v]), None
    shown = v[:40]
    return 0, (f"There is no step '{shown}': the lesson has steps 1 to {len(STEPS)} "
               f"({', '.join(BY_SLUG)}). Showing step 1.")


__all__ = ["STEPS", "BY_SLUG", "Step", "Field", "Question", "LocalSources", "LessonNotReady", "find_step", "tally",
           "WordNotFound"]
