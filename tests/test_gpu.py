"""Checks that need CUDA; skipped elsewhere (see conftest). Run where a GPU is lent: pytest -m gpu."""

import pytest
import torch

from viz.device import resolve_device
from viz.scratch.run import run
from viz.scratch.tasks import TASKS
from viz.scratch.train import checkpoint_path, load_checkpoint

pytestmark = pytest.mark.gpu


def test_auto_picks_cuda():
    choice = resolve_device("auto")
    assert choice.device.type == "cuda" and choice.label.startswith("CUDA")


def test_scratch_model_on_cuda_matches_cpu():
    cpu_model, _ = load_checkpoint(checkpoint_path("sort"), "cpu")
    gpu_model, _ = load_checkpoint(checkpoint_path("sort"), "cuda")
    a = run(cpu_model, TASKS["sort"], "3141592653")
    b = run(gpu_model, TASKS["sort"], "3141592653")
    assert a.output_text == b.output_text
    torch.testing.assert_close(torch.from_numpy(a.cross.weights), torch.from_numpy(b.cross.weights),
                               atol=1e-4, rtol=1e-3)


def test_gpu_trace_benchmark_traces_on_cuda_and_agrees_with_the_cpu(capsys):
    """benchmarks.gpu_trace (docs/benchmarks.md's GPU rows) on a MiniLM-shaped random BERT: one row,
    the traced attention on the GPU, its weights within 1e-6 of the CPU's."""
    from benchmarks import gpu_trace
    from viz.pretrained import default_model_dir

    gpu_trace.main(["--model-dir", str(default_model_dir()), "--sizes", "30", "--repeats", "2"])
    out = capsys.readouterr().out
    assert "traced attention on the GPU: True" in out
    row = next(line for line in out.splitlines() if line.startswith("| 32 |"))
    assert float(row.split("|")[-2].split(",")[0]) < 1e-6
