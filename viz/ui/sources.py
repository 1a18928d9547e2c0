"""The lesson's Sources (viz.lesson) backed by the app's cached loaders: a rerun reuses every
forward pass. The lesson uses the bundled models in float32 on the sidebar's device; the text
page's context view passes its own model, device and precision."""

from __future__ import annotations

import streamlit as st

from viz.context import word_candidates
from viz.pretrained import dinov2_onnx
from viz.ui import cache, image_cache
from viz.ui.sidebar import current_device

DTYPE = "float32"


class CachedSources:
    def __init__(self, name: str = "", device: str | None = None, dtype: str = DTYPE) -> None:
        self.name, self.dtype = name, dtype
        self.device = device or str(current_device().device)

    def text_trace(self, text: str, pair: str = ""):
        return cache.text_trace(self.name, self.device, self.dtype, text, pair)

    def head_stats(self, text: str, pair: str = ""):
        return cache.text_head_stats(self.name, self.device, self.dtype, text, pair)

    def text_hidden(self, text: str):
        return cache.text_hidden(self.name, self.device, self.dtype, text)

    def word_candidates(self, word: str):
        return word_candidates(cache.text_model(self.name, self.device, self.dtype).tokenizer, word)

    def scratch_run(self, task: str, text: str):
        return cache.scratch_run(task, text, self.device)

    def image_trace(self, sample: str):
        if not dinov2_onnx.is_converted():
            bar = st.progress(0.0, text="First use: converting DINOv2-small from the bundled ONNX file ...")
            dinov2_onnx.ensure_converted(progress=lambda f, text: bar.progress(f, text=text))
            bar.empty()
        return image_cache.image_trace("", self.device, f"sample:{sample}", image_cache.sample(sample))

    def decoder_run(self, text: str) -> dict:
        from viz.lesson import decoder_run
        from viz.ui import decoder_ui

        dec = decoder_ui.decoder_model("", self.device)
        return decoder_run(dec, decoder_ui.decoder_report("", self.device),
                           lambda ids: decoder_ui.decoder_trace("", self.device, tuple(ids)), text)

    def finetune_pair(self, text: str) -> dict:
        from viz.lesson import lesson_finetune

        folder, result = lesson_finetune()
        return dict(base=self.text_trace(text), tuned=cache.text_trace(folder, self.device, self.dtype, text, ""),
                    result=result)
