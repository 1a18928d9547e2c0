"""Trace / forward on a CUDA GPU, where the bundled weights cannot travel: all-MiniLM-L6-v2's shape.

    python -m benchmarks.gpu_trace --model-dir DIR [--sizes 64 128 256 510] [--repeats 15]

DIR holds the bundled model's config.json and tokenizer files (not its weights: 87 MB, more than
a GPU machine of this project may be sent). The script builds a BertModel of that config with
random weights (seed 0): the same shapes, so the same arithmetic and time per token as the real
model, and traces it on the GPU as the app does (load_text_model, trace_text). Per length, in
one process, alternating: the plain SDPA forward, trace_text, and trace_text with every weight
read. Wall-clock medians with torch.cuda.synchronize() after each. It also checks the GPU trace
against the CPU trace of the same model (weights, Q, K, V).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from benchmarks.standin_model import build
from benchmarks.text_trace import alternating_ms, text_of


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 510])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    work = Path(tempfile.mkdtemp())
    os.environ["ATTENTION_LENS_MODEL_DIRS"] = str(work)
    from viz.pretrained import load_text_model, trace_text

    path = build(args.model_dir, work / "minilm-shaped")
    gpu, cpu = load_text_model(str(path), "cuda"), load_text_model(str(path), "cpu")
    sdpa = AutoModel.from_pretrained(path, attn_implementation="sdpa").eval().cuda()
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, traced attention on the GPU: "
          f"{gpu.traced_attention}; {args.repeats} alternating runs, wall-clock medians\n")
    print("| tokens | forward (ms) | trace (ms) | trace / forward | trace + every weight (ms) | / forward "
          "| GPU vs CPU trace, max abs diff (weights, Q) |\n|---|---|---|---|---|---|---|")
    for n in args.sizes:
        text = text_of(gpu.tokenizer, n)
        enc = {k: v.cuda() for k, v in gpu.tokenizer(text, return_tensors="pt").items()}

        def forward(enc=enc):
            with torch.no_grad():
                sdpa(**enc)
            torch.cuda.synchronize()

        def trace(text=text):
            trace_text(gpu, text)
            torch.cuda.synchronize()

        def every_weight(text=text):
            _ = trace_text(gpu, text).weights
            torch.cuda.synchronize()

        ms = alternating_ms({"f": forward, "t": trace, "a": every_weight}, args.repeats)["wall"]
        g, c = trace_text(gpu, text), trace_text(cpu, text)
        dw = float(np.abs(g.weights - c.weights).max())
        dq = float(np.abs(g.queries - c.queries).max())
        print(f"| {n + 2} | {ms['f']:.2f} | {ms['t']:.2f} | {ms['t'] / ms['f']:.2f} | {ms['a']:.2f} | "
              f"{ms['a'] / ms['f']:.2f} | {dw:.1e}, {dq:.1e} |", flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
