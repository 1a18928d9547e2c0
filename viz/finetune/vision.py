"""Fine-tune the image page's Vision Transformer on a picture set, and measure where CLS looks.

    ds = shapes()                                            # viz.finetune.images
    run = finetune_vit(ds, VisionConfig(steps=200))          # run.model: an ...ForImageClassification
    ev = evaluate_vit(run.model, ds.held_out)                # accuracy and the confusion table
    look = object_attention(base, ds.held_out)               # per layer: CLS's share on the object,
                                                             # pointing-game hits (before; then after)
    save_vit(run, folder)   # AutoModelForImageClassification.from_pretrained(folder) reads it back

The model is transformers' AutoModelForImageClassification on the bundled DINOv2-small's weights (or
any ViT-family folder the image page loads), with a fresh seeded linear head. Only the last
`train_blocks` blocks, the final LayerNorm and the head learn (the page says so); the rest is frozen,
which is what makes it train in minutes on a CPU. Pictures are SIZE x SIZE (112 px: 8 x 8 = 64
patches of 14 px and CLS, against 257 tokens at 224 px), normalised with ImageNet's mean and std.

Where CLS looks: for each layer, CLS's attention (mean over heads) over the patch tokens, renormalised
to the patches; its share on the object's patches (those at least OBJECT_COVER covered by the object's
mask) and the pointing game (Zhang et al. 2016: is the most-attended patch on the object?), averaged
over the pictures. Chance is the object patches' share of all patches. The same two numbers for
attention rollout (Abnar & Zuidema 2020, viz.attention.rollout: every layer together, heads
averaged, the residual added): CLS's row of the rolled-out matrix, renormalised to the patches.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from viz.attention import rollout
from viz.finetune.images import SIZE, ImageSet, Picture, patch_coverage

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
OBJECT_COVER = 0.25  # a patch is the object's when at least this share of its pixels are
MAX_STEPS = 2000
HEAD = "classifier"  # the name of the head's parameters in transformers' *ForImageClassification


@dataclass(frozen=True)
class VisionConfig:
    # The defaults: 0.95 or more held out on the generated set for seeds 0 to 2 (0.940 for seed 3),
    # in under 5 minutes on 2 cores (docs/benchmarks.md: the seeds, and what was tried before).
    steps: int = 300
    lr: float = 2e-4
    batch: int = 16
    train_blocks: int = 4  # the last blocks that learn (0: only the head), all: the model's layer count
    seed: int = 0
    schedule: str = "cosine"  # the learning rate falls from lr to 0 along a half cosine; or "constant"
    # The head starts from random numbers, the blocks from pretrained ones: the head learns at
    # head_lr_scale x lr (docs/benchmarks.md: held out, seeds 0 to 3, 0.945 -> 0.951 on average).
    head_lr_scale: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or not 0 <= self.steps <= MAX_STEPS:
            raise ValueError(f"Steps must be a whole number from 0 to {MAX_STEPS}, got {self.steps!r}.")
        if not (isinstance(self.lr, float | int) and 1e-7 <= self.lr <= 1e-2):
            raise ValueError(f"The learning rate must be between 1e-7 and 1e-2, got {self.lr!r}.")
        if not isinstance(self.batch, int) or not 1 <= self.batch <= 64:
            raise ValueError(f"The batch size must be from 1 to 64, got {self.batch!r}.")
        if not isinstance(self.train_blocks, int) or self.train_blocks < 0:
            raise ValueError(f"train_blocks must be a whole number of at least 0, got {self.train_blocks!r}.")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"The schedule must be constant or cosine, got {self.schedule!r}.")
        if not (isinstance(self.head_lr_scale, float | int) and 0 < self.head_lr_scale <= 100):
            raise ValueError(f"head_lr_scale must be above 0 and at most 100, got {self.head_lr_scale!r}.")


def base_folder(name_or_path: str | None = None) -> str:
    """The folder (or Hub id) of the model to fine-tune: the bundled DINOv2-small by default."""
    if not name_or_path:
        from viz.pretrained import dinov2_onnx
        return str(dinov2_onnx.ensure_converted())
    from viz.pretrained.names import model_folder
    return str(model_folder(name_or_path) or name_or_path)


def load_classifier(labels: tuple[str, ...], base: str | None = None, seed: int = 0):
    """AutoModelForImageClassification on the base weights, a fresh head for `labels`, eager attention."""
    from transformers import AutoModelForImageClassification

    torch.manual_seed(seed)  # the head's initialisation
    return AutoModelForImageClassification.from_pretrained(
        base_folder(base), num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)}, attn_implementation="eager", use_safetensors=True,
        trust_remote_code=False, ignore_mismatched_sizes=True)


def pixels(pictures: list[Picture] | tuple[Picture, ...]) -> torch.Tensor:
    """(B, 3, SIZE, SIZE) float32, ImageNet-normalised."""
    x = np.stack([np.asarray(p.image.convert("RGB").resize((SIZE, SIZE)), dtype=np.float32) / 255.0
                  for p in pictures])
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _blocks(model) -> list:
    """The transformer blocks in order: DINOv2 keeps them in encoder.layer, ViT (transformers 5) in layers."""
    base = model.base_model
    return list(base.encoder.layer if hasattr(base, "encoder") else base.layers)


def freeze(model, train_blocks: int) -> str:
    """Freeze all but the last `train_blocks` blocks, the final LayerNorm and the head; a sentence
    saying what learns."""
    blocks = _blocks(model)
    n = min(train_blocks, len(blocks))
    for p in model.parameters():
        p.requires_grad = False
    for block in blocks[len(blocks) - n:]:
        for p in block.parameters():
            p.requires_grad = True
    for name, p in model.named_parameters():
        if name.startswith(HEAD) or name.startswith(model.base_model_prefix + ".layernorm"):
            p.requires_grad = True
    learns = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    what = "only the head" if n == 0 else ("every block" if n == len(blocks) else f"the last {n} of {len(blocks)} blocks")
    return f"{what} and the head learn: {learns / 1e6:.1f} M of {total / 1e6:.1f} M parameters"


@dataclass
class VisionRun:
    model: object
    labels: tuple[str, ...]
    losses: list[float]
    seconds: float
    trained: str  # what learned, a sentence fragment


@torch.no_grad()
def frozen_features(model, pictures, n_frozen: int, batch: int = 32) -> torch.Tensor:
    """(N, T, C): the hidden states entering block `n_frozen` (leaving the last block when every
    block is frozen), for every picture, computed once.
    The frozen blocks give the same output at every step (no augmentation, no dropout), so training
    runs only the blocks that learn: about 5 times faster with 2 of 12 learning, 2.5 with 4."""
    device = next(model.parameters()).device
    store = {}
    blocks = _blocks(model)
    if n_frozen < len(blocks):
        hook = blocks[n_frozen].register_forward_pre_hook(lambda _m, args: store.__setitem__("x", args[0]))
    else:  # every block frozen (only the head learns): the last block's output
        hook = blocks[-1].register_forward_hook(
            lambda _m, _a, out: store.__setitem__("x", out[0] if isinstance(out, tuple) else out))
    out = []
    try:
        for i in range(0, len(pictures), batch):
            model(pixel_values=pixels(pictures[i:i + batch]).to(device))
            out.append(store["x"].detach())
    finally:
        hook.remove()
    return torch.cat(out)


class _from_features:
    """While active, the model starts at block `n_frozen` with the given hidden states: the
    embeddings' output is replaced by `self.x` and the frozen blocks are left out of the stack."""

    def __init__(self, model, n_frozen: int):
        self.model, self.n_frozen, self.x = model, n_frozen, None
        base = model.base_model
        self.owner, self.attr = (base.encoder, "layer") if hasattr(base, "encoder") else (base, "layers")

    def __enter__(self):
        self.full = getattr(self.owner, self.attr)
        setattr(self.owner, self.attr, torch.nn.ModuleList(list(self.full)[self.n_frozen:]))
        self.hook = self.model.base_model.embeddings.register_forward_hook(lambda _m, _a, _o: self.x)
        return self

    def __exit__(self, *exc):
        self.hook.remove()
        setattr(self.owner, self.attr, self.full)


