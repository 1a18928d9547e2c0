"""The image page's caches (kept apart from cache.py): models, decoded uploads, traces.

Traces (about 35 MB for DINOv2-small) and their rollouts live in the text page's byte-bounded
trace cache (cache.trace_store(), shared by every session, one forward pass per image at a time),
so a rerun reuses them without pickling; their arrays are read-only.
"""

from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from viz.attention import rollout
from viz.figures.image import position_similarity_figure
from viz.images import load_image, sample_image
from viz.positional import cosine_similarity
from viz.pretrained.image import ImageModel, load_image_model, position_embeddings, trace_image
from viz.trace import AttentionTrace
from viz.ui.cache import shared


@st.cache_resource(show_spinner="Loading the image model ...", max_entries=3)
def image_model(name: str, device: str) -> ImageModel:
    """name "" = the offline DINOv2-small (converted beforehand, with a progress bar, by image_ui)."""
    return load_image_model(name or None, device=device)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@st.cache_resource(show_spinner=False, max_entries=8)
def uploaded_image(key: str, _data: bytes, name: str) -> Image.Image:
    """Decoded upload, keyed by its digest (the bytes themselves are not hashed again)."""
    return load_image(_data, name)


@st.cache_resource(show_spinner=False, max_entries=8)
def sample(name: str) -> Image.Image:
    return sample_image(name)


def image_trace(model_name: str, device: str, image_key: str, _image: Image.Image) -> AttentionTrace:
    """One forward pass per (model, device, image) for the whole server; `image_key` names the image."""
    return shared(("image_trace", model_name, device, image_key),
                  lambda: trace_image(image_model(model_name, device), _image), "Running the model ...")


def image_rollout(model_name: str, device: str, image_key: str, head_fusion: str, discard_ratio: float,
                  _trace: AttentionTrace) -> np.ndarray:
    return shared(("image_rollout", model_name, device, image_key, head_fusion, float(discard_ratio)),
                  lambda: rollout(_trace.weights, head_fusion, discard_ratio))


@st.cache_resource(show_spinner=False, max_entries=6)
def position_figure(model_name: str, device: str, rows: int, cols: int, _trace: AttentionTrace) -> go.Figure:
    """The position-embedding similarity figure: it depends on the model and grid, not the image,
    and encoding its mosaic is the slowest view, so it is built once per model and grid."""
    sim = cosine_similarity(position_embeddings(image_model(model_name, device), _trace.meta["grid"]))
    return position_similarity_figure(sim, _trace.meta["grid"], "Cosine similarity of learned position embeddings")
