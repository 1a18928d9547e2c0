"""Tiny random ViT-family models saved with safetensors, loaded through the real loading code."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def save_tiny_vit(folder: Path, classifier: bool = True, image_size: int = 32, patch: int = 8) -> Path:
    from transformers import ViTConfig, ViTForImageClassification, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                       image_size=image_size, patch_size=patch,
                       id2label={i: f"label <{i}>" for i in range(7)}, label2id={f"label <{i}>": i for i in range(7)})
    model = (ViTForImageClassification if classifier else ViTModel)(config)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"height": image_size, "width": image_size}, "resample": 2,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
    }))
    return folder


def save_tiny_dinov2(folder: Path) -> Path:
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=16, num_hidden_layers=3, num_attention_heads=2, mlp_ratio=2,
                          patch_size=14, image_size=56)
    Dinov2Model(config).save_pretrained(folder, safe_serialization=True)
    return folder
