"""Streamlit pieces of the from-scratch page that are more than one widget: live training."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from viz.device import run_on_device
from viz.figures import loss_curve, snapshots_grid
from viz.scratch.run import run, run_on_target
from viz.scratch.tasks import TASKS
from viz.scratch.train import TrainConfig, evaluate, model_config_for, train

N_SNAPSHOTS = 6


def live_training_ui(device: torch.device) -> None:
    """Train a fresh model with a progress bar, a loss curve and cross-attention snapshots."""
    c1, c2, c3 = st.columns(3)
    name = c1.selectbox("Task", list(TASKS), format_func=lambda n: TASKS[n].title, key="train_task")
    steps = c2.slider("Steps", 100, 3000, 600, step=100, key="train_steps",
                      help="The bundled models used 2500 steps (about 2 minutes on 2 CPU cores).")
    positional = c3.selectbox("Positional encoding", ["sinusoidal", "learned", "none"], key="train_pos")
    task = TASKS[name]
    st.caption(
        f"Snapshots show the last decoder layer's cross-attention (mean over heads) on "
        f"{task.example!r}, with the correct answer fed to the decoder so the axes stay fixed."
    )
    if not st.button("Train a fresh model", key="train_go", type="primary"):
        return

    cfg = TrainConfig(steps=steps)
    snapshot_at = set(np.linspace(0, steps - 1, N_SNAPSHOTS).astype(int).tolist())
    losses: list[float] = []
    snapshots: list[tuple[int, np.ndarray]] = []
    progress = st.progress(0.0, text="starting ...")
    chart = st.empty()

    def on_step(step: int, loss: float, model) -> None:
        losses.append(loss)
        if step in snapshot_at:
            cross = run_on_target(model, task, task.example).cross
            snapshots.append((step + 1, cross.weights[-1].mean(axis=0)))
        if step % 25 == 0 or step == steps - 1:
            progress.progress((step + 1) / steps, text=f"step {step + 1} of {steps}, loss {loss:.3f}")
            chart.plotly_chart(loss_curve(losses), key=f"train_loss_{step}")

    def train_on(dev: str):
        losses.clear()
        snapshots.clear()
        return train(task, cfg, model_config_for(task, positional=positional), dev, on_step)

    result, note = run_on_device(train_on, str(device))
    if note:
        st.warning(note)
    progress.progress(1.0, text=f"done: {steps} steps in {result.seconds:.1f} s")
    final = run(result.model, task, task.example)
    acc = evaluate(result.model, task, n=200)
    st.write(f"Fresh model on {task.example!r}: **{final.output_text or '(nothing)'}** "
             f"(correct: {final.expected_text}). Held-out exact match on 200 inputs: **{acc:.0%}**.")
    ref = run_on_target(result.model, task, task.example).cross
    st.plotly_chart(
        snapshots_grid(snapshots, ref.query_tokens, ref.key_tokens,
                       title="Cross-attention forming during training"),
        key="train_snapshots",
    )
