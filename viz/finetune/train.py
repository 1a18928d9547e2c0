"""Fine-tune a BERT-family encoder with a two-class head, and save it as a plain transformers folder.

    ds = generated("agreement")
    run = finetune(ds, FinetuneConfig(steps=600), on_step=print)   # run.model, run.tokenizer
    ev = evaluate(run.model, run.tokenizer, ds.held_out)           # accuracy, per subset, confusion
    save(run, folder)     # AutoModelForSequenceClassification.from_pretrained(folder) reads it back

The model is transformers' AutoModelForSequenceClassification on the encoder's own weights (a fresh
linear head on the pooled [CLS], seeded), trained with AdamW at a constant learning rate on padded
batches drawn in a seeded order. No Streamlit; CPU or a CUDA device.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from viz.finetune.data import Dataset, Example
from viz.pretrained.text import FAMILIES, ModelLoadError, resolve_source

MAX_STEPS = 3000
MAX_BATCH = 64


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 400
    lr: float = 3e-5
    batch: int = 16
    seed: int = 0
    eval_every: int = 50  # held-out accuracy every this many steps (on at most EVAL_SAMPLE examples)
    max_length: int = 128  # tokens per example, longer ones are cut (IMDB reviews)

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or not 0 <= self.steps <= MAX_STEPS:
            raise ValueError(f"Steps must be a whole number from 0 to {MAX_STEPS}, got {self.steps!r}.")
        if not (isinstance(self.lr, float | int) and 1e-7 <= self.lr <= 1e-2):
            raise ValueError(f"The learning rate must be between 1e-7 and 1e-2, got {self.lr!r}.")
        if not isinstance(self.batch, int) or not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"The batch size must be a whole number from 1 to {MAX_BATCH}, got {self.batch!r}.")
        if not isinstance(self.eval_every, int) or self.eval_every < 1:
            raise ValueError(f"eval_every must be a whole number of at least 1, got {self.eval_every!r}.")
        if not isinstance(self.max_length, int) or not 8 <= self.max_length <= 512:
            raise ValueError(f"max_length must be from 8 to 512 tokens, got {self.max_length!r}.")


EVAL_SAMPLE = 200


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    by_subset: dict[str, float]
    confusion: tuple[tuple[int, int], tuple[int, int]]  # [true label][predicted label]
    n: int


@dataclass
class Finetuned:
    model: torch.nn.Module
    tokenizer: object
    labels: tuple[str, str]
    config: FinetuneConfig
    base: str  # the name shown for the encoder it started from
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def load_classifier(base: str | None, labels: tuple[str, str], device: str | torch.device = "cpu", seed: int = 0):
    """(model, tokenizer, shown name): the encoder `base` (None: the bundled all-MiniLM-L6-v2) with a
    fresh two-class head, initialised from `seed`. ModelLoadError with a sentence otherwise."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    source, name = resolve_source(base)
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=False)
    except Exception as err:
        raise ModelLoadError(f"Could not load the configuration of '{name}': {str(err).splitlines()[0][:200]}. "
                             "Give a local folder or use the bundled model.") from err
    if config.model_type not in FAMILIES:
        raise ModelLoadError(f"'{name}' is a {config.model_type!r} model; fine-tuning here takes the encoder "
                             f"families {', '.join(sorted(FAMILIES))}.")
    torch.manual_seed(seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=2, id2label=dict(enumerate(labels)), label2id={v: k for k, v in enumerate(labels)},
            attn_implementation="eager", use_safetensors=True, trust_remote_code=False)
    except Exception as err:
        raise ModelLoadError(f"Could not load '{name}' for fine-tuning: {str(err).splitlines()[0][:200]}") from err
    return model.to(device), tokenizer, name


def _encode(tokenizer, texts: list[str], max_length: int, device) -> dict:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return {k: v.to(device) for k, v in enc.items()}


