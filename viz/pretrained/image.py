"""Vision Transformers from Hugging Face -> AttentionTrace of one image.

    load_image_model(name_or_path=None)  None = the offline default, DINOv2-small (dinov2_onnx.py)
    trace_image(model, image)            -> AttentionTrace; tokens = CLS + "r0c0" ... "r15c15"

Shapes: L layers, H heads, T = n_prefix + gh * gw tokens, D = d_head, C = d_model.
Attention weights come from transformers' eager attention (output_attentions=True; SDPA returns
none); Q, K and V from forward hooks on the projection Linears, removed in `finally`.
Remote code is never run, and a local folder must hold safetensors weights: pickle-based
.bin files can run code when loaded, so they are refused.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from viz.attention import split_output_projection
from viz.hooks import recording
from viz.patches import PatchGrid
from viz.pretrained import dinov2_onnx
from viz.pretrained.names import model_folder, without_server_paths
from viz.trace import AttentionTrace

log = logging.getLogger(__name__)
_count_lock = threading.Lock()
_forward_passes = 0
DEFAULT_NAME = "dinov2-small (offline)"
SUPPORTED_TYPES = ("vit", "dinov2", "deit", "dinov2_with_registers")
# Q/K/V projection attribute names of one attention module, per transformers generation.
QKV_NAMES = (("q_proj", "k_proj", "v_proj"), ("query", "key", "value"))


class ImageModelError(RuntimeError):
    """A model that cannot be loaded or traced; the message says what happened and what to do."""


@dataclass(frozen=True)
class Preprocessing:
    """Resize, centre-crop, normalise: the model's own recipe (DINOv2's by default)."""
    shortest_edge: int | None = 256  # resize so the shorter side has this length, keeping the aspect
    resize_to: tuple[int, int] | None = None  # or resize to exactly (height, width)
    crop: int | None = 224  # then centre-crop a square of this side
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    resample: int = Image.Resampling.BICUBIC

    @classmethod
    def from_folder(cls, folder: Path) -> Preprocessing:
        """Read preprocessor_config.json when the model folder has one (ViT: 224 x 224, mean 0.5)."""
        path = Path(folder) / "preprocessor_config.json"
        if not path.is_file():
            return cls()
        cfg = json.loads(path.read_text())
        size = cfg.get("size") or {}
        if isinstance(size, int):
            size = {"shortest_edge": size}
        crop = cfg.get("crop_size") if cfg.get("do_center_crop", False) else None
        if isinstance(crop, dict):
            crop = crop.get("height")
        resample = {2: Image.Resampling.BILINEAR, 3: Image.Resampling.BICUBIC}.get(cfg.get("resample"), Image.Resampling.BILINEAR)
        return cls(
            shortest_edge=size.get("shortest_edge"),
            resize_to=(size["height"], size["width"]) if "height" in size else None,
            crop=crop,
            mean=tuple(cfg.get("image_mean", cls.mean)),
            std=tuple(cfg.get("image_std", cls.std)),
            resample=resample,
        )

    def crop_image(self, img: Image.Image) -> Image.Image:
        """The pixels the model sees, as an RGB image (before normalisation)."""
        img = img.convert("RGB")
        if self.resize_to:
            img = img.resize((self.resize_to[1], self.resize_to[0]), self.resample)
        elif self.shortest_edge:
            w, h = img.size
            s = self.shortest_edge / min(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), self.resample)
        if self.crop:
            w, h = img.size
            left, top = (w - self.crop) // 2, (h - self.crop) // 2
            img = img.crop((left, top, left + self.crop, top + self.crop))
        return img

    def pixel_values(self, cropped: Image.Image) -> np.ndarray:
        """(3, S, S) float32, normalised with the model's mean and std."""
        x = np.asarray(cropped, dtype=np.float32) / 255.0  # (S, S, 3)
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))


@dataclass(eq=False)
class ImageModel:
    model: torch.nn.Module
    name: str
    prep: Preprocessing = field(default_factory=Preprocessing)
    source: str = ""  # where the weights come from, said in the app
    labels: dict[int, str] | None = None  # the classifier's label names, None without a head

    @property
    def config(self):
        return self.model.config

    @property
    def patch(self) -> int:
        p = self.config.patch_size
        return p[0] if isinstance(p, (tuple, list)) else p


