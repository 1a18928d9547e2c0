import streamlit as st

st.title("Attention Lens")
st.markdown(
    """
See what attention does inside transformers, on **your own inputs**. Everything runs on this
machine with bundled models: no internet needed.

| Page | What it teaches |
|---|---|
| **From-scratch transformer** | A small encoder-decoder (Vaswani et al. 2017) written in PyTorch, trained on toy tasks. Type an input and see encoder self-attention, the decoder's masked self-attention and the cross-attention that aligns output to input, for every layer and head. Train a fresh model live and watch the alignment form. |

Pick a page in the sidebar. The sidebar also chooses the device (a CUDA GPU when there is one).
"""
)
