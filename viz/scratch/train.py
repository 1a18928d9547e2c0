"""Train, evaluate, save and load the toy-task models.

    python -m viz.scratch.train --task reverse        # writes viz/scratch/checkpoints/reverse.pt
    python -m viz.scratch.train --task reverse --positional learned
                                                      # writes .../reverse_learned.pt
    python -m viz.scratch.train --task induction      # the decoder-only model: .../induction.pt
    python -m viz.scratch.train --task induction --layers 1   # its control: induction_1layer.pt

Training is seeded (data, initialisation, torch's RNG), so the same command gives the same
model on the same machine. Accuracy is exact match on held-out inputs (see tasks.is_held_out).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from viz.scratch.model import Transformer, TransformerConfig
from viz.scratch.tasks import BOS, EOS, PAD, TASKS, Task

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2500
    batch_size: int = 128
    lr: float = 2e-3
    warmup: int = 150
    seed: int = 0


@dataclass
class TrainResult:
    model: Transformer
    losses: list[float]
    seconds: float


def model_config_for(task: Task, **overrides) -> TransformerConfig:
    cfg = TransformerConfig(
        src_vocab=len(task.src_vocab),
        tgt_vocab=len(task.tgt_vocab),
        max_len=max(task.max_src_len, task.max_tgt_len + 1),
    )
    return replace(cfg, **overrides)


def make_batch(task: Task, texts: list[str], device: torch.device | str = "cpu"):
    """Pad a list of source texts into (src (B, Ts), tgt_in (B, Tt), tgt_out (B, Tt)) tensors."""
    srcs = [task.encode_src(t) for t in texts]
    tgts = [task.encode_tgt(task.solve(t)) for t in texts]
    Ts = max(len(s) for s in srcs)
    Tt = max(len(t) for t in tgts) + 1
    src = torch.full((len(texts), Ts), PAD, dtype=torch.long)
    tgt_in = torch.full((len(texts), Tt), PAD, dtype=torch.long)
    tgt_out = torch.full((len(texts), Tt), PAD, dtype=torch.long)
    for i, (s, t) in enumerate(zip(srcs, tgts, strict=True)):
        src[i, : len(s)] = torch.tensor(s)
        tgt_in[i, : len(t) + 1] = torch.tensor([BOS, *t])
        tgt_out[i, : len(t) + 1] = torch.tensor([*t, EOS])
    return src.to(device), tgt_in.to(device), tgt_out.to(device)


def train(
    task: Task,
    train_cfg: TrainConfig = TrainConfig(),
    model_cfg: TransformerConfig | None = None,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, float, Transformer], None] | None = None,
) -> TrainResult:
    """Train a fresh model on `task`. `on_step(step, loss, model)` is called after every step."""
    torch.manual_seed(train_cfg.seed)
    rng = np.random.default_rng(train_cfg.seed)
    model = Transformer(model_cfg or model_config_for(task)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=train_cfg.lr, weight_decay=0.01)

    def lr_at(step: int) -> float:  # linear warm-up, then cosine decay to 5%
        if step < train_cfg.warmup:
            return (step + 1) / train_cfg.warmup
        progress = (step - train_cfg.warmup) / max(1, train_cfg.steps - train_cfg.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    for step in range(train_cfg.steps):
        texts = [task.sample(rng) for _ in range(train_cfg.batch_size)]
        src, tgt_in, tgt_out = make_batch(task, texts, device)
        logits = model(src, tgt_in)  # (B, Tt, V)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1], model)
    model.eval()
    return TrainResult(model, losses, time.perf_counter() - start)


@torch.no_grad()
def predict(model: Transformer, task: Task, texts: list[str]) -> list[list[str]]:
    """Greedy predictions for several source texts at once."""
    device = next(model.parameters()).device
    src, _, _ = make_batch(task, texts, device)
    out = model.greedy(src, BOS, EOS, task.max_tgt_len + 1)
    return [task.decode_tgt(row[1:].tolist()) for row in out]


def evaluate(model: Transformer, task: Task, n: int = 1000, seed: int = 1234) -> float:
    """Exact-match accuracy on `n` held-out inputs (a fixed sample for a given seed)."""
    rng = np.random.default_rng(seed)
    texts = [task.sample(rng, held_out=True) for _ in range(n)]
    correct = 0
    for i in range(0, n, 250):
        chunk = texts[i : i + 250]
        for text, pred in zip(chunk, predict(model, task, chunk), strict=True):
            correct += pred == task.solve(text)
    return correct / n


def checkpoint_path(task_name: str, positional: str = "sinusoidal") -> Path:
    """The bundled checkpoint: <task>.pt (sinusoidal positions) or <task>_<positional>.pt."""
    suffix = "" if positional == "sinusoidal" else f"_{positional}"
    return CHECKPOINT_DIR / f"{task_name}{suffix}.pt"


def save_checkpoint(model: Transformer, task: Task, path: Path, metrics: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"task": task.name, "config": asdict(model.cfg), "state_dict": model.state_dict(), "metrics": metrics},
        path,
    )


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> tuple[Transformer, dict]:
    """Load a model saved by save_checkpoint. weights_only=True: no pickled code is run."""
    blob = torch.load(path, map_location=device, weights_only=True)
    model = Transformer(TransformerConfig(**blob["config"])).to(device)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, blob["metrics"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, choices=[*sorted(TASKS), "induction"])
    parser.add_argument("--layers", type=int, default=2, help="induction only: decoder layers (default 2)")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--positional", default="sinusoidal", choices=["sinusoidal", "learned", "none"],
                        help="positional encoding of the model (default: sinusoidal)")
    parser.add_argument("--out", type=Path, default=None, help="checkpoint path (default: the bundled one)")
    args = parser.parse_args(argv)
    if args.task == "induction":
        return train_induction_checkpoint(args.layers, args.seed, args.out,
                                          None if args.steps == TrainConfig.steps else args.steps)

    task = TASKS[args.task]
    cfg = TrainConfig(steps=args.steps, seed=args.seed)
    every = max(1, cfg.steps // 10)

    def report(step: int, loss: float, _model) -> None:
        if (step + 1) % every == 0:
            print(f"step {step + 1:5d}/{cfg.steps}  loss {loss:.4f}", flush=True)

    result = train(task, cfg, model_config_for(task, positional=args.positional), on_step=report)
    acc = evaluate(result.model, task)
    metrics = {"held_out_exact_match": acc, "steps": cfg.steps, "seed": cfg.seed,
               "train_seconds": round(result.seconds, 1), "final_loss": result.losses[-1], "positional": args.positional}
    out = args.out or checkpoint_path(task.name, args.positional)
    save_checkpoint(result.model, task, out, metrics)
    n_params = sum(p.numel() for p in result.model.parameters())
    print(f"{task.name}: held-out exact match {acc:.2%} on 1000 inputs, "
          f"{result.seconds:.1f} s, {n_params} parameters, saved {out} ({out.stat().st_size / 1e6:.2f} MB)")


def train_induction_checkpoint(layers: int, seed: int, out: Path | None, steps: int | None) -> None:
    """Train the induction decoder (viz.scratch.induction) and save it with its measured numbers."""
    from viz.scratch import gpt, induction

    cfg = induction.InductionConfig(n_layers=layers, seed=seed, **({"steps": steps} if steps else {}))

    def report(step: int, loss: float, _model) -> None:
        if (step + 1) % 250 == 0:
            print(f"step {step + 1:5d}/{cfg.steps}  repeated-half loss {loss:.4f}", flush=True)

    result = induction.train_induction(cfg, on_step=report)
    ev = induction.evaluate(result.model)
    distinct = induction.evaluate(result.model, distinct=True)
    curve = [round(float(np.mean(result.losses[i:i + 10])), 4) for i in range(0, len(result.losses), 10)]
    metrics = {"task": "induction", "layers": layers, "steps": cfg.steps, "seed": seed, "lr": cfg.lr,
               "train_seconds": round(result.seconds, 1), "top1": ev["top1"], "top1_distinct": distinct["top1"],
               "repeated_loss": ev["loss"], "best_head": list(ev["best_head"]), "best_prefix": ev["best_prefix"],
               "loss_every_10": curve}
    name = "induction" if layers == 2 else f"induction_{layers}layer"
    path = out or gpt.CHECKPOINT_DIR / f"{name}.pt"
    gpt.save(result.model, gpt.VOCAB, path, metrics)
    layer, head = ev["best_head"]
    print(f"{name}: repeated-half top-1 {ev['top1']:.1%} on 100 sequences of 20 tokens repeated "
          f"({distinct['top1']:.1%} with no token twice in a half), best head {layer}.{head} prefix-matching "
          f"{ev['best_prefix']:.2f}, {result.seconds:.1f} s, saved {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
