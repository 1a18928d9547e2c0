"""Fine-tune from the command line, with the page's code (viz.finetune.job.run_finetune).

    python -m viz.finetune --task agreement --out /tmp/agreement
    python -m viz.finetune --data in_domain_train.tsv --steps 600 --out /tmp/cola
    python -m viz.finetune --task sentiment --steps 200 --lr 3e-5 --seed 1
    python -m viz.finetune --images shapes --out /tmp/shapes     # the Vision Transformer (DINOv2-small)
    python -m viz.finetune --images pictures.zip --out /tmp/mine # one folder per class inside the zip

Prints the loss and held-out accuracy as it goes, the time taken, and at the end the held-out
accuracy per subset and how much each layer's attention changed. Bad input exits with status 2
and one sentence.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from viz.finetune.data import TASKS, DataError
from viz.finetune.job import DEFAULT_STEPS, FinetuneRequest, run_finetune
from viz.pretrained.text import ModelLoadError


class _Quiet:
    def check(self) -> None:
        pass

    def update(self, step, loss=None, snapshot=None) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m viz.finetune", description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=list(TASKS), default="agreement", help="a generated task (default agreement)")
    p.add_argument("--data", type=Path, help="a CoLA TSV, IMDB CSV or text,label file instead of a generated task")
    p.add_argument("--out", type=Path, help="the folder to save the model in (default: the app's fine-tuned folder)")
    p.add_argument("--steps", type=int, help="training steps (default: agreement 600, sentiment 200, a file 400, "
                                             "--images 300)")
    p.add_argument("--lr", type=float, default=3e-5, help="AdamW's learning rate (default 3e-5; --images: 2e-4 for the blocks and 10 times it for the fresh head, falling along a cosine)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--base", default="", help="the encoder to start from (default: the bundled all-MiniLM-L6-v2)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--images", help="fine-tune the image page's ViT instead: 'shapes' (generated) or a .zip of "
                                    "class folders")
    p.add_argument("--blocks", type=int, default=4, help="--images only: the last blocks that learn (default 4)")
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                   help="--images only: the learning rate falls to 0 along a half cosine (default) or stays")
    args = p.parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # not the load report of the fresh head, which is expected
    hf_logging.disable_progress_bar()
    try:
        if args.threads:
            if args.threads < 1:
                raise ValueError(f"--threads must be at least 1, got {args.threads}.")
            import torch

            torch.set_num_threads(args.threads)
        if args.images:
            return _images(args)
        task = "file" if args.data else args.task
        data = b""
        if args.data:
            if not args.data.is_file():
                raise DataError(f"{args.data} is not a file.")
            if args.data.stat().st_size > 100 * 1024 * 1024:
                raise DataError(f"{args.data} is larger than 100 MB; use the first rows only.")
            data = args.data.read_bytes()
        steps = args.steps if args.steps is not None else DEFAULT_STEPS[task]
        request = FinetuneRequest(task=task, steps=steps, lr=args.lr, seed=args.seed, batch=args.batch,
                                  base=args.base, data=data, filename=args.data.name if args.data else "")
        request.check()
        start = time.perf_counter()
        result = run_finetune(_Quiet(), request, "cuda" if _cuda() else "cpu", out=args.out,
                              log=lambda line: print(line, flush=True))
    except (ValueError, ModelLoadError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result.reused:
        print(f"(this run was saved before: read back from {result.folder})")
    after = result.after
    subsets = ", ".join(f"{k} {v:.3f}" for k, v in after.by_subset.items())
    print(f"held-out accuracy {after.accuracy:.3f} on {after.n} examples ({subsets}); "
          f"before fine-tuning {result.before.accuracy:.3f}")
    print(f"training took {result.seconds:.1f} s for {result.steps} steps; in all {time.perf_counter() - start:.1f} s")
    per_layer = result.js.mean(axis=1)
    print("attention change per layer (mean Jensen-Shannon divergence; mean cosine):")
    for i, (js, cos) in enumerate(zip(per_layer, result.cosine.mean(axis=1), strict=True)):
        print(f"  layer {i}: {js:.4f}  {cos:.4f}")
    print(result.sentence())
    print(f"saved: {args.out or result.folder}")
    return 0


def _cuda() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        return False
    import torch

    return torch.cuda.is_available()


def _images(args) -> int:
    """--images: the Vision Transformer's fine-tuning (viz.finetune.vision), printed."""
    from viz.finetune import vision
    from viz.finetune.images import ImageDataError
    from viz.pretrained.names import finetuned_dir

    try:
        data = b""
        if args.images != "shapes":
            path = Path(args.images)
            if not path.is_file() or path.suffix.lower() != ".zip":
                raise ImageDataError(f"--images takes 'shapes' or a .zip file of class folders; {args.images!r} is "
                                     "neither.")
            data = path.read_bytes()
        ds = vision.load_images("shapes" if args.images == "shapes" else "zip", data, args.seed)
        defaults = vision.VisionConfig()
        cfg = vision.VisionConfig(steps=defaults.steps if args.steps is None else args.steps,
                                  lr=defaults.lr if args.lr == 3e-5 else args.lr, batch=args.batch,
                                  train_blocks=args.blocks, seed=args.seed, schedule=args.schedule)
        out = args.out or finetuned_dir() / f"{ds.name}-vit-{cfg.steps}-{cfg.seed}"
        r = vision.run_vision(ds, cfg, out, args.base or None, "cuda" if _cuda() else "cpu",
                              log=lambda line: print(line, flush=True))
        vision.write_result(Path(r["folder"]), r, cfg.steps)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"held-out accuracy {r['accuracy']:.3f} on {len(ds.held_out)} pictures ({len(ds.labels)} classes: "
          f"{', '.join(ds.labels)}); before fine-tuning {r['before_accuracy']:.3f}")
    print(f"training took {r['seconds']:.1f} s for {cfg.steps} steps; in all {r['wall']:.1f} s; saved {r['folder']}")
    if r["before"] is not None:
        b, a = r["before"], r["after"]
        print(f"CLS attention on the object's patches (chance {b['chance']:.3f}), {b['n']} held-out pictures:")
        print("layer  share before  share after  pointing before  pointing after")
        for layer in range(len(b["share"])):
            print(f"{layer:5d}  {b['share'][layer]:12.3f}  {a['share'][layer]:11.3f}  {b['pointing'][layer]:15.3f}  "
                  f"{a['pointing'][layer]:14.3f}")
        print(f"rollout  {b['rollout_share']:10.3f}  {a['rollout_share']:11.3f}  {b['rollout_pointing']:15.3f}  "
              f"{a['rollout_pointing']:14.3f}")
        print(r["sentence"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
