"""Shapes through one multi-head attention layer, parameter counts, and a dimension worksheet.

Math convention (the notes' and the paper's): a row per token, Q_i = X · W_Q,i with
X (n x d_model) and W_Q,i (d_model x d_k). PyTorch's nn.Linear(in, out) stores its weight as
(out, in) and computes x · Wᵀ, so the same matrix appears transposed in a state dict: that is
why some notes write W_Q as (d_k x d_model).

Names: B batch, n tokens, h heads, d_k = d_v = d_model / h unless chosen otherwise.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

import numpy as np

MAX_DIM = 1_000_000


class DimensionError(ValueError):
    """The chosen sizes don't make a valid attention layer; the message says why and what to pick."""


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class LayerDims:
    n: int
    d_model: int
    h: int
    d_k: int
    d_v: int
    batch: int | None = None  # None: no batch dimension


def make_dims(n: int, d_model: int, h: int, d_k: int | None = None, d_v: int | None = None,
              batch: int | None = None) -> LayerDims:
    """Validate sizes; d_k and d_v default to d_model / h. Raises DimensionError with a sentence."""
    for name, v in (("n", n), ("d_model", d_model), ("h", h), ("d_k", d_k), ("d_v", d_v), ("batch", batch)):
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) and not float(v).is_integer():
            raise DimensionError(f"{name} = {v} is not a whole number: sizes count dimensions or tokens.")
        if int(v) > MAX_DIM:
            raise DimensionError(f"{name} = {int(v)} is larger than this tracer handles ({MAX_DIM:,}).")
    n, d_model, h = int(n), int(d_model), int(h)
    if n < 1:
        raise DimensionError(f"n = {n}: a sequence needs at least one token. Choose n ≥ 1.")
    if d_model < 1:
        raise DimensionError(f"d_model = {d_model}: every token needs a vector of at least one number. "
                             "Choose d_model ≥ 1 (the paper uses 512).")
    if h < 1:
        raise DimensionError(f"h = {h}: multi-head attention needs at least one head.")
    if d_k is None and d_v is None and h > d_model:
        raise DimensionError(f"h = {h} heads is more than d_model = {d_model} dimensions: each head would "
                             f"get d_model / h = {d_model / h:.3g} of a dimension. Choose h ≤ {d_model}.")
    if (d_k is None or d_v is None) and d_model % h:
        ok = ", ".join(map(str, divisors(d_model)[:12]))
        raise DimensionError(f"d_model = {d_model} is not divisible by h = {h}: d_model / h = {d_model / h:.3g} "
                             f"is not a whole number of dimensions per head. Choose h from {ok}"
                             f"{' ...' if len(divisors(d_model)) > 12 else ''}, or set d_k and d_v yourself.")
    d_k = d_model // h if d_k is None else int(d_k)
    d_v = d_model // h if d_v is None else int(d_v)
    if d_k < 1 or d_v < 1:
        raise DimensionError(f"d_k = {d_k}, d_v = {d_v}: each head needs at least one dimension.")
    if batch is not None and int(batch) < 1:
        raise DimensionError(f"batch = {batch}: a batch holds at least one sequence.")
    return LayerDims(n, d_model, h, d_k, d_v, None if batch is None else int(batch))


def format_shape(shape: tuple[int, ...]) -> str:
    return " × ".join(str(s) for s in shape)


@dataclass(frozen=True)
class Step:
    name: str
    symbolic: str  # "n × d_k"
    shape: tuple[int, ...]
    note: str = ""


@dataclass(frozen=True)
class ParamRow:
    matrix: str
    shape: str  # of one matrix, math orientation
    count: str  # "h × d_model × d_k"
    weights: int
    biases: int


