"""One fine-tuning run from request to result: data, training, evaluation, the saved folder, and how
much every head's attention changed. The page runs it as a job of the server's queue (viz.jobs) in
a child process (viz.child); the command line (python -m viz.finetune) runs the same function.

    request = FinetuneRequest(task="agreement", steps=600)
    job = finetune_job(request)                       # for JobQueue.submit; checks the request now
    result = run_finetune(progress, request, "cpu")   # the same, in this process

A run saves its model under viz.pretrained.names.finetuned_dir() in a folder named after what was
asked (task, data, steps, learning rate, seed, base model): asking again returns the saved result
at once. The text page opens that folder by its name; the KEEP newest folders are kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from viz.finetune.change import layer_sentence, mean_change
from viz.finetune.data import TASKS, DataError, Dataset, generated, parse_table
from viz.finetune.train import (
    RECORD,
    Evaluation,
    FinetuneConfig,
    Finetuned,
    eval_sample,
    evaluate,
    finetune,
    load_classifier,
    save,
)
from viz.jobs import Progress, env_int
from viz.pretrained.names import finetuned_dir

KEEP = 8  # fine-tuned folders kept on the server (about 90 MB each for all-MiniLM-L6-v2)
N_PROBE = 32  # held-out sentences the attention change is averaged over
ENV_NICE = "ATTENTION_LENS_TRAIN_NICE"
CHILD_THREADS = 1
DEFAULT_STEPS = {"agreement": 600, "sentiment": 200, "file": 400}  # agreement learns between steps 250 and 350
ENV_LESSON_STEPS = "ATTENTION_LENS_LESSON_FINETUNE_STEPS"


@dataclass(frozen=True)
class FinetuneRequest:
    task: str = "agreement"  # "agreement", "sentiment", or "file" (then data and filename)
    steps: int = 600
    lr: float = 3e-5
    seed: int = 0
    batch: int = 16
    base: str = ""  # "" = the bundled all-MiniLM-L6-v2
    data: bytes = field(default=b"", repr=False)
    filename: str = ""

    def config(self) -> FinetuneConfig:
        return FinetuneConfig(steps=self.steps, lr=float(self.lr), batch=self.batch, seed=self.seed,
                              eval_every=max(10, self.steps // 10) if self.steps else 50)

    def check(self) -> None:
        """ValueError (a sentence) for a request that cannot run; the data is parsed here too."""
        if self.task not in (*TASKS, "file"):
            raise ValueError(f"There is no task {self.task!r}; choose one of {', '.join(TASKS)} or a file.")
        self.config()
        self.dataset()

    def dataset(self) -> Dataset:
        if self.task == "file":
            if not self.data:
                raise DataError("Choose a file to fine-tune on.")
            return parse_table(self.data, self.filename or "the file", self.seed)
        return generated(self.task, self.seed)

    def folder_name(self) -> str:
        """The saved folder's name: the task and a digest of everything that decides the run."""
        what = {k: v for k, v in asdict(self).items() if k not in ("data", "filename")}
        # a file's bytes, or the generated sentences themselves: a changed generator is a new run
        what["data"] = hashlib.sha256(self.data).hexdigest() if self.task == "file" else _generated_digest(self.task, self.seed)
        digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.task}-{digest}"


def lesson_request() -> FinetuneRequest:
    """The lesson's fine-tune (its step "Fine-tuning: what changes"): sentiment on the generated
    reviews, as the Fine-tuning page's default run; $ATTENTION_LENS_LESSON_FINETUNE_STEPS steps
    (default 200, about two minutes on one core here; fewer on a slow server, or in the tests)."""
    return FinetuneRequest(task="sentiment", steps=env_int(ENV_LESSON_STEPS, DEFAULT_STEPS["sentiment"], 1))


@functools.lru_cache(maxsize=16)
def _generated_digest(task: str, seed: int) -> str:
    ds = generated(task, seed) if task in TASKS else None
    if ds is None:
        return ""
    text = "\n".join(f"{e.label}\t{e.subset}\t{e.text}" for e in ds.train + ds.held_out)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class FinetuneResult:
    folder: str  # its name under finetuned_dir(): what the text page's model box takes
    task: str
    source: str  # where the data came from, in a line
    labels: tuple[str, str]
    base: str
    steps: int
    seconds: float  # training only
    before: Evaluation  # the fresh head, on the held-out sample
    after: Evaluation  # the fine-tuned model, on every held-out example
    evals: tuple[tuple[int, float, dict], ...]  # (step, held-out accuracy, per subset) during training
    losses: tuple[float, ...]
    js: np.ndarray  # (L, H) Jensen-Shannon divergence of each head, mean over N_PROBE held-out inputs
    cosine: np.ndarray  # (L, H)
    n_train: int
    reused: bool = False  # True: this exact run was saved before and is read back

    def sentence(self) -> str:
        return layer_sentence(self.js, self.before.accuracy, self.after.accuracy)


def _eval_dict(ev: Evaluation) -> dict:
    return {"accuracy": ev.accuracy, "by_subset": ev.by_subset, "confusion": ev.confusion, "n": ev.n}


def _eval_from(d: dict) -> Evaluation:
    return Evaluation(d["accuracy"], d["by_subset"], tuple(tuple(r) for r in d["confusion"]), d["n"])


