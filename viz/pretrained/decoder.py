"""Pretrained decoders (the GPT-2 family) by Hub id or local folder, and the bundled from-scratch one,
behind one small interface the Decoder page draws from.

    dec = load_decoder("")                        # the bundled induction model (offline)
    dec = load_decoder("distilgpt2")              # a Hub id, or an allowed local folder
    ids = dec.encode("the cat sat. the cat sat.")
    trace = dec.trace(ids)                        # AttentionTrace (L, H, T, T), causal mask
    logits = dec.next_logits(ids)                 # (V,) the next token's logits

Hugging Face models load as in viz.pretrained.text: `attn_implementation="eager"` so that the
weights come back (one tensor per layer, checked), safetensors only, `trust_remote_code` never.
Q, K and V are read with a forward hook on GPT-2's fused `c_attn` (its output is [Q | K | V]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from viz.attention import split_output_projection
from viz.hooks import recording
from viz.pretrained.names import model_folder, without_server_paths
from viz.scratch import gpt
from viz.trace import AttentionTrace

BUNDLED_NAME = "induction (bundled, 2 layers)"
FAMILIES = ("gpt2",)  # GPT-2, DistilGPT2 and their fine-tunes share GPT-2's modules
MAX_TOKENS = 512  # longer inputs are refused with a sentence: the page draws (T, T) per head


class DecoderLoadError(RuntimeError):
    """A decoder that cannot be loaded; the message is a sentence saying what to do."""


@dataclass
class Decoder:
    """A causal language model the page can trace. `kind` is "bundled" or "hf"."""
    name: str
    kind: str
    model: torch.nn.Module
    vocab_size: int
    max_len: int
    n_layers: int
    n_heads: int
    tokenizer: object = field(default=None, repr=False)  # hf only
    vocab: tuple[str, ...] = ()  # bundled only

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (the bundled model starts with <s>). gpt.DecoderInputError if unusable."""
        limit = min(self.max_len, MAX_TOKENS)
        if self.kind == "bundled":
            return gpt.encode(self.vocab, text, limit)
        if not (text or "").strip():
            raise gpt.DecoderInputError("Type some text, or press “Repeat it” for a random sequence and its copy.")
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > limit:
            raise gpt.DecoderInputError(f"The text is {len(ids)} tokens; this page reads at most {limit}. Shorten it.")
        return ids

    def labels(self, ids: list[int]) -> tuple[str, ...]:
        """One label per token, as figures show them (a space as ␣)."""
        if self.kind == "bundled":
            return tuple(gpt.show_token(self.vocab[i]) for i in ids)
        return tuple(self.token_text(i) for i in ids)

    def token_text(self, token_id: int) -> str:
        if self.kind == "bundled":
            return gpt.show_token(self.vocab[token_id])
        text = self.tokenizer.decode([token_id])
        return text.replace(" ", "␣").replace("\n", "⏎") or f"<{token_id}>"

    def random_repeat(self, rng: np.random.Generator, n: int) -> list[int]:
        """A random sequence of n ordinary tokens then its copy (the bundled model: after <s>)."""
        if self.kind == "bundled":
            return gpt.random_repeat(rng, n, self.vocab_size)
        special = set(self.tokenizer.all_special_ids)
        pool = np.array([i for i in range(min(self.vocab_size, 50_000)) if i not in special])
        first = rng.choice(pool, size=n).tolist()
        return first + first

    def first_repeat(self) -> int:
        """Ids before the random half in random_repeat's sequences: 1 (<s>) bundled, else 0."""
        return 1 if self.kind == "bundled" else 0

    @torch.no_grad()
    def next_logits(self, ids: list[int]) -> np.ndarray:
        x = torch.tensor([ids], device=self.device)
        out = self.model(x) if self.kind == "bundled" else self.model(input_ids=x).logits
        return out[0, -1].double().cpu().numpy()

    @torch.no_grad()
    def matrices(self) -> list[tuple[np.ndarray, ...]]:
        """Each layer's (W_Q, W_K, W_V, W_O), row-vector math matrices (C, C), for K-composition."""
        if self.kind == "bundled":
            from viz.scratch.induction import gpt_matrices
            return gpt_matrices(self.model)
        out = []
        for b in self.model.transformer.h:
            w = b.attn.c_attn.weight.double().cpu().numpy()  # Conv1D: (C, 3C), x @ w = [Q | K | V]
            C = w.shape[0]
            out.append((w[:, :C], w[:, C:2 * C], w[:, 2 * C:], b.attn.c_proj.weight.double().cpu().numpy()))
        return out

    def trace(self, ids: list[int]) -> AttentionTrace:
        if self.kind == "bundled":
            return gpt.trace_ids(self.model, ids, self.vocab)
        return _trace_hf(self, ids)


