"""Position embeddings of trained models: the last section of the positional page.

Each entry of SOURCES maps a menu name to a function (device: str) -> PositionTable, using the
cached loaders of the page that owns the model (scratch, text, image).

A table with `grid` is drawn as the ViT paper's 2-D patch similarity grid; one without, as a
heatmap beside the sinusoidal table of the same size and their position-similarity matrices.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from viz.figures import teaching as fig
from viz.figures.image import position_similarity_figure
from viz.patches import PatchGrid
from viz.positional import PositionTable, cosine_similarity, sinusoidal
from viz.scratch.train import checkpoint_path, load_checkpoint
from viz.ui import url_state
from viz.ui.figure_alt import plotly_chart
from viz.ui.sidebar import current_device

LEARNED_TASK = "reverse"


@st.cache_resource(show_spinner="Loading the learned-position model ...", max_entries=2)
def learned_scratch_model(device: str):
    """(model, metrics) of the reverse model trained with learned position embeddings."""
    return load_checkpoint(checkpoint_path(LEARNED_TASK, "learned"), device)


def scratch_learned(device: str) -> PositionTable:
    model, metrics = learned_scratch_model(device)
    table = model.src_embed.pos.weight.detach().cpu().numpy()
    return PositionTable("from-scratch reverse model", table,
                         note=f"learned nn.Embedding({table.shape[0]}, {table.shape[1]}); "
                              f"{metrics['held_out_exact_match']:.1%} exact match on held-out words")


def bert_positions(device: str) -> PositionTable:
    """The bundled all-MiniLM-L6-v2 (a BertModel): one learned row per token position."""
    from viz.ui.cache import text_model

    tm = text_model("", device, "float32")
    table = tm.model.embeddings.position_embeddings.weight.detach().float().cpu().numpy()
    return PositionTable("all-MiniLM-L6-v2 (BERT)", table,
                         note=f"learned nn.Embedding({table.shape[0]}, {table.shape[1]}), one row per token position")


def dinov2_positions(device: str) -> PositionTable:
    """The bundled DINOv2-small: learned patch positions, at the 16 × 16 grid of a 224 px image."""
    from viz.patches import PatchGrid
    from viz.pretrained.image import position_embeddings
    from viz.ui.image_cache import image_model

    grid = PatchGrid(16, 16, 14)
    table = position_embeddings(image_model("", device), grid)
    return PositionTable("DINOv2-small (ViT-S/14)", table, grid=(grid.rows, grid.cols),
                         note="learned on a 37 × 37 grid, interpolated by the model to the 16 × 16 "
                              "patches of a 224 px image")


SOURCES: dict[str, Callable[[str], PositionTable]] = {
    "From-scratch reverse model (learned positions)": scratch_learned,
    "all-MiniLM-L6-v2, a BERT (learned, 512 positions)": bert_positions,
    "DINOv2-small, a ViT (learned, 16 × 16 patches)": dinov2_positions,
}


URL_NAMES = dict(zip(["scratch", "bert", "dinov2"], SOURCES, strict=True))  # source=bert in a link


def pretrained_positions_ui(prefix: str, url: url_state.PageState | None = None) -> None:
    """A model menu (URL: source) and its position embeddings, beside sinusoidal ones of the same size."""
    url = url or url_state.Unbound()
    name = st.selectbox("Model", list(SOURCES),
                        key=url.bind(f"{prefix}_source", "source", url_state.Choice(URL_NAMES), next(iter(SOURCES))))
    try:
        src = SOURCES[name](str(current_device().device))
    except FileNotFoundError:
        st.warning("The learned-position checkpoint is missing. Train it (about 2 minutes) with: "
                   "python -m viz.scratch.train --task reverse --positional learned")
        return
    st.caption(f"{src.name}: {src.note}")
    if src.grid is not None:
        rows, cols = src.grid
        plotly_chart(st, position_similarity_figure(cosine_similarity(src.table), PatchGrid(rows, cols, 1),
                                                   "cosine similarity of each patch's position embedding to every other"),
                        key=f"{prefix}_source_grid")
        return
    P, C = src.table.shape
    sin = sinusoidal(P, C)
    plotly_chart(st, fig.matrix_pair(src.table, sin, (f"learned ({P} × {C})", f"sinusoidal ({P} × {C})"),
                                    "dimension", "position", "Position embeddings", shared=False),
                    key=f"{prefix}_source_tables")
    plotly_chart(st, fig.matrix_pair(cosine_similarity(src.table), cosine_similarity(sin),
                                    ("learned: cosine similarity", "sinusoidal: cosine similarity"),
                                    "position", "position", "Which positions look alike"),
                    key=f"{prefix}_source_similarity")
