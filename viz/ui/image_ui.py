"""The image page's input widgets: which model, which picture. Errors become sentences on the page."""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image

from viz.images import SAMPLES, ImageInputError
from viz.patches import PatchGrid, token_from_selection
from viz.pretrained import dinov2_onnx
from viz.pretrained.image import ImageModel, ImageModelError
from viz.ui import url_state
from viz.ui.guard import pass_gpu_faults
from viz.ui.image_cache import digest, image_model, sample, uploaded_image
from viz.ui.url_state import Choice, Int, Text

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]


def model_ui(device: str, url: url_state.PageState) -> tuple[str, ImageModel]:
    """A model field (URL: model; empty = offline DINOv2-small); a model that fails to load falls back to it."""
    name = st.text_input(
        "Model: a Hugging Face id or a local folder (leave empty for DINOv2-small, offline)",
        key=url.bind("image_model", "model", Text(200), ""), placeholder="e.g. google/vit-base-patch16-224, or my-vit for models/my-vit",
        help="A folder of your own must be inside models/ (or a folder named in ATTENTION_LENS_MODEL_DIRS) "
             "and hold safetensors weights.",
    ).strip()
    if name:
        try:
            return name, image_model(name, device)
        except ImageModelError as err:
            pass_gpu_faults(err)
            st.error(f"{err} Showing DINOv2-small instead.")
    if not dinov2_onnx.is_converted():
        bar = st.progress(0.0, text="First use: converting DINOv2-small from the bundled ONNX file ...")
        try:
            dinov2_onnx.ensure_converted(progress=lambda f, text: bar.progress(f, text=text))
        except dinov2_onnx.ConversionError as err:
            st.error(str(err))
            st.stop()
        bar.empty()
    return "", image_model("", device)


def image_ui(url: url_state.PageState) -> tuple[str, Image.Image] | None:
    """A sample or an upload -> (cache key, RGB image), or None with the reason shown. URL: source, sample."""
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    source = c1.radio("Image", ["Sample", "Upload"], horizontal=True,
                      key=url.bind("image_source", "source", Choice({"sample": "Sample", "upload": "Upload"}), "Sample"))
    if source == "Sample":
        name = c2.selectbox("Sample image (scikit-image's bundled data)", list(SAMPLES), format_func=SAMPLES.get,
                            key=url.bind("image_sample", "sample", Choice.of(SAMPLES), next(iter(SAMPLES))))
        return f"sample:{name}", sample(name)
    st.caption("An uploaded image cannot travel in a link: this page's link opens on this upload box, and the "
               "layer, head, tab and clicked patch start from their defaults once an image is chosen.")
    upload = st.file_uploader("Your image (PNG, JPEG, WebP, BMP, TIFF or GIF; up to 10 MB)",
                              type=UPLOAD_TYPES, key="image_upload")
    if upload is None:
        st.info("Choose an image file to see where the model looks.")
        return None
    data = upload.getvalue()
    key = digest(data)
    try:
        return f"upload:{key}", uploaded_image(key, data, md_escape(upload.name))
    except ImageInputError as err:
        st.error(str(err))
        return None


def clicked_patch(url: url_state.PageState, points: list[dict], grid: PatchGrid) -> int:
    """The token of the patch last clicked (URL: patch); the middle patch until one is."""
    patches = Int(grid.n_prefix, grid.n_prefix + grid.n_patches - 1)
    key = url.bind("image_patch", "patch", patches, grid.token_of(grid.rows // 2, grid.cols // 2), widget=False)
    clicked = token_from_selection(points, grid)
    if clicked is not None:
        st.session_state[key] = clicked
    return st.session_state[key]


def md_escape(text: str) -> str:
    """A user's file name shown inside st.error's markdown as plain text."""
    return "".join("\\" + ch if ch in "\\`*_{}[]()<>#+-.!|~$" else ch for ch in text)


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()