def _record(r: FinetuneResult) -> dict:
    return {"result": {**{k: getattr(r, k) for k in ("folder", "task", "source", "labels", "steps", "seconds",
                                                     "n_train", "losses", "evals")},
                       "before": _eval_dict(r.before), "after": _eval_dict(r.after),
                       "js": r.js.tolist(), "cosine": r.cosine.tolist()}}


def saved_result(folder: Path) -> FinetuneResult | None:
    """The result recorded in a saved folder, or None if it has none (or an unreadable one)."""
    try:
        rec = json.loads((folder / RECORD).read_text())
        d = rec["result"]
        return FinetuneResult(d["folder"], d["task"], d["source"], tuple(d["labels"]), rec["base"], d["steps"],
                              d["seconds"], _eval_from(d["before"]), _eval_from(d["after"]),
                              tuple((s, a, sub) for s, a, sub in d["evals"]), tuple(d["losses"]),
                              np.array(d["js"]), np.array(d["cosine"]), d["n_train"], reused=True)
    except (OSError, KeyError, ValueError, TypeError):
        return None


def _prune(root: Path, keep: int = KEEP) -> None:
    folders = sorted((p for p in root.iterdir() if p.is_dir() and (p / RECORD).exists()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def attention_maps(model, tokenizer, texts: list[str]) -> list[np.ndarray]:
    """Each text's attention weights (L, H, T, T) in a classifier's encoder (eager path)."""
    from viz.pretrained.text import text_model_of, trace_text

    tm = text_model_of(model.base_model, tokenizer, "classifier")
    return [trace_text(tm, t).weights for t in texts]


def run_finetune(progress, request: FinetuneRequest, device: str = "cpu", out: Path | None = None,
                 log=None) -> FinetuneResult:
    """Fine-tune, evaluate, save and compare, reporting to `progress` (check(), update(step, loss,
    snapshot)); snapshots are (step, held-out accuracy, per subset). `out`: the folder to save in
    (default: finetuned_dir() / request.folder_name()). `log(line)`: progress in words (the CLI)."""
    ds = request.dataset()
    cfg = request.config()
    folder = Path(out) if out is not None else finetuned_dir() / request.folder_name()
    if out is None and (old := saved_result(folder)) is not None:
        folder.touch()  # the newest again, so pruning keeps it
        return old
    sample = eval_sample(ds.held_out)
    said = log or (lambda line: None)
    evals: list[tuple[int, float, dict]] = []
    before: list[Evaluation] = []

    def on_step(step: int, loss: float, run: Finetuned) -> None:
        progress.check()  # JobCancelled: training stops here
        if step == 0:
            said(f"step 1 of {cfg.steps}: loss {loss:.3f}")
        snapshot = None
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            ev = evaluate(run.model, run.tokenizer, sample, cfg.max_length)
            evals.append((step + 1, ev.accuracy, ev.by_subset))
            snapshot = evals[-1]
            subsets = ", ".join(f"{k} {v:.2f}" for k, v in ev.by_subset.items())
            said(f"step {step + 1} of {cfg.steps}: loss {loss:.3f}, held-out accuracy {ev.accuracy:.3f} ({subsets})")
        progress.update(step + 1, loss=loss, snapshot=snapshot)

    # Before: the encoder with its fresh head (the same seed, so the same head training starts from).
    # The same model and path after training: 0 steps give exactly 0 change.
    fresh, tok, _ = load_classifier(request.base or None, ds.labels, device, cfg.seed)
    before.append(evaluate(fresh, tok, sample, cfg.max_length))
    probe = [e.text for e in ds.held_out[:N_PROBE]]
    maps_before = attention_maps(fresh, tok, probe)
    del fresh
    evals.append((0, before[0].accuracy, before[0].by_subset))
    progress.update(0, snapshot=evals[0])
    said(f"{ds.source}; before fine-tuning, held-out accuracy {before[0].accuracy:.3f}")

    run = finetune(ds, cfg, request.base or None, device, on_step)
    progress.check()
    after = evaluate(run.model, run.tokenizer, ds.held_out, cfg.max_length)
    save(run, folder)
    js, cos = mean_change(list(zip(maps_before, attention_maps(run.model, run.tokenizer, probe), strict=True)))
    result = FinetuneResult(folder.name, request.task, ds.source, ds.labels, run.base, cfg.steps, run.seconds,
                            before[0], after, tuple(evals), tuple(run.losses), js, cos, len(ds.train))
    save_record(folder, run, result)
    if out is None:
        _prune(folder.parent)
    return result


def save_record(folder: Path, run: Finetuned, result: FinetuneResult) -> None:
    """finetune.json: the configuration, the base model and the whole result (saved_result reads it)."""
    (folder / RECORD).write_text(json.dumps({"config": asdict(run.config), "base": run.base, **_record(result),
                                             "saved": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))


def finetune_job(request: FinetuneRequest, device: str = "cpu", isolate: bool = True, nice: int | None = None,
                 threads: int = CHILD_THREADS):
    """A function `job(progress) -> FinetuneResult` for viz.jobs.JobQueue. Checks the request now
    (ValueError or DataError with a sentence), so a bad one is refused before it waits in the queue."""
    request.check()
    if nice is None:
        nice = min(19, env_int(ENV_NICE, 19, 0))

    def job(progress: Progress) -> FinetuneResult:
        if isolate:
            from viz.child import run_in_child

            return run_in_child(progress, "viz.finetune.job:run_finetune", (request, device), nice, threads)
        return run_finetune(progress, request, device)

    return job