def batches(n: int, batch: int, seed: int):
    """Endless mini-batches of indices into n examples: every example once per epoch, in an order
    shuffled anew each epoch from `seed`."""
    rng = random.Random(seed)
    order: list[int] = []
    while True:
        if len(order) < batch:
            epoch = list(range(n))
            rng.shuffle(epoch)
            order += epoch
        yield order[:batch]
        del order[:batch]


def finetune(ds: Dataset, cfg: FinetuneConfig, base: str | None = None, device: str | torch.device = "cpu",
             on_step: Callable[[int, float, Finetuned], None] | None = None) -> Finetuned:
    """Train `cfg.steps` steps on ds.train; `on_step(step, loss, run)` after each (0-based step)."""
    if not ds.train:
        raise ValueError("There are no training examples.")
    model, tokenizer, name = load_classifier(base, ds.labels, device, cfg.seed)
    run = Finetuned(model, tokenizer, ds.labels, cfg, name)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    start = time.perf_counter()
    draw = batches(len(ds.train), cfg.batch, cfg.seed)
    for step in range(cfg.steps):
        model.train()
        picked = [ds.train[i] for i in next(draw)]
        enc = _encode(tokenizer, [e.text for e in picked], cfg.max_length, model.device)
        labels = torch.tensor([e.label for e in picked], device=model.device)
        loss = model(**enc, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.losses.append(loss.item())
        if on_step is not None:
            on_step(step, run.losses[-1], run)
    model.eval()
    run.seconds = time.perf_counter() - start
    return run


@torch.no_grad()
def predict(model, tokenizer, texts: list[str], max_length: int = 128, batch: int = 64) -> np.ndarray:
    """(N, 2) class probabilities, in eval mode."""
    model.eval()
    out = []
    for i in range(0, len(texts), batch):
        enc = _encode(tokenizer, texts[i:i + batch], max_length, model.device)
        out.append(torch.softmax(model(**enc).logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


def evaluate(model, tokenizer, examples: tuple[Example, ...] | list[Example], max_length: int = 128) -> Evaluation:
    """Accuracy over `examples`, per subset, and the 2 x 2 confusion counts [true][predicted]."""
    if not examples:
        return Evaluation(float("nan"), {}, ((0, 0), (0, 0)), 0)
    pred = predict(model, tokenizer, [e.text for e in examples], max_length).argmax(axis=1)
    truth = np.array([e.label for e in examples])
    subsets = {}
    for name in sorted({e.subset for e in examples}):
        mask = np.array([e.subset == name for e in examples])
        subsets[name] = float((pred[mask] == truth[mask]).mean())
    confusion = tuple(tuple(int(((truth == t) & (pred == p)).sum()) for p in (0, 1)) for t in (0, 1))
    return Evaluation(float((pred == truth).mean()), subsets, confusion, len(examples))


def eval_sample(examples: tuple[Example, ...], n: int = EVAL_SAMPLE) -> tuple[Example, ...]:
    """The first n held-out examples (held-out lists are shuffled), the same at every evaluation."""
    return tuple(examples[:n])


RECORD = "finetune.json"  # what was trained and how it did (viz.finetune.job writes it)


def save(run: Finetuned, folder: Path) -> Path:
    """Write the model (config.json with id2label, model.safetensors) and the tokenizer's files
    into `folder`: AutoModelForSequenceClassification.from_pretrained(folder) loads it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    run.model.save_pretrained(folder, safe_serialization=True)
    run.tokenizer.save_pretrained(folder)
    return folder


def load_finetuned(folder: str | Path, device: str | torch.device = "cpu"):
    """(model, tokenizer) of a saved classifier folder, for predictions; ModelLoadError otherwise."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source, name = resolve_source(str(folder))
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, use_safetensors=True, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except Exception as err:
        raise ModelLoadError(f"Could not load the fine-tuned model '{name}': {str(err).splitlines()[0][:200]}") from err
    return model.eval().to(device), tokenizer