def finetune_vit(ds: ImageSet, cfg: VisionConfig = VisionConfig(), base: str | None = None,
                 device: str = "cpu", on_step: Callable[[int, float], None] | None = None,
                 cache_frozen: bool = True) -> VisionRun:
    """Train on ds.train in a seeded order; `on_step(step, loss)` after each step (it may raise to stop).
    With frozen blocks, their output is computed once (frozen_features) and each step runs only the
    blocks that learn (cache_frozen=False runs the whole model each step: the same numbers, slower)."""
    model = load_classifier(ds.labels, base, cfg.seed).to(device)
    trained = freeze(model, cfg.train_blocks)
    n_frozen = len(_blocks(model)) - min(cfg.train_blocks, len(_blocks(model)))
    opt = torch.optim.AdamW(_param_groups(model, cfg), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, (lambda step: 0.5 * (1 + math.cos(math.pi * step / max(1, cfg.steps)))) if cfg.schedule == "cosine"
        else (lambda step: 1.0))
    order = random.Random(cfg.seed)
    pool = list(range(len(ds.train)))
    batches = [order.sample(pool, min(cfg.batch, len(pool))) for _ in range(cfg.steps)]  # drawn up front
    losses: list[float] = []
    start = time.perf_counter()
    model.eval()  # no dropout either way; eval keeps the frozen features and the steps alike
    features, row = None, {}
    if cache_frozen and n_frozen and cfg.steps:  # only the pictures the batches use: a short run stays short
        used = sorted(set().union(*batches))
        features = frozen_features(model, [ds.train[i] for i in used], n_frozen)
        row = {i: r for r, i in enumerate(used)}
    tiny = pixels(ds.train[:1]).to(device)  # the embeddings' input while features stand in for it
    with (_from_features(model, n_frozen) if features is not None else _nothing()) as feed:
        for step, idx in enumerate(batches):
            if features is not None:
                feed.x = features[[row[i] for i in idx]]
                x = tiny.expand(len(idx), -1, -1, -1)
            else:
                x = pixels([ds.train[i] for i in idx]).to(device)
            y = torch.tensor([ds.train[i].label for i in idx], device=device)
            loss = torch.nn.functional.cross_entropy(model(pixel_values=x).logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if on_step is not None:
                on_step(step, losses[-1])
    return VisionRun(model, ds.labels, losses, time.perf_counter() - start, trained)


def _param_groups(model, cfg: VisionConfig) -> list[dict]:
    """The learning parameters in two AdamW groups: the blocks' at lr, the head's at head_lr_scale x lr."""
    learning = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    return [{"params": [p for name, p in learning if not name.startswith(HEAD)], "lr": cfg.lr},
            {"params": [p for name, p in learning if name.startswith(HEAD)], "lr": cfg.lr * cfg.head_lr_scale}]


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@torch.no_grad()
def predict_vit(model, pictures, batch: int = 32) -> np.ndarray:
    """(N, classes) probabilities."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(pictures), batch):
        logits = model(pixel_values=pixels(pictures[i:i + batch]).to(device)).logits
        out.append(torch.softmax(logits.float(), -1).cpu().numpy())
    return np.concatenate(out)


def evaluate_vit(model, pictures) -> dict:
    """Accuracy and the confusion table [true][predicted] on `pictures`."""
    probs = predict_vit(model, list(pictures))
    pred = probs.argmax(1)
    true = np.array([p.label for p in pictures])
    k = probs.shape[1]
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (true, pred), 1)
    return {"accuracy": float((pred == true).mean()), "confusion": confusion.tolist()}


def _n_patches(model) -> int:
    patch = model.config.patch_size if isinstance(model.config.patch_size, int) else model.config.patch_size[0]
    return (SIZE // patch) ** 2


@torch.no_grad()
def cls_maps(model, pictures) -> tuple[np.ndarray, np.ndarray]:
    """Where CLS looks, from one forward pass: (L, B, P) each layer's CLS → patches (mean over heads)
    and (B, P) rollout's CLS row over the patches, each renormalised to the patches (after any
    register tokens)."""
    device = next(model.parameters()).device
    out = model(pixel_values=pixels(list(pictures)).to(device), output_attentions=True)
    att = torch.stack(out.attentions).float().cpu().numpy()  # (L, B, H, T, T)
    n = _n_patches(model)
    cls = att.mean(2)[:, :, 0, -n:]  # (L, B, P)
    rolled = np.stack([rollout(att[:, b])[0, -n:] for b in range(att.shape[1])])  # (B, P)
    return cls / cls.sum(-1, keepdims=True), rolled / rolled.sum(-1, keepdims=True)


def object_patches(pictures, patch: int) -> np.ndarray:
    """(B, P) bool: the patches at least OBJECT_COVER covered by each picture's object mask, and
    always the best-covered one (a small object still has a patch)."""
    cover = np.stack([patch_coverage(p.mask, patch) for p in pictures])  # (B, P)
    on = cover >= OBJECT_COVER
    on[np.arange(len(pictures)), cover.argmax(1)] = True
    return on


def on_object(maps: np.ndarray, on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """maps (..., B, P), each row summing to 1, and on (B, P) -> per picture (..., B): the share of
    the map on the object's patches, and whether its largest patch is one of them (pointing game)."""
    share = (maps * on).sum(-1)
    hit = np.take_along_axis(np.broadcast_to(on, maps.shape), maps.argmax(-1)[..., None], -1)[..., 0]
    return share, hit


