"""The text model's trace cost per input length, plus the image rows: docs/benchmarks.md's table.

    python -m benchmarks.text_trace [--threads 1] [--repeats 5]       # or: make bench

BENCHES is a list of row-producing functions, each `fn(cfg) -> list[Row]`; every row has the
columns of COLUMNS (a cell may be None: "not measured"). To add a model (an image model, say),
write one more function and append it to BENCHES.

Text rows, for the bundled all-MiniLM-L6-v2 at 64/128/256/510 word pieces (+ [CLS], [SEP]):
  forward    plain forward pass with SDPA attention (what the model runs without us): median ms
  trace      trace_text: forward with the traced attention (SDPA, Q/K/V copied out), to numpy; no weights
  + weights  the same, then trace.weights: every head's softmax(q·kᵀ·scaling), as the head table reads them
  rerun      server time of the page's script for a layer/head change (AppTest, trace cached)
  bytes      plotly JSON the page sends for the all-heads grid, and for one head
  bertviz    bytes of bertviz's model_view HTML for the same attention, as bertviz ships it
  peak RSS   peak resident memory of a fresh process that loads the model and traces the input
Forward and trace runs alternate within one run, so a ratio is never taken across two noisy runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

COLUMNS = {
    "model": "model", "input": "input", "device": "device",
    "forward_ms": "forward, SDPA (ms)", "trace_ms": "trace (ms)", "trace_ratio": "trace / forward",
    "all_ms": "trace + every weight (ms)", "all_ratio": "(trace + every weight) / forward",
    "rerun_ms": "rerun, layer/head change (ms)", "grid_bytes": "all-heads grid sent (bytes)",
    "head_bytes": "one head sent (bytes)", "bertviz_bytes": "bertviz model_view HTML (bytes)",
    "bertviz_ratio": "bertviz / grid", "peak_mb": "peak RSS (MB)",
}
Row = dict


@dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[int, ...] = (64, 128, 256, 510)
    repeats: int = 5
    device: str = "cpu"
    bertviz: bool = True  # building bertviz's HTML at 510 tokens takes ~1 GB and a while


def _median_ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 1)


def alternating_ms(fns: dict[str, Callable[[], object]], repeats: int,
                   clocks: dict[str, Callable[[], float]] | None = None) -> dict[str, dict[str, float]]:
    """Each fn once to warm up, then all of them in turn `repeats` times, so that a busy machine
    hits them alike. {clock: {fn's name: median ms}}; clocks default to the wall clock alone."""
    clocks = clocks or {"wall": time.perf_counter}
    for fn in fns.values():
        fn()
    samples = {c: {k: [] for k in fns} for c in clocks}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = {c: clock() for c, clock in clocks.items()}
            fn()
            for c, clock in clocks.items():
                samples[c][key].append(clock() - start[c])
    return {c: {k: statistics.median(v) * 1000 for k, v in per.items()} for c, per in samples.items()}


def text_of(tokenizer, n: int) -> str:
    """A text of exactly n word pieces (n + 2 tokens with [CLS] and [SEP])."""
    words = ("the model reads every word of this sentence and attends to the words around it " * 80).split()
    ids = tokenizer(" ".join(words), add_special_tokens=False)["input_ids"][:n]
    text = tokenizer.decode(ids)
    assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) == n
    return text


def _vm_hwm_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries that across fork and exec, so a child
    of a big parent would report the parent's peak."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_child(n: int, device: str) -> None:
    """Run in a fresh interpreter by peak_rss_mb: prints the peak as its last line."""
    from viz.pretrained import load_text_model, trace_text

    tm = load_text_model(None, device)
    trace_text(tm, text_of(tm.tokenizer, n))
    peak = _vm_hwm_mb()
    if device.startswith("cuda"):
        import torch

        peak = f"{peak:.0f} (GPU {torch.cuda.max_memory_allocated() / 2**20:.0f})"
    print(f"{peak:.0f}" if isinstance(peak, float) else peak)


def peak_rss_mb(n: int, device: str) -> str:
    """Peak RSS of a fresh process that loads the model and traces n word pieces."""
    code = f"from benchmarks.text_trace import _peak_child; _peak_child({n}, {device!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         cwd=Path(__file__).resolve().parents[1], check=True)
    return out.stdout.strip().splitlines()[-1]


def _page_numbers(text: str, repeats: int) -> tuple[float, int, int]:
    """(median rerun ms for a layer/head change, grid bytes, one-head bytes) through AppTest."""
    from tests.apptest_helpers import open_page, sent_bytes

    at = open_page("app_pages/text.py")
    at.text_area(key="text_text").set_value(text).run()
    head_bytes = sent_bytes(at)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        at.selectbox(key="text_head").set_value((i + 1) % 12).run()
        times.append(time.perf_counter() - t0)
        at.selectbox(key="text_layer").set_value(i % 6).run()
    at.radio(key="text_view").set_value("model").run()
    grid_bytes = sent_bytes(at)
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    return _median_ms(times), grid_bytes, head_bytes


def bertviz_bytes(trace) -> int:
    """Length of bertviz's model_view HTML for this attention, as bertviz builds it from a model."""
    import torch
    from bertviz import model_view

    # torch.tensor copies: a trace's weights are read-only, which torch.from_numpy warns about
    attention = [torch.tensor(trace.weights[i:i + 1]) for i in range(trace.n_layers)]
    return len(model_view(attention, list(trace.query_tokens), html_action="return").data)


def text_rows(cfg: BenchConfig) -> list[Row]:
    """The bundled MiniLM: forward vs trace, rerun, bytes, peak memory, per input length."""
    import torch
    from transformers import AutoModel

    from viz.pretrained import default_model_dir, load_text_model, trace_text

    tm = load_text_model(None, cfg.device)
    sdpa = AutoModel.from_pretrained(default_model_dir(), attn_implementation="sdpa").eval().to(cfg.device)
    rows = []
    for n in cfg.sizes:
        text = text_of(tm.tokenizer, n)
        enc = {k: v.to(cfg.device) for k, v in tm.tokenizer(text, return_tensors="pt").items()}

        def forward(enc=enc):
            with torch.no_grad():
                sdpa(**enc)
            if cfg.device.startswith("cuda"):
                torch.cuda.synchronize()

        def trace(text=text):
            out = trace_text(tm, text)
            if cfg.device.startswith("cuda"):
                torch.cuda.synchronize()
            return out

        forward(), trace()  # warm-up
        fwd, full, every = [], [], []
        for _ in range(cfg.repeats):  # alternate, so all three see the same machine load
            t0 = time.perf_counter()
            forward()
            t1 = time.perf_counter()
            tr = trace()
            t2 = time.perf_counter()
            _ = trace().weights
            t3 = time.perf_counter()
            fwd.append(t1 - t0)
            full.append(t2 - t1)
            every.append(t3 - t2)
        rerun, grid, head = (None, None, None)
        if cfg.device == "cpu":  # the page's own device choice is the sidebar's; AppTest runs on CPU here
            rerun, grid, head = _page_numbers(text, cfg.repeats)
        bv = bertviz_bytes(tr) if cfg.bertviz else None
        f_ms, t_ms, a_ms = _median_ms(fwd), _median_ms(full), _median_ms(every)
        rows.append(dict(
            model="all-MiniLM-L6-v2", input=f"{n + 2} tokens", device=cfg.device, forward_ms=f_ms, trace_ms=t_ms,
            trace_ratio=round(t_ms / f_ms, 2), all_ms=a_ms, all_ratio=round(a_ms / f_ms, 2), rerun_ms=rerun, grid_bytes=grid, head_bytes=head,
            bertviz_bytes=bv, bertviz_ratio=round(bv / grid) if bv and grid else None,
            peak_mb=peak_rss_mb(n, cfg.device),
        ))
        print(_table([rows[-1]]).splitlines()[-1], flush=True)
    return rows


BENCHES: list[Callable[[BenchConfig], list[Row]]] = [text_rows]


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
        cpu = model
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cores} CPU cores ({cpu}), {gpu}; torch using {torch.get_num_threads()} thread(s); Python {platform.python_version()}, torch {torch.__version__}, "
            f"{platform.system()} {platform.release()}")


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, int) and v >= 10_000:
        return f"{v:,}"
    return str(v)