def load_decoder(name_or_path: str | None = None, device: str = "cpu") -> Decoder:
    """The bundled induction model for None or "", else a GPT-2-family model by Hub id or folder."""
    if name_or_path is None or not str(name_or_path).strip() or str(name_or_path).strip() == BUNDLED_NAME:
        model, vocab = gpt.load_bundled("induction", device)
        c = model.cfg
        return Decoder(BUNDLED_NAME, "bundled", model, len(vocab), c.max_len, c.n_layers, c.n_heads, vocab=vocab)
    if str(name_or_path).strip() in gpt.BUNDLED:
        model, vocab = gpt.load_bundled(str(name_or_path).strip(), device)
        c = model.cfg
        return Decoder(str(name_or_path).strip(), "bundled", model, len(vocab), c.max_len, c.n_layers, c.n_heads,
                       vocab=vocab)
    return _load_hf(str(name_or_path).strip(), device)


def _load_hf(name: str, device: str) -> Decoder:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        source = model_folder(name) or name
    except ValueError as err:
        raise DecoderLoadError(str(err)) from None
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    except Exception as err:  # offline, no such id, broken json
        raise DecoderLoadError(
            f"Could not load the configuration of '{without_server_paths(name)[:80]}': it is not an allowed "
            "local folder, and the Hugging Face Hub may be unreachable from here (no network). Give a local "
            f"folder with config.json and model.safetensors, or leave the box empty for the bundled model. "
            f"({type(err).__name__})") from err
    if config.model_type not in FAMILIES:
        raise DecoderLoadError(f"'{without_server_paths(name)[:80]}' is a {config.model_type!r} model; this page "
                               f"reads decoders of the GPT-2 family ({', '.join(FAMILIES)}), such as gpt2 or distilgpt2.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        model = AutoModelForCausalLM.from_pretrained(source, attn_implementation="eager", use_safetensors=True,
                                                     trust_remote_code=False)
    except Exception as err:
        raise DecoderLoadError(
            f"Could not load '{without_server_paths(name)[:80]}' ({type(err).__name__}: "
            f"{without_server_paths(str(err))[:160]}). The page reads safetensors weights and the model's "
            "tokenizer files.") from err
    model.eval().to(device)
    c = model.config
    return Decoder(name, "hf", model, c.vocab_size, c.n_positions, c.n_layer, c.n_head, tokenizer=tokenizer)


@torch.no_grad()
def _trace_hf(dec: Decoder, ids: list[int]) -> AttentionTrace:
    model = dec.model
    blocks = model.transformer.h
    C, H = model.config.n_embd, dec.n_heads
    D = C // H
    x = torch.tensor([ids], device=dec.device)
    with recording((i, b.attn.c_attn) for i, b in enumerate(blocks)) as store:
        out = model(input_ids=x, output_attentions=True)
    if out.attentions is None or len(out.attentions) != dec.n_layers:
        raise DecoderLoadError(f"'{dec.name}' returned no attention weights (eager attention is needed).")
    T = len(ids)

    def heads(t: torch.Tensor) -> np.ndarray:  # (1, T, C) -> (H, T, D)
        return t[0].view(T, H, D).transpose(0, 1).float().cpu().numpy()

    q, k, v = ([], [], [])
    for i in range(dec.n_layers):
        qi, ki, vi = store[i].split(C, dim=2)
        q.append(heads(qi)), k.append(heads(ki)), v.append(heads(vi))
    weights = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()  # (L, H, T, T)
    # GPT-2's Conv1D stores (in, out): x @ weight, already the math matrix
    w_o = np.stack([split_output_projection(b.attn.c_proj.weight.T.float().cpu().numpy(), H) for b in blocks])
    return AttentionTrace(dec.labels(ids), dec.labels(ids), weights=weights, scores=None,
                          queries=np.stack(q), keys=np.stack(k), values=np.stack(v),
                          mask=np.tril(np.ones((T, T), dtype=bool)), name="masked self-attention",
                          scaling=1.0 / np.sqrt(D), w_o=w_o, meta={"model": dec.name})