def object_attention(model, pictures, batch: int = 16) -> dict:
    """Over the pictures that have a mask: per layer ((L,) arrays), CLS's attention share on the
    object's patches and the pointing-game hit rate; the same two for rollout (floats); and chance
    (the object patches' share)."""
    pics = [p for p in pictures if p.mask is not None]
    if not pics:
        raise ValueError("These pictures have no object masks (only the generated set has them).")
    patch = model.config.patch_size if isinstance(model.config.patch_size, int) else model.config.patch_size[0]
    shares, hits, r_shares, r_hits, chance = [], [], [], [], []
    for i in range(0, len(pics), batch):
        chunk = pics[i:i + batch]
        cls, rolled = cls_maps(model, chunk)  # (L, B, P), (B, P)
        on = object_patches(chunk, patch)
        for maps, s_out, h_out in ((cls, shares, hits), (rolled, r_shares, r_hits)):
            share, hit = on_object(maps, on)
            s_out.append(share)
            h_out.append(hit)
        chance.append(on.mean(1))
    return {"share": np.concatenate(shares, -1).mean(-1), "pointing": np.concatenate(hits, -1).mean(-1),
            "rollout_share": float(np.concatenate(r_shares).mean()),
            "rollout_pointing": float(np.concatenate(r_hits).mean()),
            "chance": float(np.concatenate(chance).mean()), "n": len(pics)}