def _table(rows: list[Row]) -> str:
    head = "| " + " | ".join(COLUMNS.values()) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    body = ["| " + " | ".join(_fmt(r.get(k)) for k in COLUMNS) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def _image_table(rows: list[dict]) -> str:
    """benchmarks.image_trace's rows: the DINOv2 page's trace vs plain forward, and bytes per view."""
    lines = ["| model | what | best of repeats (ms) | bytes | note |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['what']} | {r['ms']:.1f} | {_fmt(r['bytes'])} | {r['note']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(BenchConfig.sizes), help="word pieces per input")
    p.add_argument("--repeats", type=int, default=BenchConfig.repeats)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice). On a shared, busy machine 1 gives stable timings.")
    p.add_argument("--no-bertviz", action="store_true", help="skip building bertviz's HTML (slow at 510)")
    p.add_argument("--no-image", action="store_true", help="skip the image model's rows")
    p.add_argument("--out", default="",
                   help="a markdown file to write the tables to (default: print only: docs/benchmarks.md holds the "
                        "other benchmarks too, so the rows are pasted there)")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the peak-memory child processes too
    cfg = BenchConfig(tuple(args.sizes), args.repeats, args.device, not args.no_bertviz)
    print(f"Machine: {machine()}\n" + "| " + " | ".join(COLUMNS.values()) + " |", flush=True)
    rows = [row for bench in BENCHES for row in bench(cfg)]
    table = _table(rows)
    print("\n" + table)
    if not args.no_image:
        from benchmarks.image_trace import image_rows

        table += "\n\n## Image model\n\n" + _image_table(image_rows(repeats=max(args.repeats, 5)))
        print(table.split("## Image model")[1])
    if args.out:
        cmd = "python -m benchmarks.text_trace " + " ".join(sys.argv[1:] if argv is None else argv)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(_DOC.format(machine=machine(), date=date.today(), cmd=cmd.strip(), table=table))
        print(f"\nwritten to {args.out}")


_DOC = """# Benchmarks

Written by `{cmd}` on {date}.

**Machine:** {machine}.

{table}

- *forward, SDPA*: the model's plain forward pass with PyTorch's fused attention, which returns no
  weights. *trace*: `trace_text` as the app runs it: the forward pass with the traced attention
  (the same SDPA, with each layer's Q, K and V copied into the trace), as numpy. No weights and
  no scores: the heatmap computes the one head it shows (a probe at load time checks that
  softmax(q·kᵀ·scale) equals the model's eager `output_attentions`). *trace + every weight*: the
  same, then every head's weights computed (numpy), as the head table, rollout or model grid
  read them the first time.
  torch's large allocations on transparent huge pages (`viz/__init__.py`) for both.
  Medians of alternating runs in one process. `python -m benchmarks.trace_breakdown` splits the
  trace step by step, eager path and huge pages on/off included.
- *rerun*: the text page's script, run by AppTest with the trace cached, for a head change
  (heatmap view): median server time, no forward pass.
- *sent*: bytes of plotly JSON the page sends (the grid is one PNG inside it). *bertviz*: the HTML
  of bertviz's `model_view` for the same attention (float32, as bertviz receives it from a model);
  bertviz sends every weight as a decimal number.
- *peak RSS*: a fresh process that loads the model and traces one input.
- *Image model*: `benchmarks.image_trace.image_rows()`, DINOv2-small on scikit-image's chelsea at
  224 px. *trace + all views* is the server time of a new image with every view built; *bytes*
  of a view is its plotly JSON (images inside it as PNG/JPEG).
"""


if __name__ == "__main__":
    main()
