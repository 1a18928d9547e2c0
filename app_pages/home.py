import streamlit as st

st.title("Attention Lens")
st.markdown(
    """
See what attention does inside transformers, on **your own inputs**. Everything runs on this
machine with bundled models: no internet needed.

| Page | What it teaches |
|---|---|
| **From-scratch transformer** | A small encoder-decoder (Vaswani et al. 2017) written in PyTorch, trained on toy tasks. Type an input and see encoder self-attention, the decoder's masked self-attention and the cross-attention that aligns output to input, for every layer and head. Train a fresh model live and watch the alignment form. |
| **Text (BERT)** | Type a sentence (or two) and see what every head of a pretrained BERT (bundled: all-MiniLM-L6-v2) does with it: one head, the whole model, lines between tokens, how q·k builds one score, which heads look at [CLS], [SEP] or the next token, rollout, differences between heads or inputs, and bertviz's own views, offline. |

Pick a page in the sidebar. The sidebar also chooses the device (a CUDA GPU when there is one).
"""
)