def load_image_model(name_or_path: str | None = None, progress: Callable[[float, str], None] | None = None,
                     device: str | torch.device = "cpu") -> ImageModel:
    """The offline default (None) or a ViT-family model by Hub id or local folder."""
    if not name_or_path:
        folder = dinov2_onnx.ensure_converted(progress=progress)
        model = _from_pretrained(folder, folder)
        return ImageModel(model.to(device).eval(), DEFAULT_NAME, Preprocessing(), dinov2_onnx.SOURCE_NOTE)
    name = str(name_or_path).strip()
    try:
        local = model_folder(name)
    except ValueError as err:
        raise ImageModelError(str(err)) from None
    if local is not None:
        source = f"the local folder {without_server_paths(str(local))}"
        model = _from_pretrained(str(local), name)
        prep = Preprocessing.from_folder(local)
    else:
        source = f"the Hugging Face Hub ({name})"
        model = _from_pretrained(name, name)
        prep = _hub_preprocessing(name)
    labels = getattr(model.config, "id2label", None) if hasattr(model, "classifier") else None
    return ImageModel(model.to(device).eval(), name, prep, source, labels)


def _from_pretrained(where, name: str) -> torch.nn.Module:
    from transformers import AutoConfig, AutoModel, AutoModelForImageClassification

    try:
        config = AutoConfig.from_pretrained(where, trust_remote_code=False)
    except Exception as err:  # offline, unknown id, remote code needed, broken json
        raise ImageModelError(
            f"Could not load the model {name!r}: it is not a local folder, and its configuration could "
            f"not be fetched from the Hugging Face Hub (offline, or no such model). Give a local folder "
            f"with config.json and model.safetensors, or leave the field empty for DINOv2-small. ({type(err).__name__})"
        ) from err
    if config.model_type not in SUPPORTED_TYPES:
        raise ImageModelError(
            f"{name!r} is a {config.model_type!r} model; this page reads ViT-family models "
            f"({', '.join(SUPPORTED_TYPES)})."
        )
    classifier = any(a.endswith("ForImageClassification") for a in (config.architectures or []))
    auto = AutoModelForImageClassification if classifier else AutoModel
    try:
        model = auto.from_pretrained(where, attn_implementation="eager", use_safetensors=True, trust_remote_code=False)
    except Exception as err:
        raise ImageModelError(
            f"Could not load the weights of {name!r} ({type(err).__name__}: {without_server_paths(str(err))[:200]}). "
            "The page needs safetensors weights that match the config."
        ) from err
    return model


def _hub_preprocessing(name: str) -> Preprocessing:
    try:
        from huggingface_hub import hf_hub_download

        return Preprocessing.from_folder(Path(hf_hub_download(name, "preprocessor_config.json")).parent)
    except Exception:
        return Preprocessing()


def _backbone(model: torch.nn.Module) -> torch.nn.Module:
    """The ViT/DINOv2 trunk inside a classifier, or the model itself."""
    for attr in ("vit", "dinov2", "deit", "dinov2_with_registers"):
        if hasattr(model, attr):
            return getattr(model, attr)
    return model


def attention_modules(model: torch.nn.Module) -> list[tuple[torch.nn.Module, tuple[str, str, str]]]:
    """Each layer's attention module (in order) with the names of its Q/K/V projections."""
    found = []
    for _, module in model.named_modules():
        for names in QKV_NAMES:
            if all(isinstance(getattr(module, n, None), torch.nn.Linear) for n in names):
                found.append((module, names))
                break
    return found


def output_projections(model: torch.nn.Module, n_heads: int) -> np.ndarray | None:
    """(L, H, D, C): each head's slice of every layer's attention output projection, or None when
    the model names it otherwise. transformers 5 puts it beside q/k/v (`o_proj`); older layouts
    have `attention.output.dense`."""
    dense = [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)
             and (name.endswith("attention.output.dense") or name.endswith("attention.o_proj"))]
    if not dense or len(dense) != len(attention_modules(model)):
        return None
    return np.stack([split_output_projection(m.weight.detach().float().cpu().numpy(), n_heads) for m in dense])


def capture_qkv(model: torch.nn.Module):
    """Record every layer's Q, K and V projection outputs; yields {(layer, "q"|"k"|"v"): (B, T, C)}.

    Records only this thread's forward passes (viz.hooks): the model is shared between sessions.
    """
    return recording(((layer, which), getattr(module, attr))
                     for layer, (module, names) in enumerate(attention_modules(model))
                     for which, attr in zip("qkv", names, strict=True))


def forward_passes() -> int:
    """How many forward passes trace_image has run in this process."""
    return _forward_passes


def _count_forward(n_tokens: int) -> None:
    global _forward_passes
    with _count_lock:
        _forward_passes += 1
    log.info("trace_image: forward pass, %d tokens", n_tokens)