def attention_sentence(before: dict, after: dict) -> str:
    """Whether CLS's attention moved onto the object, and in which layers, from the two measurements."""
    diff = after["share"] - before["share"]
    L = len(diff)
    moved = [i for i in range(L) if diff[i] > 0.05]
    last = L - 1
    s = (f"In the last layer, CLS puts {before['share'][last]:.0%} of its attention on the object's patches before "
         f"and {after['share'][last]:.0%} after (chance: {before['chance']:.0%}); its most-attended patch is on the "
         f"object in {before['pointing'][last]:.0%} of pictures before and {after['pointing'][last]:.0%} after.")
    if moved:
        s += f" Attention moved onto the object by more than 5 points in layer{'s' if len(moved) > 1 else ''} " \
             f"{', '.join(map(str, moved))}."
    else:
        s += " In no layer did it move onto the object by more than 5 points: the head can classify from the " \
             "patch tokens without CLS looking at the object."
    if "rollout_share" in before and "rollout_share" in after:  # runs saved before rollout was measured lack it
        s += (f" Rollout (every layer together): {before['rollout_share']:.0%} on the object before and "
              f"{after['rollout_share']:.0%} after; its top patch on the object in {before['rollout_pointing']:.0%} "
              f"and {after['rollout_pointing']:.0%} of pictures.")
    return s