# --- what the page says about a model's heads (computed, no Streamlit) ----------------------------

INDUCTION_THRESHOLD = 0.4  # a head whose prefix-matching score reaches this is called an induction head


@dataclass(frozen=True)
class HeadReport:
    """Every head's detector scores on random repeated sequences, the induction head found from
    them, and the layer-before head its keys read most (K-composition), with the sentences."""
    scores: dict  # {"previous" | "duplicate" | "prefix": (L, H)}
    induction: tuple[int, int]  # the best prefix-matching head
    induction_score: float
    is_induction: bool
    composition: np.ndarray | None  # (layer, H): K-composition of the induction head with earlier heads
    source: tuple[int, int] | None  # the earlier head it composes with most
    n_sequences: int
    n: int
    sentence: str
    circuit_sentence: str


def head_report(dec: Decoder, n_sequences: int = 8, n: int = 20, seed: int = 0) -> HeadReport:
    from viz.scratch.induction import best_head, head_scores, k_composition

    rng = np.random.default_rng(seed)
    totals: dict[str, np.ndarray] = {}
    for _ in range(n_sequences):
        ids = dec.random_repeat(rng, n)
        for name, s in head_scores(dec.trace(ids).weights, ids).items():
            totals[name] = totals.get(name, 0) + s / n_sequences
    layer, head, score = best_head(totals["prefix"])
    found = score >= INDUCTION_THRESHOLD
    where = f"on {n_sequences} random sequences of {n} tokens, each followed by its copy"
    if found:
        others = [f"{a}.{b}" for a, b in zip(*np.nonzero(totals["prefix"] >= INDUCTION_THRESHOLD), strict=True)
                  if (a, b) != (layer, head)]
        also = (f" {len(others)} more head{'s' if len(others) > 1 else ''} score{'' if len(others) > 1 else 's'} above "
                f"{INDUCTION_THRESHOLD}: {', '.join(others)}." if others else " No other head scores above "
                f"{INDUCTION_THRESHOLD}.")
        sentence = (f"Head {layer}.{head} is an induction head: from each token of the copy it puts on average "
                    f"{score:.0%} of its attention on the token that followed the same token the first time "
                    f"({where}).{also}")
    else:
        sentence = (f"No head here is an induction head: the best prefix-matching score is {score:.2f} "
                    f"(head {layer}.{head}, {where}); an induction head scores near 1.")
    composition = source = None
    if layer == 0:
        circuit = (f"Head {layer}.{head} is in the first layer, so no earlier head can feed its keys: with one "
                   "layer there is no two-head circuit, which is why a 1-layer model cannot do induction.")
    else:
        composition = k_composition(dec.matrices(), dec.n_heads, layer, head)
        src = np.unravel_index(int(np.argmax(composition)), composition.shape)
        source = (int(src[0]), int(src[1]))
        prev = totals["previous"][source]
        best_prev = best_head(totals["previous"][:layer])
        same = (best_prev[0], best_prev[1]) == source
        circuit = (f"Its keys read head {source[0]}.{source[1]} most (K-composition {composition[source]:.2f}; "
                   f"the mean over the {composition.size} earlier heads is {composition.mean():.2f}). Head "
                   f"{source[0]}.{source[1]} has a previous-token score of {prev:.2f}" +
                   (", the highest before it: it writes each token's predecessor, which the induction head's keys "
                    "match." if same else f"; the strongest previous-token head is {best_prev[0]}.{best_prev[1]} "
                    f"({best_prev[2]:.2f})."))
    return HeadReport(totals, (layer, head), score, found, composition, source, n_sequences, n, sentence, circuit)