def trace_image(model: ImageModel, image: Image.Image) -> AttentionTrace:
    """Run one image through the model and return every layer's attention, Q, K, V and scores.

    meta: "image" (S, S, 3) uint8, the pixels the model saw; "grid" PatchGrid; "model" name;
    "top5" [(label, probability)] when the model has a classifier head; "pixel_values".
    """
    cropped = model.prep.crop_image(image)
    pixels = model.prep.pixel_values(cropped)  # (3, S, S)
    device = next(model.model.parameters()).device
    x = torch.from_numpy(pixels)[None].to(device)  # (1, 3, S, S)
    kwargs = {"interpolate_pos_encoding": True} if model.config.model_type in ("vit", "deit") else {}
    with torch.inference_mode(), capture_qkv(model.model) as taps:
        out = model.model(pixel_values=x, output_attentions=True, **kwargs)
    attentions = out.attentions
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    if attentions is None or len(attentions) != L:
        raise ImageModelError(
            f"{model.name} returned {0 if attentions is None else len(attentions)} attention tensors for "
            f"{L} layers: it must be loaded with attn_implementation='eager'."
        )
    weights = torch.stack(attentions, dim=1)[0].float()  # (L, H, T, T)
    T = weights.shape[-1]

    def heads(which: str) -> torch.Tensor:  # (L, H, T, D)
        return torch.stack([taps[(i, which)][0].reshape(T, H, -1).transpose(0, 1) for i in range(L)]).float()

    q, k, v = heads("q"), heads("k"), heads("v")
    _count_forward(T)
    p = model.patch
    side = pixels.shape[1]
    grid = PatchGrid(side // p, pixels.shape[2] // p, p, n_prefix=T - (side // p) * (pixels.shape[2] // p))
    meta = {"image": np.asarray(cropped, dtype=np.uint8), "grid": grid, "model": model.name}
    logits = getattr(out, "logits", None)
    if logits is not None and model.labels:
        prob = torch.softmax(logits[0].float(), dim=-1).cpu().numpy()
        top = np.argsort(prob)[::-1][:5]
        meta["top5"] = [(str(model.labels.get(int(i), i)), float(prob[i])) for i in top]
    prefix = ("CLS", "DIST") if model.config.model_type == "deit" and grid.n_prefix == 2 else ("CLS",)
    tokens = grid.tokens(prefix)
    return AttentionTrace(
        query_tokens=tokens, key_tokens=tokens,
        weights=weights.cpu().numpy(), scores=None,  # trace.head_scores() recomputes one head's
        queries=q.cpu().numpy(), keys=k.cpu().numpy(), values=v.cpu().numpy(),
        name=f"{model.name} self-attention", meta=meta, scaling=float(q.shape[-1] ** -0.5),
        w_o=output_projections(model.model, H),
    )


def position_embeddings(model: ImageModel, grid: PatchGrid) -> np.ndarray:
    """The learned patch position embeddings the model adds for this grid: (gh * gw, C).

    Interpolated (bicubic, as the model does) when the image's grid differs from the training one.
    """
    emb = _backbone(model.model).embeddings
    C = model.config.hidden_size
    n_pos_prefix = 2 if model.config.model_type == "deit" else 1  # registers carry no position
    dummy = torch.zeros(1, n_pos_prefix + grid.n_patches, C)
    with torch.inference_mode():
        pos = emb.interpolate_pos_encoding(dummy, grid.rows * grid.patch, grid.cols * grid.patch)  # (1, 1 + N, C)
    return pos[0, -grid.n_patches:].detach().float().cpu().numpy()


def object_head(trace: AttentionTrace, layer: int | None = None) -> tuple[int, float]:
    """(head, share) in `layer` (the last by default) whose CLS attention to the patches falls most
    away from the picture's edge: the share of CLS→patch weight on patches at least one patch in
    from the border. Heads that rest on a few edge or corner patches (where ViTs park attention)
    score low; a head on the object scores high. The image page opens on it."""
    grid = trace.meta["grid"]
    layer = trace.n_layers - 1 if layer is None else layer
    cls = np.stack([trace.head(layer, h)[0, grid.n_prefix:] for h in range(trace.n_heads)])  # (H, patches)
    maps = cls.reshape(trace.n_heads, grid.rows, grid.cols)
    inner = maps[:, 1:-1, 1:-1].sum(axis=(1, 2)) / np.maximum(maps.sum(axis=(1, 2)), 1e-12)  # (H,)
    head = int(np.argmax(inner))
    return head, float(inner[head])


def cls_notice(trace: AttentionTrace, layer: int, head: int) -> str:
    """What to notice in one head's CLS attention: where its strongest patch is, how much lands
    away from the edges, and what CLS keeps for itself."""
    grid = trace.meta["grid"]
    row = trace.head(layer, head)[0]
    maps = row[grid.n_prefix:].reshape(grid.rows, grid.cols)
    share = float(maps[1:-1, 1:-1].sum() / max(maps.sum(), 1e-12))
    r, c = np.unravel_index(int(np.argmax(maps)), maps.shape)
    edge = "" if 0 < r < grid.rows - 1 and 0 < c < grid.cols - 1 else ", on the picture's edge"
    return (f"Layer {layer}, head {head}: {share:.0%} of CLS's attention to the patches lands away from the "
            f"edges; its strongest patch is row {r}, column {c}{edge} ({maps[r, c]:.3f}); CLS keeps "
            f"{row[0]:.3f} for itself.")
