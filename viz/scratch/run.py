"""Run a trained toy-task model on a user's text and return every attention it computed.

    model, _ = load_checkpoint(checkpoint_path("reverse"))
    result = run(model, TASKS["reverse"], "attention")
    result.output_text, result.cross.weights.shape   # 'noitnetta', (L, H, Tt, Ts)

Decoder positions are labelled by the token they write: row "four" of the cross-attention is
the position whose output is "four", reading the source digits. Its self-attention keys are the
decoder's inputs (<s>, then the tokens written so far), under the causal mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from viz.attention import split_output_projection
from viz.scratch.model import Transformer, capture
from viz.scratch.tasks import BOS, EOS, Task
from viz.trace import AttentionTrace


class InputError(ValueError):
    """The user's input can't be run; the message says why and what to type instead."""


@dataclass(frozen=True)
class PreparedInput:
    text: str
    notes: tuple[str, ...]  # what was changed, shown on the page (truncation, case, ...)


@dataclass(frozen=True)
class ScratchRun:
    task: str
    source: str
    output_tokens: tuple[str, ...]
    output_text: str
    expected_text: str
    encoder: AttentionTrace  # encoder self-attention, (L, H, Ts, Ts)
    decoder_self: AttentionTrace  # masked self-attention, (L, H, Tt, Tt), causal mask attached
    cross: AttentionTrace  # encoder-decoder attention, (L, H, Tt, Ts)
    embeddings: np.ndarray  # X, the encoder's input (Ts, C): token embedding + position
    notes: tuple[str, ...]

    @property
    def correct(self) -> bool:
        return self.output_text == self.expected_text

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Every array the run holds: the server's trace cache makes them read-only and counts them."""
        return (*self.encoder.arrays(), *self.decoder_self.arrays(), *self.cross.arrays(), self.embeddings)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())


def _show(ch: str) -> str:
    return "space" if ch == " " else repr(ch)


