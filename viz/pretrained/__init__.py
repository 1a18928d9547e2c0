"""Hugging Face models -> AttentionTrace. Usable from a notebook, no Streamlit."""

from viz.pretrained.image import load_image_model, trace_image
from viz.pretrained.text import (
    DEFAULT_NAME,
    FAMILIES,
    ModelLoadError,
    TextInputError,
    TextModel,
    default_model_dir,
    load_text_model,
    trace_text,
)

__all__ = [
    "DEFAULT_NAME", "FAMILIES", "ModelLoadError", "TextInputError", "TextModel",
    "default_model_dir", "load_text_model", "trace_text", "load_image_model", "trace_image",
]