def trace_shapes(d: LayerDims) -> list[Step]:
    """Every tensor of one multi-head attention layer, in order, with its shape."""
    b = () if d.batch is None else (d.batch,)
    bs = "" if d.batch is None else "B × "
    return [
        Step("X", f"{bs}n × d_model", (*b, d.n, d.d_model), "one row per token"),
        Step("Q_i = X·W_Q,i", f"{bs}n × d_k", (*b, d.n, d.d_k), f"W_Q,i: {d.d_model} × {d.d_k}"),
        Step("K_i = X·W_K,i", f"{bs}n × d_k", (*b, d.n, d.d_k), f"W_K,i: {d.d_model} × {d.d_k}"),
        Step("V_i = X·W_V,i", f"{bs}n × d_v", (*b, d.n, d.d_v), f"W_V,i: {d.d_model} × {d.d_v}"),
        Step("Q_i·K_iᵀ", f"{bs}n × n", (*b, d.n, d.n), "a score per (query, key)"),
        Step("÷ √d_k", f"{bs}n × n", (*b, d.n, d.n), f"÷ {math.sqrt(d.d_k):.4g}"),
        Step("A_i = softmax", f"{bs}n × n", (*b, d.n, d.n), "each row sums to 1"),
        Step("head_i = A_i·V_i", f"{bs}n × d_v", (*b, d.n, d.d_v), f"for each of the {d.h} heads"),
        Step("concat(heads)", f"{bs}n × h·d_v", (*b, d.n, d.h * d.d_v), "heads side by side"),
        Step("output = concat·W_O", f"{bs}n × d_model", (*b, d.n, d.d_model),
             f"W_O: {d.h * d.d_v} × {d.d_model}"),
    ]


def parameter_table(d: LayerDims) -> list[ParamRow]:
    """Weights and biases of the layer (biases as in nn.Linear(bias=True))."""
    return [
        ParamRow("W_Q (all heads)", f"h × ({d.d_model} × {d.d_k})", "h·d_model·d_k", d.h * d.d_model * d.d_k, d.h * d.d_k),
        ParamRow("W_K (all heads)", f"h × ({d.d_model} × {d.d_k})", "h·d_model·d_k", d.h * d.d_model * d.d_k, d.h * d.d_k),
        ParamRow("W_V (all heads)", f"h × ({d.d_model} × {d.d_v})", "h·d_model·d_v", d.h * d.d_model * d.d_v, d.h * d.d_v),
        ParamRow("W_O", f"{d.h * d.d_v} × {d.d_model}", "h·d_v·d_model", d.h * d.d_v * d.d_model, d.d_model),
    ]


def total_parameters(d: LayerDims, biases: bool = True) -> int:
    return sum(r.weights + (r.biases if biases else 0) for r in parameter_table(d))


def head_weight(linear_weight: np.ndarray, head: int, n_heads: int) -> np.ndarray:
    """W_Q,i in math orientation (d_model x d_k) from an nn.Linear weight stored as (out, in).

    Rows head·d_k .. (head+1)·d_k of the (h·d_k, d_model) weight belong to head i; transposed,
    they are the (d_model x d_k) matrix with Q_i = X · W_Q,i (+ bias).
    """
    out, _ = linear_weight.shape
    d_k = out // n_heads
    return np.asarray(linear_weight)[head * d_k:(head + 1) * d_k, :].T


# ---------------------------------------------------------------- worksheet

KINDS = ("q", "k", "v", "w_q", "scores", "weights", "head", "concat", "w_o", "w_o_params",
         "w_q_params", "linear_weight", "output", "batched_q")
COUNT_KINDS = ("w_o_params", "w_q_params")


@dataclass(frozen=True)
class Question:
    number: int
    kind: str
    text: str
    answer: tuple[int, ...] | int
    dims: LayerDims
    head: int  # 0-based; the text says head + 1

    @property
    def answer_text(self) -> str:
        return f"{self.answer:,}" if isinstance(self.answer, int) else format_shape(self.answer)