def save_vit(run: VisionRun, folder: Path) -> Path:
    """A plain transformers folder: config.json (id2label), model.safetensors, and a
    preprocessor_config.json for SIZE x SIZE, which the image page reads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    run.model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"height": SIZE, "width": SIZE}, "do_center_crop": False,
        "do_normalize": True, "image_mean": list(MEAN), "image_std": list(STD), "resample": 3,
        "image_processor_type": "BitImageProcessor"}, indent=1))
    return folder


# --- the whole run, as the command line (and a page) runs it --------------------------------------

N_LOOK = 64  # held-out pictures the attention is measured on


def load_images(source: str, data: bytes = b"", seed: int = 0) -> ImageSet:
    """"shapes" (generated) or the bytes of an ImageFolder zip."""
    from viz.finetune.images import read_zip, shapes

    if source == "shapes":
        return shapes(seed=seed)
    return read_zip(data, seed=seed)


def run_vision(ds: ImageSet, cfg: VisionConfig, out: Path, base: str | None = None, device: str = "cpu",
               log: Callable[[str], None] = lambda line: None,
               on_step: Callable[[int, float], None] | None = None) -> dict:
    """Before: accuracy (of the fresh head) and where CLS looks; fine-tune; after: the same; save."""
    start = time.perf_counter()
    masked = [p for p in ds.held_out if p.mask is not None][:N_LOOK]
    base_model = load_classifier(ds.labels, base, cfg.seed).to(device).eval()
    before_acc = evaluate_vit(base_model, ds.held_out)["accuracy"]
    before = object_attention(base_model, masked) if masked else None
    del base_model
    every = max(1, cfg.steps // 10)

    def report(step: int, loss: float) -> None:
        if on_step is not None:
            on_step(step, loss)
        if (step + 1) % every == 0:
            log(f"step {step + 1:4d}/{cfg.steps}  loss {loss:.4f}")

    run = finetune_vit(ds, cfg, base, device, report)
    log(f"trained: {run.trained}")
    ev = evaluate_vit(run.model, ds.held_out)
    after = object_attention(run.model, masked) if masked else None
    save_vit(run, out)
    return {"labels": ds.labels, "accuracy": ev["accuracy"], "before_accuracy": before_acc,
            "confusion": ev["confusion"], "seconds": run.seconds, "wall": time.perf_counter() - start,
            "trained": run.trained, "before": before, "after": after, "folder": str(out), "losses": run.losses,
            "sentence": attention_sentence(before, after) if masked else
            "These pictures have no object masks, so where CLS looks is not measured against the object."}


# --- a queue job (viz.jobs), in a child process like the text fine-tuning ------------------------

@dataclass(frozen=True)
class VisionRequest:
    source: str = "shapes"  # or "zip"
    steps: int = VisionConfig.steps
    lr: float = VisionConfig.lr
    blocks: int = VisionConfig.train_blocks
    seed: int = 0
    data: bytes = b""  # the zip's bytes
    filename: str = ""

    def config(self) -> VisionConfig:
        return VisionConfig(steps=self.steps, lr=self.lr, train_blocks=self.blocks, seed=self.seed)

    def check(self) -> None:
        """ValueError with a sentence for settings or data that cannot run (the zip is read)."""
        self.config()
        if self.source not in ("shapes", "zip"):
            raise ValueError(f"Pictures come from 'shapes' or a zip, not {self.source!r}.")
        if self.source == "zip":
            load_images("zip", self.data, self.seed)

    def folder_name(self) -> str:
        """Named by everything that decides the run, so asking again reads it back."""
        import hashlib

        h = hashlib.sha256(repr((self.source, self.steps, self.lr, self.blocks, self.seed, SIZE,
                                 VisionConfig.schedule, VisionConfig.head_lr_scale)).encode())
        h.update(self.data)
        return f"{self.source}-vit-{h.hexdigest()[:12]}"


RESULT_FILE = "attention_lens_vision.json"


def saved_vision(folder: Path) -> dict | None:
    """The numbers a finished run wrote next to its model, or None."""
    path = Path(folder) / RESULT_FILE
    if not path.is_file():
        return None
    r = json.loads(path.read_text())
    for side in ("before", "after"):
        if r.get(side):
            r[side] = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in r[side].items()}
    return r


def train_vision_live(progress, request: VisionRequest, device: str, folder: str) -> dict:
    """The job's work: progress.check() and update(step, loss) every step; writes RESULT_FILE."""
    ds = load_images(request.source, request.data, request.seed)

    def on_step(step: int, loss: float) -> None:
        progress.check()
        progress.update(step + 1, loss=loss)

    r = run_vision(ds, request.config(), Path(folder), device=device, on_step=on_step)
    write_result(Path(folder), r, request.steps)
    return saved_vision(Path(folder))


def write_result(folder: Path, r: dict, steps: int) -> None:
    """The run's numbers next to its model (RESULT_FILE), so the page reads a finished run back."""
    plain = {k: v for k, v in r.items() if k not in ("before", "after")} | {"steps": steps}
    for side in ("before", "after"):
        plain[side] = None if r[side] is None else {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                                    for k, v in r[side].items()}
    (Path(folder) / RESULT_FILE).write_text(json.dumps(plain))


def vision_job(request: VisionRequest, device: str, folder: str, isolate: bool = True, nice: int = 19):
    """`job(progress) -> result dict` for viz.jobs.JobQueue, in a niced one-thread child process."""
    from viz.child import run_in_child

    request.check()

    def job(progress):
        if isolate:
            return run_in_child(progress, "viz.finetune.vision:train_vision_live", (request, device, folder), nice, 1)
        return train_vision_live(progress, request, device, folder)

    return job