def prepare_input(task: Task, raw: str) -> PreparedInput:
    """Validate and normalise a user's text for `task`; raise InputError with a sentence if unusable."""
    text = (raw or "").strip()
    notes: list[str] = []
    if not text:
        raise InputError(f"Type something to run: for example {task.example!r}.")
    if task.unknown_symbols(text) and not task.unknown_symbols(text.lower()):
        text = text.lower()
        notes.append("Changed to lowercase: the model was trained on lowercase letters.")
    unknown = task.unknown_symbols(text)
    if unknown:
        shown = ", ".join(_show(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        allowed = "".join(task.src_symbols)
        raise InputError(
            f"The {task.title.lower()} model has no token for {shown}. It knows only: {allowed}."
        )
    if task.name == "num2words" and len(text) > 1 and text.startswith("0"):
        text = text.lstrip("0") or "0"
        notes.append(f"Leading zeros removed: reading the number {text}.")
    if len(text) > task.max_src_len:
        notes.append(
            f"Input truncated to its first {task.max_src_len} characters "
            f"(of {len(text)}): the model was trained on at most {task.max_src_len}."
        )
        text = text[: task.max_src_len]
    return PreparedInput(text, tuple(notes))


def _trace(
    model: Transformer, store: dict[str, torch.Tensor], module: str, n_layers: int, q_tokens, k_tokens,
    name: str, mask=None,
) -> AttentionTrace:
    """Gather one attention module's hooks over layers, drop the batch: (L, H, T, ...) arrays,
    and each head's slice of the module's output projection W_O.

    `module` is the path inside a layer, e.g. "encoder.{i}.self_attn".
    """
    def stack(hook: str) -> np.ndarray:
        return np.stack(
            [store[f"{module.format(i=i)}.{hook}"][0].float().cpu().numpy() for i in range(n_layers)]
        )

    return AttentionTrace(
        query_tokens=q_tokens,
        key_tokens=k_tokens,
        weights=stack("hook_weights"),
        scores=stack("hook_scores"),
        queries=stack("hook_q"),
        keys=stack("hook_k"),
        values=stack("hook_v"),
        mask=mask,
        name=name,
        w_o=np.stack([split_output_projection(model.get_submodule(module.format(i=i)).w_o.weight.float().cpu().numpy(),
                                              model.cfg.n_heads) for i in range(n_layers)]),
    )


@torch.no_grad()
def run(model: Transformer, task: Task, raw_text: str) -> ScratchRun:
    """Greedy-decode `raw_text`, then one teacher-forced pass over the output to record attention."""
    return run_many(model, task, [raw_text])[0]


@torch.no_grad()
def run_many(model: Transformer, task: Task, raw_texts: list[str]) -> list[ScratchRun]:
    """run() for several inputs, with one batched greedy decoding: what students who press Enter
    together share (viz.ui.cache batches them). Decoding is a loop of up to 17 small decoder
    passes whose cost is mostly Python and per-operator overhead, so 8 words decode in about the
    time of one. Sources are right-padded with <pad>, which every attention masks, so each output
    is the one its input gets alone (tests/test_scratch_model.py checks it). Attention is then
    recorded per input, unpadded. An unusable input raises InputError for the whole call."""
    prepared = [prepare_input(task, raw) for raw in raw_texts]
    device = next(model.parameters()).device
    ids = [task.encode_src(p.text) for p in prepared]
    width = max(len(i) for i in ids)
    src = torch.tensor([i + [model.cfg.pad_id] * (width - len(i)) for i in ids], device=device)
    out = model.greedy(src, BOS, EOS, task.max_tgt_len + 1)[:, 1:].tolist()
    runs = []
    for p, generated in zip(prepared, out, strict=True):
        if EOS in generated:  # what follows a </s> is the batch's padding
            generated = generated[: generated.index(EOS) + 1]
        runs.append(_record(model, task, p, generated))
    return runs


@torch.no_grad()
def run_on_target(model: Transformer, task: Task, raw_text: str) -> ScratchRun:
    """Like run, but the decoder is fed the correct answer instead of its own output.

    The token axes then stay the same while a model trains, so snapshots line up.
    """
    prepared = prepare_input(task, raw_text)
    return _record(model, task, prepared, [*task.encode_tgt(task.solve(prepared.text)), EOS])


def _record(model: Transformer, task: Task, prepared: PreparedInput, generated: list[int]) -> ScratchRun:
    """One forward pass with decoder input <s> + generated[:-1], every attention captured."""
    device = next(model.parameters()).device
    src = torch.tensor([task.encode_src(prepared.text)], device=device)  # (1, Ts)
    tgt_in = torch.tensor([[BOS, *generated[:-1]]], device=device)  # (1, Tt)
    with capture(model) as store:
        model(src, tgt_in)

    src_tokens = tuple(prepared.text)
    written = tuple(task.tgt_vocab[i] for i in generated)  # what each decoder position writes
    read = tuple(task.tgt_vocab[i] for i in tgt_in[0].tolist())  # what each position reads
    output_tokens = tuple(task.decode_tgt(generated))
    n_enc, n_dec = model.cfg.n_encoder_layers, model.cfg.n_decoder_layers
    causal = np.tril(np.ones((len(written), len(read)), dtype=bool))
    return ScratchRun(
        task=task.name,
        source=prepared.text,
        output_tokens=output_tokens,
        output_text=task.target_joiner.join(output_tokens),
        expected_text=task.target_joiner.join(task.solve(prepared.text)),
        encoder=_trace(model, store, "encoder.{i}.self_attn", n_enc, src_tokens, src_tokens,
                       "encoder self-attention"),
        decoder_self=_trace(model, store, "decoder.{i}.self_attn", n_dec, written, read,
                            "decoder masked self-attention", mask=causal),
        cross=_trace(model, store, "decoder.{i}.cross_attn", n_dec, written, src_tokens,
                     "encoder-decoder cross-attention"),
        embeddings=store["src_embed.hook_out"][0].float().cpu().numpy(),
        notes=prepared.notes,
    )