def _question(number: int, kind: str, d: LayerDims, head: int) -> Question:
    i = head + 1
    given = f"d_model = {d.d_model}, h = {d.h}, n = {d.n}"
    q = {
        "q": (f"what is the shape of Q_{i}", (d.n, d.d_k)),
        "k": (f"what is the shape of K_{i}", (d.n, d.d_k)),
        "v": (f"what is the shape of V_{i}", (d.n, d.d_v)),
        "w_q": (f"what is the shape of W_Q,{i}, so that Q_{i} = X·W_Q,{i}", (d.d_model, d.d_k)),
        "scores": (f"what is the shape of Q_{i}·K_{i}ᵀ", (d.n, d.n)),
        "weights": (f"what is the shape of softmax(Q_{i}·K_{i}ᵀ / √d_k)", (d.n, d.n)),
        "head": (f"what is the shape of head_{i} = softmax(Q_{i}·K_{i}ᵀ / √d_k)·V_{i}", (d.n, d.d_v)),
        "concat": ("what is the shape of the concatenation of all heads", (d.n, d.h * d.d_v)),
        "w_o": ("what is the shape of W_O", (d.h * d.d_v, d.d_model)),
        "w_o_params": ("how many parameters does W_O have (weights only, no bias)", d.h * d.d_v * d.d_model),
        "w_q_params": ("how many parameters do the query projections of all heads have together "
                       "(weights only, no bias)", d.h * d.d_model * d.d_k),
        "linear_weight": (f"what is the shape of .weight of nn.Linear({d.d_model}, {d.h * d.d_k}), the PyTorch "
                          "layer that makes all heads' queries at once", (d.h * d.d_k, d.d_model)),
        "output": ("what is the shape of the layer's output", (d.n, d.d_model)),
        "batched_q": (f"what is the shape of the queries of all heads for a batch of B = {d.batch} sequences, "
                      "ordered (B, h, n, d_k)", (d.batch or 1, d.h, d.n, d.d_k)),
    }[kind]
    if kind == "batched_q":
        given += f", B = {d.batch}"
    return Question(number, kind, f"{given}: {q[0]}?", q[1], d, head)


def worksheet(seed: int, n_questions: int = 8) -> list[Question]:
    """A sheet of dimension questions. The same seed gives the same sheet on any machine
    (Python's random.Random with an int seed is stable across versions)."""
    rng = random.Random(int(seed))
    kinds = rng.sample(KINDS, k=min(n_questions, len(KINDS)))
    sheet = []
    for number, kind in enumerate(kinds, start=1):
        d_model = rng.choice((64, 128, 256, 384, 512, 768, 1024))
        h = rng.choice([h for h in (1, 2, 4, 6, 8, 12, 16) if d_model % h == 0 and d_model // h >= 16])
        n = rng.randint(3, 40)
        batch = rng.randint(2, 32) if kind == "batched_q" else None
        d = make_dims(n, d_model, h, batch=batch)
        sheet.append(_question(number, kind, d, rng.randrange(h)))
    return sheet


class AnswerError(ValueError):
    """A typed answer can't be read; the message shows the expected form."""


def parse_answer(text: str, count: bool) -> tuple[int, ...] | int:
    """'10 x 64', '10×64', '(10, 64)', '10,64', '10 by 64' -> (10, 64); '262,144' or '262 144' -> 262144."""
    s = (text or "").strip().strip("()[]").strip()
    if not s:
        raise AnswerError("Type an answer first.")
    if count:
        digits = re.sub(r"[\s,_']", "", s)
        if not digits.isdigit():
            raise AnswerError(f"{text!r} is not a whole number: type a count such as 32768 or 32,768.")
        return int(digits)
    if re.search(r"^(?:[x×X*,]|by)|(?:[x×X*,]|by)$", s):
        raise AnswerError(f"{text!r} is missing a size: type every dimension, e.g. 10 x 64.")
    parts = [p for p in re.split(r"\s*(?:[x×X*,]|by)\s*|\s+", s) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise AnswerError(f"{text!r} is not a shape: type it as sizes joined by x, × or commas, e.g. 10 x 64.")
    return tuple(int(p) for p in parts)


def check_answer(question: Question, text: str) -> bool:
    """True when `text` states the question's answer. Raises AnswerError if it can't be read."""
    return parse_answer(text, question.kind in COUNT_KINDS) == question.answer


def projection_error(x: np.ndarray, linear_weight: np.ndarray, bias: np.ndarray, q_head: np.ndarray,
                     head: int, n_heads: int) -> float:
    """max |X·W_Q,i + b_i − Q_i|: recomputes a recorded head's queries from the nn.Linear weight."""
    w = head_weight(linear_weight, head, n_heads)  # (d_model, d_k)
    d_k = w.shape[1]
    return float(np.abs(x @ w + bias[head * d_k:(head + 1) * d_k] - q_head).max())
