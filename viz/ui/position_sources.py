"""Position embeddings of trained models: the last section of the positional page.

HOOK FOR THE PRETRAINED PAGES. Each entry of SOURCES maps a menu name to a function
(device: str) -> PositionTable. To add BERT and ViT, append two entries, for example:

    def bert_positions(device: str) -> PositionTable:          # learned, (512, 768)
        model = <the BERT page's cached loader>(device)
        return PositionTable("BERT base", model.embeddings.position_embeddings.weight
                             .detach().cpu().numpy(), note="learned, one row per token position")

    def vit_positions(device: str) -> PositionTable:           # learned, (1 + 14·14, 768)
        model = <the ViT page's cached loader>(device)
        pe = model.embeddings.position_embeddings[0, 1:]       # drop the CLS row
        return PositionTable("ViT-B/16", pe.detach().cpu().numpy(), grid=(14, 14),
                             note="learned, one row per image patch")

A table with `grid` is drawn as the ViT paper's 2-D patch similarity grid; one without, as a
heatmap beside the sinusoidal table of the same size and their position-similarity matrices.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from viz.figures import teaching as fig
from viz.positional import PositionTable, cosine_similarity, sinusoidal
from viz.scratch.train import checkpoint_path, load_checkpoint
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


SOURCES: dict[str, Callable[[str], PositionTable]] = {
    "From-scratch reverse model (learned positions)": scratch_learned,
    # "BERT base (learned, 512 positions)": bert_positions,      <- the lead wires these in
    # "ViT-B/16 (learned, 14 × 14 patches)": vit_positions,
}


def pretrained_positions_ui(prefix: str) -> None:
    """A model menu and its position embeddings, beside sinusoidal ones of the same size."""
    name = st.selectbox("Model", list(SOURCES), key=f"{prefix}_source")
    try:
        src = SOURCES[name](str(current_device().device))
    except FileNotFoundError:
        st.warning("The learned-position checkpoint is missing. Train it (about 2 minutes) with: "
                   "python -m viz.scratch.train --task reverse --positional learned")
        return
    st.caption(f"{src.name}: {src.note}")
    if src.grid is not None:
        st.plotly_chart(fig.patch_similarity_grid(cosine_similarity(src.table), src.grid,
                                                  "cosine similarity of each patch's position embedding to every other"),
                        key=f"{prefix}_source_grid")
        return
    P, C = src.table.shape
    sin = sinusoidal(P, C)
    st.plotly_chart(fig.matrix_pair(src.table, sin, (f"learned ({P} × {C})", f"sinusoidal ({P} × {C})"),
                                    "dimension", "position", "Position embeddings", shared=False),
                    key=f"{prefix}_source_tables")
    st.plotly_chart(fig.matrix_pair(cosine_similarity(src.table), cosine_similarity(sin),
                                    ("learned: cosine similarity", "sinusoidal: cosine similarity"),
                                    "position", "position", "Which positions look alike"),
                    key=f"{prefix}_source_similarity")
