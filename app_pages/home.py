import streamlit as st

st.title("Attention Lens")
st.markdown(
    """
See what attention does inside transformers, on **your own inputs**. Everything runs on this
machine with bundled models: no internet needed.

| Page | What it teaches |
|---|---|
| **From-scratch transformer** | A small encoder-decoder (Vaswani et al. 2017) written in PyTorch, trained on toy tasks. Type an input and see encoder self-attention, the decoder's masked self-attention and the cross-attention that aligns output to input, for every layer and head. Train a fresh model live and watch the alignment form. |
| **Image (ViT)** | A pretrained Vision Transformer (DINOv2-small, offline) on a sample picture or your own upload: the image cut into patches, where the CLS token and any clicked patch look in every layer and head, attention rollout, and the learned position embeddings. |

Pick a page in the sidebar. The sidebar also chooses the device (a CUDA GPU when there is one).
"""
)
