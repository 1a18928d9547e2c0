"""Figures: fn(trace | ndarray, ...) -> plotly Figure. No streamlit, no torch."""

from viz.figures.heatmap import attention_heatmap, heads_grid, loss_curve, snapshots_grid

__all__ = ["attention_heatmap", "heads_grid", "loss_curve", "snapshots_grid"]
