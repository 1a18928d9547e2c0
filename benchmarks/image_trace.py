"""Benchmark of the image page's server work, DINOv2-small: trace, views and bytes per view.

    python -m benchmarks.image_trace [--threads 1]                    # or: make bench-image

image_rows() times, on one 224-px sample image with the offline DINOv2-small (after its first load):
  - a plain forward pass (eager attention, no attention output, no hooks),
  - trace_image (preprocessing + forward with attention output + Q/K/V hooks + scores),
  - every view the page draws (figure built and serialised to JSON, as Streamlit sends it),
and reports the bytes each view sends to the browser. Times are the best of `repeats` runs
(the machine is shared: the best run is the one least disturbed by other processes); forward
and trace runs alternate in one process, so their ratio compares like with like. The load
average is printed alongside, and the medians in the notes.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from viz.attention import rollout
from viz.figures.image import (
    attention_map,
    attention_overlay_figure,
    image_with_grid,
    overlays_grid,
    position_similarity_figure,
)
from viz.images import sample_image
from viz.positional import cosine_similarity
from viz.pretrained.image import load_image_model, position_embeddings, trace_image


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def _best_ms(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        ms, out = _timed(fn)
        times.append(ms)
    return min(times), out


def _views(model, trace) -> dict:
    """name -> function building that view's figure (the page's calls, without Streamlit)."""
    grid, pixels = trace.meta["grid"], trace.meta["image"]
    layer, head, token = trace.n_layers - 1, 0, grid.token_of(grid.rows // 2, grid.cols // 2)
    cls_map = grid.to_grid(trace.head(layer, head)[0])
    return {
        "CLS overlay": lambda: attention_overlay_figure(pixels, cls_map, grid, "cls"),
        "CLS map": lambda: attention_map(cls_map, grid, "map"),
        "all heads": lambda: overlays_grid(pixels, [grid.to_grid(trace.head(layer, h)[0]) for h in range(trace.n_heads)],
                                           grid, [f"head {h}" for h in range(trace.n_heads)]),
        "rollout": lambda: attention_overlay_figure(pixels, grid.to_grid(rollout(trace.weights, "mean", 0.0)[0]),
                                                    grid, "rollout"),
        "click grid": lambda: image_with_grid(pixels, grid, "click", clickable=True),
        "clicked patch": lambda: attention_overlay_figure(pixels, grid.to_grid(trace.head(layer, head)[token]), grid,
                                                          "patch", highlight=grid.cell_of(token)),
        "position similarity": lambda: position_similarity_figure(
            cosine_similarity(position_embeddings(model, grid)), grid, "pos"),
    }


def image_rows(repeats: int = 10, image: str = "chelsea") -> list[dict]:
    """Rows of {"model", "what", "ms", "bytes", "note"}; the first rows are the summary."""
    model = load_image_model(None)
    img = sample_image(image)
    x = torch.from_numpy(model.prep.pixel_values(model.prep.crop_image(img)))[None]

    def forward():
        with torch.inference_mode():  # as trace_image runs it
            return model.model(pixel_values=x)

    trace_image(model, img)  # warm-up: first calls allocate and pick kernels
    forward()
    # Alternate the two so that a burst of load from other processes hits both alike.
    forward_times, trace_times = [], []
    for _ in range(repeats):
        forward_times.append(_timed(forward)[0])
        ms, trace = _timed(lambda: trace_image(model, img))
        trace_times.append(ms)
    forward_ms, trace_ms = min(forward_times), min(trace_times)
    rows, views_ms = [], 0.0
    for name, build in _views(model, trace).items():
        ms, spec = _best_ms(lambda build=build: build().to_json(), repeats)
        views_ms += ms
        rows.append({"model": model.name, "what": f"view: {name}", "ms": ms, "bytes": len(spec), "note": ""})
    summary = [
        {"model": model.name, "what": "plain forward (224 px)", "ms": forward_ms, "bytes": None,
         "note": f"median {statistics.median(forward_times):.0f} ms"},
        {"model": model.name, "what": "trace_image", "ms": trace_ms, "bytes": trace.nbytes,
         "note": f"{trace_ms / forward_ms:.2f} x plain forward (median {statistics.median(trace_times):.0f} ms); "
                 "bytes = trace arrays in memory"},
        {"model": model.name, "what": "trace + all views", "ms": trace_ms + views_ms,
         "bytes": sum(r["bytes"] for r in rows), "note": f"largest view {max(r['bytes'] for r in rows)} bytes"},
    ]
    return summary + rows


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'model':<24} {'what':<28} {'ms':>9} {'bytes':>11}  note")
    for r in image_rows():
        b = "" if r["bytes"] is None else f"{r['bytes']:,}"
        print(f"{r['model']:<24} {r['what']:<28} {r['ms']:>9.1f} {b:>11}  {r['note']}")


if __name__ == "__main__":
    main()
