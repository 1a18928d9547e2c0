"""Pretrained Hugging Face models -> AttentionTrace."""

from viz.pretrained.image import load_image_model, trace_image

__all__ = ["load_image_model", "trace_image"]
